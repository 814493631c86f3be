package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// reconciler schedules, after every (re)connect, what the watcher may have
// missed (SPEC §2): every pending request, every locally open record whose
// request is no longer pending, every resolved request not settled yet,
// (in the background) the open incidents of requests deleted while away,
// and (in the background) the timers of grants bound to a shift.
type reconciler struct {
	teleport ports.AccessRequests // GetRequest, ScanRequests
	mirror   ports.Records        // OpenRecords, GetRecord
	sched    *scheduler
	shifts   *shifts // rebuild
	orphans  *orphanScanner
	cluster  *clusterView
	log      *zap.Logger

	// settled are resolved requests a pass found nothing left to do for;
	// the scan after a reconnect does not read them again.
	mu      sync.Mutex
	settled map[string]struct{}
}

// sync schedules the backlog found at a (re)connect: the pending requests,
// the requests of locally open records (resolved or deleted while
// pagergate was away) and the resolved requests Teleport still holds.
// Then the orphan scan looks in the pager, in the background, for open
// incidents of requests deleted while away that no local record knows.
func (r *reconciler) sync(ctx context.Context, backlog *domain.Backlog) {
	// The list is taken into a local, not passed as an argument (one the
	// function holds to its end): it is garbage once this loop scheduled
	// it, not held through the scans below next to what the scheduler
	// keeps.
	pending := backlog.Take()
	seen, npending := make(map[string]bool, len(pending)), len(pending)
	for _, req := range pending {
		seen[req.ID] = true
		r.sched.Submit(req)
	}
	open, err := r.mirror.OpenRecords(ctx)
	if err != nil {
		r.log.Warn("local records not read for reconcile", zap.Error(err))
	}
	stale := r.scheduleOpenRecords(ctx, open, seen)
	n, listed, err := r.scanResolved(ctx, seen)
	if err != nil {
		r.log.Warn("resolved requests not scanned; will try at the next reconnect", zap.Error(err))
	} else {
		r.orphans.schedule(orphanScan{listed: listed, seen: maps.Clone(seen), services: serviceIDs(open), cluster: r.cluster.get().Name})
	}
	r.shifts.rebuild()
	r.log.Info("backlog reconciled", zap.Int("pending", npending), zap.Int("closed_while_away", stale+n))
}

// scheduleOpenRecords schedules the request of every locally open record
// not seen yet, as Teleport holds it now (deleted: EXPIRED). It returns
// how many it scheduled.
func (r *reconciler) scheduleOpenRecords(ctx context.Context, open []domain.Record, seen map[string]bool) int {
	n := 0
	for _, rec := range open {
		if seen[rec.RequestID] {
			continue
		}
		seen[rec.RequestID] = true
		n++
		req, err := r.teleport.GetRequest(ctx, rec.RequestID)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			r.sched.Submit(domain.Request{ID: rec.RequestID, State: domain.StateExpired})
		case err != nil:
			r.log.Warn("request not read for reconcile", zap.String("request_id", rec.RequestID), zap.Error(err))
		default:
			r.sched.Submit(req)
		}
	}
	return n
}

// scanResolved runs after every (re)connect: it schedules every resolved
// request Teleport still holds that is not settled, so the incidents of
// requests resolved while the watcher was away are resolved, whoever
// opened them, even when the local store is new or was lost (SPEC §2,
// §7). Settled requests (a pass found nothing left to do) and requests the
// local store knows as done cost nothing; each other one costs one record
// read in a worker, so after the first scan a reconnect reads only the
// requests resolved since, at the pool's concurrency.
func (r *reconciler) scanResolved(ctx context.Context, seen map[string]bool) (int, map[string]struct{}, error) {
	listed := make(map[string]struct{})
	n := 0
	err := r.teleport.ScanRequests(ctx, func(req domain.Request) {
		listed[req.ID] = struct{}{}
		if seen[req.ID] || req.State == domain.StatePending || r.isSettled(req.ID) {
			return
		}
		if rec, ok, err := r.mirror.GetRecord(ctx, req.ID); err == nil && ok && rec.Done() {
			return
		}
		seen[req.ID] = true
		n++
		r.sched.Submit(req)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("list requests: %w", err)
	}
	r.pruneSettled(listed)
	return n, listed, nil
}

// passed learns of a snapshot a pass left nothing to do for: a resolved
// request still in Teleport is settled.
func (r *reconciler) passed(req domain.Request) {
	if !req.State.Resolved() || req.State == domain.StateExpired {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settled == nil {
		r.settled = make(map[string]struct{})
	}
	r.settled[req.ID] = struct{}{}
}

func (r *reconciler) isSettled(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.settled[id]
	return ok
}

// pruneSettled forgets settled requests Teleport no longer holds, so the
// set stays as small as Teleport's own list.
func (r *reconciler) pruneSettled(listed map[string]struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.settled {
		if _, ok := listed[id]; !ok {
			delete(r.settled, id)
		}
	}
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
