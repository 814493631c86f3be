package teleport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// Check reports, one line each, what `pagergate check` verifies of
// Teleport: the client certificate is unexpired (it is often short-lived
// and renewed by tbot, so only an expired one fails) and, online, that the
// cluster answers Ping and the plugin may list requests and read plugin
// data. report is called with a nil error for a passing line.
func Check(ctx context.Context, cfg Config, online bool, report func(name string, err error, detail string)) {
	name, path := "teleport identity", cfg.IdentityFile
	if path == "" {
		name, path = "teleport client_crt", cfg.ClientCrt
	}
	exp, err := CertificateExpiry(cfg)
	if err == nil && time.Now().After(exp) {
		err = fmt.Errorf("%s expired at %s", path, exp.Format(time.RFC3339))
	}
	report(name, err, path+" valid until "+exp.Format(time.RFC3339))
	if online {
		probe(ctx, cfg, report)
	}
}

func probe(ctx context.Context, cfg Config, report func(name string, err error, detail string)) {
	tp, err := Dial(ctx, cfg, zap.NewNop())
	if err != nil {
		report("teleport", err, "")
		return
	}
	defer tp.Close()
	cl := tp.Cluster()
	report("teleport", nil, fmt.Sprintf("cluster %q, version %s, proxy %q, advanced workflows %v",
		cl.Name, cl.Version, cl.ProxyAddr, cl.AdvancedWorkflows))
	pending, err := tp.ListPending(ctx)
	report("teleport list requests", err, fmt.Sprintf("%d pending", len(pending)))
	// Plugin data of a request that cannot exist: "not found" means the
	// permission check passed.
	_, err = tp.GetPluginData(ctx, "00000000-0000-0000-0000-000000000000")
	if errors.Is(err, ports.ErrNotFound) {
		err = nil
	}
	report("teleport plugin data", err, "readable")
}
