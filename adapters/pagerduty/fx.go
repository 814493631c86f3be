package pagerduty

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the PagerDuty client as ports.OnCall and ports.Pager,
// built from the `pager {}` block (kind "pagerduty", or "fake" pointed at
// the in-process fake); its readiness probe runs between start and stop.
var Module = fx.Module("pagerduty",
	fx.Provide(
		fromConfig,
		func(c *Client) ports.OnCall { return c },
		func(c *Client) ports.Pager { return c },
	),
)

// ConfigFrom maps the `pager {}` block to the adapter's Config.
func ConfigFrom(s config.PagerSettings) Config {
	return Config{APIKey: s.APIKey.Value(), UserEmail: s.UserEmail, APIEndpoint: s.APIEndpoint,
		RateLimit: s.RateLimit, RequestTimeout: s.RequestTimeout, CacheTTL: s.CacheTTL}
}

func fromConfig(lc fx.Lifecycle, cfg *config.Config, log *zap.Logger, cache ports.Cache, m ports.Metrics) (*Client, error) {
	c, err := New(ConfigFrom(cfg.Pager), log, cache, m)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(c.Start, c.Stop))
	return c, nil
}
