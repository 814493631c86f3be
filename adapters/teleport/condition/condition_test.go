package condition

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/domain"
)

var (
	created = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	alice   = domain.RuleInput{
		Request: domain.Request{
			ID: "r1", User: "alice@example.com", Roles: []string{"access", "db-admin"},
			Reason: "prod outage", Created: created, RequestExpires: created.Add(time.Hour),
			SuggestedReviewers: []string{"bob@example.com"},
			Annotations:        map[string][]string{"pagerduty_notify_service": {"DB"}, "env": {"prod", "staging"}},
			State:              domain.StatePending,
		},
		Traits: map[string][]string{"team": {"dev", "ops"}, "email": {"alice@example.com"}},
	}
	bob = domain.RuleInput{Request: domain.Request{ID: "r2", User: "bob", Roles: []string{"viewer"}, Created: created}}
)

func TestConditions(t *testing.T) {
	// want: the verdict for alice, then for bob.
	tests := []struct {
		cond          string
		alice, bob    bool
		readsTraits   bool
		failsForAlice string // evaluation errors (they depend on the request)
		failsForBob   string
	}{
		// The documented example, minus the requested resources: every
		// requested role must be in set("access"); alice also asks for
		// db-admin.
		{cond: `contains_all(set("access"), access_request.spec.roles) && contains_any(user.traits["team"], set("dev"))`, readsTraits: true},
		{cond: `contains_all(set("access", "db-admin"), access_request.spec.roles) && contains_any(user.traits["team"], set("dev"))`, alice: true, readsTraits: true},
		{cond: `contains_any(access_request.spec.roles, set("db-admin", "root"))`, alice: true},
		{cond: `contains_all(access_request.spec.roles, set("access", "root"))`},
		{cond: `contains_all(access_request.spec.roles, set())`}, // an empty set never counts as all
		{cond: `access_request.spec.roles.contains("viewer")`, bob: true},
		{cond: `!access_request.spec.roles.contains("viewer")`, alice: true},
		{cond: `access_request.spec.user == "alice@example.com"`, alice: true},
		{cond: `access_request.spec.user != "alice@example.com"`, bob: true},
		{cond: `access_request.spec.request_reason == ""`, bob: true},
		{cond: `is_empty(access_request.spec.suggested_reviewers)`, bob: true},
		{cond: `access_request.spec.suggested_reviewers.isempty()`, bob: true},
		{cond: `access_request.spec.system_annotations["env"].contains("prod")`, alice: true},
		{cond: `access_request.spec.system_annotations.env.contains("staging")`, alice: true},
		{cond: `is_empty(access_request.spec.system_annotations["missing"])`, alice: true, bob: true},
		{cond: `user.traits.team.contains("ops") || access_request.spec.user == "bob"`, alice: true, bob: true, readsTraits: true},
		{cond: `contains_any(union(user.traits["team"], set("x")), set("x"))`, alice: true, bob: true, readsTraits: true},
		{cond: `strings.upper(access_request.spec.user) == "BOB"`, bob: true},
		{cond: `strings.lower(set("A", "B")).contains("a")`, alice: true, bob: true},
		{cond: `contains_any(strings.split(set("a,b"), ","), set("b"))`, alice: true, bob: true},
		{cond: `strings.replaceall(access_request.spec.user, "@example.com", "") == "alice"`, alice: true},
		{cond: `email.local(user.traits["email"]).contains("alice")`, alice: true, readsTraits: true},
		{cond: `regexp.match(access_request.spec.roles, "db-*")`, alice: true},
		{cond: `regexp.match(access_request.spec.roles, "^(viewer|auditor)$")`, bob: true},
		{cond: `regexp.match(access_request.spec.roles, "db")`}, // a glob matches whole values
		{cond: `access_request.spec.roles.add("x").remove("access", "db-admin", "viewer").contains("x")`, alice: true, bob: true},
		{cond: `access_request.spec.creation_time.before(time.RFC3339("2025-03-02T00:00:00Z"))`, alice: true, bob: true},
		{cond: `after(access_request.spec.expiry, time.RFC3339("2025-03-01T12:30:00Z"))`, alice: true},
		{cond: `between(access_request.spec.creation_time, time.RFC3339("2025-03-02T00:00:00Z"), time.RFC3339("2025-02-28T00:00:00Z"))`, alice: true, bob: true},
		{cond: `true && (false || access_request.spec.user == "bob")`, bob: true},
		{cond: `false`},
		// A failure is per request: email.local of an invalid address.
		{cond: `email.local(set(access_request.spec.user)).contains("alice")`, alice: true, failsForBob: `email.local: "bob": mail: missing '@' or angle-addr`},
		{cond: `email.local(user.traits["team"]).contains("dev")`, readsTraits: true, failsForAlice: `email.local: "dev": mail: missing '@' or angle-addr`},
		// && stops at the first false: the failing right side is not evaluated.
		{cond: `access_request.spec.user == "nobody" && email.local(user.traits["team"]).contains("dev")`, readsTraits: true},
	}
	for _, tt := range tests {
		c, err := Parse(tt.cond)
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.cond, err)
			continue
		}
		if c.ReadsTraits() != tt.readsTraits {
			t.Errorf("%s: ReadsTraits() = %v", tt.cond, c.ReadsTraits())
		}
		check(t, tt.cond, c, "alice", alice, tt.alice, tt.failsForAlice)
		check(t, tt.cond, c, "bob", bob, tt.bob, tt.failsForBob)
	}
}

