package pagerduty

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
// between, make the pager count as unreachable.
const unhealthyAfter = 3

// recoverAfter is how long without a failed attempt clears "unreachable"
// when no call succeeded meanwhile (SPEC §8).
const recoverAfter = time.Minute

// ProbeInterval is how often the background probe (Start) checks PagerDuty
// while it counts as unreachable.
const ProbeInterval = 10 * time.Second

// ErrUnreachable says the last attempts to reach PagerDuty all failed.
var ErrUnreachable = errors.New("pagerduty unreachable")

// health remembers whether recent calls reached PagerDuty: an answer below
// 500 other than 408 and 429 counts as reached; timeouts, transport errors,
// 408, 429 and 5xx count as failed. Calls their caller cancelled do not
// count.
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
		h.failures = 0 // the run of failures ended with a quiet minute
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

// Ready reports whether PagerDuty was reachable recently (SPEC §8, §13): it
// fails after several failed attempts in a row and recovers on the next
// success, or after a minute without failures. A client that has made no
// call yet is ready.
func (c *Client) Ready() error { return c.transport.health.ready() }

// Start runs the background probe: while the client counts PagerDuty as
// unreachable, every ProbeInterval it makes one light call (GET
// /abilities), whose success clears it. Stop ends it.
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
			_, err := c.pd.ListAbilitiesWithContext(withOutcome(pctx))
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
