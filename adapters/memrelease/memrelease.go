package memrelease

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// Config tunes a Releaser.
type Config struct {
	// Off turns releases off: Ready, Idle and Release do nothing.
	Off bool
	// IdleAfter is how long the daemon must have had no request in hand
	// (Idle without Busy since) before a release. Zero: only Ready and
	// Release release.
	IdleAfter time.Duration
}

// Released is what one release gave back, in bytes.
type Released struct {
	// Heap is the heap returned (runtime.MemStats.HeapReleased grew by it).
	Heap int64
	// Pages is what was resident in the executable's pages dropped.
	Pages int64
}

// Releaser gives unused memory back to the OS. Busy and Idle are told
// when the daemon has requests in hand and when it has none left; they
// return at once. Safe for concurrent use.
type Releaser struct {
	cfg     Config
	parts   []ports.PageReleaser
	metrics ports.Metrics
	log     *zap.Logger
	drop    func() (int64, error)

	mu       sync.Mutex
	timer    *time.Timer
	busy     bool // Busy came and no Idle since
	stopped  bool
	inflight sync.WaitGroup // releases running; Stop waits for them

	// running serialises releases; broken is set once dropping the
	// executable's pages failed, so it is not tried again; failing holds
	// the parts whose last drop failed, so each failure is logged once
	// until the part drops again.
	running sync.Mutex
	broken  bool
	failing map[int]bool
}

// New returns a Releaser that also drops the pages of parts.
func New(cfg Config, parts []ports.PageReleaser, m ports.Metrics, log *zap.Logger) *Releaser {
	return &Releaser{cfg: cfg, parts: parts, metrics: m, log: log, drop: dropExecutablePages, failing: map[int]bool{}}
}

// Started releases, in the background, what configuration, init and
// wiring left behind, before the first connection.
func (r *Releaser) Started() { r.releaseSoon(ports.ReleaseStart, false) }

// Ready releases what the start-up left behind, in the background, unless
// the daemon is busy (a backlog found at start): the release after its
// idle spell comes soon enough.
func (r *Releaser) Ready() { r.releaseSoon(ports.ReleaseReady, true) }

// releaseSoon starts a release in the background (unless stopped, or busy
// when notBusy).
func (r *Releaser) releaseSoon(why ports.ReleaseTrigger, notBusy bool) {
	if r.cfg.Off {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || (notBusy && r.busy) {
		return
	}
	r.inflight.Add(1)
	go func() {
		defer r.inflight.Done()
		r.release(why)
	}()
}

// Busy cancels a release waiting for the idle spell to last.
func (r *Releaser) Busy() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy = true
	if r.timer != nil {
		r.timer.Stop()
	}
}

// Idle starts the idle spell: a release follows after IdleAfter unless
// Busy comes first.
func (r *Releaser) Idle() {
	if r.cfg.Off {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy = false
	switch {
	case r.stopped, r.cfg.IdleAfter <= 0:
	case r.timer == nil:
		r.timer = time.AfterFunc(r.cfg.IdleAfter, func() { r.Release(ports.ReleaseIdle) })
	default:
		r.timer.Reset(r.cfg.IdleAfter)
	}
}

// Stop cancels a waiting release and waits, until ctx ends, for one
// running (so no part, such as the store, is released once stopped);
// later calls release nothing.
func (r *Releaser) Stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the running memory release: %w", ctx.Err())
	}
}

// Release gives memory back now: the heap the collector freed, the
// executable's droppable pages and those of each part. A part that fails
// is logged and the others are still released. Nothing once stopped.
func (r *Releaser) Release(why ports.ReleaseTrigger) Released {
	if r.cfg.Off {
		return Released{}
	}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return Released{}
	}
	r.inflight.Add(1)
	r.mu.Unlock()
	defer r.inflight.Done()
	return r.release(why)
}

// release is Release once registered with inflight.
func (r *Releaser) release(why ports.ReleaseTrigger) Released {
	r.running.Lock()
	defer r.running.Unlock()
	began := time.Now()
	before := heapReleased()
	debug.FreeOSMemory()
	out := Released{Heap: heapReleased() - before}
	if !r.broken {
		n, err := r.drop()
		out.Pages += n
		if err != nil {
			r.broken = true
			r.log.Warn("cannot drop the executable's idle pages; only the heap is released from now on", zap.Error(err))
		}
	}
	for i, p := range r.parts {
		err := p.ReleasePages()
		switch {
		case err != nil && !r.failing[i]:
			r.failing[i] = true
			r.log.Warn("cannot drop idle pages; logged again only after they drop once", zap.Error(err))
		case err == nil && r.failing[i]:
			delete(r.failing, i)
			r.log.Info("idle pages drop again")
		}
	}
	r.metrics.MemoryRelease(why)
	r.log.Debug("memory released", zap.String("trigger", string(why)),
		zap.Int64("heap_bytes", out.Heap), zap.Int64("executable_page_bytes", out.Pages), zap.Duration("took", time.Since(began)))
	return out
}

// heapReleased is the heap returned to the OS so far
// (runtime.MemStats.HeapReleased, read without stopping the world).
func heapReleased() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
