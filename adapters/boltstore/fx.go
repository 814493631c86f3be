package boltstore

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module provides the bbolt store as ports.Records, ports.DedupStore and
// ports.Cache, and as a ports.PageReleaser in the group "page_releasers",
// opened from the `store "bbolt" {}` block and closed (flushed) on stop.
var Module = fx.Module("boltstore",
	fx.Provide(
		fromConfig,
		func(s *Store) ports.Records { return s },
		func(s *Store) ports.DedupStore { return s },
		func(s *Store) ports.Cache { return s },
		fx.Annotate(func(s *Store) ports.PageReleaser { return s }, fx.ResultTags(`group:"page_releasers"`)),
	),
)

func fromConfig(lc fx.Lifecycle, cfg *config.Config, log *zap.Logger) (*Store, error) {
	s, err := Open(Config{Path: cfg.Store.Path, Retention: cfg.Store.Retention}, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(s.Close))
	return s, nil
}
