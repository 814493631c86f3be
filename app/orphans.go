package app

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Bounds of the orphan scan: the search, after a sync, for open incidents
// whose request was deleted while the watcher was away (SPEC §2).
const (
	// maxOrphanServices bounds the notify services listed per scan.
	maxOrphanServices = 100
	// maxOrphanIncidents bounds the open incidents read per scan (pages
	// of 100).
	maxOrphanIncidents = 2000
	// maxOrphanChecks bounds the incidents whose details and request are
	// read per scan; the rest wait for the next sync.
	maxOrphanChecks = 100
	// orphanScanTimeout bounds one scan.
	orphanScanTimeout = 2 * time.Minute
)

// orphanScan is what a sync knows when it schedules the scan.
type orphanScan struct {
	// listed are the requests Teleport holds, seen those the sync already
	// scheduled: neither can be an orphan's.
	listed map[string]struct{}
	seen   map[string]bool
	// services are notify service IDs of the local open records.
	services []string
	// cluster is the cluster name the sync reported.
	cluster string
}

// orphanScanner finds the open incidents pagergate opened, in this
// cluster, for requests Teleport no longer holds, and schedules those
// requests as deleted (EXPIRED), so their incidents get the resolution
// note and are resolved like any deletion.
type orphanScanner struct {
	defaultService string
	teleport       ports.AccessRequests // GetRequest
	onCall         ports.OnCall         // FindService
	pager          ports.Pager          // OpenIncidents, IncidentDetails
	mirror         ports.Records        // GetRecord, PutRecord
	sched          *scheduler
	services       *serviceSet
	metrics        ports.Metrics
	log            *zap.Logger

	foreign foreignSet
	// scanning and next run one scan at a time.
	mu       sync.Mutex
	scanning bool
	next     *orphanScan
}

// schedule runs the scan in the background, one at a time: a sync during
// a scan runs one more after it, with that sync's view. Nothing runs
// before the scheduler starts or after it stops.
func (o *orphanScanner) schedule(s orphanScan) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.scanning {
		o.next = &s
		return
	}
	o.scanning = o.sched.Go(func(ctx context.Context) { o.run(ctx, s) })
}

// busy reports whether a scan runs or waits.
func (o *orphanScanner) busy() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.scanning || o.next != nil
}

