package opsgenie

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/ports/metricstest"
	"github.com/pagergate/pagergate/ports/pagertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testAPIURL is never dialled: requests go to the fake's handler in memory.
const testAPIURL = "https://api.opsgenie.test"

// handlerTransport serves requests with a handler in memory (no sockets,
// so it also runs in synctest bubbles).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// countMetrics is a ports.Metrics that counts.
type countMetrics struct{ metricstest.Recorder }

func (m *countMetrics) get(name string, labels ...string) int { return m.Count(name, labels...) }

type harness struct {
	fake    *fakeopsgenie.Server
	client  *Client
	metrics *countMetrics
}

// newHarness builds a fake and a client with fast retries, talking in
// memory; mod adjusts the client's Config.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	fake := fakeopsgenie.New(fakeopsgenie.Options{})
	t.Cleanup(func() { _ = fake.Close() })
	cfg := Config{
		APIKey:         fakeopsgenie.DefaultAPIKey,
		APIURL:         testAPIURL,
		HTTPClient:     &http.Client{Transport: handlerTransport{h: fake.Handler()}},
		RequestTimeout: time.Second,
		MaxRetries:     3,
		RetryWait:      time.Millisecond,
		MaxRetryWait:   2 * time.Second,
		RateLimit:      60000,
		StatusWait:     time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	m := &countMetrics{}
	c, err := New(cfg, zaptest.NewLogger(t), nil, m)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return &harness{fake: fake, client: c, metrics: m}
}

// vendor is the fake Opsgenie as the conformance suite sees it.
type vendor struct{ fake *fakeopsgenie.Server }

var _ pagertest.Vendor = vendor{}

func (v vendor) AddUser(t *testing.T, email, name string) {
	if _, err := v.fake.AddUserWithID("", email, name); err != nil {
		t.Fatal(err)
	}
}

func (v vendor) AddService(t *testing.T, name string) {
	if _, err := v.fake.AddSchedule(name, ""); err != nil {
		t.Fatal(err)
	}
}

// PutOnCall puts a user in the schedule's rotation (level 1) or at step
// level of an escalation taking part in it, behind filler users at the
// steps before.
func (v vendor) PutOnCall(t *testing.T, email, service string, level int) {
	if level <= 1 {
		if err := v.fake.AddOnCall(email, service); err != nil {
			t.Fatal(err)
		}
		return
	}
	var rules []fakeopsgenie.Rule
	for step := 1; step < level; step++ {
		filler := fmt.Sprintf("step%d-%d@filler.example.com", step, time.Now().UnixNano())
		v.fake.AddUser(filler, "Filler")
		rules = append(rules, fakeopsgenie.Rule{DelayMinutes: (step - 1) * 5, User: filler})
	}
	rules = append(rules, fakeopsgenie.Rule{DelayMinutes: (level - 1) * 5, User: email})
	if err := v.fake.AddEscalationOnCall(service, service+" escalation", rules...); err != nil {
		t.Fatal(err)
	}
}

func (v vendor) AddAssignedIncident(t *testing.T, service, email, title string) string {
	a, err := v.fake.AddAlert(fakeopsgenie.AlertSeed{Message: title, Responders: []string{"schedule:" + service}, Owner: email})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func (v vendor) ResolveByHand(t *testing.T, id string) {
	if err := v.fake.CloseByHand(id, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
}

func (v vendor) FailNext(_ *testing.T, n, status int) { v.fake.FailNext(n, status) }

func (v vendor) LoseNoteAnswer(_ *testing.T, status int) {
	v.fake.LoseNextAnswer("POST /v2/alerts/{id}/notes", status)
}

func (v vendor) Notes(_ *testing.T, id string) []string { return v.fake.Notes(id) }

// RefusedNote returns a note one character over Opsgenie's documented
// limit of 25,000.
func (v vendor) RefusedNote(*testing.T, string) string { return strings.Repeat("x", 25001) }

func (v vendor) Requests() int { return v.fake.TotalCalls() }
