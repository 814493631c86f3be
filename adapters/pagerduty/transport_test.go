package pagerduty

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/ports"
)

func TestEndpointOf(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/incidents", "POST /incidents"},
		{"GET", "/incidents/PABC123", "GET /incidents/{id}"},
		{"POST", "/incidents/PABC123/notes", "POST /incidents/{id}/notes"},
		{"GET", "/users/me", "GET /users/me"},
		{"PUT", "/extensions/PX1/", "PUT /extensions/{id}"},
		{"GET", "/", "GET /"},
	} {
		if got := endpointOf(tc.method, tc.path); got != tc.want {
			t.Errorf("endpointOf(%s, %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	for _, cfg := range []Config{{UserEmail: botEmail}, {APIKey: "k"}} {
		if _, err := New(cfg, zaptest.NewLogger(t), nil, nil); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func TestRetries5xxAndReplaysBodies(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	h.fake.FailNext(2, http.StatusServiceUnavailable)
	in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	if err != nil {
		t.Fatalf("EnsureIncident through two 503s = %v", err)
	}
	if got, _ := h.fake.Incident(in.ID); got.Title != testSpec("").Title {
		t.Errorf("incident title = %q, want the replayed body's", got.Title)
	}
	if got := h.fake.CallsByStatus()["POST /incidents"]; got[503] != 2 || got[201] != 1 {
		t.Errorf("POST /incidents answers = %v, want two 503 and one 201", got)
	}
	if n := h.metrics.get("pager_calls", "POST /incidents", "503"); n != 2 {
		t.Errorf("pager_calls{POST /incidents,503} = %d, want 2", n)
	}
	if n := h.metrics.get("pager_calls", "POST /incidents", "201"); n != 1 {
		t.Errorf("pager_calls{POST /incidents,201} = %d, want 1", n)
	}
	if n := h.metrics.get("pager_retries", "POST /incidents", "503"); n != 2 {
		t.Errorf("pager_retries{POST /incidents,503} = %d, want 2", n)
	}
}

func TestErrorTranslation(t *testing.T) {
	ctx := t.Context()
	t.Run("401 invalid token", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.APIKey = "wrong" })
		_, err := h.client.FindUserByEmail(ctx, botEmail)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("FindUserByEmail with a bad key = %v, want ErrInvalidToken", err)
		}
		if err := h.client.Check(ctx); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Check with a bad key = %v, want ErrInvalidToken", err)
		}
		if n := h.calls("GET /users"); n != 1 {
			t.Errorf("GET /users calls = %d, want 1 (401 is not retried)", n)
		}
	})
	t.Run("403 lacks rights", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.FailNext(1, http.StatusForbidden)
		_, err := h.client.FindService(ctx, "Anything")
		var pe *ports.PermissionError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "Access Denied") {
			t.Errorf("FindService on 403 = %v, want *ports.PermissionError with PagerDuty's message", err)
		}
	})
	t.Run("400 carries the message", func(t *testing.T) {
		h := newHarness(t, nil)
		svc := h.fake.AddService("Access")
		h.fake.FailNext(1, http.StatusBadRequest)
		_, err := h.client.EnsureIncident(ctx, testSpec(svc.ID))
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "Invalid Input Provided") {
			t.Errorf("EnsureIncident on 400 = %v, want the status and PagerDuty's message", err)
		}
		if errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrNotFound) {
			t.Errorf("EnsureIncident on 400 = %v, want neither unavailable nor not found", err)
		}
	})
	t.Run("5xx after retries", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxRetries = 2 })
		h.fake.FailNext(10, http.StatusInternalServerError)
		_, err := h.client.FindUserByEmail(ctx, botEmail)
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("FindUserByEmail on 500s = %v, want ErrUnavailable", err)
		}
		if n := h.calls("GET /users"); n != 3 {
			t.Errorf("GET /users calls = %d, want 3 (1 + 2 retries)", n)
		}
	})
	t.Run("429 asking too long is not waited for", func(t *testing.T) {
		// The fake's 429s say Retry-After: 1s, above MaxRetryWait here.
		h := newHarness(t, func(c *Config) { c.MaxRetryWait = 10 * time.Millisecond })
		h.fake.FailNext(1, http.StatusTooManyRequests)
		_, err := h.client.OnCallsNow(ctx, "PU00001", []string{"PE00001"})
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("OnCallsNow on a long 429 = %v, want ErrUnavailable", err)
		}
		if n := h.calls("GET /oncalls"); n != 1 {
			t.Errorf("GET /oncalls calls = %d, want 1", n)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		h := newHarness(t, nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := h.client.OnCallsNow(cctx, "PU00001", []string{"PE00001"})
		if !errors.Is(err, ports.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("OnCallsNow(canceled) = %v, want ErrUnavailable and context.Canceled", err)
		}
	})
}

