// Command pagergate-demo runs the whole flow on embedded defaults, with no
// account and no network: an in-process Teleport Auth test server and a
// fake PagerDuty (or, with -pager opsgenie, a fake Opsgenie), and the real
// pagergate binary between them as a child process. `make demo` builds
// both and runs it (`make demo PAGER=opsgenie` for Opsgenie).
//
// The demo's world lives in package world; this file only parses the
// command line. The daemon binary, cmd/pagergate, links none of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pagergate/pagergate/adapters/cli"
	"github.com/pagergate/pagergate/cmd/pagergate-demo/world"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.Flags("pagergate-demo")
	runFor := fs.Duration("for", 0, "stop after `DURATION` (default: at Ctrl-C)")
	daemon := fs.String("pagergate", "", "the pagergate `BINARY` (default: the one next to this program, else pagergate on PATH)")
	pager := fs.String("pager", world.PagerDuty, "the fake `PAGER` of the demo: "+world.PagerDuty+" or "+world.Opsgenie)
	if _, err := cli.Parse(fs, args, stdout, 0); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintf(stderr, "pagergate-demo: %v\nRun 'pagergate-demo --help' for its usage.\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := world.Tour(ctx, world.Options{Daemon: *daemon, For: *runFor, Out: stdout, Pager: *pager}); err != nil {
		fmt.Fprintf(stderr, "pagergate-demo: %v\n", err)
		return 1
	}
	return 0
}
