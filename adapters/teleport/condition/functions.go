package condition

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/vulcand/predicate"

	"github.com/pagergate/pagergate/domain"
)

// function is a function or method of the condition language: what it
// accepts, what it returns (0: the kind of its first argument), how it
// computes, and, optionally, a check of its arguments known when parsing.
type function struct {
	sig      signature
	result   kind
	call     func(vals []any) (any, error)
	validate func(args []*expr) error
}

var (
	setSet    = signature{params: []kind{kindSet, kindSet}}
	oneSet    = signature{params: []kind{kindSet}}
	twoTime   = signature{params: []kind{kindTime, kindTime}}
	threeTime = signature{params: []kind{kindTime, kindTime, kindTime}}
)

// functions are the functions Teleport documents for conditions that
// pagergate evaluates, with Teleport's meaning.
var functions = map[string]function{
	"set":                {sig: signature{variadic: kindString}, result: kindSet, call: makeSet},
	"union":              {sig: signature{variadic: kindSet}, result: kindSet, call: union},
	"contains_any":       {sig: setSet, result: kindBool, call: containsAny},
	"contains_all":       {sig: setSet, result: kindBool, call: containsAll},
	"is_empty":           {sig: oneSet, result: kindBool, call: isEmpty},
	"strings.upper":      {sig: signature{params: []kind{kindString | kindSet}}, call: transform(strings.ToUpper)},
	"strings.lower":      {sig: signature{params: []kind{kindString | kindSet}}, call: transform(strings.ToLower)},
	"strings.replaceall": {sig: signature{params: []kind{kindString | kindSet, kindString, kindString}}, call: replaceAll},
	"strings.split":      {sig: signature{params: []kind{kindSet, kindString}}, result: kindSet, call: split},
	"email.local":        {sig: oneSet, result: kindSet, call: emailLocal},
	"regexp.match": {sig: signature{params: []kind{kindSet, kindString}}, result: kindBool, call: regexpMatch,
		validate: staticArg(1, func(v any) error { _, err := compileMatch(v.(string)); return err })},
	"time.RFC3339": {sig: signature{params: []kind{kindString}}, result: kindTime, call: rfc3339,
		validate: staticArg(0, func(v any) error { _, err := rfc3339([]any{v}); return err })},
	"before":  {sig: twoTime, result: kindBool, call: before},
	"after":   {sig: twoTime, result: kindBool, call: after},
	"between": {sig: threeTime, result: kindBool, call: isBetween},
}

// methods are called on their first argument: set.contains("x").
var methods = map[string]function{
	"contains":     {sig: signature{params: []kind{kindSet, kindString}}, result: kindBool, call: contains},
	"contains_any": functions["contains_any"],
	"contains_all": functions["contains_all"],
	"isempty":      functions["is_empty"],
	"add":          {sig: signature{params: []kind{kindSet}, variadic: kindString}, result: kindSet, call: add},
	"remove":       {sig: signature{params: []kind{kindSet | kindDict}, variadic: kindString}, call: remove},
	"before":       functions["before"],
	"after":        functions["after"],
	"between":      functions["between"],
}

const (
	mapsReason   = "it builds maps, which a condition does not need"
	choiceReason = "it picks between values of any type; write the choice with && and ||"
)

// Refused are the functions and methods Teleport documents that pagergate
// does not evaluate, with the reason.
var Refused = map[string]string{
	"has_labels":     resourcesReason,
	"dict":           mapsReason,
	"pair":           mapsReason,
	"put":            mapsReason,
	"add_values":     mapsReason,
	"ifelse":         choiceReason,
	"choose":         choiceReason,
	"option":         choiceReason,
	"newer_than":     "it compares versions, which a request does not carry",
	"older_than":     "it compares versions, which a request does not carry",
	"regexp.replace": "it rewrites values, which a condition does not need; match with regexp.match",
}