// TestRateLimitedAfterRetries: 429s past MaxRetries end ErrUnavailable,
// after waiting what PagerDuty asked.
func TestRateLimitedAfterRetries(t *testing.T) {
	contractRouter(t)
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxRetries = 1; c.MaxRetryWait = 2 * time.Second })
		h.fake.FailNext(10, http.StatusTooManyRequests)
		start := time.Now()
		_, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"})
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("OnCallsNow on 429s = %v, want ErrUnavailable", err)
		}
		if n := h.calls("GET /oncalls"); n != 2 {
			t.Errorf("GET /oncalls calls = %d, want 2", n)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %v, want the 1 s Retry-After honoured", d)
		}
	})
}

// TestTimeoutsRetriedThenUnavailable: each attempt is cut at
// RequestTimeout, retried, and the call ends ErrUnavailable.
func TestTimeoutsRetriedThenUnavailable(t *testing.T) {
	contractRouter(t)
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) {
			c.RequestTimeout = 5 * time.Second
			c.MaxRetries = 2
		})
		h.fake.InjectFaults(fakepd.Faults{Timeout: true})
		start := time.Now()
		_, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"})
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("OnCallsNow against a hanging PagerDuty = %v, want ErrUnavailable", err)
		}
		if n := h.calls("GET /oncalls"); n != 3 {
			t.Errorf("attempts = %d, want 3", n)
		}
		if d := time.Since(start); d < 15*time.Second || d > 16*time.Second {
			t.Errorf("took %v, want three 5 s attempts plus short backoffs", d)
		}
		if n := h.metrics.get("pager_calls", "GET /oncalls", "timeout"); n != 3 {
			t.Errorf("pager_calls{GET /oncalls,timeout} = %d, want 3", n)
		}
	})
}

// timeLog records when each request reached PagerDuty.
type timeLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *timeLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.times = append(l.times, time.Now())
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// maxInWindow returns the most requests seen within any window of length d.
func (l *timeLog) maxInWindow(d time.Duration) int {
	l.mu.Lock()
	times := slices.Clone(l.times)
	l.mu.Unlock()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestRateLimit429Storm: under random 429s every call still succeeds, and
// the client never sends faster than its limit.
func TestRateLimit429Storm(t *testing.T) {
	contractRouter(t)
	synctest.Test(t, func(t *testing.T) {
		const perMinute = 120 // 2 per second, bursts of 2
		fake := fakepd.New(fakepd.Options{})
		fake.AddUser(botEmail, "")
		u := fake.AddUser("storm@example.com", "")
		svc := fake.AddService("Storm")
		if err := fake.AddOnCall(u.Email, "Storm", 1); err != nil {
			t.Fatal(err)
		}
		fake.InjectFaults(fakepd.Faults{Rate429: 0.4, RetryAfter: 500 * time.Millisecond, Seed: 7})
		log := &timeLog{}
		cc := newContractCheck(t, log.wrap(fake.Handler()))
		c, err := New(Config{
			APIKey: fakepd.DefaultAPIKey, UserEmail: botEmail, APIEndpoint: testEndpoint,
			HTTPClient: &http.Client{Transport: handlerTransport{h: cc}},
			RateLimit:  perMinute, MaxRetries: 40, RetryWait: 100 * time.Millisecond, MaxRetryWait: 2 * time.Second,
			RequestTimeout: 10 * time.Second, CacheTTL: time.Minute,
		}, zaptest.NewLogger(t), nil, nil)
		if err != nil {
			t.Fatal(err)
		}

		const workers, each = 5, 6
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					ocs, err := c.OnCallsNow(t.Context(), u.ID, []string{svc.EscalationPolicyID})
					if err == nil && len(ocs) != 1 {
						err = errors.New("wrong on-calls")
					}
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("OnCallsNow in the storm = %v", err)
			}
		}
		by := fake.CallsByStatus()["GET /oncalls"]
		if by[200] != workers*each || by[429] == 0 {
			t.Errorf("answers = %v, want %d successes after some 429s", by, workers*each)
		}
		// Token bucket: at most burst + rate×window requests per window.
		if got := log.maxInWindow(time.Second); got > 4 {
			t.Errorf("%d requests within one second, want <= 4 at %d/min", got, perMinute)
		}
		if got := log.maxInWindow(10 * time.Second); got > 22 {
			t.Errorf("%d requests within ten seconds, want <= 22 at %d/min", got, perMinute)
		}
	})
}

