package pagerduty

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// TestCheckTriesOnce: `pagergate check` announces the PagerDuty probe and
// calls the API once, without the daemon's retries, even on a 503 that
// the daemon would retry: a check reports, it does not wait out an outage.
func TestCheckTriesOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	p := config.PagerSettings{Vendor: &config.PagerDutySettings{APIKey: "k", UserEmail: "bot@example.com",
		APIEndpoint: srv.URL, RateLimit: 900, RequestTimeout: 5 * time.Second, CacheTTL: time.Minute}}
	var started, failed int
	Check(t.Context(), p, nil, func(name string, err error, _ string) {
		switch {
		case ports.IsStart(err):
			started++
		case err != nil:
			t.Logf("FAIL %s: %v", name, err)
			failed++
		}
	})
	if started != 1 || failed != 1 {
		t.Errorf("check: %d start and %d FAIL lines, want 1 and 1", started, failed)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("check made %d calls on a 503, want 1 (no retry)", n)
	}
}