func check(t *testing.T, cond string, c *Condition, who string, in domain.RuleInput, want bool, fails string) {
	t.Helper()
	got, err := c.Match(in)
	switch {
	case fails != "":
		if err == nil || err.Error() != fails {
			t.Errorf("%s: %s: error %v, want %q", cond, who, err, fails)
		}
	case err != nil || got != want:
		t.Errorf("%s: %s: %v, %v; want %v", cond, who, got, err, want)
	}
}

func TestRefusedConditions(t *testing.T) {
	tests := []struct {
		cond        string
		unsupported bool // else malformed
		why         string
	}{
		// Well formed, but what pagergate does not evaluate.
		{`access_request.spec.resource_labels_intersection["env"].contains("dev")`, true, "access_request.spec.resource_labels_intersection: not supported by pagergate: it reads the requested resources"},
		{`access_request.spec.requested_resources.length == 1`, true, "access_request.spec.requested_resources: not supported"},
		{`has_labels(access_request.spec.requested_resources, "env", "dev")`, true, "access_request.spec.requested_resources: not supported"},
		{`access_request.spec.roles.has_labels("env", "dev")`, true, "has_labels: not supported by pagergate"},
		{`ifelse(true, true, false)`, true, "ifelse: not supported by pagergate: it picks between values"},
		{`newer_than("1.2.0", "1.1.0")`, true, "newer_than: not supported by pagergate: it compares versions"},
		{`is_empty(regexp.replace(access_request.spec.roles, "a", "b"))`, true, "regexp.replace: not supported by pagergate"},
		{`contains_any(dict(pair("a", set("b"))), set("a"))`, true, "not supported by pagergate: it builds maps"},
		{`access_request.spec.creation_time < time.RFC3339("2025-01-01T00:00:00Z")`, true, "<: not supported by pagergate: compare times with before"},
		{`access_request.spec.roles.contains(1)`, true, "number 1: not supported by pagergate"},
		// Malformed: syntax, unknown names, types.
		{`contains_any(access_request.spec.roles, set("a")`, false, "condition does not parse: 1:"},
		{`access_request.spec.roles &&& true`, false, "condition does not parse: & is not supported"},
		{`access_request.spec.rolez.contains("a")`, false, "unknown field access_request.spec.rolez"},
		{`access_request.spec.user.first == "a"`, false, "access_request.spec.user has no field first"},
		{`unknown_function(true)`, false, "unsupported function: unknown_function"},
		{`access_request.spec.roles`, false, "condition is a set, not a boolean"},
		{`"just a string"`, false, "condition is a string, not a boolean"},
		{`access_request.spec.roles == set("a")`, false, "==: argument 1 is a set, want a boolean or string (compare sets with contains"},
		{`access_request.spec.user == true`, false, "== compares a string with a boolean"},
		{`contains_any(access_request.spec.user, set("a"))`, false, "contains_any: argument 1 is a string, want a set"},
		{`access_request.spec.roles.contains("a", "b")`, false, "contains takes 2 argument(s), got 3"},
		{`!access_request.spec.user`, false, "!: argument 1 is a string, want a boolean"},
		{`access_request.spec.roles["x"].contains("a")`, false, "only maps can be indexed, not a set"},
		{`user.traits[access_request.spec.roles].contains("a")`, false, "a map key is a string, not a set"},
		{`regexp.match(access_request.spec.roles, "^(unclosed$")`, false, "regexp.match: error parsing regexp"},
		{`before(time.RFC3339("yesterday"), access_request.spec.expiry)`, false, `time.RFC3339: parsing time "yesterday"`},
		{`access_request.spec.user + "x" == "y"`, false, "+ is not supported"}, {`a == "b"`, false, "unknown field a"},
		{`  `, false, "condition is empty"},
		{strings.Repeat("true && ", MaxLength/8) + "true", false, "more than 16384"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.cond)
		if err == nil {
			t.Errorf("Parse(%.60s) = %v, want an error", tt.cond, c)
			continue
		}
		if errors.Is(err, ErrUnsupported) != tt.unsupported {
			t.Errorf("Parse(%.60s): unsupported = %v, want %v (%v)", tt.cond, errors.Is(err, ErrUnsupported), tt.unsupported, err)
		}
		if !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Parse(%.60s) = %q, want it to say %q", tt.cond, err, tt.why)
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	c, err := Parse(`contains_any(user.traits["team"], set("dev")) && access_request.spec.roles.contains("access")`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 200 {
				a, err1 := c.Match(alice)
				b, err2 := c.Match(bob)
				ok = ok && a && !b && err1 == nil && err2 == nil
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent Match gave a wrong answer")
		}
	}
}
