package metrics

import (
	"net/http"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the registry as ports.Metrics and runs the always-on
// metrics and health listener of the `metrics {}` block; /readyz asks the
// Checks in the graph.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		func(r *Registry) ports.Metrics { return r },
		fx.Annotate(func(c Checks) http.Handler { return Health(c) }, fx.ResultTags(`name:"health"`)),
		fromConfig,
	),
	fx.Invoke(func(*Server) {}),
)

func fromConfig(lc fx.Lifecycle, cfg *config.Config, reg *Registry, checks Checks, log *zap.Logger) *Server {
	s := NewServer(cfg.Metrics.ListenAddr, reg, checks, log)
	lc.Append(fx.StartStopHook(s.Start, s.Stop))
	return s
}
