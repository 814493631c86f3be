package helm_test

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/pagergate/pagergate/adapters/metrics"
)

// alertsFile is the rule file for Prometheus outside Kubernetes.
const alertsFile = "../prometheus/pagergate-alerts.yaml"

// TestAlertRulesFile checks deploy/prometheus/pagergate-alerts.yaml as
// `promtool check rules` does (Prometheus' own rule-file parser: YAML
// shape, PromQL, durations, label names, annotation templates), then
// against the metrics pagergate exports (checkRule, scoped by job), and
// keeps it in step with the chart's PrometheusRule: the same alerts, with
// the same for, severity and expression once each side's scoping labels
// are set aside (the chart's namespace, job and pod; the file's job and
// instance).
func TestAlertRulesFile(t *testing.T) {
	groups, errs := rulefmt.ParseFile(alertsFile)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", alertsFile, errs)
	}
	labelsOf := exportedLabels(t)
	file := map[string]alertRule{}
	for _, g := range groups.Groups {
		for _, n := range g.Rules {
			if n.Record.Value != "" {
				t.Errorf("recording rule %s: the file holds alerts only", n.Record.Value)
				continue
			}
			r := alertRule{Alert: n.Alert.Value, Expr: n.Expr.Value, For: time.Duration(n.For).String(), Labels: n.Labels, Annotations: n.Annotations}
			checkRule(t, r, labelsOf, "job")
			file[r.Alert] = r
		}
	}

	m := mustRender(t, readValues(t, "pagergate/ci/no-webhook-values.yaml"))
	if m.promRule == nil {
		t.Fatal("no PrometheusRule rendered")
	}
	var chartAlerts []string
	for _, g := range m.promRule.Spec.Groups {
		for _, c := range g.Rules {
			chartAlerts = append(chartAlerts, c.Alert)
			f, ok := file[c.Alert]
			if !ok {
				t.Errorf("the chart's alert %s is not in %s", c.Alert, alertsFile)
				continue
			}
			compareRules(t, c, f)
		}
	}
	for name := range file {
		if !slices.Contains(chartAlerts, name) {
			t.Errorf("alert %s of %s is not in the chart's PrometheusRule", name, alertsFile)
		}
	}
}

func compareRules(t *testing.T, chart, file alertRule) {
	t.Helper()
	cf, _ := time.ParseDuration(chart.For)
	ff, _ := time.ParseDuration(file.For)
	if cf != ff {
		t.Errorf("%s: for %s in the chart, %s in the file", chart.Alert, chart.For, file.For)
	}
	if chart.Labels["severity"] != file.Labels["severity"] {
		t.Errorf("%s: severity %s in the chart, %s in the file", chart.Alert, chart.Labels["severity"], file.Labels["severity"])
	}
	if c, f := unscoped(t, chart.Expr), unscoped(t, file.Expr); c != f {
		t.Errorf("%s: expressions differ beyond scoping labels:\n chart: %s\n file:  %s", chart.Alert, c, f)
	}
}

// unscoped parses a PromQL expression and prints it without the labels
// that only scope it to a deployment: matchers on namespace and job go,
// groupings drop namespace and job and read pod as instance.
func unscoped(t *testing.T, expr string) string {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	scoping := func(name string) bool { return name == "namespace" || name == "job" }
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch v := n.(type) {
		case *parser.VectorSelector:
			v.LabelMatchers = slices.DeleteFunc(v.LabelMatchers, func(m *labels.Matcher) bool { return scoping(m.Name) })
		case *parser.AggregateExpr:
			var g []string
			for _, l := range v.Grouping {
				if l == "pod" {
					l = "instance"
				}
				if !scoping(l) {
					g = append(g, l)
				}
			}
			v.Grouping = g
		}
		return nil
	})
	return e.String()
}

// byTraffic are the metrics whose label values (endpoint, route, code)
// come from traffic, so no series of them can exist before it.
var byTraffic = []string{"pagergate_pager_calls_total", "pagergate_pager_retries_total", "pagergate_webhook_requests_total"}

// TestAlertedSeriesExistAtZero: every series an alert selects exists in a
// fresh pagergate's /metrics (rate() and increase() miss the first sample
// of a series, so a counter born at 1 would never fire its alert), except
// those labelled by traffic.
func TestAlertedSeriesExistAtZero(t *testing.T) {
	groups, errs := rulefmt.ParseFile(alertsFile)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", alertsFile, errs)
	}
	rec := httptest.NewRecorder()
	metrics.NewRegistry().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			e, err := parser.ParseExpr(r.Expr.Value)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert.Value, err)
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				if v, ok := n.(*parser.VectorSelector); ok && !slices.Contains(byTraffic, v.Name) && !existsAtZero(fams[v.Name], v.LabelMatchers) {
					t.Errorf("%s: no series of %s matches %s before traffic", r.Alert.Value, v.Name, v)
				}
				return nil
			})
		}
	}
}

// existsAtZero reports whether one series of f matches every matcher on
// a label of its own (target labels such as job come from the scrape).
func existsAtZero(f *dto.MetricFamily, matchers []*labels.Matcher) bool {
	if f == nil {
		return false
	}
	for _, m := range f.Metric {
		own := map[string]string{}
		for _, lp := range m.Label {
			own[lp.GetName()] = lp.GetValue()
		}
		ok := true
		for _, mt := range matchers {
			if slices.Contains(targetLabels, mt.Name) || mt.Name == labels.MetricName {
				continue
			}
			ok = ok && mt.Matches(own[mt.Name])
		}
		if ok {
			return true
		}
	}
	return false
}
