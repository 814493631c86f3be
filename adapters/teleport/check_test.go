package teleport

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// runCheck runs Check online and returns its lines, formatted as
// `pagergate check` prints them, and the rule recipients it returned.
func runCheck(t *testing.T, cfg Config) (string, []string) {
	t.Helper()
	var out strings.Builder
	recipients := Check(ctxT(t), cfg, true, func(name string, err error, detail string) {
		if err != nil {
			fmt.Fprintf(&out, "FAIL  %-22s %v\n", name, err)
			return
		}
		fmt.Fprintf(&out, "ok    %-22s %s\n", name, detail)
	})
	return out.String(), recipients
}

func TestCheckListsRoutingRules(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true})
	path := filepath.Join(t.TempDir(), "identity")
	if err := srv.WriteIdentityFile(path, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, path)

	// Without access_monitoring_rule: list, read the rules are off, which
	// is no failure.
	out, recipients := runCheck(t, cfg)
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "ok    teleport routing rules off: listing them is denied") || recipients != nil {
		t.Fatalf("check without the rule permission, recipients %q:\n%s", recipients, out)
	}

	srv.AddUser("pagergate", teleporttest.AllPerms)
	for _, r := range []teleporttest.Rule{
		{Name: "db", Condition: `access_request.spec.roles.contains("db")`, Plugin: "pagerduty", Recipients: []string{"Databases"}},
		{Name: "slack", Condition: "true", Plugin: "slack", Recipients: []string{"#ops"}},
	} {
		if err := srv.UpsertRule(r); err != nil {
			t.Fatal(err)
		}
	}
	out, recipients = runCheck(t, cfg)
	for _, want := range []string{"ok    teleport routing rules 1 for pagerduty (0 never route)",
		`ok    rule db                access_request.spec.roles.contains("db") → Databases`} {
		if strings.Contains(out, "FAIL") || !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "slack") || !slices.Equal(recipients, []string{"Databases"}) {
		t.Errorf("check lists another plugin's rule, or recipients %q are not [Databases]:\n%s", recipients, out)
	}

	for _, r := range []teleporttest.Rule{
		{Name: "broken", Condition: `contains_any(access_request.spec.roles, set("db")`, Plugin: "pagerduty", Recipients: []string{"Broken Only"}},
		{Name: "labels", Condition: `access_request.spec.resource_labels_intersection["env"].contains("prod")`, Plugin: "pagerduty", Recipients: []string{"Refused Only"}},
		{Name: "unknown-service", Condition: "true ||\n  false", Plugin: "pagerduty", Recipients: []string{"No Such Service", "Databases"}},
		{Name: "nobody", Condition: "true", Plugin: "pagerduty"},
	} {
		if err := srv.UpsertRule(r); err != nil {
			t.Fatal(err)
		}
	}
	out, recipients = runCheck(t, cfg)
	for _, want := range []string{"ok    teleport routing rules 5 for pagerduty (3 never route)",
		"FAIL  rule broken            condition does not parse: 1:",
		"ok    rule unknown-service   true || false → No Such Service, Databases",
		"FAIL  rule labels            condition refused: access_request.spec.resource_labels_intersection: not supported by pagergate",
		"FAIL  rule nobody            names no recipient: it routes nowhere"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// Recipients of the rules that can route, sorted, each once; none of
	// the broken rules'.
	if want := []string{"Databases", "No Such Service"}; !slices.Equal(recipients, want) {
		t.Errorf("recipients = %q, want %q", recipients, want)
	}
}
