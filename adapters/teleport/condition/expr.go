package condition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pagergate/pagergate/domain"
)

// kind is the type of an expression; kinds are bits, so a parameter can
// accept several.
type kind int

const (
	kindBool kind = 1 << iota
	kindString
	kindSet
	kindDict
	kindTime
)

func (k kind) String() string {
	var names []string
	for _, n := range []struct {
		k    kind
		name string
	}{{kindBool, "boolean"}, {kindString, "string"}, {kindSet, "set"}, {kindDict, "map"}, {kindTime, "time"}} {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "value"
	}
	return strings.Join(names, " or ")
}

// set is a set of strings, as Teleport's expression sets are.
type set map[string]struct{}

func newSet(items ...string) set {
	s := make(set, len(items))
	for _, it := range items {
		s[it] = struct{}{}
	}
	return s
}

func (s set) has(v string) bool { _, ok := s[v]; return ok }

// items returns the set's members, sorted.
func (s set) items() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// dict maps a key to a set; a missing key is the empty set.
type dict map[string][]string

// expr is a node of a parsed condition: its type, whether it reads the
// requester's traits, whether it is known without a request (static), and
// how it evaluates. eval returns a value of Go type bool, string, set,
// dict or time.Time as kind says.
type expr struct {
	kind   kind
	traits bool
	static bool
	eval   func(in *domain.RuleInput) (any, error)
}

// get evaluates e, whose kind was checked to hold a T.
func get[T any](e *expr, in *domain.RuleInput) (T, error) {
	v, err := e.eval(in)
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

func constant(k kind, v any) *expr {
	return &expr{kind: k, static: true, eval: func(*domain.RuleInput) (any, error) { return v, nil }}
}

// derive builds a node of kind k over parts: it reads traits when any
// part does, and is static when every part is.
func derive(k kind, parts []*expr, eval func(in *domain.RuleInput) (any, error)) *expr {
	e := &expr{kind: k, static: true, eval: eval}
	for _, p := range parts {
		e.traits = e.traits || p.traits
		e.static = e.static && p.static
	}
	return e
}

// lift turns what the predicate parser hands over, a literal or a node,
// into a node.
func lift(v any) (*expr, error) {
	switch v := v.(type) {
	case *expr:
		return v, nil
	case string:
		return constant(kindString, v), nil
	case int, float64:
		return nil, fmt.Errorf("number %v: %w: conditions compare strings, sets and times", v, ErrUnsupported)
	}
	return nil, fmt.Errorf("unexpected value of type %T", v)
}

// signature is what a function or method accepts: one kind mask per
// parameter, then any number of variadic ones (0: none).
type signature struct {
	params   []kind
	variadic kind
}

// check lifts a call's arguments and checks them against the signature.
func (sig signature) check(name string, vals []any) ([]*expr, error) {
	n := len(sig.params)
	if len(vals) < n || (sig.variadic == 0 && len(vals) > n) {
		want := fmt.Sprint(n)
		if sig.variadic != 0 {
			want = "at least " + want
		}
		return nil, fmt.Errorf("%s takes %s argument(s), got %d", name, want, len(vals))
	}
	args := make([]*expr, len(vals))
	for i, v := range vals {
		e, err := lift(v)
		if err != nil {
			return nil, fmt.Errorf("%s: argument %d: %w", name, i+1, err)
		}
		want := sig.variadic
		if i < n {
			want = sig.params[i]
		}
		if e.kind&want == 0 {
			return nil, fmt.Errorf("%s: argument %d is a %s, want a %s", name, i+1, e.kind, want)
		}
		args[i] = e
	}
	return args, nil
}

// evalAll evaluates every argument.
func evalAll(args []*expr, in *domain.RuleInput) ([]any, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		v, err := a.eval(in)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return vals, nil
}
