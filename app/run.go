package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// ErrNotReady says why the processor is not ready.
var (
	ErrDisconnected = errors.New("teleport watcher is not connected")
	ErrReconciling  = errors.New("backlog reconcile has not finished")
)

// Ready implements ports.Readiness: the watcher is connected and the backlog
// found at the last (re)connect was scheduled. While disconnected it says
// why, as the watcher last reported.
func (p *Processor) Ready() error {
	if !p.connected.Load() {
		if why := p.lastDisconnect.Load(); why != nil && *why != nil {
			return fmt.Errorf("%w: %w", ErrDisconnected, *why)
		}
		return ErrDisconnected
	}
	if !p.reconciled.Load() {
		return ErrReconciling
	}
	return nil
}

// Run consumes watcher events until ctx ends or the watcher fails for good.
func (p *Processor) Run(ctx context.Context, w ports.Watcher) error {
	events := make(chan domain.Event, 256)
	werr := make(chan error, 1)
	go func() { werr <- w.Watch(ctx, events) }()
	for {
		select {
		case ev := <-events:
			p.Dispatch(ctx, ev)
		case err := <-werr:
			p.connected.Store(false)
			p.metrics.WatcherConnected(false)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch teleport: %w", err)
		}
	}
}

// Dispatch handles one watcher event.
func (p *Processor) Dispatch(ctx context.Context, ev domain.Event) {
	switch ev.Kind {
	case domain.EventPut:
		p.metrics.Event(ev.Kind)
		p.log.Debug("request event", zap.String("request_id", ev.Request.ID),
			zap.String("request_state", ev.Request.State.String()))
		p.Submit(ev.Request)
	case domain.EventDelete:
		p.metrics.Event(ev.Kind)
		p.log.Debug("request deleted", zap.String("request_id", ev.RequestID))
		p.Submit(domain.Request{ID: ev.RequestID, State: domain.StateExpired})
	case domain.EventSynced:
		p.metrics.Event(ev.Kind)
		if ev.Cluster != (domain.Cluster{}) && ev.Cluster != p.Cluster() {
			p.SetCluster(ev.Cluster)
			p.log.Info("teleport cluster", zap.String("cluster", ev.Cluster.Name),
				zap.String("approval_mode", string(p.Mode())))
		}
		p.connected.Store(true)
		p.metrics.WatcherConnected(true)
		p.reconcile(ctx, ev.Pending)
	case domain.EventDisconnected:
		p.metrics.Event(ev.Kind)
		p.connected.Store(false)
		p.reconciled.Store(false)
		p.lastDisconnect.Store(&ev.Err)
		p.metrics.WatcherConnected(false)
		p.log.Warn("teleport watcher disconnected", zap.Error(ev.Err))
	}
}

// reconcile schedules every pending request, and every locally open record
// whose request is no longer pending (resolved or deleted while pagergate
// was away), SPEC §2. Then, in the background, the orphan scan looks in
// the pager for open incidents of requests deleted while away that no
// local record knows (orphans.go).
func (p *Processor) reconcile(ctx context.Context, pending []domain.Request) {
	seen := make(map[string]bool, len(pending))
	for _, r := range pending {
		seen[r.ID] = true
		p.Submit(r)
	}
	open, err := p.records.OpenRecords(ctx)
	if err != nil {
		p.log.Warn("local records not read for reconcile", zap.Error(err))
	}
	stale := 0
	for _, rec := range open {
		if seen[rec.RequestID] {
			continue
		}
		seen[rec.RequestID] = true
		stale++
		r, err := p.tp.GetRequest(ctx, rec.RequestID)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			p.Submit(domain.Request{ID: rec.RequestID, State: domain.StateExpired})
		case err != nil:
			p.log.Warn("request not read for reconcile", zap.String("request_id", rec.RequestID), zap.Error(err))
		default:
			p.Submit(r)
		}
	}
	n, listed, err := p.scanResolved(ctx, seen)
	if err != nil {
		p.log.Warn("resolved requests not scanned; will try at the next reconnect", zap.Error(err))
	} else {
		p.scheduleOrphanScan(orphanScan{listed: listed, seen: maps.Clone(seen), services: serviceIDs(open), cluster: p.Cluster().Name})
	}
	stale += n
	p.reconciled.Store(true)
	p.log.Info("backlog reconciled", zap.Int("pending", len(pending)), zap.Int("closed_while_away", stale))
	p.readyOnce.Do(func() { p.log.Info("ready") })
}

// scanResolved runs after every (re)connect: it schedules every resolved
// request Teleport still holds that is not settled, so the incidents of
// requests resolved while the watcher was away are resolved, whoever
// opened them, even when the local store is new or was lost (SPEC §2,
// §7). Settled requests (a pass found nothing left to do) and requests the
// local store knows as done cost nothing; each other one costs one plugin
// data read in a worker, so after the first scan a reconnect reads only
// the requests resolved since, at the pool's concurrency.
func (p *Processor) scanResolved(ctx context.Context, seen map[string]bool) (int, map[string]struct{}, error) {
	all, err := p.tp.ListRequests(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("list requests: %w", err)
	}
	listed := make(map[string]struct{}, len(all))
	n := 0
	for _, r := range all {
		listed[r.ID] = struct{}{}
		if seen[r.ID] || r.State == domain.StatePending || p.isSettled(r.ID) {
			continue
		}
		if rec, ok, err := p.records.GetRecord(ctx, r.ID); err == nil && ok && rec.Done() {
			continue
		}
		seen[r.ID] = true
		n++
		p.Submit(r)
	}
	p.pruneSettled(listed)
	return n, listed, nil
}

// serviceIDs returns the notify service IDs of records.
func serviceIDs(recs []domain.Record) []string {
	var out []string
	for _, rec := range recs {
		for _, in := range rec.Incidents {
			if in.ServiceID != "" && !slices.Contains(out, in.ServiceID) {
				out = append(out, in.ServiceID)
			}
		}
	}
	return out
}

func (p *Processor) isSettled(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.settled[id]
	return ok
}

// pruneSettled forgets settled requests Teleport no longer holds, so the
// set stays as small as Teleport's own list.
func (p *Processor) pruneSettled(listed map[string]struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.settled {
		if _, ok := listed[id]; !ok {
			delete(p.settled, id)
		}
	}
}
