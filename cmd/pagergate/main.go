// Command pagergate turns Teleport access requests into PagerDuty incidents
// and on-call status into access decisions. This package only parses the
// command line (main.go) and composes the fx modules of the adapters
// (fx.go); it has no logic of its own. The demo is a binary of its own,
// cmd/pagergate-demo, so this one links no test server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/cli"
	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/logsink"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/adapters/webhook"
	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// version is set at build time (-ldflags -X main.version=...).
var version = ""

// Exit codes (SPEC §8).
const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		cli.Help(stderr, cli.Program, nil)
		return exitConfig
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "start":
		err = cmdStart(rest, stdout)
	case "configure":
		err = cmdConfigure(rest, stdout)
	case "check":
		err = cmdCheck(rest, stdout)
	case "migrate":
		err = cmdMigrate(rest, stdout, stderr)
	case "fake-pagerduty":
		err = cmdFakePagerDuty(rest, stdout)
	case "version", "--version", "-v":
		if _, err = cli.Parse(cli.Flags("version"), rest, stdout, 0); err == nil {
			fmt.Fprintln(stdout, "pagergate", buildVersion())
		}
	case "help":
		err = cmdHelp(rest, stdout)
	case "-h", "--help":
		err = cmdHelp(nil, stdout)
	default:
		err = cli.UsageError{Msg: fmt.Sprintf("unknown command %q", cmd)}
	}
	return report(err, stderr)
}

