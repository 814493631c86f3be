package opsgenie

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the Opsgenie client as ports.OnCall and ports.Pager,
// and as the ports.Readiness named "pager", built from the Opsgenie
// settings in the graph (those of `pager "opsgenie" {}`, or the fake's,
// pointed at the in-process fake); its readiness probe runs between start
// and stop. It also provides the webhook route of Opsgenie's deliveries
// (config.OpsgenieActionsPath), which the webhook serves when configured.
var Module = fx.Module("opsgenie",
	fx.Provide(
		fromConfig,
		func(c *Client) ports.OnCall { return c },
		func(c *Client) ports.Pager { return c },
		fx.Annotate(func(c *Client) ports.Readiness { return c }, fx.ResultTags(`name:"pager"`)),
		fx.Annotate(route, fx.ResultTags(`group:"webhook_routes"`)),
	),
)

func fromConfig(lc fx.Lifecycle, s *config.OpsgenieSettings, log *zap.Logger, cache ports.Cache, m ports.Metrics) (*Client, error) {
	c, err := New(ConfigFrom(s), log, cache, m)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(c.Start, c.Stop))
	return c, nil
}

func route(s *config.OpsgenieSettings) ports.DeliveryRoute {
	return Deliveries{Approve: s.ApproveAction, Deny: s.DenyAction}.Route(config.OpsgenieActionsPath)
}
