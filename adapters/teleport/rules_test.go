package teleport

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// observed connects as user with perms and records the client's log.
func observed(t *testing.T, srv *teleporttest.Server, user string, perms teleporttest.Perms) (*Client, *observer.ObservedLogs) {
	t.Helper()
	srv.AddUser(user, perms)
	path := filepath.Join(t.TempDir(), user+".identity")
	if err := srv.WriteIdentityFile(path, user, time.Hour); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	c, err := Dial(ctxT(t), testConfig(srv, path), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, logs
}

func upsert(t *testing.T, srv *teleporttest.Server, r teleporttest.Rule) {
	t.Helper()
	if err := srv.UpsertRule(r); err != nil {
		t.Fatal(err)
	}
}

// summary names a rule set's rules with their recipients or why they are
// broken.
func summary(rules []domain.RoutingRule) []string {
	var out []string
	for _, r := range rules {
		s := r.Name + ":" + strings.Join(r.Recipients, ",")
		if r.Broken != "" {
			s += " broken"
		}
		out = append(out, s)
	}
	return out
}

func TestWatchSyncsRulesThenStreamsTheirChanges(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	upsert(t, srv, teleporttest.Rule{Name: "db", Condition: `access_request.spec.roles.contains("db")`, Plugin: "pagerduty", Recipients: []string{"DB", "Shared"}})
	upsert(t, srv, teleporttest.Rule{Name: "slack-only", Condition: "true", Plugin: "slack", Recipients: []string{"#ops"}})
	upsert(t, srv, teleporttest.Rule{Name: "other-subject", Subjects: []string{"something_else"}, Condition: "true", Plugin: "pagerduty"})
	upsert(t, srv, teleporttest.Rule{Name: "broken", Condition: `contains_any(access_request.spec.roles`, Plugin: "pagerduty", Recipients: []string{"X"}})
	c, logs := observed(t, srv, "pagergate", teleporttest.AllPerms)
	events := watching(t, c)

	synced := nextKind(t, events, domain.EventSynced)
	if !synced.Rules.On {
		t.Fatal("rules are off with every permission")
	}
	if diff := cmp.Diff([]string{"broken:X broken", "db:DB,Shared"}, summary(synced.Rules.Rules)); diff != "" {
		t.Errorf("synced rules (-want +got):\n%s", diff)
	}
	if b := synced.Rules.Rules[0].Broken; !strings.HasPrefix(b, "condition does not parse: ") {
		t.Errorf("broken rule says %q", b)
	}
	db := synced.Rules.Rules[1]
	if ok, err := db.Condition.Match(domain.RuleInput{Request: domain.Request{Roles: []string{"db"}}}); !ok || err != nil {
		t.Errorf("db rule on a db request: %v, %v", ok, err)
	}

	// Edited, deleted, added, and turned to another plugin while watched.
	upsert(t, srv, teleporttest.Rule{Name: "db", Condition: `access_request.spec.roles.contains("db")`, Plugin: "pagerduty", Recipients: []string{"DB2"}})
	if ev := nextKind(t, events, domain.EventRulePut); ev.Rule.Name != "db" || !slices.Equal(ev.Rule.Recipients, []string{"DB2"}) {
		t.Errorf("edited rule = %+v", ev.Rule)
	}
	if err := srv.DeleteRule("broken"); err != nil {
		t.Fatal(err)
	}
	if ev := nextKind(t, events, domain.EventRuleDelete); ev.Rule.Name != "broken" {
		t.Errorf("deleted rule = %q", ev.Rule.Name)
	}
	upsert(t, srv, teleporttest.Rule{Name: "db", Condition: "true", Plugin: "slack"})
	if ev := nextKind(t, events, domain.EventRuleDelete); ev.Rule.Name != "db" {
		t.Errorf("rule moved to another plugin: deletion of %q, want db", ev.Rule.Name)
	}
	upsert(t, srv, teleporttest.Rule{Name: "slack-only", Condition: "true", Plugin: "pagerduty", Recipients: []string{"Ops"}})
	if ev := nextKind(t, events, domain.EventRulePut); ev.Rule.Name != "slack-only" || ev.Rule.Condition == nil {
		t.Errorf("rule moved to this plugin = %+v", ev.Rule)
	}
	if n := logs.FilterMessage("access monitoring rules are on").Len(); n != 1 {
		t.Errorf("logged rules on %d times, want 1", n)
	}
}

func TestWatchReloadsRulesAfterReconnect(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	upsert(t, srv, teleporttest.Rule{Name: "a", Condition: "true", Plugin: "pagerduty", Recipients: []string{"A"}})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	events := watching(t, c)
	nextKind(t, events, domain.EventSynced)
	if err := srv.WaitWatchers(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	lists := srv.Counts().ListAccessMonitoringRules

	// Changes made while the watcher is away reach it with the next sync.
	srv.CutWatches("pagergate")
	nextKind(t, events, domain.EventDisconnected)
	upsert(t, srv, teleporttest.Rule{Name: "a", Condition: "true", Plugin: "pagerduty", Recipients: []string{"A2"}})
	upsert(t, srv, teleporttest.Rule{Name: "b", Condition: "false", Plugin: "pagerduty", Recipients: []string{"B"}})
	srv.RestoreWatches("pagergate")
	synced := nextKind(t, events, domain.EventSynced)
	if diff := cmp.Diff([]string{"a:A2", "b:B"}, summary(synced.Rules.Rules)); diff != "" {
		t.Errorf("rules after reconnect (-want +got):\n%s", diff)
	}
	if n := srv.Counts().ListAccessMonitoringRules; n != lists+1 {
		t.Errorf("rule lists = %d, want one more than %d", n, lists)
	}
}

// TestWatchWithoutRulePermission: a role without access_monitoring_rule
// still watches requests; rules are off, said once across reconnects.
func TestWatchWithoutRulePermission(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts teleporttest.Options
	}{{"role without the permission", teleporttest.Options{}}, {"teleport without rules", teleporttest.Options{NoRules: true}}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.opts)
			if !tt.opts.NoRules {
				upsert(t, srv, teleporttest.Rule{Name: "a", Condition: "true", Plugin: "pagerduty", Recipients: []string{"A"}})
			}
			c, logs := observed(t, srv, "pagergate", teleporttest.Perms{ReadRequests: true, PluginData: true, UpdateRequests: true})
			events := watching(t, c)
			for range 3 {
				synced := nextKind(t, events, domain.EventSynced)
				if synced.Rules.On || len(synced.Rules.Rules) != 0 {
					t.Errorf("rules = %+v, want off", synced.Rules)
				}
				if err := srv.WaitWatchers(ctxT(t), 1); err != nil {
					t.Fatal(err)
				}
				srv.DropStreams()
				nextKind(t, events, domain.EventDisconnected)
			}
			nextKind(t, events, domain.EventSynced)
			if err := srv.WaitWatchers(ctxT(t), 1); err != nil {
				t.Fatal(err)
			}
			if !tt.opts.NoRules {
				upsert(t, srv, teleporttest.Rule{Name: "a", Condition: "false", Plugin: "pagerduty", Recipients: []string{"A"}})
			}
			mustCreate(t, srv, "alice", []string{"db"})
			// The rule change is not streamed: the next event is the request.
			nextKind(t, events, domain.EventPut)
			off := logs.FilterMessage("access monitoring rules are off: requests are routed by annotation and default service only")
			if off.Len() != 1 {
				t.Fatalf("logged rules off %d times, want once", off.Len())
			}
			if reason := off.All()[0].ContextMap()["reason"].(string); !strings.Contains(reason, PermRules) {
				t.Errorf("reason %q does not name %q", reason, PermRules)
			}
		})
	}
}

