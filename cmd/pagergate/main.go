// Command pagergate turns Teleport access requests into PagerDuty incidents
// and on-call status into access decisions. This package only parses the
// command line and composes the fx modules of the adapters; it has no logic
// of its own.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

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
const defaultConfigPath = "/etc/pagergate.hcl"

const usage = `pagergate: Teleport access requests to on-call pages, and back.

Usage:
  pagergate start [-c FILE] [-d]        run the daemon
  pagergate configure                   print an annotated configuration
  pagergate check [-c FILE] [--offline] validate the file and probe Teleport and the pager
  pagergate migrate FILE.toml [-o OUT]  convert a teleport-pagerduty.toml to HCL
  pagergate fake-pagerduty [flags]      run the fake PagerDuty (REST API + web page)
  pagergate demo [--for DURATION]       run the whole flow on embedded defaults
  pagergate version                     print the version

The configuration defaults to ` + defaultConfigPath + `.
Exit codes: 0 clean, 1 runtime failure, 2 bad configuration or usage.
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
	case "demo":
		err = cmdDemo(rest, stdout, stderr)
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