func (o *orphanScanner) run(ctx context.Context, s orphanScan) {
	for {
		sctx, cancel := context.WithTimeout(ctx, orphanScanTimeout)
		o.scan(sctx, s)
		cancel()
		o.mu.Lock()
		next := o.next
		o.next = nil
		if next == nil || o.sched.Closing() {
			o.scanning = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
		s = *next
	}
}

// scan does one scan. An incident counts only when it is in one of the
// notify services pagergate knows, carries a request's incident_key, its
// details name this cluster and that request (domain.OpenedIn), and
// Teleport says the request is gone; any doubt leaves it for the next sync.
func (o *orphanScanner) scan(ctx context.Context, s orphanScan) {
	if s.cluster == "" {
		o.log.Debug("orphan scan skipped: cluster name unknown")
		return
	}
	services := o.servicesToScan(ctx, s.services)
	if len(services) == 0 {
		return
	}
	open, more, err := o.pager.OpenIncidents(ctx, services, maxOrphanIncidents)
	if err != nil {
		o.log.Warn("open incidents not listed; orphans are looked for at the next reconnect", zap.Error(err))
		return
	}
	if more {
		o.log.Warn("not every open incident of the notify services was read", zap.Int("read", len(open)),
			zap.Int("services", len(services)))
	}
	o.foreign.prune(open)
	groups, order := byRequest(open)
	found, checked := 0, 0
	for _, id := range order {
		if _, listed := s.listed[id]; listed || s.seen[id] || o.sched.Active(id) || o.foreign.all(groups[id]) {
			continue
		}
		if checked >= maxOrphanChecks {
			o.log.Info("orphan scan stopped at its bound; the rest waits for the next reconnect", zap.Int("checked", checked))
			break
		}
		checked++
		if o.check(ctx, s.cluster, id, groups[id]) {
			found++
		}
	}
	if checked > 0 {
		o.log.Info("orphan scan", zap.Int("open_incidents", len(open)), zap.Int("checked", checked), zap.Int("deleted_requests", found))
	}
}

// byRequest groups the open incidents that carry a request's incident_key
// by request, in the order first seen.
func byRequest(open []domain.Incident) (map[string][]domain.Incident, []string) {
	groups := make(map[string][]domain.Incident)
	var order []string
	for _, in := range open {
		id := domain.RequestIDFromKey(in.Key)
		if id == "" {
			continue
		}
		if _, ok := groups[id]; !ok {
			order = append(order, id)
		}
		groups[id] = append(groups[id], in)
	}
	return groups, order
}

// check checks a request's open incidents and, when one is this cluster's
// and the request is gone, records them locally and schedules the request
// as deleted. It reports whether it did.
func (o *orphanScanner) check(ctx context.Context, cluster, id string, incs []domain.Incident) bool {
	log := o.log.With(zap.String("request_id", id))
	var refs []domain.IncidentRef
	for _, in := range incs {
		if len(refs) == 0 {
			if o.foreign.has(in.ID) {
				continue
			}
			details, err := o.pager.IncidentDetails(ctx, in.ID)
			if err != nil {
				log.Warn("incident details not read; checked again at the next reconnect", zap.String("pd_incident_id", in.ID), zap.Error(err))
				return false
			}
			if !domain.OpenedIn(details, cluster, id) {
				log.Debug("open incident is not this cluster's", zap.String("pd_incident_id", in.ID))
				o.foreign.add(in.ID)
				continue
			}
		}
		// One incident proves the request is this cluster's; its other
		// incidents in the notify services carry its key (SPEC §6).
		refs = append(refs, domain.IncidentRef{Service: in.ServiceID, ServiceID: in.ServiceID, IncidentID: in.ID})
	}
	if len(refs) == 0 {
		return false
	}
	switch _, err := o.teleport.GetRequest(ctx, id); {
	case errors.Is(err, ports.ErrNotFound):
		return o.resolve(ctx, log, id, refs)
	case err != nil:
		log.Warn("request not read for the orphan scan; checked again at the next reconnect", zap.Error(err))
	}
	return false // or created after the list: alive
}

// resolve adds the incidents to the request's local record (reopened if it
// was done) and schedules the request as deleted: the usual path then
// posts the note once (it checks for the marker first: a peer may have
// posted it) and resolves.
func (o *orphanScanner) resolve(ctx context.Context, log *zap.Logger, id string, refs []domain.IncidentRef) bool {
	rec, ok, err := o.mirror.GetRecord(ctx, id)
	if err != nil {
		log.Warn("local record not read for the orphan scan", zap.Error(err))
		return false
	}
	if !ok {
		rec = domain.Record{RequestID: id}
	}
	for _, ref := range refs {
		if !slices.ContainsFunc(rec.Incidents, func(r domain.IncidentRef) bool { return r.IncidentID == ref.IncidentID }) {
			rec.Incidents = append(rec.Incidents, ref)
		}
	}
	rec.Resolution, rec.Intent = domain.StateUnknown, domain.Intent{}
	if err := o.mirror.PutRecord(ctx, rec); err != nil {
		log.Warn("local record not saved for the orphan scan", zap.Error(err))
		return false
	}
	o.metrics.Incident(ports.IncidentOrphaned)
	log.Info("open incident of a deleted request found; resolving it", zap.Int("incidents", len(refs)))
	o.sched.Submit(domain.Request{ID: id, State: domain.StateExpired})
	return true
}

// servicesToScan returns the notify service IDs to scan: the default
// notify service, those of the local open records and those of every
// record read since start (capped at maxOrphanServices). A service only a
// deleted request named, that no record this process read names, is not
// covered.
func (o *orphanScanner) servicesToScan(ctx context.Context, local []string) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) && len(ids) < maxOrphanServices {
			ids = append(ids, id)
		}
	}
	if name := o.defaultService; name != "" {
		svc, err := o.onCall.FindService(ctx, name)
		if err != nil {
			o.log.Warn("default notify service not found for the orphan scan", zap.String("pd_service", name), zap.Error(err))
		} else {
			add(svc.ID)
		}
	}
	known := o.services.list()
	for _, id := range append(slices.Clip(local), known...) {
		add(id)
	}
	if len(known)+len(local) >= maxOrphanServices {
		o.log.Warn("orphan scan covers only some notify services", zap.Int("services", len(ids)))
	}
	return ids
}

// foreignSet remembers the open incidents the scan found to be another
// cluster's, so they are not read again while open. The zero value is
// ready.
type foreignSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (f *foreignSet) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.ids[id]
	return ok
}

// all reports whether every incident was found not to be this cluster's.
func (f *foreignSet) all(incs []domain.Incident) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range incs {
		if _, ok := f.ids[in.ID]; !ok {
			return false
		}
	}
	return true
}

func (f *foreignSet) add(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil {
		f.ids = make(map[string]struct{})
	}
	f.ids[id] = struct{}{}
}

// prune forgets the incidents that are no longer open, so the set stays
// as small as the open incidents.
func (f *foreignSet) prune(open []domain.Incident) {
	still := make(map[string]struct{}, len(open))
	for _, in := range open {
		still[in.ID] = struct{}{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.ids {
		if _, ok := still[id]; !ok {
			delete(f.ids, id)
		}
	}
}
