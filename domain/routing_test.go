package domain

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roleCondition matches requests for a role; traits, when it reads them,
// must hold team=dev.
type roleCondition struct {
	role   string
	traits bool
	err    error
}

func (c roleCondition) Match(in RuleInput) (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	if c.traits && !slices.Contains(in.Traits["team"], "dev") {
		return false, nil
	}
	return slices.Contains(in.Request.Roles, c.role), nil
}

func (c roleCondition) ReadsTraits() bool { return c.traits }

func TestRoute(t *testing.T) {
	rules := []RoutingRule{
		{Name: "z-db", Recipients: []string{"DB", "Shared"}, Condition: roleCondition{role: "db"}},
		{Name: "a-admin", Recipients: []string{"Admins", "shared"}, Condition: roleCondition{role: "admin"}},
		{Name: "m-broken", Recipients: []string{"Never"}, Broken: "condition does not parse: 1:3: expected operand"},
		{Name: "n-fails", Recipients: []string{"Never"}, Condition: roleCondition{err: errors.New("boom")}},
		{Name: "t-team", Recipients: []string{"Team"}, Condition: roleCondition{role: "db", traits: true}},
	}
	req := Request{ID: "r1", Roles: []string{"db", "admin"}}
	got := Route(rules, RuleInput{Request: req, Traits: map[string][]string{"team": {"dev"}}})
	// Name order: a-admin, m-broken, n-fails, t-team, z-db; every
	// recipient of every matching rule, de-duplicated.
	if diff := cmp.Diff([]string{"Admins", "shared", "Team", "DB"}, got.Services); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	want := []RuleOutcome{
		{"a-admin", RuleMatched, "condition is true"},
		{"m-broken", RuleBroken, "condition does not parse: 1:3: expected operand"},
		{"n-fails", RuleFailed, "boom"},
		{"t-team", RuleMatched, "condition is true"},
		{"z-db", RuleMatched, "condition is true"},
	}
	if diff := cmp.Diff(want, got.Outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}

	// Traits unreadable: only the rule reading them fails.
	got = Route(rules, RuleInput{Request: Request{Roles: []string{"db"}}, TraitsErr: errors.New("access denied")})
	if diff := cmp.Diff([]string{"DB", "Shared"}, got.Services); diff != "" {
		t.Errorf("services without traits (-want +got):\n%s", diff)
	}
	if o := got.Outcomes[3]; o.Verdict != RuleFailed || o.Reason != "the requester's traits are unreadable: access denied" {
		t.Errorf("rule reading traits without them: %+v", o)
	}
	if got := Route(nil, RuleInput{Request: req}); got.Services != nil || got.Outcomes != nil {
		t.Errorf("no rules: %+v", got)
	}
}

func TestReadsTraits(t *testing.T) {
	plain := RoutingRule{Name: "a", Condition: roleCondition{role: "x"}}
	traits := RoutingRule{Name: "b", Condition: roleCondition{role: "x", traits: true}}
	broken := RoutingRule{Name: "c", Broken: "bad"}
	if ReadsTraits([]RoutingRule{plain, broken}) {
		t.Error("no rule reads traits")
	}
	if !ReadsTraits([]RoutingRule{plain, traits}) {
		t.Error("a rule reads traits")
	}
}