// build returns the predicate callback of f: it checks the arguments and
// returns the node of the call.
func (f function) build(name string) func(vals ...any) (any, error) {
	return func(vals ...any) (any, error) {
		args, err := f.sig.check(name, vals)
		if err != nil {
			return nil, err
		}
		if f.validate != nil {
			if err := f.validate(args); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		k := f.result
		if k == 0 {
			k = args[0].kind
		}
		return derive(k, args, func(in *domain.RuleInput) (any, error) {
			vs, err := evalAll(args, in)
			if err != nil {
				return nil, err
			}
			v, err := f.call(vs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return v, nil
		}), nil
	}
}

func refusal(name, reason string) func(...any) (any, error) {
	return func(...any) (any, error) { return nil, fmt.Errorf("%s: %w: %s", name, ErrUnsupported, reason) }
}

// staticArg checks argument i with check when it is a literal.
func staticArg(i int, check func(v any) error) func(args []*expr) error {
	return func(args []*expr) error {
		if !args[i].static {
			return nil
		}
		v, err := args[i].eval(nil)
		if err != nil {
			return err
		}
		return check(v)
	}
}

// definition is the condition language for the predicate parser.
func definition() predicate.Def {
	d := predicate.Def{
		Functions:     map[string]any{},
		Methods:       map[string]any{},
		GetIdentifier: identifier,
		GetProperty:   property,
		Operators: predicate.Operators{
			AND: func(a, b any) (any, error) { return logic("&&", a, b, false) },
			OR:  func(a, b any) (any, error) { return logic("||", a, b, true) },
			NOT: not,
			EQ:  func(a, b any) (any, error) { return equal("==", a, b, false) },
			NEQ: func(a, b any) (any, error) { return equal("!=", a, b, true) },
			LT:  refusedOperator("<"),
			GT:  refusedOperator(">"),
			LE:  refusedOperator("<="),
			GE:  refusedOperator(">="),
		},
	}
	for name, reason := range Refused {
		d.Functions[name] = refusal(name, reason)
		if !strings.Contains(name, ".") {
			d.Methods[name] = refusal(name, reason)
		}
	}
	for name, f := range functions {
		d.Functions[name] = f.build(name)
	}
	for name, f := range methods {
		d.Methods[name] = f.build(name)
	}
	return d
}

func refusedOperator(op string) func(a, b any) (any, error) {
	return func(any, any) (any, error) {
		return nil, fmt.Errorf("%s: %w: compare times with before, after or between", op, ErrUnsupported)
	}
}

// logic is && (stop on false) or || (stop on true), evaluated left to
// right.
func logic(op string, a, b any, stopOn bool) (any, error) {
	args, err := signature{params: []kind{kindBool, kindBool}}.check(op, []any{a, b})
	if err != nil {
		return nil, err
	}
	return derive(kindBool, args, func(in *domain.RuleInput) (any, error) {
		for _, e := range args {
			v, err := get[bool](e, in)
			if err != nil || v == stopOn {
				return v, err
			}
		}
		return !stopOn, nil
	}), nil
}

func not(a any) (any, error) {
	args, err := signature{params: []kind{kindBool}}.check("!", []any{a})
	if err != nil {
		return nil, err
	}
	return derive(kindBool, args, func(in *domain.RuleInput) (any, error) {
		v, err := get[bool](args[0], in)
		return !v, err
	}), nil
}

// equal compares two strings or two booleans.
func equal(op string, a, b any, negate bool) (any, error) {
	args, err := signature{params: []kind{kindString | kindBool, kindString | kindBool}}.check(op, []any{a, b})
	if err != nil {
		return nil, fmt.Errorf("%w (compare sets with contains, contains_any or contains_all)", err)
	}
	if args[0].kind != args[1].kind {
		return nil, fmt.Errorf("%s compares a %s with a %s", op, args[0].kind, args[1].kind)
	}
	return derive(kindBool, args, func(in *domain.RuleInput) (any, error) {
		vs, err := evalAll(args, in)
		if err != nil {
			return nil, err
		}
		return (vs[0] == vs[1]) != negate, nil
	}), nil
}

func strs(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.(string)
	}
	return out
}

func makeSet(vals []any) (any, error) { return newSet(strs(vals)...), nil }

func union(vals []any) (any, error) {
	out := set{}
	for _, v := range vals {
		maps.Copy(out, v.(set))
	}
	return out, nil
}

func containsAny(vals []any) (any, error) {
	s, items := vals[0].(set), vals[1].(set)
	for v := range items {
		if s.has(v) {
			return true, nil
		}
	}
	return false, nil
}

// containsAll is true when s holds every item, and there is at least one.
func containsAll(vals []any) (any, error) {
	s, items := vals[0].(set), vals[1].(set)
	for v := range items {
		if !s.has(v) {
			return false, nil
		}
	}
	return len(items) > 0, nil
}

func isEmpty(vals []any) (any, error) { return len(vals[0].(set)) == 0, nil }

func contains(vals []any) (any, error) { return vals[0].(set).has(vals[1].(string)), nil }

func add(vals []any) (any, error) {
	out := maps.Clone(vals[0].(set))
	for _, v := range strs(vals[1:]) {
		out[v] = struct{}{}
	}
	return out, nil
}

// remove drops items from a set, or keys from a map.
func remove(vals []any) (any, error) {
	items := strs(vals[1:])
	switch v := vals[0].(type) {
	case set:
		out := maps.Clone(v)
		for _, it := range items {
			delete(out, it)
		}
		return out, nil
	case dict:
		out := maps.Clone(v)
		for _, it := range items {
			delete(out, it)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot remove from %T", vals[0])
}

func transform(f func(string) string) func(vals []any) (any, error) {
	return func(vals []any) (any, error) {
		switch v := vals[0].(type) {
		case string:
			return f(v), nil
		case set:
			out := make(set, len(v))
			for it := range v {
				out[f(it)] = struct{}{}
			}
			return out, nil
		}
		return nil, fmt.Errorf("expected a string or a set, got %T", vals[0])
	}
}

func replaceAll(vals []any) (any, error) {
	match, repl := vals[1].(string), vals[2].(string)
	return transform(func(s string) string { return strings.ReplaceAll(s, match, repl) })(vals[:1])
}

func split(vals []any) (any, error) {
	sep := vals[1].(string)
	out := set{}
	for it := range vals[0].(set) {
		for _, part := range strings.Split(it, sep) {
			out[part] = struct{}{}
		}
	}
	return out, nil
}

// emailLocal maps each address to its local part; an empty or invalid
// address is an error, as in Teleport.
func emailLocal(vals []any) (any, error) {
	out := set{}
	for _, it := range vals[0].(set).items() {
		if it == "" {
			return nil, errors.New("empty email address")
		}
		addr, err := mail.ParseAddress(it)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", it, err)
		}
		local, _, _ := strings.Cut(addr.Address, "@")
		out[local] = struct{}{}
	}
	return out, nil
}

// compileMatch compiles a Teleport match expression: a regular expression
// when it is written ^…$, else a literal where * matches anything; either
// way it must match a whole value.
func compileMatch(expr string) (*regexp.Regexp, error) {
	if strings.HasPrefix(expr, "^") && strings.HasSuffix(expr, "$") {
		return regexp.Compile(expr)
	}
	return regexp.Compile("^" + strings.ReplaceAll(regexp.QuoteMeta(expr), `\*`, "(.*)") + "$")
}

func regexpMatch(vals []any) (any, error) {
	re, err := compileMatch(vals[1].(string))
	if err != nil {
		return nil, err
	}
	for it := range vals[0].(set) {
		if re.MatchString(it) {
			return true, nil
		}
	}
	return false, nil
}

func rfc3339(vals []any) (any, error) { return time.Parse(time.RFC3339, vals[0].(string)) }

func before(vals []any) (any, error) { return vals[0].(time.Time).Before(vals[1].(time.Time)), nil }

func after(vals []any) (any, error) { return vals[0].(time.Time).After(vals[1].(time.Time)), nil }

// isBetween is true when t is strictly between the two bounds, in either
// order.
func isBetween(vals []any) (any, error) {
	t, lo, hi := vals[0].(time.Time), vals[1].(time.Time), vals[2].(time.Time)
	if lo.After(hi) {
		lo, hi = hi, lo
	}
	return t.After(lo) && t.Before(hi), nil
}
