package domain

import (
	"cmp"
	"slices"
)

// RuleInput is what a routing rule's condition reads: the request and,
// when a condition asks for them, the requester's user traits.
type RuleInput struct {
	Request Request
	// Traits are the requester's user traits; TraitsErr says why they
	// could not be read (a condition reading them then fails).
	Traits    map[string][]string
	TraitsErr error
}

// Condition is a routing rule's condition in an evaluable form. The parser
// that builds it lives with the Teleport adapter.
type Condition interface {
	// Match evaluates the condition against a request.
	Match(in RuleInput) (bool, error)
	// ReadsTraits reports whether Match reads RuleInput.Traits, which
	// cost a lookup of the requester.
	ReadsTraits() bool
}

// RoutingRule is a Teleport access monitoring rule addressed to this
// pager: its subjects include access requests and its notification names
// the pager's plugin. A matching rule adds every recipient (a service
// name) to the request's notify services.
type RoutingRule struct {
	Name       string
	Recipients []string
	// Condition is nil when Broken is set.
	Condition Condition
	// Broken says why the condition cannot be evaluated: it does not
	// parse, or uses what pagergate does not support. A broken rule never
	// matches.
	Broken string
}

// RuleSet is what the Teleport watcher knows of the routing rules.
type RuleSet struct {
	// On reports that Teleport serves the rules to pagergate: the watch
	// confirmed the kind and listing it is allowed. When it is off, no
	// rule routes.
	On bool
	// Rules are the rules addressed to this pager, by name.
	Rules []RoutingRule
}

// RuleVerdict says what a rule made of a request.
type RuleVerdict int

// Rule verdicts.
const (
	RuleMatched RuleVerdict = iota + 1
	RuleNoMatch
	// RuleBroken: the rule's condition cannot be evaluated; it never
	// matches.
	RuleBroken
	// RuleFailed: evaluating the condition against this request failed;
	// the rule does not match it.
	RuleFailed
)

// String names the verdict: matched, no_match, broken or failed.
func (v RuleVerdict) String() string {
	switch v {
	case RuleMatched:
		return "matched"
	case RuleNoMatch:
		return "no_match"
	case RuleBroken:
		return "broken"
	case RuleFailed:
		return "failed"
	}
	return "unknown"
}

// RuleOutcome is one rule's verdict on a request, and why.
type RuleOutcome struct {
	Rule    string
	Verdict RuleVerdict
	Reason  string
}

// Routing is what the rules made of a request.
type Routing struct {
	// Services are the recipients of the matching rules, in rule name
	// order, each rule's in its own order, de-duplicated
	// (case-insensitively).
	Services []string
	// Outcomes has one entry per rule, in name order.
	Outcomes []RuleOutcome
}

// Route evaluates every rule against the request, in name order. A
// matching rule adds all of its recipients; a broken rule, or one whose
// evaluation fails, adds none.
func Route(rules []RoutingRule, in RuleInput) Routing {
	sorted := slices.SortedFunc(slices.Values(rules), func(a, b RoutingRule) int { return cmp.Compare(a.Name, b.Name) })
	var r Routing
	var services []string
	for _, rule := range sorted {
		out := evaluate(rule, in)
		r.Outcomes = append(r.Outcomes, out)
		if out.Verdict == RuleMatched {
			services = append(services, rule.Recipients...)
		}
	}
	r.Services = dedupFold(services)
	return r
}

func evaluate(rule RoutingRule, in RuleInput) RuleOutcome {
	out := RuleOutcome{Rule: rule.Name}
	switch {
	case rule.Broken != "" || rule.Condition == nil:
		out.Verdict, out.Reason = RuleBroken, cmp.Or(rule.Broken, "no condition")
		return out
	case rule.Condition.ReadsTraits() && in.TraitsErr != nil:
		out.Verdict, out.Reason = RuleFailed, "the requester's traits are unreadable: "+in.TraitsErr.Error()
		return out
	}
	ok, err := rule.Condition.Match(in)
	switch {
	case err != nil:
		out.Verdict, out.Reason = RuleFailed, err.Error()
	case ok:
		out.Verdict, out.Reason = RuleMatched, "condition is true"
	default:
		out.Verdict, out.Reason = RuleNoMatch, "condition is false"
	}
	return out
}

// ReadsTraits reports whether any evaluable rule reads the requester's
// traits.
func ReadsTraits(rules []RoutingRule) bool {
	for _, r := range rules {
		if r.Broken == "" && r.Condition != nil && r.Condition.ReadsTraits() {
			return true
		}
	}
	return false
}
