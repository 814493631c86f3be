package pagerduty

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the PagerDuty client as ports.OnCall and ports.Pager,
// and as the ports.Readiness named "pager", built from the PagerDuty
// settings in the graph (those of `pager "pagerduty" {}`, or the fake's,
// pointed at the in-process fake); its readiness probe runs between start
// and stop.
var Module = fx.Module("pagerduty",
	fx.Provide(
		fromConfig,
		func(c *Client) ports.OnCall { return c },
		func(c *Client) ports.Pager { return c },
		fx.Annotate(func(c *Client) ports.Readiness { return c }, fx.ResultTags(`name:"pager"`)),
	),
)

func fromConfig(lc fx.Lifecycle, s *config.PagerDutySettings, log *zap.Logger, cache ports.Cache, m ports.Metrics) (*Client, error) {
	c, err := New(ConfigFrom(s), log, cache, m)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(c.Start, c.Stop))
	return c, nil
}
