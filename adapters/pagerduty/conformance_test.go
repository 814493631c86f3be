package pagerduty

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/ports/pagertest"
)

// The PagerDuty adapter on the fake PagerDuty passes the pager
// conformance suite. PagerDuty dedups incident_key per service, and lists
// resolved incidents by key too.
func TestConformance(t *testing.T) {
	pagertest.Run(t, func(t *testing.T) (pagertest.Pager, pagertest.Vendor) {
		front := &front{}
		h := newFaultHarness(t, front.wrap, func(c *Config) {
			c.MaxRetries = 3
			c.MaxRetryWait = 2 * time.Second // a 429 of the fake asks for 1 s
		})
		return h.client, pdVendor{h: h, front: front}
	}, pagertest.Capabilities{OneIncidentPerKey: false, ResolvedFoundByKey: true})
}

// front sits before the contract check: it counts requests, fails the
// next ones with statuses PagerDuty's document does not list (408), and
// stores the next note but answers a status instead, once armed.
type front struct {
	mu       sync.Mutex
	requests int
	failN    int
	failCode int
	lose     int
}

func (f *front) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests++
		fail, lose := 0, 0
		if f.failN > 0 {
			f.failN--
			fail = f.failCode
		} else if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/notes") {
			lose, f.lose = f.lose, 0
		}
		f.mu.Unlock()
		switch {
		case fail != 0:
			w.WriteHeader(fail)
		case lose != 0:
			next.ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(lose)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// pdVendor is the fake PagerDuty as the conformance suite sees it.
type pdVendor struct {
	h     *harness
	front *front
}

var _ pagertest.Vendor = pdVendor{}

func (v pdVendor) AddUser(_ *testing.T, email, name string) { v.h.fake.AddUser(email, name) }

func (v pdVendor) AddService(_ *testing.T, name string) { v.h.fake.AddService(name) }

func (v pdVendor) PutOnCall(t *testing.T, email, service string, level int) {
	if err := v.h.fake.AddOnCall(email, service, level); err != nil {
		t.Fatal(err)
	}
}

func (v pdVendor) AddAssignedIncident(t *testing.T, service, email, title string) string {
	in, err := v.h.fake.AddIncident(fakepd.IncidentSeed{Service: service, Title: title, Assignees: []string{email}})
	if err != nil {
		t.Fatal(err)
	}
	return in.ID
}

// ResolveByHand resolves the incident through the fake's REST API as
// another user would.
func (v pdVendor) ResolveByHand(t *testing.T, id string) {
	body := `{"incident":{"type":"incident_reference","status":"resolved"}}`
	r := httptest.NewRequest(http.MethodPut, "/incidents/"+id, strings.NewReader(body))
	r.Header.Set("Authorization", "Token token="+fakepd.DefaultAPIKey)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("From", "bob@example.com")
	rec := httptest.NewRecorder()
	v.h.fake.Handler().ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("resolve %s by hand: %d %s", id, rec.Code, rec.Body)
	}
}

// FailNext fails requests in the fake, with PagerDuty's error bodies and
// headers, or in front of the contract check for 408, which PagerDuty's
// document does not list.
func (v pdVendor) FailNext(_ *testing.T, n, status int) {
	if status != http.StatusRequestTimeout {
		v.h.fake.FailNext(n, status)
		return
	}
	v.front.mu.Lock()
	v.front.failN, v.front.failCode = n, status
	v.front.mu.Unlock()
}

func (v pdVendor) LoseNoteAnswer(_ *testing.T, status int) {
	v.front.mu.Lock()
	v.front.lose = status
	v.front.mu.Unlock()
}

func (v pdVendor) Notes(_ *testing.T, id string) []string { return v.h.fake.Notes(id) }

// RefusedNote fills the incident up to PagerDuty's maximum of notes.
func (v pdVendor) RefusedNote(t *testing.T, id string) string {
	if _, err := v.h.fake.FillNotes(id); err != nil {
		t.Fatal(err)
	}
	return "Access request has been approved"
}

func (v pdVendor) Requests() int {
	v.front.mu.Lock()
	defer v.front.mu.Unlock()
	return v.front.requests
}
