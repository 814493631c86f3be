package pagerduty

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// ConfigFrom maps the PagerDuty settings of the pager block to the
// adapter's Config.
func ConfigFrom(s *config.PagerDutySettings) Config {
	return Config{APIKey: s.APIKey.Value(), UserEmail: s.UserEmail, APIEndpoint: s.APIEndpoint,
		RateLimit: s.RateLimit, RequestTimeout: s.RequestTimeout, CacheTTL: s.CacheTTL}
}

// Check reports, one line each, what `pagergate check` verifies of the
// PagerDuty account of `pager "pagerduty" {}`: the token works and the bot
// user exists, the default notify service (when set) is found, and so is
// each of ruleServices (the recipients of Teleport's routing rules). Each
// call is tried once (no retry: a check reports, the daemon retries) and
// bounded by the request timeout and ctx.
func Check(ctx context.Context, p config.PagerSettings, ruleServices []string, report func(name string, err error, detail string)) {
	s := p.Vendor.(*config.PagerDutySettings)
	cfg := ConfigFrom(s)
	cfg.MaxRetries = -1
	pd, err := New(cfg, zap.NewNop(), nil, nil)
	if err != nil {
		report("pager", err, "")
		return
	}
	ports.CheckReport(report).Start("pager", "PagerDuty at "+s.APIEndpoint)
	report("pager token, bot user", pd.Check(ctx), s.UserEmail+" exists")
	if svc := p.DefaultNotifyService; svc != "" {
		found, err := pd.FindService(ctx, svc)
		report("pager default service", err, fmt.Sprintf("%q is %s", svc, found.ID))
	}
	for _, svc := range ruleServices {
		found, err := pd.FindService(ctx, svc)
		report("pager rule service", err, fmt.Sprintf("%q is %s", svc, found.ID))
	}
}
