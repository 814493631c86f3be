package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/pagerduty"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// errChecksFailed: check printed its findings; exit 1.
var errChecksFailed = errors.New("some checks failed")

// certWarnWindow: certificates expiring sooner fail the check.
const certWarnWindow = 7 * 24 * time.Hour

// checker prints one line per probe.
type checker struct {
	out    io.Writer
	failed int
	// ruleServices are the recipients of the routing rules, resolved by
	// the pager check.
	ruleServices []string
}

func (c *checker) line(name string, err error, okDetail string) {
	if err != nil {
		c.failed++
		fmt.Fprintf(c.out, "FAIL  %-22s %v\n", name, err)
		return
	}
	fmt.Fprintf(c.out, "ok    %-22s %s\n", name, okDetail)
}

func cmdCheck(args []string, stdout io.Writer) error {
	fs := flags("check")
	path := fs.String("c", defaultConfigPath, "configuration file")
	fs.StringVar(path, "config", defaultConfigPath, "configuration file")
	offline := fs.Bool("offline", false, "check the file and certificates only; contact nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	c := &checker{out: stdout}
	c.line("config", nil, *path+" is valid")
	c.certificates(cfg)
	if !*offline {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c.teleport(ctx, cfg)
		c.pager(ctx, cfg)
	}
	if c.failed > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", c.failed)
		return errChecksFailed
	}
	return nil
}

func (c *checker) certificates(cfg *config.Config) {
	type file struct {
		name, path string
		window     time.Duration // fail when expiring sooner
	}
	var files []file
	// Teleport credentials are often short-lived and renewed (tbot): only
	// an expired one fails.
	if cfg.Teleport.Identity != "" {
		files = append(files, file{"teleport identity", cfg.Teleport.Identity, 0})
	}
	if cfg.Teleport.ClientCrt != "" {
		files = append(files, file{"teleport client_crt", cfg.Teleport.ClientCrt, 0})
	}
	if w := cfg.Webhook; w != nil {
		files = append(files, file{"webhook cert_file", w.TLS.CertFile, certWarnWindow})
		if w.TLS.ClientCAFile != "" {
			files = append(files, file{"webhook client_ca_file", w.TLS.ClientCAFile, certWarnWindow})
		}
	}
	for _, f := range files {
		exp, err := certExpiry(f.path)
		left := time.Until(exp)
		switch {
		case err != nil:
			c.line(f.name, err, "")
		case left < 0:
			c.line(f.name, fmt.Errorf("%s expired at %s", f.path, exp.Format(time.RFC3339)), "")
		case left < f.window:
			c.line(f.name, fmt.Errorf("%s expires at %s, within %s", f.path, exp.Format(time.RFC3339), f.window), "")
		default:
			c.line(f.name, nil, fmt.Sprintf("%s valid until %s", f.path, exp.Format(time.RFC3339)))
		}
	}
}

// certExpiry returns the NotAfter of the first certificate in a PEM file
// (an identity file's first certificate is its TLS certificate).
func certExpiry(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return time.Time{}, fmt.Errorf("%s holds no PEM certificate", path)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", path, err)
		}
		return cert.NotAfter, nil
	}
}

func (c *checker) teleport(ctx context.Context, cfg *config.Config) {
	tp, err := teleport.Dial(ctx, teleport.ConfigFrom(cfg.Teleport), zap.NewNop())
	if err != nil {
		c.line("teleport", err, "")
		return
	}
	defer tp.Close()
	cl := tp.Cluster()
	c.line("teleport", nil, fmt.Sprintf("cluster %q, version %s, proxy %q, advanced workflows %v",
		cl.Name, cl.Version, cl.ProxyAddr, cl.AdvancedWorkflows))
	pending, err := tp.ListPending(ctx)
	c.line("teleport list requests", err, fmt.Sprintf("%d pending", len(pending)))
	// Plugin data of a request that cannot exist: "not found" means the
	// permission check passed.
	_, _, err = tp.LoadRecord(ctx, "00000000-0000-0000-0000-000000000000")
	if errors.Is(err, ports.ErrNotFound) {
		err = nil
	}
	c.line("teleport plugin data", err, "readable")
	if cfg.Pager.AutoApprove.BindToShift {
		c.line("teleport locks", tp.ProbeLocks(ctx), "may create and update locks (bind_to_shift)")
	}
	c.rules(ctx, tp)
}

func (c *checker) pager(ctx context.Context, cfg *config.Config) {
	if cfg.Pager.Kind == config.PagerFake {
		c.line("pager", nil, "fake (in-process; nothing to probe)")
		return
	}
	pd, err := pagerduty.New(pagerduty.ConfigFrom(cfg.Pager), zap.NewNop(), nil, nil)
	if err != nil {
		c.line("pager", err, "")
		return
	}
	c.line("pager token and bot user", pd.Check(ctx), cfg.Pager.UserEmail+" exists")
	if s := cfg.Pager.DefaultNotifyService; s != "" {
		svc, err := pd.FindService(ctx, s)
		c.line("pager default service", err, fmt.Sprintf("%q is %s", s, svc.ID))
	}
	for _, s := range slices.Compact(slices.Sorted(slices.Values(c.ruleServices))) {
		svc, err := pd.FindService(ctx, s)
		c.line("pager rule service", err, fmt.Sprintf("%q is %s", s, svc.ID))
	}
}
