package app

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Deps are the ports the use cases drive.
type Deps struct {
	Teleport ports.AccessRequests
	Locks    ports.Locks // nil: a grant bound to a shift cannot be locked (an error, retried)
	OnCall   ports.OnCall
	Pager    ports.Pager
	Records  ports.Records
	Dedup    ports.DedupStore
	Metrics  ports.Metrics // nil: measurements are dropped
	Users    ports.Users   // nil: routing rules reading user traits never match
}

// Service is pagergate's use cases behind one entry: watcher events go in
// (Run, Dispatch), and pager actions (HandleAction). Each part holds only
// the ports it uses: the scheduler, the request handling, the actions, the
// reconcile after a sync, the readiness.
type Service struct {
	log      *zap.Logger
	metrics  ports.Metrics
	cluster  *clusterView
	router   *router
	sched    *scheduler
	requests *requests
	actions  *actions
	recon    *reconciler
	ready    readiness
	onReady  func()
}

var (
	_ ports.Actions   = (*Service)(nil)
	_ ports.Readiness = (*Service)(nil)
)

// New returns the use cases wired to their ports; Start runs the workers.
func New(cfg Config, d Deps, log *zap.Logger) *Service {
	cfg = cfg.withDefaults()
	log = log.Named("app")
	m := d.Metrics
	if m == nil {
		m = discard{}
	}
	s := &Service{log: log, metrics: m, cluster: newClusterView(cfg.ApprovalMode), onReady: cfg.OnReady,
		router: &router{users: d.Users, metrics: m, log: log.Named("routing")}}
	routes, services := newRouteCache(), &serviceSet{}
	notes := noter{pager: d.Pager, metrics: m, log: log}
	s.requests = &requests{
		policy: cfg.Policy, replicaID: cfg.ReplicaID, lease: cfg.IntentLease, now: cfg.Now,
		teleport: d.Teleport, mirror: d.Records, pager: d.Pager, router: s.router, routes: routes, services: services, metrics: m, log: log,
		incidents: &incidents{opts: cfg.Incident, hooks: cfg.ActionHooks, onCall: d.OnCall, pager: d.Pager,
			notes: notes, cluster: s.cluster, metrics: m, log: log},
		approver: &approver{policy: cfg.Policy, now: cfg.Now, onCall: d.OnCall, teleport: d.Teleport,
			notes: notes, cluster: s.cluster, metrics: m, log: log},
	}
	s.sched = newScheduler(cfg, s.requests.handle, m, log)
	locks := d.Locks
	if locks == nil {
		locks = noLocks{}
	}
	s.requests.shifts = &shifts{policy: cfg.Policy, now: cfg.Now, onCall: d.OnCall, teleport: d.Teleport, locks: locks,
		mirror: d.Records, notes: notes, sched: s.sched, metrics: m, log: log, retryMin: cfg.RetryMin, retryMax: cfg.RetryMax}
	s.actions = &actions{policy: cfg.Policy, window: cfg.ReplayWindow, now: cfg.Now, teleport: d.Teleport,
		pager: d.Pager, dedup: d.Dedup, cluster: s.cluster, metrics: m, log: log,
		lookups: &actionLookups{policy: cfg.Policy, now: cfg.Now, teleport: d.Teleport, onCall: d.OnCall, pager: d.Pager,
			router: s.router, routes: routes}}
	s.recon = &reconciler{teleport: d.Teleport, mirror: d.Records, sched: s.sched, shifts: s.requests.shifts, cluster: s.cluster, log: log,
		orphans: &orphanScanner{defaultService: cfg.Policy.DefaultNotifyService, teleport: d.Teleport, onCall: d.OnCall,
			pager: d.Pager, mirror: d.Records, sched: s.sched, services: services, metrics: m, log: log}}
	s.sched.passed = s.recon.passed
	return s
}

// Start starts the workers. Stop stops them.
func (s *Service) Start() { s.sched.Start() }

// Stop stops taking work, lets in-flight requests finish until ctx ends
// (then cancels them) and waits for them. Unfinished work is recorded in
// Teleport and picked up by the next start's reconcile.
func (s *Service) Stop(ctx context.Context) error { return s.sched.Stop(ctx) }

// Ready implements ports.Readiness: the watcher is connected and the
// backlog found at the last (re)connect was scheduled. While disconnected
// it says why, as the watcher last reported (ErrDisconnected,
// ErrReconciling).
func (s *Service) Ready() error { return s.ready.Ready() }

// HandleAction implements ports.Actions (see actions.HandleAction). The
// daemon counts as busy while it runs (Config.OnBusy, OnIdle).
func (s *Service) HandleAction(ctx context.Context, a domain.Action) (domain.Outcome, error) {
	s.sched.enter()
	defer s.sched.leave()
	return s.actions.HandleAction(ctx, a)
}

// Run consumes watcher events until ctx ends or the watcher fails for good.
func (s *Service) Run(ctx context.Context, w ports.Watcher) error {
	events := make(chan domain.Event, 256)
	werr := make(chan error, 1)
	go func() { werr <- w.Watch(ctx, events) }()
	for {
		select {
		case ev := <-events:
			s.Dispatch(ctx, ev)
		case err := <-werr:
			s.ready.connected.Store(false)
			s.metrics.WatcherConnected(false)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch teleport: %w", err)
		}
	}
}

// Dispatch handles one watcher event. It takes a synced event's backlog,
// so the list is garbage once scheduled, not held through the scans that
// follow it.
func (s *Service) Dispatch(ctx context.Context, ev domain.Event) {
	s.metrics.Event(ev.Kind)
	switch ev.Kind {
	case domain.EventPut:
		s.log.Debug("request event", zap.String("request_id", ev.Request.ID),
			zap.String("request_state", ev.Request.State.String()))
		s.sched.Submit(ev.Request)
	case domain.EventDelete:
		s.log.Debug("request deleted", zap.String("request_id", ev.RequestID))
		s.sched.Submit(domain.Request{ID: ev.RequestID, State: domain.StateExpired})
	case domain.EventSynced:
		if ev.Cluster != (domain.Cluster{}) && ev.Cluster != s.cluster.get() {
			s.cluster.set(ev.Cluster)
			s.log.Info("teleport cluster", zap.String("cluster", ev.Cluster.Name),
				zap.String("approval_mode", string(s.cluster.mode())))
		}
		s.ready.connect()
		s.metrics.WatcherConnected(true)
		s.router.sync(ev.Rules)
		s.recon.sync(ctx, ev.Pending)
		s.ready.backlogScheduled(s.log, s.onReady)
	case domain.EventRulePut:
		s.router.put(ev.Rule)
	case domain.EventRuleDelete:
		s.router.remove(ev.Rule.Name)
	case domain.EventDisconnected:
		s.ready.disconnect(ev.Err)
		s.metrics.WatcherConnected(false)
		s.log.Warn("teleport watcher disconnected", zap.Error(ev.Err))
	}
}

// noLocks is the ports.Locks of a service given none.
type noLocks struct{}

func (noLocks) LockRequest(context.Context, domain.Lock) error {
	return errors.New("no Teleport lock client configured")
}
