package main

import (
	"strings"
	"testing"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

func TestCheckListsRoutingRules(t *testing.T) {
	path, tsrv, pd := servers(t, nil)
	pd.AddService("Databases")
	// Without access_monitoring_rule: list, read the rules are off, which
	// is no failure.
	code, out, _ := runCLI("check", "-c", path)
	if code != exitOK || !strings.Contains(out, "ok    teleport routing rules off: listing them is denied") {
		t.Fatalf("check without the rule permission = %d:\n%s", code, out)
	}

	tsrv.AddUser("pagergate", teleporttest.AllPerms)
	for _, r := range []teleporttest.Rule{
		{Name: "db", Condition: `access_request.spec.roles.contains("db")`, Plugin: "pagerduty", Recipients: []string{"Databases"}},
		{Name: "slack", Condition: "true", Plugin: "slack", Recipients: []string{"#ops"}},
	} {
		if err := tsrv.UpsertRule(r); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runCLI("check", "-c", path)
	for _, want := range []string{"ok    teleport routing rules 1 for pagerduty (0 never route)",
		`ok    rule db                access_request.spec.roles.contains("db") → Databases`,
		`ok    pager rule service     "Databases" is PS`} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("check = %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "slack") {
		t.Errorf("check lists another plugin's rule:\n%s", out)
	}

	for _, r := range []teleporttest.Rule{
		{Name: "broken", Condition: `contains_any(access_request.spec.roles, set("db")`, Plugin: "pagerduty", Recipients: []string{"Databases"}},
		{Name: "labels", Condition: `access_request.spec.resource_labels_intersection["env"].contains("prod")`, Plugin: "pagerduty", Recipients: []string{"Databases"}},
		{Name: "unknown-service", Condition: "true ||\n  false", Plugin: "pagerduty", Recipients: []string{"No Such Service"}},
	} {
		if err := tsrv.UpsertRule(r); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runCLI("check", "-c", path)
	for _, want := range []string{"ok    teleport routing rules 4 for pagerduty (2 never route)",
		"FAIL  rule broken            condition does not parse: 1:",
		"ok    rule unknown-service   true || false → No Such Service",
		"FAIL  rule labels            condition refused: access_request.spec.resource_labels_intersection: not supported by pagergate",
		`FAIL  pager rule service     service "No Such Service": not found`} {
		if code != exitRuntime || !strings.Contains(out, want) {
			t.Errorf("check = %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
