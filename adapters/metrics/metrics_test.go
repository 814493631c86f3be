package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
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
	reg.Action(ports.ActionDone(domain.VerbApprove))
	reg.RecordConflict(domain.Effect{Kind: domain.EffectOpenIncident, Service: "Ops"})
	reg.WebhookRequest("/pagerduty/v3", 202)
	reg.RuleError(ports.RuleStageParse)
	reg.RuleError(ports.RuleStage("bogus"))
	reg.WatcherConnected(true)
	reg.QueueDepth(7)
	reg.Shift(ports.ShiftLocked)
	// Values this build does not know are counted, not exported.
	reg.Event(domain.EventKind(99))
	reg.Incident("")
	reg.RecordConflict(domain.Effect{})
	watcher := &readiness{err: errors.New("teleport watcher is not connected")}
	s := NewServer("127.0.0.1:0", reg, Checks{"watcher": watcher}, zaptest.NewLogger(t))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	base := "http://" + s.Addr()

	code, body := get(t, base+"/metrics")
	for _, want := range []string{`pagergate_incidents_total{outcome="opened"} 2`, `pagergate_pager_calls_total{code="201",endpoint="POST /incidents"} 1`,
		"pagergate_queue_depth 7", `pagergate_pager_call_seconds_count{endpoint="POST /incidents"} 1`, "pagergate_unknown_metric_total 4", `pagergate_events_total{kind="rule_put"} 1`,
		`pagergate_events_total{kind="synced"} 1`, `pagergate_actions_total{outcome="approve"} 1`, `pagergate_plugin_data_conflicts_total{effect="open:Ops"} 1`,
		`pagergate_webhook_requests_total{code="202",route="/pagerduty/v3"} 1`, `pagergate_rule_errors_total{stage="parse"} 1`, "pagergate_watcher_connected 1", "go_goroutines",
		`pagergate_shift_ends_total{outcome="locked"} 1`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
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
