package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"go.uber.org/mock/gomock"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// cond matches requests for a role; with traits it also needs team=dev.
type cond struct {
	role   string
	traits bool
	err    error
}

func (c cond) Match(in domain.RuleInput) (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	if c.traits && !slices.Contains(in.Traits["team"], "dev") {
		return false, nil
	}
	return c.role == "*" || slices.Contains(in.Request.Roles, c.role), nil
}

func (c cond) ReadsTraits() bool { return c.traits }

func rule(name string, c domain.Condition, recipients ...string) domain.RoutingRule {
	return domain.RoutingRule{Name: name, Condition: c, Recipients: recipients}
}

// opened records the services incidents are opened in.
type opened struct {
	mu       sync.Mutex
	services []string
}

func (o *opened) expect(h *harness) {
	h.oc.EXPECT().FindService(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, name string) (domain.Service, error) {
		return domain.Service{ID: "P-" + name, Name: name}, nil
	}).AnyTimes()
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, s domain.IncidentSpec) (domain.Incident, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.services = append(o.services, s.ServiceID)
		return domain.Incident{ID: fmt.Sprintf("PI%d", len(o.services)), Key: s.Key, ServiceID: s.ServiceID, Status: "triggered"}, nil
	}).AnyTimes()
}

// take returns the services opened since the last take, sorted.
func (o *opened) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.services
	o.services = nil
	sort.Strings(out)
	return out
}

func TestRulesFromTheWatcherRouteRequests(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Fallback" })
	h.allowCAS()
	var o opened
	o.expect(h)
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).Return(nil).AnyTimes()
	// Requests still pending at the second sync are read again.
	h.tp.EXPECT().GetRequest(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id string) (domain.Request, error) {
		if id == "r3" {
			return notifyOnly(id), nil
		}
		return request(id, nil), nil
	}).AnyTimes()
	h.pg.EXPECT().OpenIncidents(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, false, nil).AnyTimes()
	h.p.Start()
	defer h.stop(ctx)

	// Listed at the sync: two matching rules add all their recipients
	// (de-duplicated); a broken one never matches and is counted.
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Rules: domain.RuleSet{On: true, Rules: []domain.RoutingRule{
		rule("db", cond{role: "db"}, "DB"),
		rule("everyone", cond{role: "*"}, "Ops", "db", "Audit"),
		{Name: "broken", Recipients: []string{"Never"}, Broken: "condition does not parse: 1:5: expected ')'"},
	}}, Pending: domain.NewBacklog([]domain.Request{request("r1", nil)})})
	waitFor(t, "r1 opened in three services", func() bool { return h.p.sched.Pending() == 0 && len(h.record("r1").Incidents) == 3 })
	if got := o.take(); !slices.Equal(got, []string{"P-Audit", "P-DB", "P-Ops"}) {
		t.Errorf("r1 opened in %v, want DB, Ops and Audit", got)
	}
	if n := h.metrics.Count("rule_errors", "parse"); n != 1 {
		t.Errorf("rule_errors{stage=parse} = %d, want 1", n)
	}

	// Edited and deleted while running: the next request follows.
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventRuleDelete, Rule: domain.RoutingRule{Name: "everyone"}})
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventRulePut, Rule: rule("db", cond{role: "db"}, "DB-2")})
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventPut, Request: request("r2", nil)})
	waitFor(t, "r2 opened in one service", func() bool { return h.p.sched.Pending() == 0 && len(h.record("r2").Incidents) == 1 })
	if got := o.take(); !slices.Equal(got, []string{"P-DB-2"}) {
		t.Errorf("r2 opened in %v, want DB-2", got)
	}

	// The annotation's services come first; rules add theirs.
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventPut, Request: notifyOnly("r3")})
	waitFor(t, "r3 opened in two services", func() bool { return h.p.sched.Pending() == 0 && len(h.record("r3").Incidents) == 2 })
	if rec := h.record("r3"); rec.Incidents[0].Service != "Access Requests" || rec.Incidents[1].Service != "DB-2" {
		t.Errorf("r3 incidents = %+v, want the annotation's service, then the rule's", rec.Incidents)
	}
	o.take()

	// A new sync replaces every rule: nothing matches r4, the default
	// applies; the requests paged before get no default incident.
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Rules: domain.RuleSet{On: true, Rules: []domain.RoutingRule{
		rule("admins", cond{role: "admin"}, "Admins")}}})
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventPut, Request: request("r4", nil)})
	waitFor(t, "r4 opened in the default service", func() bool { return h.p.sched.Pending() == 0 && len(h.record("r4").Incidents) == 1 })
	if got := o.take(); !slices.Equal(got, []string{"P-Fallback"}) {
		t.Errorf("r4 opened in %v, want the default service", got)
	}
}

