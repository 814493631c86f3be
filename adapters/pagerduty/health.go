package pagerduty

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pagergate/pagergate/ports"
)

// unhealthyAfter is how many failed attempts in a row, with no success in
// between, make the pager count as unreachable.
const unhealthyAfter = 3

// ErrUnreachable says the last attempts to reach PagerDuty all failed.
var ErrUnreachable = errors.New("pagerduty unreachable")

// health remembers whether recent calls reached PagerDuty: an answer below
// 500 other than 429 counts as reached; timeouts, transport errors, 5xx and
// 429 count as failed.
type health struct {
	mu       sync.Mutex
	failures int
	lastOK   time.Time
	lastFail time.Time
}

func (h *health) observe(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ok {
		h.failures, h.lastOK = 0, time.Now()
		return
	}
	h.failures++
	h.lastFail = time.Now()
}

func (h *health) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures < unhealthyAfter {
		return nil
	}
	since := "since start"
	if !h.lastOK.IsZero() {
		since = "since " + h.lastOK.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%w: the last %d attempts failed, none succeeded %s", ErrUnreachable, h.failures, since)
}

var _ ports.Readiness = (*Client)(nil)

// Ready reports whether PagerDuty was reachable recently (SPEC §13): it
// fails after several failed attempts in a row and recovers on the next
// success. A client that has made no call yet is ready.
func (c *Client) Ready() error { return c.transport.health.ready() }
