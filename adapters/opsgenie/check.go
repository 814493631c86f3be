package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opsgenie/opsgenie-go-sdk-v2/integration"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// ConfigFrom maps the Opsgenie settings of the pager block to the
// adapter's Config; the approve and deny custom actions go on every alert.
func ConfigFrom(s *config.OpsgenieSettings) Config {
	return Config{APIKey: s.APIKey.Value(), APIURL: s.APIURL, WebURL: s.WebURL, User: s.AlertUser, Source: s.Source,
		Tags: s.Tags, Actions: []string{s.ApproveAction, s.DenyAction}, AliasPrefix: s.AliasPrefix,
		RateLimit: s.RateLimit, RequestTimeout: s.RequestTimeout, CacheTTL: s.CacheTTL}
}

// Check reports, one line each, what `pagergate check` verifies of the
// Opsgenie account of `pager "opsgenie" {}`: the key reads schedules; the
// alert user, when it is an email, is an Opsgenie user; the default
// target and each of ruleServices (the recipients of Teleport's routing
// rules) are found; and, when the key may read integrations, an enabled
// webhook integration posts to config.OpsgenieActionsPath.
// Each call is tried once (no retry: a check reports, the daemon
// retries) and bounded by the request timeout and ctx.
func Check(ctx context.Context, p config.PagerSettings, ruleServices []string, report func(name string, err error, detail string)) {
	s := p.Vendor.(*config.OpsgenieSettings)
	cfg := ConfigFrom(s)
	cfg.MaxRetries = -1
	c, err := New(cfg, zap.NewNop(), nil, nil)
	if err != nil {
		report("pager", err, "")
		return
	}
	ports.CheckReport(report).Start("pager", "Opsgenie at "+s.APIURL)
	c.check(ctx, p, ruleServices, report)
}

func (c *Client) check(ctx context.Context, p config.PagerSettings, ruleServices []string, report func(name string, err error, detail string)) {
	if err := c.Check(ctx); err != nil {
		report("pager API key", err, "")
		return // nothing else can be read
	}
	report("pager API key", nil, "reads schedules at "+c.cfg.APIURL)
	if u := c.cfg.User; domain.LooksLikeEmail(u) {
		_, err := c.FindUserByEmail(ctx, u)
		report("pager alert user", err, u+" is an Opsgenie user")
	} else {
		report("pager alert user", nil, fmt.Sprintf("%q is a display name (no Opsgenie user to look up)", u))
	}
	if svc := p.DefaultNotifyService; svc != "" {
		found, err := c.FindService(ctx, svc)
		report("pager default service", err, fmt.Sprintf("%q is %s", svc, found.ID))
	}
	for _, svc := range ruleServices {
		found, err := c.FindService(ctx, svc)
		report("pager rule service", err, fmt.Sprintf("%q is %s", svc, found.ID))
	}
	c.checkIntegration(ctx, report)
}

// maxIntegrationReads bounds the webhook integrations read by check.
const maxIntegrationReads = 20

// checkIntegration looks for an enabled webhook integration whose URL ends
// in the actions path (the host is the public address, which only
// Opsgenie and the network in between know). A key that may not read
// integrations passes with a note: only keys with configuration access
// may.
func (c *Client) checkIntegration(ctx context.Context, report func(name string, err error, detail string)) {
	const name = "pager webhook integration"
	want := "https://<webhook public_addr>" + config.OpsgenieActionsPath
	list, err := c.integrations.List(ctx)
	if err != nil {
		err = c.fail(ctx, err)
		var pe *ports.PermissionError
		if errors.As(err, &pe) {
			report(name, nil, "not checked: the API key may not read integrations (Configuration access); point a Webhook integration at "+want)
			return
		}
		report(name, err, "")
		return
	}
	reads := 0
	var seen []string
	for _, in := range list.Integrations {
		if in.Type != "Webhook" || reads >= maxIntegrationReads {
			continue
		}
		reads++
		got, err := c.integrations.Get(ctx, &integration.GetRequest{Id: in.Id})
		if err != nil {
			report(name, fmt.Errorf("read integration %q: %w", in.Name, c.fail(ctx, err)), "")
			return
		}
		url, _ := got.Data["url"].(string)
		seen = append(seen, fmt.Sprintf("%q (%s)", in.Name, url))
		if strings.HasSuffix(url, config.OpsgenieActionsPath) && in.Enabled {
			report(name, nil, fmt.Sprintf("%q is enabled and posts to %s", in.Name, url))
			return
		}
	}
	report(name, fmt.Errorf("no enabled Webhook integration posts to %s (webhook integrations: %s); add one with \"a custom action is executed\" mappings for the approve and deny actions",
		want, orNone(seen)), "")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