func TestFailingRuleAddsNothingAndIsCounted(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Fallback" })
	h.allowCAS()
	var o opened
	o.expect(h)
	h.p.router.sync(domain.RuleSet{On: true, Rules: []domain.RoutingRule{
		rule("fails", cond{err: errors.New("email.local: empty email address")}, "Never"),
	}})
	if err := h.p.requests.handle(ctx, request("r1", nil)); err != nil {
		t.Fatal(err)
	}
	if got := o.take(); !slices.Equal(got, []string{"P-Fallback"}) {
		t.Errorf("opened in %v, want the default service only", got)
	}
	if n := h.metrics.Count("rule_errors", "evaluate"); n != 1 {
		t.Errorf("rule_errors{stage=evaluate} = %d, want 1", n)
	}
}

func TestRulesReadTraitsOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Fallback" })
	h.allowCAS()
	var o opened
	o.expect(h)
	core, logs := observer.New(zapcore.WarnLevel)
	h.p.router.log = zap.New(core)

	// No rule reads traits: no user lookup (the mock fails on any call).
	h.p.router.sync(domain.RuleSet{On: true, Rules: []domain.RoutingRule{rule("db", cond{role: "db"}, "DB")}})
	if err := h.p.requests.handle(ctx, request("r1", nil)); err != nil {
		t.Fatal(err)
	}
	if got := o.take(); !slices.Equal(got, []string{"P-DB"}) {
		t.Fatalf("r1 opened in %v", got)
	}

	h.p.router.put(rule("team", cond{role: "db", traits: true}, "Team"))
	h.users.EXPECT().UserTraits(gomock.Any(), "alice@example.com").Return(map[string][]string{"team": {"dev"}}, nil)
	if err := h.p.requests.handle(ctx, request("r2", nil)); err != nil {
		t.Fatal(err)
	}
	if got := o.take(); !slices.Equal(got, []string{"P-DB", "P-Team"}) {
		t.Errorf("r2 opened in %v, want DB and Team", got)
	}

	// Traits unavailable for a moment: the pass fails, to be retried.
	h.users.EXPECT().UserTraits(gomock.Any(), gomock.Any()).Return(nil, ports.ErrUnavailable)
	if err := h.p.requests.handle(ctx, request("r3", nil)); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("handle with traits unavailable = %v, want ErrUnavailable", err)
	}
	if got := o.take(); got != nil {
		t.Errorf("opened %v before the rules could be evaluated", got)
	}

	// No permission: only the rule reading traits fails; said once.
	denied := &ports.PermissionError{Permission: "user: read", Err: errors.New("access denied")}
	h.users.EXPECT().UserTraits(gomock.Any(), gomock.Any()).Return(nil, fmt.Errorf("read user: %w", denied)).Times(2)
	for _, id := range []string{"r4", "r5"} {
		if err := h.p.requests.handle(ctx, request(id, nil)); err != nil {
			t.Fatal(err)
		}
		if got := o.take(); !slices.Equal(got, []string{"P-DB"}) {
			t.Errorf("%s opened in %v, want DB only", id, got)
		}
	}
	if n := logs.FilterMessage("cannot read users: routing rules reading user.traits never match").Len(); n != 1 {
		t.Errorf("logged the missing permission %d times, want once", n)
	}
	if n := h.metrics.Count("rule_errors", "evaluate"); n != 2 {
		t.Errorf("rule_errors{stage=evaluate} = %d, want 2", n)
	}
}
