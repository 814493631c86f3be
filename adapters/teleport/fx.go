package teleport

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the Teleport client as ports.AccessRequests,
// ports.Locks, ports.Watcher and ports.Users, built from the `teleport {}` block. Building it makes no
// network call (credentials are read and checked): the watcher connects,
// with backoff, once started, so the daemon serves health while Teleport
// is unreachable. Closed on stop.
var Module = fx.Module("teleport",
	fx.Provide(
		fromConfig,
		func(c *Client) ports.AccessRequests { return c },
		func(c *Client) ports.Locks { return c },
		func(c *Client) ports.Watcher { return c },
		func(c *Client) ports.Users { return c },
	),
)

// ConfigFrom maps the `teleport {}` block to the adapter's Config; the
// routing rules followed are those addressed to the pager's plugin name.
func ConfigFrom(cfg *config.Config) Config {
	s := cfg.Teleport
	return Config{Addr: s.Addr, IdentityFile: s.Identity, RefreshIdentity: s.RefreshIdentity,
		ClientCrt: s.ClientCrt, ClientKey: s.ClientKey, RootCAs: s.RootCAs, DialTimeout: s.DialTimeout,
		RuleName: cfg.Pager.PluginName}
}

func fromConfig(lc fx.Lifecycle, cfg *config.Config, log *zap.Logger) (*Client, error) {
	c, err := New(ConfigFrom(cfg), log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { c.Start(); return nil },
		OnStop:  func(context.Context) error { return c.Close() },
	})
	return c, nil
}
