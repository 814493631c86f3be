package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pagergate/pagergate/adapters/teleport"
)

// rules lists the access monitoring rules addressed to this plugin: one
// line each, a failure for a rule that can never route (its condition
// does not parse or is refused, or it names no recipient). Rules being off
// (no permission, a Teleport without them) is not a failure. Recipients
// are kept for the pager check.
func (c *checker) rules(ctx context.Context, tp *teleport.Client) {
	set, why, err := tp.RoutingRules(ctx)
	switch {
	case err != nil:
		c.line("teleport routing rules", err, "")
		return
	case !set.On:
		c.line("teleport routing rules", nil, "off: "+why)
		return
	}
	broken := 0
	for _, r := range set.Rules {
		if r.Broken != "" || len(r.Recipients) == 0 {
			broken++
		}
	}
	c.line("teleport routing rules", nil, fmt.Sprintf("%d for %s (%d never route)", len(set.Rules), tp.PluginName(), broken))
	for _, r := range set.Rules {
		name := "rule " + r.Name
		switch {
		case r.Broken != "":
			c.line(name, errors.New(r.Broken), "")
		case len(r.Recipients) == 0:
			c.line(name, errors.New("names no recipient: it routes nowhere"), "")
		default:
			// A condition written over several lines is shown on one.
			cond := strings.Join(strings.Fields(fmt.Sprint(r.Condition)), " ")
			c.line(name, nil, fmt.Sprintf("%s → %s", cond, strings.Join(r.Recipients, ", ")))
			c.ruleServices = append(c.ruleServices, r.Recipients...)
		}
	}
}
