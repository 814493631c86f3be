package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Processor handles access requests: events from the watcher go in, and each
// request is walked through its effects by a bounded pool of workers. Work on
// one request is never concurrent, and always uses its newest snapshot.
type Processor struct {
	cfg     Config
	tp      ports.AccessRequests
	oc      ports.OnCall
	pg      ports.Pager
	records ports.Records
	dedup   ports.DedupStore
	metrics ports.Metrics
	log     *zap.Logger

	cluster atomic.Pointer[domain.Cluster]

	mu      sync.Mutex
	items   map[string]*item
	queue   []string
	wake    chan struct{}
	closing bool
	active  int
	// settled are resolved requests a pass found nothing left to do for;
	// the scan after a reconnect does not read them again.
	settled map[string]struct{}
	// knownServices are the notify service IDs of the records read since
	// start; foreign are open incidents the orphan scan found to be another
	// cluster's; scanning and nextScan run one orphan scan at a time.
	knownServices map[string]struct{}
	foreign       map[string]struct{}
	scanning      bool
	nextScan      *orphanScan

	connected      atomic.Bool
	reconciled     atomic.Bool
	lastDisconnect atomic.Pointer[error]
	readyOnce      sync.Once

	provisioned sync.Map    // service ID -> struct{}
	routes      *routeCache // incident ID -> request and service
	noted       noteGate    // refusals noted lately (action.go)

	effectCtx    context.Context
	cancelEffect context.CancelFunc
	wg           sync.WaitGroup
}

// item is the per-request state of the scheduler.
type item struct {
	req     domain.Request
	running bool
	dirty   bool
	attempt int
	timer   *time.Timer
}

// errBusy: another replica holds a fresh intent on the request.
var errBusy = errors.New("another replica is acting on the request")

// errCASLost: a record compare-and-swap lost to another writer. It is
// the only error that re-plans at once (SPEC §8).
var errCASLost = errors.New("record changed by another writer")

// NewProcessor returns a processor; Start runs its workers.
func NewProcessor(cfg Config, tp ports.AccessRequests, oc ports.OnCall, pg ports.Pager,
	records ports.Records, dedup ports.DedupStore, m ports.Metrics, log *zap.Logger) *Processor {
	if m == nil {
		m = discard{}
	}
	p := &Processor{
		cfg: cfg.withDefaults(), tp: tp, oc: oc, pg: pg, records: records, dedup: dedup,
		metrics: m, log: log.Named("app"),
		items: make(map[string]*item), wake: make(chan struct{}, 1), routes: newRouteCache(),
		settled: make(map[string]struct{}), knownServices: make(map[string]struct{}), foreign: make(map[string]struct{}),
	}
	p.cluster.Store(&domain.Cluster{})
	return p
}

// SetCluster records what Ping said (proxy address for links, edition for
// the approval mode). Dispatch sets it from each EventSynced.
func (p *Processor) SetCluster(c domain.Cluster) { p.cluster.Store(&c) }

// Cluster returns what SetCluster recorded.
func (p *Processor) Cluster() domain.Cluster { return *p.cluster.Load() }

// Mode returns the approval mode in force.
func (p *Processor) Mode() domain.ApprovalMode { return p.cfg.ApprovalMode.Effective(p.Cluster()) }

// Start starts the worker pool. Stop stops it.
func (p *Processor) Start() {
	p.effectCtx, p.cancelEffect = context.WithCancel(context.Background())
	for range p.cfg.Workers {
		p.wg.Add(1)
		go p.worker()
	}
}

// Stop stops taking work, lets in-flight requests finish until ctx ends (then
// cancels them) and waits for the workers. Unfinished work is not lost: it is
// recorded in Teleport and picked up by the next start's reconcile.
func (p *Processor) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	for _, it := range p.items {
		if it.timer != nil {
			it.timer.Stop()
		}
	}
	p.mu.Unlock()
	p.signal()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		p.cancelEffect()
		return nil
	case <-ctx.Done():
		p.cancelEffect()
		<-done
		return fmt.Errorf("drain in-flight requests: %w", ctx.Err())
	}
}

// Submit schedules a request snapshot. A resolved snapshot is never replaced
// by an older pending one.
func (p *Processor) Submit(r domain.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return
	}
	it, ok := p.items[r.ID]
	if !ok {
		it = &item{}
		p.items[r.ID] = it
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
	p.enqueueLocked(r.ID, it)
}

// enqueueLocked hands a request to the workers; p.mu is held.
func (p *Processor) enqueueLocked(id string, it *item) {
	it.running = true
	p.queue = append(p.queue, id)
	p.metrics.QueueDepth(len(p.queue))
	p.signal()
}

func (p *Processor) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many requests are queued or being handled.
func (p *Processor) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items)
}

func (p *Processor) next() (string, domain.Request, bool) {
	for {
		p.mu.Lock()
		if p.closing {
			p.mu.Unlock()
			p.signal() // pass the wake-up on to the next worker
			return "", domain.Request{}, false
		}
		if len(p.queue) > 0 {
			id := p.queue[0]
			p.queue[0] = ""
			p.queue = p.queue[1:]
			if len(p.queue) == 0 {
				p.queue = nil
			}
			req := p.items[id].req
			p.active++
			p.metrics.QueueDepth(len(p.queue))
			more := len(p.queue) > 0
			p.mu.Unlock()
			if more {
				p.signal()
			}
			return id, req, true
		}
		p.mu.Unlock()
		<-p.wake
	}
}

func (p *Processor) worker() {
	defer p.wg.Done()
	for {
		id, req, ok := p.next()
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(p.effectCtx, p.cfg.EffectTimeout)
		err := p.handle(ctx, req)
		cancel()
		p.finish(id, err)
	}
}

// finish decides what happens to a request after one pass.
func (p *Processor) finish(id string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active--
	it := p.items[id]
	it.running = false
	if p.closing {
		return
	}
	if it.dirty {
		it.dirty = false
		it.attempt = 0
		p.enqueueLocked(id, it)
		return
	}
	if err == nil {
		if it.req.State.Resolved() && it.req.State != domain.StateExpired {
			p.settled[id] = struct{}{}
		}
		delete(p.items, id)
		return
	}
	it.attempt++
	wait := p.backoff(it.attempt)
	if errors.Is(err, errBusy) {
		wait = p.cfg.RetryMin + rand.N(p.cfg.RetryMin+1)
	} else {
		p.metrics.EffectRetry()
		p.log.Warn("request effect failed; will retry", zap.String("request_id", id),
			zap.Int("attempt", it.attempt), zap.Duration("retry_in", wait), zap.Error(err))
	}
	it.timer = time.AfterFunc(wait, func() { p.retry(id) })
}

func (p *Processor) retry(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it, ok := p.items[id]
	if !ok || it.running || p.closing {
		return
	}
	it.timer = nil
	p.enqueueLocked(id, it)
}

// backoff is full-jitter exponential between RetryMin and RetryMax.
func (p *Processor) backoff(attempt int) time.Duration {
	d := p.cfg.RetryMin
	for i := 1; i < attempt && d < p.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, p.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}
