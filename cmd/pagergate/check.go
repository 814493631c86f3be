package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pagergate/pagergate/adapters/pagerduty"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/adapters/webhook"
	"github.com/pagergate/pagergate/config"
)

// errChecksFailed: check printed its findings; exit 1.
var errChecksFailed = errors.New("some checks failed")

// checker prints one line per probe.
type checker struct {
	out    io.Writer
	failed int
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	teleport.Check(ctx, teleport.ConfigFrom(cfg.Teleport), !*offline, c.line)
	if cfg.Webhook != nil {
		webhook.CheckCertificates(webhook.ConfigFrom(*cfg.Webhook), c.line)
	}
	if !*offline {
		c.pager(ctx, cfg)
	}
	if c.failed > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", c.failed)
		return errChecksFailed
	}
	return nil
}

func (c *checker) pager(ctx context.Context, cfg *config.Config) {
	if cfg.Pager.Kind == config.PagerFake {
		c.line("pager", nil, "fake (in-process; nothing to probe)")
		return
	}
	pagerduty.Probe(ctx, pagerduty.ConfigFrom(cfg.Pager), cfg.Pager.DefaultNotifyService, c.line)
}
