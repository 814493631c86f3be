//go:build e2e || bench

// Waiting: every wait of the suite goes through poll, bounded by
// waitTimeout.

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

// poll checks cond every 15 ms until it holds or waitTimeout passes.
func poll(cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return pollCtx(ctx, cond)
}

func pollCtx(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(15 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// waitFor polls cond until it holds; it fails the test naming what after
// waitTimeout.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	if err := poll(cond); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitPD waits until cond holds on the fake PagerDuty (woken by its
// changes); it fails the test naming what after waitTimeout.
func (e *env) waitPD(what string, cond func(*fakepd.Server) bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.pd.WaitFor(ctx, cond); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitUntil polls cond every 50 ms until it holds; it fails the test after
// limit or when the daemon exits.
func waitUntil(t *testing.T, d *daemon, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: no result after %s", what, limit)
		}
		select {
		case <-d.done:
			t.Fatalf("waiting for %s: pagergate exited with code %d\n%s", what, d.exitCode, tail(d.stderrText(), 30))
		case <-tick.C:
		}
	}
}
