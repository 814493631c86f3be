package teleport

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	amrpb "github.com/gravitational/teleport/api/gen/proto/go/teleport/accessmonitoringrules/v1"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/teleport/condition"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Permissions the routing rules need (named in logs and errors).
const (
	PermRules = "access_monitoring_rule: list, read"
	PermUsers = "user: read"
)

// rulePageSize is the page size of rule lists (Teleport's default).
const rulePageSize = 1000

var _ ports.Users = (*Client)(nil)

// RoutingRules lists the access monitoring rules addressed to this plugin
// (subjects include access_request, notification.name is RuleName),
// with their conditions parsed. The set is off, and why says why, when
// Teleport does not serve rules to pagergate: no permission, or a Teleport
// without them.
func (c *Client) RoutingRules(ctx context.Context) (set domain.RuleSet, why string, err error) {
	api, err := c.conn("list access monitoring rules")
	if err != nil {
		return domain.RuleSet{}, "", err
	}
	var rules []domain.RoutingRule
	for token := ""; ; {
		page, next, err := api.AccessMonitoringRulesClient().ListAccessMonitoringRules(ctx, rulePageSize, token)
		switch {
		case trace.IsAccessDenied(err):
			return domain.RuleSet{}, fmt.Sprintf("listing them is denied (the plugin needs %s): %v", PermRules, err), nil
		case trace.IsNotImplemented(err):
			return domain.RuleSet{}, "this Teleport does not serve them", nil
		case err != nil:
			return domain.RuleSet{}, "", translate(ctx, err, "list access monitoring rules", PermRules)
		}
		for _, r := range page {
			if rule, ok := c.routingRule(r); ok {
				rules = append(rules, rule)
			}
		}
		if next == "" || next == token {
			break
		}
		token = next
	}
	slices.SortFunc(rules, func(a, b domain.RoutingRule) int { return cmp.Compare(a.Name, b.Name) })
	return domain.RuleSet{On: true, Rules: rules}, "", nil
}

// routingRule converts a rule; ok is false when the rule is not addressed
// to this plugin. A condition that does not parse makes the rule broken.
func (c *Client) routingRule(r *amrpb.AccessMonitoringRule) (domain.RoutingRule, bool) {
	spec := r.GetSpec()
	if spec.GetNotification().GetName() != c.cfg.RuleName || !slices.Contains(spec.GetSubjects(), types.KindAccessRequest) {
		return domain.RoutingRule{}, false
	}
	rule := domain.RoutingRule{Name: r.GetMetadata().GetName(), Recipients: slices.Clone(spec.GetNotification().GetRecipients())}
	cond, err := condition.Parse(spec.GetCondition())
	if err != nil {
		rule.Broken = err.Error()
	} else {
		rule.Condition = cond
	}
	return rule, true
}

// ruleEvent translates a watch event of an access monitoring rule: a rule
// that is not (or no longer) addressed to this plugin is a deletion.
func (c *Client) ruleEvent(ev types.Event) (domain.Event, bool) {
	switch ev.Type {
	case types.OpPut:
		w, ok := ev.Resource.(types.Resource153Unwrapper)
		r, isRule := (*amrpb.AccessMonitoringRule)(nil), false
		if ok {
			r, isRule = w.Unwrap().(*amrpb.AccessMonitoringRule)
		}
		if !isRule {
			c.log.Debug("ignoring watch event", zap.String("resource", fmt.Sprintf("%T", ev.Resource)))
			return domain.Event{}, false
		}
		if rule, ok := c.routingRule(r); ok {
			return domain.Event{Kind: domain.EventRulePut, Rule: rule}, true
		}
		return domain.Event{Kind: domain.EventRuleDelete, Rule: domain.RoutingRule{Name: r.GetMetadata().GetName()}}, true
	case types.OpDelete:
		return domain.Event{Kind: domain.EventRuleDelete, Rule: domain.RoutingRule{Name: ev.Resource.GetName()}}, true
	}
	return domain.Event{}, false
}

// syncRules lists the rules after a (re)connect, when the watch confirmed
// the kind, and logs when rules turn off or on.
func (c *Client) syncRules(ctx context.Context, confirmed bool) (domain.RuleSet, error) {
	set, why := domain.RuleSet{}, fmt.Sprintf("the watch did not confirm %s (the plugin needs %s, or this Teleport has no rules)",
		types.KindAccessMonitoringRule, PermRules)
	if confirmed {
		var err error
		if set, why, err = c.RoutingRules(ctx); err != nil {
			return domain.RuleSet{}, err
		}
	}
	c.rulesLog.mu.Lock()
	defer c.rulesLog.mu.Unlock()
	switch {
	case !set.On && c.rulesLog.state != rulesOff:
		c.log.Warn("access monitoring rules are off: requests are routed by annotation and default service only", zap.String("reason", why))
		c.rulesLog.state = rulesOff
	case set.On && c.rulesLog.state != rulesOn:
		c.log.Info("access monitoring rules are on", zap.Int("rules", len(set.Rules)))
		c.rulesLog.state = rulesOn
	}
	return set, nil
}

// ruleLog remembers whether rules were last seen on or off, to log each
// change once.
type ruleLog struct {
	mu    sync.Mutex
	state int
}

// Rule states.
const (
	rulesUnknown = iota
	rulesOff
	rulesOn
)

// UserTraits implements ports.Users.
func (c *Client) UserTraits(ctx context.Context, user string) (map[string][]string, error) {
	api, err := c.conn("read user")
	if err != nil {
		return nil, err
	}
	u, err := api.GetUser(ctx, user, false)
	if err != nil {
		return nil, translate(ctx, err, "read user "+user, PermUsers)
	}
	return u.GetTraits(), nil
}

// RuleName is the notification name of the routing rules the client
// follows.
func (c *Client) RuleName() string { return c.cfg.RuleName }
