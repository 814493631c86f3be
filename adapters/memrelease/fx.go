package memrelease

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the Releaser of the `memory {}` block; it drops the
// pages of every ports.PageReleaser in the group "page_releasers" too,
// and stops waiting on stop.
var Module = fx.Module("memrelease", fx.Provide(fromConfig))

type deps struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    *config.Config
	Parts     []ports.PageReleaser `group:"page_releasers"`
	Metrics   ports.Metrics
	Log       *zap.Logger
}

func fromConfig(d deps) *Releaser {
	m := d.Config.Memory
	r := New(Config{Off: !m.ReleaseWhenIdle, IdleAfter: m.IdleAfter}, d.Parts, d.Metrics, d.Log.Named("memory"))
	d.Lifecycle.Append(fx.Hook{
		// The hooks of what the daemon needs started before; the use
		// cases' start (the Teleport connection) comes after.
		OnStart: func(context.Context) error { r.Started(); return nil },
		OnStop:  r.Stop,
	})
	return r
}
