package teleporttest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/breaker"
	"github.com/gravitational/teleport/api/client"
	amrpb "github.com/gravitational/teleport/api/gen/proto/go/teleport/accessmonitoringrules/v1"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
)

// apiClient connects the real api client to s as user.
func apiClient(t *testing.T, s *Server, user string, p Perms) *client.Client {
	t.Helper()
	s.AddUser(user, p)
	crt, key, ca, err := s.WriteTLSFiles(t.TempDir(), user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{Addrs: []string{s.Addr()}, Credentials: []client.Credentials{client.LoadKeyPair(crt, key, ca)},
		CircuitBreakerConfig: breaker.NoopBreakerConfig()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func names(rules []*amrpb.AccessMonitoringRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.GetMetadata().GetName())
	}
	return out
}

func TestRulesListPagesFilterAndPermissions(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 5 {
		plugin := "pagerduty"
		if i == 2 {
			plugin = "slack"
		}
		if err := s.UpsertRule(Rule{Name: fmt.Sprintf("rule-%d", i), Condition: "true", Plugin: plugin, Recipients: []string{"svc"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpsertRule(Rule{Name: "other-subject", Subjects: []string{"something_else"}, Condition: "true", Plugin: "pagerduty"}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertRule(Rule{Name: "no-condition", Plugin: "pagerduty"}); !trace.IsBadParameter(err) {
		t.Errorf("rule without a condition = %v, want BadParameter", err)
	}
	ctx := context.Background()
	amr := apiClient(t, s, "plugin", AllPerms).AccessMonitoringRulesClient()

	var all []string
	for token := ""; ; {
		page, next, err := amr.ListAccessMonitoringRules(ctx, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d rules, asked for 2", len(page))
		}
		all = append(all, names(page)...)
		if token = next; token == "" {
			break
		}
	}
	if want := []string{"other-subject", "rule-0", "rule-1", "rule-2", "rule-3", "rule-4"}; !slices.Equal(all, want) {
		t.Errorf("paged list = %v, want %v", all, want)
	}
	page, next, err := amr.ListAccessMonitoringRulesWithFilter(ctx, 0, "", []string{types.KindAccessRequest}, "pagerduty")
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	if want := []string{"rule-0", "rule-1", "rule-3", "rule-4"}; !slices.Equal(names(page), want) {
		t.Errorf("filtered list = %v, want %v", names(page), want)
	}

	denied := apiClient(t, s, "no-rules", Perms{ReadRequests: true}).AccessMonitoringRulesClient()
	if _, _, err := denied.ListAccessMonitoringRules(ctx, 0, ""); !trace.IsAccessDenied(err) {
		t.Errorf("list without access_monitoring_rule: list = %v, want AccessDenied", err)
	}
	if err := s.DeleteRule("rule-0"); err != nil {
		t.Fatal(err)
	}
	if _, err := amr.GetAccessMonitoringRule(ctx, "rule-0"); !trace.IsNotFound(err) {
		t.Errorf("Get(deleted rule) = %v, want NotFound", err)
	}
}

func TestRulesUnimplementedOnOldServers(t *testing.T) {
	s, err := New(Options{NoRules: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	amr := apiClient(t, s, "plugin", AllPerms).AccessMonitoringRulesClient()
	if _, _, err := amr.ListAccessMonitoringRules(context.Background(), 0, ""); !trace.IsNotImplemented(err) {
		t.Errorf("list on a server without rules = %v, want NotImplemented", err)
	}
}

// TestWatchConfirmsKinds: a partial-success watch streams the kinds the
// caller may read and confirms them in the init event; a strict one
// fails.
func TestWatchConfirmsKinds(t *testing.T) {
	both := []types.WatchKind{{Kind: types.KindAccessRequest}, {Kind: types.KindAccessMonitoringRule}}
	tests := []struct {
		name    string
		opts    Options
		perms   Perms
		partial bool
		want    []string // confirmed kinds; nil: the watch fails
	}{
		{"all allowed", Options{}, AllPerms, true, []string{types.KindAccessRequest, types.KindAccessMonitoringRule}},
		{"rules denied, partial", Options{}, Perms{ReadRequests: true}, true, []string{types.KindAccessRequest}},
		{"rules denied, strict", Options{}, Perms{ReadRequests: true}, false, nil},
		{"server without rules, partial", Options{NoRules: true}, AllPerms, true, []string{types.KindAccessRequest}},
		{"nothing allowed, partial", Options{}, Perms{PluginData: true}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c := apiClient(t, s, "plugin", tt.perms)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w, err := c.NewWatcher(ctx, types.Watch{Kinds: both, AllowPartialSuccess: tt.partial})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			select {
			case ev := <-w.Events():
				var got []string
				for _, k := range ev.Resource.(*types.WatchStatusV1).Spec.Kinds {
					got = append(got, k.Kind)
				}
				if tt.want == nil || !slices.Equal(got, tt.want) {
					t.Errorf("confirmed %v, want %v", got, tt.want)
				}
			case <-w.Done():
				if tt.want != nil {
					t.Errorf("watch failed: %v", w.Error())
				}
			case <-ctx.Done():
				t.Fatal("no init event and no error within 10s")
			}
		})
	}
}
