package opsgenie

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// arrivals records when each request reached Opsgenie.
type arrivals struct {
	next  http.RoundTripper
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
	return a.next.RoundTrip(r)
}

// Opsgenie's limits are per account, so a 429 closes the pause gate for
// every call of the client for the period it names (the fake's injected
// 429s name 1 s), whether the call that met it retries or gives up.
// Another call started meanwhile reaches Opsgenie only after the period.
func TestA429HoldsBackEveryCall(t *testing.T) {
	for _, tt := range []struct {
		name    string
		maxWait time.Duration // over 1 s: the call retries; under: it gives up
	}{{"retried", 2 * time.Second}, {"given up", 500 * time.Millisecond}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log := &arrivals{}
				h := newHarness(t, func(c *Config) {
					log.next = c.HTTPClient.Transport
					c.HTTPClient = &http.Client{Transport: log}
					c.MaxRetryWait = tt.maxWait
				})
				h.seed(t)
				h.fake.FailNext(1, http.StatusTooManyRequests)
				start := time.Now()
				first := make(chan error, 1)
				go func() {
					_, err := h.client.FindService(t.Context(), "ops_schedule")
					first <- err
				}()
				synctest.Wait() // the first call met its 429: it sleeps, or it is done
				if _, err := h.client.FindService(t.Context(), "team:ops"); err != nil {
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
						t.Errorf("request %d reached Opsgenie %v after the 429, want >= 1 s", i+2, d)
					}
				}
			})
		})
	}
}
