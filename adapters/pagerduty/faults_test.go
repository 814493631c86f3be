package pagerduty

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/ports"
)

// answerOnce answers the first request matching match with status and
// header instead of serving it; when store is set, the request is served
// first (PagerDuty did the work) and its answer replaced, as when a proxy
// or PagerDuty's edge fails after the write.
type answerOnce struct {
	match  func(*http.Request) bool
	status int
	header http.Header
	store  bool

	mu   sync.Mutex
	done bool
}

func (a *answerOnce) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		hit := !a.done && a.match(r)
		a.done = a.done || hit
		a.mu.Unlock()
		if !hit {
			next.ServeHTTP(w, r)
			return
		}
		if a.store {
			next.ServeHTTP(httptest.NewRecorder(), r)
		}
		for k, v := range a.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(`{"error":{"message":"injected","code":2001}}`))
	})
}

func route(method, suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.HasSuffix(r.URL.Path, suffix) }
}

// A Retry-After (or ratelimit-reset) longer than PagerDuty's one-minute
// window is capped at 60 s: it must not stall every call for a day.
func TestRetryAfterIsCappedAtOneMinute(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"huge Retry-After", http.Header{"Retry-After": {"86400"}}, time.Minute},
		{"huge ratelimit-reset", http.Header{"Ratelimit-Reset": {"86400"}}, time.Minute},
		{"ratelimit-reset alone", http.Header{"Ratelimit-Reset": {"7"}}, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fault := &answerOnce{match: route("GET", "/oncalls"), status: http.StatusTooManyRequests, header: tc.header}
				h := newFaultHarness(t, fault.wrap, func(c *Config) { c.MaxRetryWait = time.Minute })
				start := time.Now()
				if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); err != nil {
					t.Fatalf("OnCallsNow after one 429 = %v", err)
				}
				if d := time.Since(start); d < tc.want || d > tc.want+time.Second {
					t.Errorf("the call took %v, want the %v wait honoured", d, tc.want)
				}
			})
		})
	}
}

// A 429 whose wait is longer than MaxRetryWait is not retried, but the
// limiter pause it causes is capped too.
func TestLongPauseIsCappedForEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fault := &answerOnce{match: route("GET", "/oncalls"), status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {"86400"}}}
		h := newFaultHarness(t, fault.wrap, nil)
		if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("OnCallsNow on a 429 beyond MaxRetryWait = %v, want ErrUnavailable", err)
		}
		start := time.Now()
		if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); err != nil {
			t.Fatalf("next call = %v", err)
		}
		if d := time.Since(start); d > time.Minute+time.Second {
			t.Errorf("the next call waited %v, want at most the 60 s cap", d)
		}
	})
}

// 408 Request Timeout is transient (PagerDuty: "please try again").
func TestRequestTimeoutStatusIsRetried(t *testing.T) {
	fault := &answerOnce{match: route("GET", "/oncalls"), status: http.StatusRequestTimeout}
	h := newFaultHarness(t, fault.wrap, nil)
	if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); err != nil {
		t.Fatalf("OnCallsNow after one 408 = %v, want the retry to succeed", err)
	}
	if n := h.calls("GET /oncalls"); n != 1 {
		t.Errorf("GET /oncalls served %d times after the 408, want 1", n)
	}
	always := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusRequestTimeout) })
	}
	h = newFaultHarness(t, always, func(c *Config) { c.MaxRetries = 1 })
	if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("OnCallsNow on 408s = %v, want ErrUnavailable", err)
	}
}

// A note whose answer is lost after PagerDuty stored it is not posted
// again: notes have no dedup key, so the client looks before it retries.
func TestNoteStoredButAnswerLostIsNotDuplicated(t *testing.T) {
	for _, status := range []int{http.StatusBadGateway, http.StatusRequestTimeout, http.StatusServiceUnavailable} {
		fault := &answerOnce{match: route("POST", "/notes"), status: status, store: true}
		h := newFaultHarness(t, fault.wrap, nil)
		svc := h.fake.AddService("Access")
		in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.client.AddNote(t.Context(), in.ID, "Access request has been approved"); err != nil {
			t.Errorf("%d after storing: AddNote = %v, want success (the note is there)", status, err)
		}
		if got := h.fake.Notes(in.ID); len(got) != 1 {
			t.Errorf("%d after storing: notes = %q, want exactly one", status, got)
		}
	}
}

