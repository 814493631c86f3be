package pagerduty

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Probe reports, one line each, what `pagergate check` verifies of the
// PagerDuty account: the token works and the bot user exists, and the
// default notify service (when set) is found. report is called with a nil
// error for a passing line.
func Probe(ctx context.Context, cfg Config, defaultService string, report func(name string, err error, detail string)) {
	pd, err := New(cfg, zap.NewNop(), nil, nil)
	if err != nil {
		report("pager", err, "")
		return
	}
	report("pager token and bot user", pd.Check(ctx), cfg.UserEmail+" exists")
	if defaultService != "" {
		svc, err := pd.FindService(ctx, defaultService)
		report("pager default service", err, fmt.Sprintf("%q is %s", defaultService, svc.ID))
	}
}
