package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// errNoUsers: the service was given no ports.Users.
var errNoUsers = errors.New("users cannot be read")

// router keeps the routing rules (Teleport access monitoring rules
// addressed to this pager) in memory: replaced at every sync, updated by
// the watcher's rule events. It evaluates them for a request with
// domain.Route, reading the requester's traits only when a rule needs
// them.
type router struct {
	users   ports.Users // nil: traits are unreadable
	metrics ports.Metrics
	log     *zap.Logger

	mu    sync.RWMutex
	rules map[string]domain.RoutingRule

	traitsDenied atomic.Bool // the missing permission was logged
}

// sync replaces every rule with those listed after a (re)connect.
func (r *router) sync(set domain.RuleSet) {
	rules := make(map[string]domain.RoutingRule, len(set.Rules))
	for _, rule := range set.Rules {
		rules[rule.Name] = rule
		r.loaded(rule)
	}
	r.mu.Lock()
	r.rules = rules
	r.mu.Unlock()
}

// put adds or replaces a rule.
func (r *router) put(rule domain.RoutingRule) {
	r.loaded(rule)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rules == nil {
		r.rules = map[string]domain.RoutingRule{}
	}
	r.rules[rule.Name] = rule
}

// remove drops a rule.
func (r *router) remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rules[name]; ok {
		delete(r.rules, name)
		r.log.Info("routing rule removed", zap.String("rule", name))
	}
}

// loaded logs a rule as it arrives; a broken one is counted: it never
// matches.
func (r *router) loaded(rule domain.RoutingRule) {
	if rule.Broken != "" {
		r.metrics.RuleError(ports.RuleStageParse)
		r.log.Warn("routing rule never matches", zap.String("rule", rule.Name), zap.String("reason", rule.Broken))
		return
	}
	r.log.Info("routing rule loaded", zap.String("rule", rule.Name), zap.Strings("recipients", rule.Recipients))
}

// list returns the rules, by name.
func (r *router) list() []domain.RoutingRule {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Collect(func(yield func(domain.RoutingRule) bool) {
		for _, name := range slices.Sorted(maps.Keys(r.rules)) {
			if !yield(r.rules[name]) {
				return
			}
		}
	})
}

// route returns the services the rules add to the request's notify
// services. A rule that fails to evaluate is logged and counted and adds
// nothing; traits that cannot be read for a moment fail the pass (it is
// retried), unreadable ones (no permission, no such user) fail only the
// rules that read them.
func (r *router) route(ctx context.Context, req domain.Request) ([]string, error) {
	rules := r.list()
	if len(rules) == 0 {
		return nil, nil
	}
	in := domain.RuleInput{Request: req}
	if domain.ReadsTraits(rules) {
		var err error
		if in.Traits, in.TraitsErr, err = r.traits(ctx, req.User); err != nil {
			return nil, err
		}
	}
	routing := domain.Route(rules, in)
	for _, o := range routing.Outcomes {
		fields := []zap.Field{zap.String("rule", o.Rule), zap.String("request_id", req.ID), zap.String("reason", o.Reason)}
		switch o.Verdict {
		case domain.RuleFailed:
			r.metrics.RuleError(ports.RuleStageEvaluate)
			r.log.Warn("routing rule failed", fields...)
		case domain.RuleMatched:
			r.log.Debug("routing rule matched", fields...)
		default:
			r.log.Debug("routing rule did not match", fields...)
		}
	}
	return routing.Services, nil
}

// traits reads the requester's traits. unreadable says why they cannot
// be read for good (no permission, no such user): the rules reading them
// fail; err is a failure worth retrying the pass for.
func (r *router) traits(ctx context.Context, user string) (traits map[string][]string, unreadable, err error) {
	if r.users == nil {
		return nil, errNoUsers, nil
	}
	traits, err = r.users.UserTraits(ctx, user)
	var pe *ports.PermissionError
	switch {
	case err == nil:
		return traits, nil, nil
	case errors.As(err, &pe):
		if !r.traitsDenied.Swap(true) {
			r.log.Warn("cannot read users: routing rules reading user.traits never match", zap.Error(err))
		}
		return nil, err, nil
	case errors.Is(err, ports.ErrNotFound):
		return nil, err, nil
	}
	return nil, nil, fmt.Errorf("read the traits of %s: %w", user, err)
}