// report prints an error the way its kind needs and returns the exit code.
func report(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var diag *config.DiagError
	var use cli.UsageError
	switch {
	case errors.As(err, &diag):
		diag.Write(stderr, false)
		return exitConfig
	case errors.As(err, &use):
		use.Write(stderr)
		return exitConfig
	case errors.Is(err, errChecksFailed):
		return exitRuntime
	default:
		fmt.Fprintf(stderr, "pagergate: %v\n", err)
		return exitRuntime
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// cmdHelp prints the program's usage, or a subcommand's.
func cmdHelp(args []string, stdout io.Writer) error {
	rest, err := cli.Parse(cli.Flags("help"), args, stdout, 1)
	switch {
	case err != nil:
		return err
	case len(rest) == 0:
		cli.Help(stdout, cli.Program, nil)
	case !cli.HasHelp(rest[0]):
		return cli.UsageError{Msg: fmt.Sprintf("unknown command %q", rest[0])}
	default:
		run([]string{rest[0], "--help"}, stdout, io.Discard)
	}
	return nil
}

func cmdStart(args []string, stdout io.Writer) error {
	fs := cli.Flags("start")
	debug := fs.Bool("d", false, "debug logging, also on stderr")
	fs.BoolVar(debug, "debug", false, "")
	path, err := cli.ConfigFlag(fs, args, stdout, config.DefaultPath)
	if err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	lg, err := logsink.New(cfg.Log, *debug)
	if err != nil {
		return err
	}
	defer lg.Sync()
	for _, w := range cfg.Warnings {
		lg.Log.Warn("configuration warning", zap.String("warning", w))
	}
	setMemoryLimit()
	return runDaemon(path, cfg, lg)
}

// errChecksFailed: check printed its findings; exit 1.
var errChecksFailed = errors.New("some checks failed")

// cmdCheck prints one line per check (SPEC §10): the file, the
// certificates, and, online, both sides. Each adapter owns its checks;
// the whole is bounded by --timeout, Teleport by half of it.
func cmdCheck(args []string, stdout io.Writer) error {
	fs := cli.Flags("check")
	offline := fs.Bool("offline", false, "check the file and certificates only; contact nothing")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after `DURATION` in all; Teleport gets at most half of it")
	path, err := cli.ConfigFlag(fs, args, stdout, config.DefaultPath)
	if err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	lines := cli.NewCheckLines(stdout)
	line := ports.CheckReport(lines.Report)
	line("config", nil, path+" is valid")
	for _, w := range cfg.Warnings {
		line("config", ports.Warning(errors.New(w)), "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	tctx, tcancel := context.WithTimeout(ctx, *timeout/2)
	ruleServices := teleport.Check(tctx, teleport.ConfigFrom(cfg),
		teleport.CheckOptions{Online: !*offline, Locks: cfg.AutoApprove.BindToShift}, line)
	tcancel()
	if cfg.Webhook != nil {
		webhook.CheckCertificates(webhook.ConfigFrom(*cfg.Webhook), line)
	}
	if !*offline {
		pagerKinds[cfg.Pager.Kind].check(ctx, cfg.Pager, ruleServices, line)
	}
	if lines.Failed > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", lines.Failed)
		return errChecksFailed
	}
	return nil
}

func cmdConfigure(args []string, stdout io.Writer) error {
	if _, err := cli.Parse(cli.Flags("configure"), args, stdout, 0); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, config.Annotated())
	return err
}

func cmdMigrate(args []string, stdout, stderr io.Writer) error {
	fs := cli.Flags("migrate")
	out := fs.String("o", "", "write the HCL to `OUT` instead of standard output")
	force := fs.Bool("force", false, "with -o, replace OUT if it exists")
	files, err := cli.Parse(fs, args, stdout, 1)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return cli.UsageError{Cmd: "migrate", Msg: "migrate takes one teleport-pagerduty.toml file"}
	}
	hcl, warnings, err := config.MigrateFile(files[0])
	if err != nil {
		return err
	}
	// The file is written before the warnings are printed: a refused
	// write ends with its reason alone, not under warnings about a file
	// that was never written.
	if *out != "" {
		if err := config.WriteNew(*out, hcl, *force); err != nil {
			return err
		}
	}
	for _, w := range warnings {
		if !strings.HasPrefix(w, config.BehaviourChange) {
			w = "warning: " + w
		}
		fmt.Fprintln(stderr, w)
	}
	if *out == "" {
		_, err = stdout.Write(hcl)
		return err
	}
	fmt.Fprintf(stderr, "wrote %s; review it, then run: pagergate check -c %s\n", *out, *out)
	return nil
}

func cmdFakePagerDuty(args []string, stdout io.Writer) error {
	fs := cli.Flags("fake-pagerduty")
	listen := fs.String("listen", "127.0.0.1:8090", "listen `ADDRESS` (host:port; port 0 picks a free one)")
	seed := fs.String("seed", "", "seed `FILE`: users, services, on-calls, incidents (HCL if named *.hcl, else JSON)")
	apiKey := fs.String("api-key", fakepd.DefaultAPIKey, "API `TOKEN` the fake accepts")
	hook := fs.String("webhook-url", "", "base `URL` of pagergate's webhook the page's buttons deliver to, e.g. https://127.0.0.1:8443")
	secret := fs.String("webhook-secret", "", "v3 signing `SECRET` of deliveries (default: $PAGERDUTY_WEBHOOK_SECRET)")
	ca := fs.String("webhook-ca", "", "PEM `FILE` of the CA (or self-signed certificate) of the webhook (default: the system's)")
	rate := fs.Int("rate-limit", 0, "answer 429 with Retry-After past `N` API requests a minute (0: no limit)")
	if _, err := cli.Parse(fs, args, stdout, 0); err != nil {
		return err
	}
	if *secret == "" {
		*secret = os.Getenv("PAGERDUTY_WEBHOOK_SECRET")
	}
	o := fakepd.Options{APIKey: *apiKey, RateLimit: *rate, WebhookURL: *hook, WebhookSecret: *secret}
	if *ca != "" {
		var err error
		if o.WebhookTLSConfig, err = fakepd.TrustPEMFile(*ca); err != nil {
			return err
		}
	}
	s := fakepd.New(o)
	if *seed != "" {
		if err := s.LoadSeedFile(*seed); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	url, err := s.Start(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "fake PagerDuty at %s (API token %q); web page: %s/\n", url, *apiKey, url)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	return nil
}

// defaultMemoryLimit is the Go runtime's soft memory limit (heap, stacks:
// the anonymous resident set) unless GOMEMLIMIT is set: near it the
// collector runs more often, so a burst does not double the heap. Soft: a
// larger live heap still works, for more collector CPU (docs/benchmarks.md).
const defaultMemoryLimit = 24 << 20

func setMemoryLimit() {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
