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

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/logsink"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/adapters/webhook"
	"github.com/pagergate/pagergate/config"
)

// version is set at build time (-ldflags -X main.version=...).
var version = ""

// Exit codes (SPEC §8).
const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

// defaultConfigPath is used when -c is not given.
const defaultConfigPath = config.DefaultPath

const usage = `pagergate: Teleport access requests to on-call pages, and back.

Usage:
  pagergate start [-c FILE] [-d]        run the daemon
  pagergate configure                   print an annotated configuration
  pagergate check [-c FILE] [--offline] validate the file and probe Teleport and the pager
  pagergate migrate FILE.toml [-o OUT]  convert a teleport-pagerduty.toml to HCL
  pagergate fake-pagerduty [flags]      run the fake PagerDuty (REST API + web page)
  pagergate version                     print the version

The configuration defaults to ` + defaultConfigPath + `.
Exit codes: 0 clean, 1 runtime failure, 2 bad configuration or usage.
The demo (the whole flow on embedded defaults) is pagergate-demo: make demo.
`

// usageError is a command-line mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "start":
		err = cmdStart(rest)
	case "configure":
		err = cmdConfigure(rest, stdout)
	case "check":
		err = cmdCheck(rest, stdout)
	case "migrate":
		err = cmdMigrate(rest, stdout, stderr)
	case "fake-pagerduty":
		err = cmdFakePagerDuty(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "pagergate", buildVersion())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	return report(err, stderr)
}

// report prints an error the way its kind needs and returns the exit code.
func report(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var diag *config.DiagError
	var use usageError
	switch {
	case errors.As(err, &diag):
		diag.Write(stderr, false)
		return exitConfig
	case errors.As(err, &use):
		fmt.Fprintf(stderr, "pagergate: %s\n\n%s", use.msg, usage)
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

// flags returns a flag set that reports mistakes as usage errors.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	return nil
}

func cmdStart(args []string) error {
	fs := flags("start")
	path := configFlag(fs)
	debug := fs.Bool("d", false, "debug logging")
	fs.BoolVar(debug, "debug", false, "debug logging")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("start takes no arguments, got %q", fs.Args())}
	}
	cfg, err := config.Load(*path)
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
	return runDaemon(*path, cfg, lg)
}

// errChecksFailed: check printed its findings; exit 1.
var errChecksFailed = errors.New("some checks failed")

// cmdCheck prints one line per check (SPEC §10): the file, the
// certificates, and, online, both sides. Each adapter owns its checks.
func cmdCheck(args []string, stdout io.Writer) error {
	fs := flags("check")
	path := configFlag(fs)
	offline := fs.Bool("offline", false, "check the file and certificates only; contact nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	failed := 0
	line := func(name string, err error, okDetail string) {
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL  %-22s %v\n", name, err)
			return
		}
		fmt.Fprintf(stdout, "ok    %-22s %s\n", name, okDetail)
	}
	line("config", nil, *path+" is valid")
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warn  %-22s %s\n", "config", w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ruleServices := teleport.Check(ctx, teleport.ConfigFrom(cfg),
		teleport.CheckOptions{Online: !*offline, Locks: cfg.AutoApprove.BindToShift}, line)
	if cfg.Webhook != nil {
		webhook.CheckCertificates(webhook.ConfigFrom(*cfg.Webhook), line)
	}
	if !*offline {
		pagerKinds[cfg.Pager.Kind].check(ctx, cfg.Pager, ruleServices, line)
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d check(s) failed\n", failed)
		return errChecksFailed
	}
	return nil
}

func configFlag(fs *flag.FlagSet) *string {
	path := fs.String("c", defaultConfigPath, "configuration file")
	fs.StringVar(path, "config", defaultConfigPath, "configuration file")
	return path
}

func cmdConfigure(args []string, stdout io.Writer) error {
	if err := parse(flags("configure"), args); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, config.Annotated())
	return err
}

func cmdMigrate(args []string, stdout, stderr io.Writer) error {
	fs := flags("migrate")
	out := fs.String("o", "", "write the HCL to this file instead of standard output")
	// Accept flags before or after the file name.
	var files []string
	for len(args) > 0 {
		if err := parse(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		return usageError{"migrate takes one teleport-pagerduty.toml file"}
	}
	src, err := os.ReadFile(files[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", files[0], err)
	}
	hcl, warnings, err := config.Migrate(src, files[0])
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if *out == "" {
		_, err = stdout.Write(hcl)
		return err
	}
	if err := os.WriteFile(*out, hcl, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "wrote %s; review it, then run: pagergate check -c %s\n", *out, strings.TrimSpace(*out))
	return nil
}

func cmdFakePagerDuty(args []string, stdout, _ io.Writer) error {
	fs := flags("fake-pagerduty")
	listen := fs.String("listen", "127.0.0.1:8090", "listen address")
	seed := fs.String("seed", "", "JSON seed file (users, services, on_calls)")
	apiKey := fs.String("api-key", fakepd.DefaultAPIKey, "API token the fake accepts")
	webhook := fs.String("webhook-url", "", "base URL of pagergate's webhook, e.g. https://127.0.0.1:8443")
	secret := fs.String("webhook-secret", "", "v3 signing secret (default: PAGERDUTY_WEBHOOK_SECRET)")
	rate := fs.Int("rate-limit", 0, "requests per minute before 429 (0 = none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = os.Getenv("PAGERDUTY_WEBHOOK_SECRET")
	}
	s := fakepd.New(fakepd.Options{APIKey: *apiKey, RateLimit: *rate, WebhookURL: *webhook, WebhookSecret: *secret})
	if *seed != "" {
		f, err := os.Open(*seed)
		if err != nil {
			return err
		}
		err = s.LoadSeed(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("seed %s: %w", *seed, err)
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

// releaseStartupMemory returns what the start-up freed (configuration,
// TLS, the backlog listing) to the OS at once, when first ready.
func releaseStartupMemory() { go debug.FreeOSMemory() }
