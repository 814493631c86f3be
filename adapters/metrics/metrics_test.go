package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

type readiness struct{ err error }

func (r readiness) Ready() error { return r.err }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerServesMetricsAndHealth(t *testing.T) {
	defer goleak.VerifyNone(t)
	reg := NewRegistry()
	reg.Incident(ports.IncidentOpened)
	reg.Incident(ports.IncidentOpened)
	reg.PagerCall("POST /incidents", "201", 30*time.Millisecond)
	reg.Event(domain.EventSynced)
	reg.Event(domain.EventRulePut)
	reg.Action(domain.VerbApprove, ports.ActionDone)
	reg.RecordConflict(domain.Effect{Kind: domain.EffectOpenIncident, Service: "Ops"})
	reg.WebhookRequest("/pagerduty/v3", 202)
	reg.RuleError(ports.RuleStageParse)
	reg.RuleError(ports.RuleStage("bogus"))
	reg.WatcherConnected(true)
	reg.QueueDepth(7)
	reg.Shift(ports.ShiftLocked)
	reg.NoteRefused()
	reg.MemoryRelease(ports.ReleaseIdle)
	reg.MemoryRelease(ports.ReleaseTrigger("bogus"))
	// Values this build does not know are counted, not exported.
	reg.Event(domain.EventKind(99))
	reg.Incident("")
	reg.RecordConflict(domain.Effect{})
	reg.Action(domain.Verb(0), ports.ActionDone)
	watcher := &readiness{err: errors.New("teleport watcher is not connected")}
	s := NewServer("127.0.0.1:0", reg, Checks{"watcher": watcher}, zaptest.NewLogger(t))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	base := "http://" + s.Addr()

	code, body := get(t, base+"/metrics")
	for _, want := range []string{`pagergate_incidents_total{outcome="opened"} 2`, `pagergate_pager_calls_total{code="201",endpoint="POST /incidents"} 1`,
		"pagergate_queue_depth 7", `pagergate_pager_call_duration_seconds_count{endpoint="POST /incidents"} 1`, `pagergate_events_total{kind="rule_put"} 1`,
		`pagergate_events_total{kind="synced"} 1`, `pagergate_actions_total{outcome="done",verb="approve"} 1`, `pagergate_plugin_data_conflicts_total{effect="open:Ops"} 1`,
		`pagergate_webhook_requests_total{code="202",route="/pagerduty/v3"} 1`, `pagergate_rule_errors_total{stage="parse"} 1`, "pagergate_watcher_connected 1", "go_goroutines",
		`pagergate_shift_ends_total{outcome="locked"} 1`, "pagergate_notes_refused_total 1", `pagergate_memory_releases_total{trigger="idle"} 1`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
		}
	}
	if n := reg.Dropped(); n != 6 {
		t.Errorf("Dropped() = %d, want the 6 samples with unknown label values", n)
	}
	for _, unwanted := range []string{"pagergate_unknown_metric_total", `=""`, "Verb(0)"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("/metrics exports %s", unwanted)
		}
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "watcher: teleport watcher is not connected") {
		t.Errorf("/readyz = %d %q, want 503 naming the watcher", code, body)
	}
	*watcher = readiness{}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
}

// TestFreshRegistry: before anything happens, the series alert rules
// select exist at 0 (rate() and increase() miss a series' first sample),
// and pagergate_build_info names the build.
func TestFreshRegistry(t *testing.T) {
	reg := NewRegistry()
	reg.SetVersion("v1.2.3")
	body := scrape(t, reg)
	for _, want := range []string{
		`pagergate_incidents_total{outcome="failed"} 0`, `pagergate_incidents_total{outcome="unknown_service"} 0`,
		`pagergate_effect_retries_total{reason="scheduled"} 0`, `pagergate_approvals_total{outcome="lookup_failed"} 0`,
		`pagergate_actions_total{outcome="failed",verb="approve"} 0`, `pagergate_rule_errors_total{stage="parse"} 0`,
		`pagergate_build_info{goversion="` + runtime.Version() + `",revision="`, `",version="v1.2.3"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("a fresh /metrics lacks %q", want)
		}
	}
	if strings.Count(body, "pagergate_build_info{") != 1 {
		t.Errorf("build_info has %d series, want 1:\n%s", strings.Count(body, "pagergate_build_info{"), body)
	}
}

func scrape(t *testing.T, reg *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestBusyPortFailsStart(t *testing.T) {
	a := NewServer("127.0.0.1:0", NewRegistry(), nil, zaptest.NewLogger(t))
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	b := NewServer(a.Addr(), NewRegistry(), nil, zaptest.NewLogger(t))
	if err := b.Start(); err == nil || !strings.Contains(err.Error(), a.Addr()) {
		t.Fatalf("Start() on a busy port = %v", err)
	}
}
