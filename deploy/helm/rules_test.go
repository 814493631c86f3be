package helm_test

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pagergate/pagergate/adapters/metrics"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

var (
	metricName   = regexp.MustCompile(`\bpagergate_[a-z_]+`)
	selector     = regexp.MustCompile(`(pagergate_[a-z_]+)\{([^}]*)\}`)
	matcherLabel = regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	byLabels     = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// Labels Prometheus adds to every scraped series (target labels).
var targetLabels = []string{"namespace", "job", "pod", "instance", "service", "container", "endpoint"}

// TestAlertRules checks the PrometheusRule's alerts against the metrics
// pagergate really exports: every metric name exists in adapters/metrics,
// and every label an expression filters or groups by is one of that
// metric's labels or a target label. The chart's alerts are the ones
// named in SPEC §13's spirit: watcher, effect retries, pager reachability
// and webhook failures.
func TestAlertRules(t *testing.T) {
	m := mustRender(t, readValues(t, "pagergate/ci/no-webhook-values.yaml"))
	if m.promRule == nil || len(m.promRule.Spec.Groups) == 0 {
		t.Fatal("no PrometheusRule rendered with prometheusRule.enabled=true")
	}
	labels := exportedLabels(t)
	var alerts []string
	for _, g := range m.promRule.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkRule(t, r, labels, "namespace", "job")
		}
	}
	for _, want := range []string{
		"PagergateWatcherDisconnected", "PagergateNoWatcherConnected", "PagergateEffectRetries",
		"PagergatePagerUnreachable", "PagergateWebhookErrors", "PagergateWebhookAuthFailures", "PagergateIncidentsNotOpened",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alert %s is missing (have %v)", want, alerts)
		}
	}
}

// checkRule checks one alert against the exported metrics; every metric
// has a selector that filters on each of the scope labels (the labels
// that keep it to one deployment).
func checkRule(t *testing.T, r alertRule, labels map[string][]string, scope ...string) {
	t.Helper()
	if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
		t.Errorf("%s: for = %q is not a positive duration", r.Alert, r.For)
	}
	if s := r.Labels["severity"]; s != "warning" && s != "critical" {
		t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
	}
	if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
		t.Errorf("%s: needs a summary and a description", r.Alert)
	}
	if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
		t.Errorf("%s: unbalanced expression %q", r.Alert, r.Expr)
	}
	names := metricName.FindAllString(r.Expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: uses no pagergate metric: %s", r.Alert, r.Expr)
	}
	for _, n := range names {
		if _, ok := labels[n]; !ok {
			t.Errorf("%s: metric %s is not exported by pagergate", r.Alert, n)
		}
	}
	sels := selector.FindAllStringSubmatch(r.Expr, -1)
	if len(sels) != len(names) {
		t.Errorf("%s: %d metrics but %d selectors: each must keep to the deployment (%v): %s", r.Alert, len(names), len(sels), scope, r.Expr)
	}
	for _, sel := range sels {
		var used []string // the labels this selector filters on
		for _, l := range matcherLabel.FindAllStringSubmatch(sel[2], -1) {
			if !slices.Contains(targetLabels, l[1]) && !slices.Contains(labels[sel[1]], l[1]) {
				t.Errorf("%s: %s has no label %q (it has %v)", r.Alert, sel[1], l[1], labels[sel[1]])
			}
			used = append(used, l[1])
		}
		for _, l := range scope {
			if !slices.Contains(used, l) {
				t.Errorf("%s: %s does not filter on %s, so it mixes deployments: %s", r.Alert, sel[0], l, r.Expr)
			}
		}
	}
	for _, by := range byLabels.FindAllStringSubmatch(r.Expr, -1) {
		for _, l := range strings.Split(by[1], ",") {
			if l = strings.TrimSpace(l); !slices.Contains(targetLabels, l) {
				t.Errorf("%s: groups by %q, which is not a target label", r.Alert, l)
			}
		}
	}
}

// exportedLabels returns the label names of every pagergate metric, read
// from the Prometheus exposition of adapters/metrics after one sample of
// each (a label-less vector is not exported until it has one).
func exportedLabels(t *testing.T) map[string][]string {
	t.Helper()
	reg := metrics.NewRegistry()
	reg.Event(domain.EventPut)
	reg.Incident(ports.IncidentOpened)
	reg.Approval(ports.ApprovalApproved)
	reg.ReviewNoted()
	reg.NoteRefused()
	reg.Action(domain.VerbApprove, ports.ActionFailed)
	reg.EffectRetry()
	reg.RecordConflict(domain.Effect{Kind: domain.EffectResolve})
	reg.QueueDepth(1)
	reg.WatcherConnected(true)
	reg.PagerCall("GET /oncalls", "200", time.Millisecond)
	reg.PagerRetry("GET /oncalls", "503")
	reg.WebhookRequest("/pagerduty/v3", 202)
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string][]string{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "pagergate_") || len(f.Metric) == 0 {
			continue
		}
		var ls []string
		for _, lp := range f.Metric[0].Label {
			ls = append(ls, lp.GetName())
		}
		out[name] = ls
	}
	if len(out) < 5 {
		t.Fatalf("too few pagergate metrics exported: %v", out)
	}
	return out
}