func TestUserTraits(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("alice", teleporttest.Perms{})
	srv.SetTraits("alice", map[string][]string{"team": {"dev"}})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	traits, err := c.UserTraits(ctxT(t), "alice")
	if err != nil || !slices.Equal(traits["team"], []string{"dev"}) {
		t.Fatalf("UserTraits(alice) = %v, %v", traits, err)
	}
	if _, err := c.UserTraits(ctxT(t), "nobody"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("UserTraits(nobody) = %v, want ErrNotFound", err)
	}
	denied := newClient(t, srv, "no-users", teleporttest.Perms{ReadRequests: true})
	var pe *ports.PermissionError
	if _, err := denied.UserTraits(ctxT(t), "alice"); !errors.As(err, &pe) || pe.Permission != PermUsers {
		t.Errorf("UserTraits without user: read = %v, want PermissionError for %q", err, PermUsers)
	}
}

func TestRoutingRulesOffWhenListingDenied(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.Perms{ReadRequests: true})
	set, why, err := c.RoutingRules(context.Background())
	if err != nil || set.On || !strings.Contains(why, PermRules) {
		t.Errorf("RoutingRules without permission = %+v, %q, %v; want off naming %q", set, why, err, PermRules)
	}
}

// The rules followed are those addressed to the pager's plugin name
// (Config.RuleName): an Opsgenie pager follows "opsgenie" rules and
// leaves PagerDuty's alone; the plugin data keeps its own name.
func TestRoutingRulesByRuleName(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	upsert(t, srv, teleporttest.Rule{Name: "pd", Condition: "true", Plugin: "pagerduty", Recipients: []string{"PD"}})
	upsert(t, srv, teleporttest.Rule{Name: "og", Condition: "true", Plugin: "opsgenie", Recipients: []string{"ops_schedule"}})
	srv.AddUser("pagergate", teleporttest.Perms{ReadRequests: true, ReadRules: true})
	path := filepath.Join(t.TempDir(), "pagergate.identity")
	if err := srv.WriteIdentityFile(path, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, path)
	cfg.RuleName = "opsgenie"
	c := connect(t, cfg)
	set, _, err := c.RoutingRules(ctxT(t))
	if err != nil || len(set.Rules) != 1 || set.Rules[0].Name != "og" {
		t.Fatalf("RoutingRules for opsgenie = %+v, %v; want only rule og", set, err)
	}
	if c.RuleName() != "opsgenie" || c.cfg.PluginName != DefaultPluginName {
		t.Errorf("rule name %q, plugin name %q", c.RuleName(), c.cfg.PluginName)
	}
}