// A note whose first attempt failed without being stored is retried.
func TestNoteNotStoredIsRetried(t *testing.T) {
	fault := &answerOnce{match: route("POST", "/notes"), status: http.StatusBadGateway}
	h := newFaultHarness(t, fault.wrap, nil)
	svc := h.fake.AddService("Access")
	in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.client.AddNote(t.Context(), in.ID, "[review #1] Review by bob: APPROVED"); err != nil {
		t.Fatalf("AddNote = %v", err)
	}
	if got := h.fake.Notes(in.ID); len(got) != 1 {
		t.Errorf("notes = %q, want exactly one", got)
	}
}

// A note that times out after PagerDuty stored it is not posted again.
func TestNoteTimedOutAfterStoringIsNotDuplicated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var once sync.Once
		hang := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hit := false
				if route("POST", "/notes")(r) {
					once.Do(func() { hit = true })
				}
				next.ServeHTTP(w, r)
				if hit {
					<-r.Context().Done() // stored, but the answer never comes
				}
			})
		}
		h := newFaultHarness(t, hang, func(c *Config) { c.RequestTimeout = 5 * time.Second })
		svc := h.fake.AddService("Access")
		in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.client.AddNote(t.Context(), in.ID, "Auto-approved: bob is on call"); err != nil {
			t.Errorf("AddNote = %v, want success (the note is there)", err)
		}
		if got := h.fake.Notes(in.ID); len(got) != 1 {
			t.Errorf("notes = %q, want exactly one", got)
		}
	})
}

// "Pager unreachable" clears after 60 s without failures, even when no
// call is made meanwhile.
func TestReadinessRecoversAfterAQuietMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxRetries = 2 })
		h.fake.FailNext(3, http.StatusInternalServerError)
		if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); err == nil {
			t.Fatal("OnCallsNow on 500s succeeded")
		}
		if err := h.client.Ready(); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("Ready() after 3 failures = %v, want ErrUnreachable", err)
		}
		time.Sleep(59 * time.Second)
		if err := h.client.Ready(); err == nil {
			t.Error("Ready() cleared before a minute without failures")
		}
		time.Sleep(2 * time.Second)
		if err := h.client.Ready(); err != nil {
			t.Errorf("Ready() after a minute without failures = %v", err)
		}
		// One new failure after that does not make it unready at once.
		h.fake.FailNext(1, http.StatusInternalServerError)
		_, _ = h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"})
		if err := h.client.Ready(); err != nil {
			t.Errorf("Ready() after one new failure = %v", err)
		}
	})
}

// While unready, a light background probe finds PagerDuty back before the
// minute is over.
func TestReadinessProbeRunsWhileUnready(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxRetries = 2 })
		if err := h.client.Start(); err != nil {
			t.Fatal(err)
		}
		defer h.client.Stop(context.Background())
		time.Sleep(3 * ProbeInterval)
		if n := h.calls("GET /abilities"); n != 0 {
			t.Errorf("probed %d times while ready, want 0", n)
		}
		h.fake.FailNext(3, http.StatusInternalServerError)
		_, _ = h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"})
		if err := h.client.Ready(); err == nil {
			t.Fatal("Ready() after 3 failures = nil")
		}
		time.Sleep(ProbeInterval + time.Second)
		if err := h.client.Ready(); err != nil {
			t.Errorf("Ready() one probe interval later = %v, want the probe to clear it", err)
		}
		if n := h.calls("GET /abilities"); n != 1 {
			t.Errorf("probes = %d, want 1", n)
		}
	})
}

// A call its caller cancelled says nothing about PagerDuty.
func TestCallerCancelledCallsAreNotFailures(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxRetries = 0 })
	h.fake.InjectFaults(fakepd.Faults{Timeout: true})
	for range 5 {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(5 * time.Millisecond)
			cancel()
		}()
		if _, err := h.client.OnCallsNow(ctx, "PU00001", []string{"PE00001"}); err == nil {
			t.Fatal("OnCallsNow on a hanging PagerDuty succeeded")
		}
		cancel()
	}
	if err := h.client.Ready(); err != nil {
		t.Errorf("Ready() after 5 calls cancelled by their caller = %v", err)
	}
}
