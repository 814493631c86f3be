package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// scheduler runs passes over requests in a bounded pool of workers. Work
// on one request is never concurrent and always uses its newest snapshot;
// a failed pass is retried after a backoff until a pass succeeds. It also
// owns the background tasks of the use cases (Go), so Stop drains both.
type scheduler struct {
	// pass handles one snapshot; passed is told of each snapshot a pass
	// left nothing to do for (no newer one waiting).
	pass   func(ctx context.Context, r domain.Request) error
	passed func(r domain.Request)
	// onBusy and onIdle are told, with s.mu held, when the first request
	// or pager action comes in hand and when the last one is done
	// (Config.OnBusy, OnIdle).
	onBusy, onIdle func()
	// actions counts the pager actions being handled (enter, leave).
	actions int
	workers int
	timeout time.Duration
	// retryMin and retryMax bound the backoff of failed passes.
	retryMin, retryMax time.Duration
	metrics            ports.Metrics
	log                *zap.Logger

	mu      sync.Mutex
	items   map[string]*item
	queue   []string
	wake    chan struct{}
	closing bool
	// shifts are the shift timers of bound grants (shift_timers.go).
	shifts map[string]shiftTimer
	now    func() time.Time

	ctx    context.Context // nil until Start; cancelled when Stop ends
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// item is the per-request state of the scheduler.
type item struct {
	req     domain.Request
	running bool
	dirty   bool // a newer snapshot came during the pass
	attempt int  // failed passes since the last success or new snapshot
	backoff backoff.BackOff
	timer   *time.Timer
}

// errBusy: another replica holds a fresh intent on the request.
var errBusy = errors.New("another replica is acting on the request")

func newScheduler(cfg Config, pass func(context.Context, domain.Request) error, m ports.Metrics, log *zap.Logger) *scheduler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	nothing := func() {}
	if cfg.OnBusy == nil {
		cfg.OnBusy = nothing
	}
	if cfg.OnIdle == nil {
		cfg.OnIdle = nothing
	}
	return &scheduler{
		pass: pass, passed: func(domain.Request) {}, onBusy: cfg.OnBusy, onIdle: cfg.OnIdle,
		workers: cfg.Workers, timeout: cfg.EffectTimeout,
		retryMin: cfg.RetryMin, retryMax: cfg.RetryMax, metrics: m, log: log,
		items: make(map[string]*item), wake: make(chan struct{}, 1),
		shifts: make(map[string]shiftTimer), now: cfg.Now,
	}
}

// Start starts the workers.
func (s *scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range s.workers {
		s.wg.Add(1)
		go s.worker()
	}
}

// Stop stops taking work, lets in-flight passes and tasks finish until ctx
// ends (then cancels them) and waits for them. Unfinished work is not lost:
// it is recorded in Teleport and picked up by the next start's reconcile.
func (s *scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, it := range s.items {
		if it.timer != nil {
			it.timer.Stop()
		}
	}
	s.stopShiftsLocked()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return nil // never started
	}
	s.signal()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		cancel()
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return fmt.Errorf("drain in-flight requests: %w", ctx.Err())
	}
}

// Go runs a background task with the workers' context; false when the
// scheduler is not started or is stopping.
func (s *scheduler) Go(task func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.ctx == nil {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		task(s.ctx)
	}()
	return true
}

// Closing reports whether Stop was called.
func (s *scheduler) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Submit schedules a request snapshot. A resolved snapshot is never
// replaced by an older pending one, nor a deletion by anything else.
func (s *scheduler) Submit(r domain.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	it, ok := s.items[r.ID]
	if !ok {
		if s.idleLocked() {
			s.onBusy()
		}
		it = &item{}
		s.items[r.ID] = it
	}
	if ok && it.req.State.Resolved() && !r.State.Resolved() {
		return
	}
	if ok && it.req.State == domain.StateExpired && r.State != domain.StateExpired {
		return
	}
	it.req = r
	if it.running {
		it.dirty = true
		return
	}
	if it.timer != nil {
		it.timer.Stop()
		it.timer = nil
	}
	s.enqueueLocked(r.ID, it)
}

// idleLocked reports whether no request and no pager action is in hand;
// s.mu is held.
func (s *scheduler) idleLocked() bool { return len(s.items) == 0 && s.actions == 0 }

// enter counts a pager action in hand until leave; the first piece of
// work in hand makes the scheduler busy, the last one done idle.
func (s *scheduler) enter() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idleLocked() {
		s.onBusy()
	}
	s.actions++
}

// leave ends what enter began.
func (s *scheduler) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions--
	if s.idleLocked() {
		s.onIdle()
	}
}

// Pending returns how many requests are queued, being handled or waiting
// for a retry.
func (s *scheduler) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// Active reports whether the request is queued, being handled or waiting
// for a retry.
func (s *scheduler) Active(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.items[id]
	return ok
}

// snapshot returns the snapshot scheduled for a request.
func (s *scheduler) snapshot(id string) (domain.Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	if !ok {
		return domain.Request{}, false
	}
	return it.req, true
}

// enqueueLocked hands a request to the workers; s.mu is held.
func (s *scheduler) enqueueLocked(id string, it *item) {
	it.running = true
	s.queue = append(s.queue, id)
	s.metrics.QueueDepth(len(s.queue))
	s.signal()
}

func (s *scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next waits for a queued request; false when stopping.
func (s *scheduler) next() (domain.Request, bool) {
	for {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			s.signal() // pass the wake-up on to the next worker
			return domain.Request{}, false
		}
		if len(s.queue) > 0 {
			id := s.queue[0]
			s.queue[0] = ""
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = nil
			}
			req := s.items[id].req
			s.metrics.QueueDepth(len(s.queue))
			more := len(s.queue) > 0
			s.mu.Unlock()
			if more {
				s.signal()
			}
			return req, true
		}
		s.mu.Unlock()
		<-s.wake
	}
}

func (s *scheduler) worker() {
	defer s.wg.Done()
	for {
		req, ok := s.next()
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
		err := s.pass(ctx, req)
		cancel()
		if s.finish(req.ID, err) {
			s.passed(req)
		}
	}
}

// finish decides what happens to a request after one pass: run again on
// a newer snapshot, forget it (it reports true: nothing left to do), or
// retry it after a backoff.
func (s *scheduler) finish(id string, err error) (done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[id]
	it.running = false
	if s.closing {
		return false
	}
	if it.dirty {
		it.dirty, it.attempt, it.backoff = false, 0, nil
		s.enqueueLocked(id, it)
		return false
	}
	if err == nil {
		delete(s.items, id)
		if s.idleLocked() {
			s.onIdle()
		}
		return true
	}
	if it.backoff == nil {
		it.backoff = newRetryBackoff(s.retryMin, s.retryMax)
	}
	it.attempt++
	wait := it.backoff.NextBackOff()
	if errors.Is(err, errBusy) {
		wait = busyWait(s.retryMin)
	} else {
		s.metrics.EffectRetry()
		s.log.Warn("request effect failed; will retry", zap.String("request_id", id),
			zap.Int("attempt", it.attempt), zap.Duration("retry_in", wait), zap.Error(err))
	}
	it.timer = time.AfterFunc(wait, func() { s.retry(id) })
	return false
}

func (s *scheduler) retry(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	if !ok || it.running || s.closing {
		return
	}
	it.timer = nil
	s.enqueueLocked(id, it)
}
