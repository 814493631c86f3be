package httpretry

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// UnhealthyAfter is how many failed attempts in a row, with no success in
// between, make the vendor count as unreachable.
const UnhealthyAfter = 3

// RecoverAfter is how long without a failed attempt clears "unreachable"
// when no call succeeded meanwhile (SPEC §8).
const RecoverAfter = time.Minute

// ProbeInterval is how often the background probe (Probe.Start) calls the
// vendor while it counts as unreachable.
const ProbeInterval = 10 * time.Second

// health remembers whether recent calls reached the vendor: an answer
// below 500 other than 408 and 429 counts as reached; timeouts, transport
// errors, 408, 429 and 5xx count as failed. Calls their caller cancelled
// do not count.
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
	if !h.lastFail.IsZero() && now.Sub(h.lastFail) >= RecoverAfter {
		h.failures = 0 // the run of failures ended with a quiet minute
	}
	h.failures++
	h.lastFail = now
}

// Ready reports whether the vendor was reachable recently (SPEC §8, §13):
// nil, or unreachable wrapped with what failed. It fails after
// UnhealthyAfter failed attempts in a row and recovers on the next
// success, or after RecoverAfter without failures. A transport that has
// made no call yet is ready.
func (t *Transport) Ready(unreachable error) error {
	h := &t.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failures < UnhealthyAfter || time.Since(h.lastFail) >= RecoverAfter {
		return nil
	}
	since := "since start"
	if !h.lastOK.IsZero() {
		since = "since " + h.lastOK.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%w: the last %d attempts failed, none succeeded %s", unreachable, h.failures, since)
}

// Probe runs a light call every ProbeInterval while a client counts its
// vendor as unreachable, so a success clears it even when nothing else
// calls. The zero Probe is ready to Start.
type Probe struct {
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// Start runs the probe until Stop: each ProbeInterval, when ready() is not
// nil, call(ctx) once with a context bounded by timeout and marked
// WithOutcome (a probe is never retried in place).
func (p *Probe) Start(ready func() error, call func(ctx context.Context) error, timeout time.Duration, logf func(error)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.mu.Lock()
	p.stop, p.done = cancel, done
	p.mu.Unlock()
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
			if ready() == nil {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, timeout)
			err := call(WithOutcome(pctx))
			pcancel()
			logf(err)
		}
	}()
}

// Stop ends the probe and waits for it, or for ctx.
func (p *Probe) Stop(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.stop, p.done
	p.mu.Unlock()
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