// TestClientRateKeepsUnderServerLimit: at the account's limit, the client's
// own bucket keeps PagerDuty from ever answering 429.
func TestClientRateKeepsUnderServerLimit(t *testing.T) {
	contractRouter(t)
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.RateLimit = 60 })
		u := h.fake.AddUser("steady@example.com", "")
		h.fake.AddService("Steady")
		h.fake.SetRateLimit(60)
		start := time.Now()
		for range 90 {
			if _, err := h.client.OnCallsNow(t.Context(), u.ID, []string{"PE00001"}); err != nil {
				t.Fatalf("OnCallsNow = %v", err)
			}
		}
		if by := h.fake.CallsByStatus()["GET /oncalls"]; by[429] != 0 || by[200] != 90 {
			t.Errorf("answers = %v, want 90 successes and no 429", by)
		}
		if d := time.Since(start); d < 89*time.Second {
			t.Errorf("90 calls at 60/min took %v, want >= 89s", d)
		}
	})
}

func TestCheck(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.client.Check(t.Context()); err != nil {
		t.Errorf("Check = %v", err)
	}
	h2 := newHarness(t, func(c *Config) { c.UserEmail = "nobody@example.com" })
	if err := h2.client.Check(t.Context()); !errors.Is(err, ports.ErrNotFound) || !strings.Contains(err.Error(), "user_email") {
		t.Errorf("Check with an unknown bot = %v, want ErrNotFound naming user_email", err)
	}
}

// TestOverLoopback runs a flow over real HTTP on 127.0.0.1, including a
// timed-out attempt, through the contract check.
func TestOverLoopback(t *testing.T) {
	fake := fakepd.New(fakepd.Options{})
	fake.AddUser(botEmail, "")
	svc := fake.AddService("Loopback")
	srv := httptest.NewServer(newContractCheck(t, fake.Handler()))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := New(Config{
		APIKey: fakepd.DefaultAPIKey, UserEmail: botEmail, APIEndpoint: srv.URL,
		HTTPClient:     &http.Client{Transport: tr},
		RequestTimeout: 200 * time.Millisecond, RetryWait: time.Millisecond, MaxRetryWait: 10 * time.Millisecond,
		RateLimit: 60000, CacheTTL: time.Minute,
	}, zaptest.NewLogger(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	in, err := c.EnsureIncident(ctx, testSpec(svc.ID))
	if err != nil {
		t.Fatalf("EnsureIncident = %v", err)
	}
	if err := c.AddNote(ctx, in.ID, "hello"); err != nil {
		t.Fatalf("AddNote = %v", err)
	}
	if err := c.ResolveIncident(ctx, in.ID); err != nil {
		t.Fatalf("ResolveIncident = %v", err)
	}
	// A hanging attempt is cut and retried; then PagerDuty answers again.
	fake.SetLatency(time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := c.GetIncident(ctx, in.ID)
		done <- err
	}()
	// The fake counts a call before applying its latency, so lift the
	// latency only once a second attempt (the retry) has arrived.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fake.WaitFor(wctx, func(s *fakepd.Server) bool { return s.Calls()["GET /incidents/{id}"] >= 2 }); err != nil {
		t.Fatalf("no retry of the hanging attempt reached PagerDuty: %v", err)
	}
	fake.SetLatency(0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("GetIncident after a timed-out attempt = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GetIncident did not return within 10s of PagerDuty answering again")
	}
	if n := fake.Calls()["GET /incidents/{id}"]; n < 2 {
		t.Errorf("GET /incidents/{id} calls = %d, want a retry after the timeout", n)
	}
}

// TestReadyTracksReachability: failed attempts in a row make the client
// unready (SPEC §13 "pager reachable recently"); one success heals it.
func TestReadyTracksReachability(t *testing.T) {
	contractRouter(t)
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxRetries = 2; c.RetryWait = time.Millisecond })
		if err := h.client.Ready(); err != nil {
			t.Fatalf("Ready() before any call = %v", err)
		}
		h.fake.FailNext(3, http.StatusInternalServerError)
		if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("OnCallsNow on 500s = %v", err)
		}
		if err := h.client.Ready(); !errors.Is(err, ErrUnreachable) {
			t.Errorf("Ready() after 3 failed attempts = %v, want ErrUnreachable", err)
		}
		if _, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"}); err != nil {
			t.Fatalf("OnCallsNow = %v", err)
		}
		if err := h.client.Ready(); err != nil {
			t.Errorf("Ready() after a success = %v", err)
		}
	})
}

