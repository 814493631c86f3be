//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// Scenario: Teleport access monitoring rules route requests. A rule routes
// a request without annotation; a second rule adds its service (two
// incidents); editing a rule while pagergate runs changes the routing of
// the next request; a broken condition is reported by check, logged and
// counted, and never matches.
func TestAccessMonitoringRulesRouteRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	upsert := func(r teleporttest.Rule) {
		t.Helper()
		r.Plugin = "pagerduty"
		if err := e.tp.UpsertRule(r); err != nil {
			t.Fatal(err)
		}
	}
	upsert(teleporttest.Rule{Name: "critical-db", Condition: `access_request.spec.roles.contains("db-admin")`, Recipients: []string{svcCritical}})
	// Another plugin's rule is not pagergate's.
	if err := e.tp.UpsertRule(teleporttest.Rule{Name: "slack-all", Condition: "true", Plugin: "slack", Recipients: []string{svcTeleport}}); err != nil {
		t.Fatal(err)
	}
	d := e.start(e.writeConfig())

	// settled waits until every incident of the request is opened (the
	// approval step follows the last one) and returns their services.
	settled := func(id string) []string {
		t.Helper()
		d.waitLogEntry("approval step of "+id, func(l logEntry) bool {
			return l.str("request_id") == id && l.str("decision") == "skip"
		})
		var names []string
		for _, inc := range e.incidentsFor(id) {
			for _, svc := range []string{svcCritical, svcTeleport} {
				if inc.ServiceID == e.serviceID(svc) {
					names = append(names, svc)
				}
			}
		}
		slices.Sort(names)
		return names
	}

	r1 := e.createRequest(alice, []string{"db-admin"}, nil, "rule routes it")
	if got := settled(r1); !slices.Equal(got, []string{svcCritical}) {
		t.Errorf("r1 incidents in %v, want only %q (from the rule)", got, svcCritical)
	}

	upsert(teleporttest.Rule{Name: "teleport-too", Condition: `contains_any(access_request.spec.roles, set("db-admin", "auditor")) && access_request.spec.user == "alice@example.com"`,
		Recipients: []string{svcTeleport}})
	d.waitLogEntry("second rule loaded", func(l logEntry) bool { return l.str("rule") == "teleport-too" })
	r2 := e.createRequest(alice, []string{"db-admin"}, nil, "two rules")
	if got := settled(r2); !slices.Equal(got, []string{svcCritical, svcTeleport}) {
		t.Errorf("r2 incidents in %v, want both services", got)
	}

	// Edited while running: critical-db no longer matches.
	upsert(teleporttest.Rule{Name: "critical-db", Condition: `access_request.spec.roles.contains("nobody")`, Recipients: []string{svcCritical}})
	e.waitFor("edited rule loaded", func() bool { return countLoaded(d, "critical-db") == 2 })
	r3 := e.createRequest(alice, []string{"db-admin"}, nil, "after the edit")
	if got := settled(r3); !slices.Equal(got, []string{svcTeleport}) {
		t.Errorf("r3 incidents in %v, want only %q after the edit", got, svcTeleport)
	}

	// A broken condition: logged and counted when it arrives, never matches.
	upsert(teleporttest.Rule{Name: "broken", Condition: `contains_any(access_request.spec.roles, set("db-admin")`, Recipients: []string{svcCritical}})
	d.waitLogEntry("broken rule reported", func(l logEntry) bool {
		return l.str("rule") == "broken" && l.str("msg") == "routing rule never matches" && strings.HasPrefix(l.str("reason"), "condition does not parse")
	})
	r4 := e.createRequest(alice, []string{"db-admin"}, nil, "broken rule")
	if got := settled(r4); !slices.Equal(got, []string{svcTeleport}) {
		t.Errorf("r4 incidents in %v, want only %q (the broken rule never matches)", got, svcTeleport)
	}
	if v, ok := metricValue(d.metrics(), `pagergate_rule_errors_total{stage="parse"}`); !ok || v != 1 {
		t.Errorf(`pagergate_rule_errors_total{stage="parse"} = %v (found %v), want 1`, v, ok)
	}
	// Nothing paged the earlier requests again.
	for id, n := range map[string]int{r1: 1, r2: 2, r3: 1} {
		if got := len(e.incidentsFor(id)); got != n {
			t.Errorf("%s has %d incidents, want %d", id, got, n)
		}
	}

	c := e.run("", []string{"check", "-c", d.cfgPath})
	code, out := c.wait(time.Minute), c.stderrText()
	for _, want := range []string{"ok    teleport routing rules 3 for pagerduty (1 never route)", "FAIL  rule broken            condition does not parse",
		`ok    rule teleport-too`, "ok    rule critical-db"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if code == 0 || strings.Contains(out, "slack-all") {
		t.Errorf("check with a broken rule: exit %d (want a failure), output:\n%s", code, out)
	}
	d.stop()
}

// countLoaded counts the times the daemon loaded a rule.
func countLoaded(d *daemon, rule string) int {
	n := 0
	for _, l := range d.logEntries() {
		if l.str("msg") == "routing rule loaded" && l.str("rule") == rule {
			n++
		}
	}
	return n
}
