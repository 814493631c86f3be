package teleport

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/ports"
)

// runCheck runs Check online and returns its lines, formatted as
// `pagergate check` prints them, and the rule recipients it returned.
func runCheck(t *testing.T, cfg Config) (string, []string) {
	t.Helper()
	return runCheckWith(t, cfg, CheckOptions{Online: true})
}

func runCheckWith(t *testing.T, cfg Config, opts CheckOptions) (string, []string) {
	t.Helper()
	var out strings.Builder
	recipients := Check(ctxT(t), cfg, opts, func(name string, err error, detail string) {
		if ports.IsStart(err) {
			fmt.Fprintf(&out, "...   %-22s %s\n", name, detail)
			return
		}
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

// With Locks (bind_to_shift), Check probes that the plugin may create and
// update locks, without making one; without it, it does not ask.
func TestCheckProbesLocks(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true})
	path := filepath.Join(t.TempDir(), "identity")
	if err := srv.WriteIdentityFile(path, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, path)
	bound := CheckOptions{Online: true, Locks: true}

	out, _ := runCheckWith(t, cfg, bound)
	if !strings.Contains(out, "FAIL  teleport locks") || !strings.Contains(out, PermLock) {
		t.Errorf("check without the lock rule:\n%s", out)
	}
	srv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true, Locks: true})
	out, _ = runCheckWith(t, cfg, bound)
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "ok    teleport locks         may create and update locks") {
		t.Errorf("check with the lock rule:\n%s", out)
	}
	if n := len(srv.Locks()); n != 0 {
		t.Errorf("check left %d locks", n)
	}
	srv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true})
	if out, _ = runCheck(t, cfg); strings.Contains(out, "teleport locks") {
		t.Errorf("check without Locks probes them:\n%s", out)
	}
	if out, _ = runCheckWith(t, cfg, CheckOptions{Locks: true}); strings.Contains(out, "teleport locks") {
		t.Errorf("offline check probes locks:\n%s", out)
	}
}