// TestA429HoldsBackEveryCall: PagerDuty's limit is per account, so a 429
// closes the pause gate for every call of the client for the wait it asked
// (the fake's 429s ask 1 s), whether the call that met it retries or gives
// up. Another call started meanwhile reaches PagerDuty only after the wait.
func TestA429HoldsBackEveryCall(t *testing.T) {
	contractRouter(t)
	for _, tt := range []struct {
		name    string
		maxWait time.Duration // over 1 s: the call retries; under: it gives up
	}{{"retried", 2 * time.Second}, {"given up", 500 * time.Millisecond}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &timeLog{}
				h := newFaultHarness(t, log.wrap, func(c *Config) { c.MaxRetries = 3; c.MaxRetryWait = tt.maxWait })
				h.fake.FailNext(1, http.StatusTooManyRequests)
				start := time.Now()
				first := make(chan error, 1)
				go func() {
					_, err := h.client.OnCallsNow(t.Context(), "PU00001", []string{"PE00001"})
					first <- err
				}()
				synctest.Wait() // the first call met its 429: it sleeps, or it is done
				if _, err := h.client.OnCallsNow(t.Context(), "PU00002", []string{"PE00001"}); err != nil {
					t.Fatalf("call after the 429 = %v", err)
				}
				err := <-first // in the bubble: a call that never returns fails the test as a deadlock
				if retried := tt.maxWait > time.Second; retried != (err == nil) {
					t.Errorf("call that met the 429 = %v (retried: %v)", err, retried)
				}
				log.mu.Lock()
				defer log.mu.Unlock()
				if len(log.times) < 2 || !log.times[0].Equal(start) {
					t.Fatalf("arrivals = %v, want the 429 at %v first", log.times, start)
				}
				for i, at := range log.times[1:] {
					if d := at.Sub(start); d < time.Second {
						t.Errorf("request %d reached PagerDuty %v after the 429, want >= 1 s", i+2, d)
					}
				}
			})
		})
	}
}

// A note PagerDuty answers 400 for another reason than a full incident
// (here the From user it no longer knows) is not refused for good: the
// pass fails and is retried once the bot user is fixed.
func TestNoteFromUnknownUserIsNotRefused(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UserEmail = "nobody@example.com" })
	h.fake.AddService("Access")
	inc, err := h.fake.AddIncident(fakepd.IncidentSeed{Service: "Access", Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	err = h.client.AddNote(t.Context(), inc.ID, "Access request has been approved")
	if err == nil || errors.Is(err, ports.ErrRefused) {
		t.Fatalf("AddNote from a user PagerDuty does not know = %v, want an error that is not ErrRefused", err)
	}
}
