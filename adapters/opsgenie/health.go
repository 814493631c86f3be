package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// unhealthyAfter is how many failed attempts in a row, with no success in
// between, make Opsgenie count as unreachable.
const unhealthyAfter = 3

// recoverAfter is how long without a failed attempt clears "unreachable"
// when no call succeeded meanwhile (SPEC §8).
const recoverAfter = time.Minute

// ProbeInterval is how often the background probe (Start) calls Opsgenie
// while it counts as unreachable.
const ProbeInterval = 10 * time.Second

// ErrUnreachable says the last attempts to reach Opsgenie all failed.
var ErrUnreachable = errors.New("opsgenie unreachable")

// health remembers whether recent calls reached Opsgenie: an answer below
// 500 other than 408 and 429 counts as reached; timeouts, transport errors,
// 408, 429 and 5xx as failed. Calls their caller cancelled do not count.
type health struct {
	mu       sync.Mutex
	failures int
	lastOK   time.Time
	lastFail time.Time
}

func (h *health) observe(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if ok {
		h.failures, h.lastOK = 0, now
		return
	}
	if !h.lastFail.IsZero() && now.Sub(h.lastFail) >= recoverAfter {
		h.failures = 0
	}
	h.failures++
	h.lastFail = now
}

func (h *health) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures < unhealthyAfter || time.Since(h.lastFail) >= recoverAfter {
		return nil
	}
	since := "since start"
	if !h.lastOK.IsZero() {
		since = "since " + h.lastOK.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%w: the last %d attempts failed, none succeeded %s", ErrUnreachable, h.failures, since)
}

var _ ports.Readiness = (*Client)(nil)

// Ready reports whether Opsgenie was reachable recently (SPEC §8): it fails
// after several failed attempts in a row and recovers on the next success,
// or after a minute without failures.
func (c *Client) Ready() error { return c.transport.health.ready() }

// Start runs the background probe: while Opsgenie counts as unreachable,
// every ProbeInterval one light call (the schedule list) checks it. Stop
// ends it.
func (c *Client) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.probeMu.Lock()
	c.stopProbe, c.probeDone = cancel, done
	c.probeMu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(ProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if c.Ready() == nil {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
			_, err := c.fetchSchedules(withOutcome(pctx))
			pcancel()
			c.log.Debug("pager probed while unreachable", zap.Error(err))
		}
	}()
	return nil
}

// Stop ends the background probe and waits for it.
func (c *Client) Stop(ctx context.Context) error {
	c.probeMu.Lock()
	cancel, done := c.stopProbe, c.probeDone
	c.probeMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
