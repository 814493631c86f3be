package condition

import (
	"fmt"
	"strings"

	"github.com/pagergate/pagergate/domain"
)

// field is a value a condition reads from the request.
type field struct {
	kind   kind
	traits bool
	get    func(in *domain.RuleInput) any
}

func (f field) node() *expr {
	return &expr{kind: f.kind, traits: f.traits, eval: func(in *domain.RuleInput) (any, error) { return f.get(in), nil }}
}

// fields are the request fields Teleport documents for access monitoring
// rules that pagergate evaluates.
var fields = map[string]field{
	"access_request.spec.roles": {kind: kindSet, get: func(in *domain.RuleInput) any {
		return newSet(in.Request.Roles...)
	}},
	"access_request.spec.suggested_reviewers": {kind: kindSet, get: func(in *domain.RuleInput) any {
		return newSet(in.Request.SuggestedReviewers...)
	}},
	"access_request.spec.system_annotations": {kind: kindDict, get: func(in *domain.RuleInput) any {
		return dict(in.Request.Annotations)
	}},
	"access_request.spec.user":           {kind: kindString, get: func(in *domain.RuleInput) any { return in.Request.User }},
	"access_request.spec.request_reason": {kind: kindString, get: func(in *domain.RuleInput) any { return in.Request.Reason }},
	"access_request.spec.creation_time":  {kind: kindTime, get: func(in *domain.RuleInput) any { return in.Request.Created }},
	"access_request.spec.expiry":         {kind: kindTime, get: func(in *domain.RuleInput) any { return in.Request.RequestExpires }},
	"user.traits": {kind: kindDict, traits: true, get: func(in *domain.RuleInput) any {
		return dict(in.Traits)
	}},
}

const resourcesReason = "it reads the requested resources and their labels, which pagergate does not look up"

// refusedFields are fields Teleport documents that pagergate does not
// evaluate, with the reason.
var refusedFields = map[string]string{
	"access_request.spec.requested_resources":          resourcesReason,
	"access_request.spec.resource_labels_intersection": resourcesReason,
	"access_request.spec.resource_labels_union":        resourcesReason,
}

// identifier resolves a name (a.b.c): a literal true or false, a field,
// or a map field with one more name as its key (user.traits.team).
func identifier(selector []string) (any, error) {
	name := strings.Join(selector, ".")
	switch name {
	case "true":
		return constant(kindBool, true), nil
	case "false":
		return constant(kindBool, false), nil
	}
	for i := len(selector); i > 0; i-- {
		prefix := strings.Join(selector[:i], ".")
		if reason, ok := refusedFields[prefix]; ok {
			return nil, fmt.Errorf("%s: %w: %s", prefix, ErrUnsupported, reason)
		}
		f, ok := fields[prefix]
		if !ok {
			continue
		}
		switch rest := selector[i:]; {
		case len(rest) == 0:
			return f.node(), nil
		case len(rest) == 1 && f.kind == kindDict:
			return index(f.node(), constant(kindString, rest[0])), nil
		default:
			return nil, fmt.Errorf("%s has no field %s", prefix, strings.Join(rest, "."))
		}
	}
	return nil, fmt.Errorf("unknown field %s", name)
}

// property reads m[key]: the set of values under key (empty when absent).
func property(mapVal, keyVal any) (any, error) {
	m, err := lift(mapVal)
	if err != nil {
		return nil, err
	}
	k, err := lift(keyVal)
	if err != nil {
		return nil, fmt.Errorf("map key: %w", err)
	}
	if m.kind != kindDict {
		return nil, fmt.Errorf("only maps can be indexed, not a %s", m.kind)
	}
	if k.kind != kindString {
		return nil, fmt.Errorf("a map key is a string, not a %s", k.kind)
	}
	return index(m, k), nil
}

func index(m, k *expr) *expr {
	return derive(kindSet, []*expr{m, k}, func(in *domain.RuleInput) (any, error) {
		d, err := get[dict](m, in)
		if err != nil {
			return nil, err
		}
		key, err := get[string](k, in)
		if err != nil {
			return nil, err
		}
		return newSet(d[key]...), nil
	})
}
