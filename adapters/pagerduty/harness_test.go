package pagerduty

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/memstore"
	"github.com/pagergate/pagergate/ports/metricstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	botEmail = "teleport-bot@example.com"
	// testEndpoint is never dialled: requests go to the handler in memory.
	testEndpoint = "http://pagerduty.test"
)

// harness is the adapter pointed at the fake PagerDuty through the
// contract check, in memory (no sockets, so it also runs in synctest
// bubbles).
type harness struct {
	fake     *fakepd.Server
	contract *contractCheck
	metrics  *countMetrics
	client   *Client
	// bodies holds the request bodies seen, by "METHOD /path".
	bodies *bodyLog
}

// newHarness builds a fake with the bot user and a client with fast
// retries; mod adjusts the client's Config.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	return newFaultHarness(t, nil, mod)
}

// newFaultHarness is newHarness with fault in front of the contract check
// (nil: none), for answers PagerDuty's document does not list (408, 502
// after the write was stored).
func newFaultHarness(t *testing.T, fault func(http.Handler) http.Handler, mod func(*Config)) *harness {
	t.Helper()
	fake := fakepd.New(fakepd.Options{})
	fake.AddUser(botEmail, "Teleport Bot")
	bodies := &bodyLog{bodies: map[string][]string{}}
	cc := newContractCheck(t, bodies.wrap(fake.Handler()))
	h := &harness{fake: fake, contract: cc, metrics: newCountMetrics(), bodies: bodies}
	var front http.Handler = cc
	if fault != nil {
		front = fault(cc)
	}
	cfg := Config{
		APIKey:         fakepd.DefaultAPIKey,
		UserEmail:      botEmail,
		APIEndpoint:    testEndpoint,
		HTTPClient:     &http.Client{Transport: handlerTransport{h: front}},
		RequestTimeout: time.Second,
		RetryWait:      time.Millisecond,
		MaxRetryWait:   20 * time.Millisecond,
		RateLimit:      60000,
		CacheTTL:       time.Minute,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, zaptest.NewLogger(t), memstore.New(), h.metrics)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	h.client = c
	t.Cleanup(func() {
		if cc.Checked() == 0 && !t.Failed() && !t.Skipped() {
			t.Log("no exchange went through the contract check")
		}
	})
	return h
}

// calls returns the fake's request count for a route ("METHOD /path").
func (h *harness) calls(route string) int { return h.fake.Calls()[route] }

// totalCalls returns all API requests the fake received.
func (h *harness) totalCalls() int {
	n := 0
	for _, v := range h.fake.Calls() {
		n += v
	}
	return n
}

// handlerTransport serves requests with a handler in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	_ = r.Body.Close()
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// bodyLog records request bodies.
type bodyLog struct {
	mu     sync.Mutex
	bodies map[string][]string
}

func (b *bodyLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.bodies[r.Method+" "+r.URL.Path] = append(b.bodies[r.Method+" "+r.URL.Path], string(data))
		b.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(data))
		next.ServeHTTP(w, r)
	})
}

// count returns how many requests route received.
func (b *bodyLog) count(route string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.bodies[route])
}

// last decodes the last body sent to route.
func (b *bodyLog) last(t *testing.T, route string) map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	list := b.bodies[route]
	if len(list) == 0 {
		t.Fatalf("no request body for %s", route)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(list[len(list)-1]), &m); err != nil {
		t.Fatalf("request body of %s: %v", route, err)
	}
	return m
}

// countMetrics is a ports.Metrics that counts.
type countMetrics struct{ metricstest.Recorder }

func newCountMetrics() *countMetrics { return &countMetrics{} }

func (m *countMetrics) get(name string, labels ...string) int { return m.Count(name, labels...) }
