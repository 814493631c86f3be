// Command teleport-pagerduty runs Teleport's own PagerDuty access plugin
// (the package integrations/access/pagerduty of the Teleport module pinned
// in ../go.mod) for the cutover e2e test: the test runs it, stops it and
// starts pagergate on the same cluster and PagerDuty.
//
// The plugin's own command-line wrapper lives outside the Teleport module
// at this version (and is not on the module proxy), so this one stands in
// for it: it reads the plugin's TOML configuration with the plugin's own
// types and runs the plugin's App unchanged. The only addition is
// -pagerduty-url, because the plugin's API endpoint is not a TOML key.
//
//	teleport-pagerduty start -config teleport-pagerduty.toml [-pagerduty-url URL]
//	teleport-pagerduty version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gravitational/teleport"
	"github.com/gravitational/teleport/integrations/access/pagerduty"
	"github.com/gravitational/teleport/integrations/lib/logger"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: teleport-pagerduty start -config FILE [-pagerduty-url URL] | version")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "version":
		fmt.Printf("teleport-pagerduty (integrations/access/pagerduty of Teleport %s)\n", teleport.Version)
	case "start":
		if err := start(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "teleport-pagerduty:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "teleport-pagerduty: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	path := fs.String("config", "/etc/teleport-pagerduty.toml", "the plugin's TOML configuration")
	endpoint := fs.String("pagerduty-url", "", "PagerDuty REST API base URL (default: the plugin's own, https://api.pagerduty.com)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var conf pagerduty.Config
	md, err := toml.DecodeFile(*path, &conf)
	if err != nil {
		return err
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return fmt.Errorf("%s: unknown keys %v", *path, keys)
	}
	conf.Pagerduty.APIEndpoint = *endpoint
	if err := conf.CheckAndSetDefaults(); err != nil {
		return err
	}
	logger.Init()
	if err := logger.Setup(conf.Log); err != nil {
		return err
	}
	app, err := pagerduty.NewApp(conf)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Stopped by a signal: give the watcher a moment to finish.
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "teleport-pagerduty: stopped:", err)
		}
	case <-time.After(10 * time.Second):
	}
	return nil
}
