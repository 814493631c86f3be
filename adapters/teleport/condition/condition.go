// Package condition parses the condition of a Teleport access monitoring
// rule, a predicate expression in Go syntax read by
// github.com/vulcand/predicate (Teleport's own fork, as Teleport builds
// it), into a typed tree that evaluates against an access request: a
// domain.Condition.
//
// Types are checked when the condition is parsed: a condition that does
// not parse, is not a boolean, or uses what pagergate does not evaluate is
// refused then, with the reason, and never evaluated. See Fields,
// Functions and Methods for what is supported, and Refused for what is
// refused and why.
package condition

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/vulcand/predicate"

	"github.com/pagergate/pagergate/domain"
)

// ErrUnsupported marks a condition that uses a field, function, method or
// operator pagergate does not evaluate.
var ErrUnsupported = errors.New("not supported by pagergate")

// MaxLength bounds the length of a condition, in bytes.
const MaxLength = 16 << 10

// Condition is a parsed condition; it implements domain.Condition and is
// safe for concurrent use.
type Condition struct {
	src  string
	root *expr
}

var _ domain.Condition = (*Condition)(nil)

var (
	parserOnce sync.Once
	theParser  predicate.Parser
)

func parser() predicate.Parser {
	parserOnce.Do(func() {
		// NewParser only stores the definition; it never fails.
		theParser, _ = predicate.NewParser(definition())
	})
	return theParser
}

// Parse parses a rule's condition. The error says why a condition is
// refused; it wraps ErrUnsupported when the condition is well formed but
// uses what pagergate does not evaluate.
func Parse(src string) (*Condition, error) {
	switch {
	case strings.TrimSpace(src) == "":
		return nil, errors.New("condition is empty")
	case len(src) > MaxLength:
		return nil, fmt.Errorf("condition is %d bytes long, more than %d", len(src), MaxLength)
	}
	v, err := parser().Parse(src)
	if err == nil {
		var e *expr
		if e, err = lift(v); err == nil {
			if e.kind != kindBool {
				return nil, fmt.Errorf("condition is a %s, not a boolean", e.kind)
			}
			return &Condition{src: src, root: e}, nil
		}
	}
	if errors.Is(err, ErrUnsupported) {
		return nil, fmt.Errorf("condition refused: %w", err)
	}
	return nil, fmt.Errorf("condition does not parse: %w", err)
}

// Match implements domain.Condition.
func (c *Condition) Match(in domain.RuleInput) (bool, error) {
	return get[bool](c.root, &in)
}

// ReadsTraits implements domain.Condition: the condition reads user.traits.
func (c *Condition) ReadsTraits() bool { return c.root.traits }

// String returns the condition as written.
func (c *Condition) String() string { return c.src }
