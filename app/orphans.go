package app

import (
	"context"
	"errors"
	"slices"
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
	// maxKnownServices bounds the notify services remembered from records.
	maxKnownServices = 1000
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

// orphan is a request of this cluster gone from Teleport, with its open
// incidents.
type orphan struct {
	requestID string
	incidents []domain.IncidentRef
}

// scheduleOrphanScan runs the orphan scan in the background, one at a
// time: a sync during a scan runs one more after it, with that sync's
// view. Nothing runs before Start or after Stop.
func (p *Processor) scheduleOrphanScan(s orphanScan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing || p.effectCtx == nil {
		return
	}
	if p.scanning {
		p.nextScan = &s
		return
	}
	p.scanning = true
	p.wg.Add(1)
	go p.runOrphanScans(s)
}

func (p *Processor) runOrphanScans(s orphanScan) {
	defer p.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(p.effectCtx, orphanScanTimeout)
		p.scanOrphans(ctx, s)
		cancel()
		p.mu.Lock()
		next := p.nextScan
		p.nextScan = nil
		if next == nil || p.closing {
			p.scanning = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		s = *next
	}
}

// scanOrphans finds the open incidents pagergate opened, in this cluster,
// for requests Teleport no longer holds, and schedules those requests as
// deleted (EXPIRED), so their incidents get the resolution note and are
// resolved like any deletion. An incident counts only when it is in one of
// the notify services pagergate knows, carries a request's incident_key,
// its details name this cluster and that request (domain.OpenedIn), and
// Teleport says the request is gone; any doubt leaves it for the next sync.
func (p *Processor) scanOrphans(ctx context.Context, s orphanScan) {
	cluster := s.cluster
	if cluster == "" {
		p.log.Debug("orphan scan skipped: cluster name unknown")
		return
	}
	services := p.orphanServices(ctx, s.services)
	if len(services) == 0 {
		return
	}
	open, more, err := p.pg.OpenIncidents(ctx, services, maxOrphanIncidents)
	if err != nil {
		p.log.Warn("open incidents not listed; orphans are looked for at the next reconnect", zap.Error(err))
		return
	}
	if more {
		p.log.Warn("not every open incident of the notify services was read", zap.Int("read", len(open)),
			zap.Int("services", len(services)))
	}
	p.pruneForeign(open)
	groups, order := byRequest(open)
	found, checked := 0, 0
	for _, id := range order {
		if s.seen[id] || p.isActive(id) {
			continue
		}
		if _, ok := s.listed[id]; ok || p.allForeign(groups[id]) {
			continue
		}
		if checked >= maxOrphanChecks {
			p.log.Info("orphan scan stopped at its bound; the rest waits for the next reconnect", zap.Int("checked", checked))
			break
		}
		checked++
		if p.adoptOrphan(ctx, cluster, id, groups[id]) {
			found++
		}
	}
	if checked > 0 {
		p.log.Info("orphan scan", zap.Int("open_incidents", len(open)), zap.Int("checked", checked), zap.Int("deleted_requests", found))
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

// adoptOrphan checks a request's open incidents and, when one is this
// cluster's and the request is gone, records them locally and schedules
// the request as deleted. It reports whether it did.
func (p *Processor) adoptOrphan(ctx context.Context, cluster, id string, incs []domain.Incident) bool {
	log := p.log.With(zap.String("request_id", id))
	var refs []domain.IncidentRef
	for _, in := range incs {
		if len(refs) == 0 {
			if p.isForeign(in.ID) {
				continue
			}
			details, err := p.pg.IncidentDetails(ctx, in.ID)
			if err != nil {
				log.Warn("incident details not read; checked again at the next reconnect", zap.String("pd_incident_id", in.ID), zap.Error(err))
				return false
			}
			if !domain.OpenedIn(details, cluster, id) {
				log.Debug("open incident is not this cluster's", zap.String("pd_incident_id", in.ID))
				p.markForeign(in.ID)
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
	switch _, err := p.tp.GetRequest(ctx, id); {
	case errors.Is(err, ports.ErrNotFound):
		return p.resolveOrphan(ctx, log, orphan{requestID: id, incidents: refs})
	case err != nil:
		log.Warn("request not read for the orphan scan; checked again at the next reconnect", zap.Error(err))
	}
	return false // or created after the list: alive
}

// resolveOrphan adds the incidents to the request's local record (reopened
// if it was done) and schedules the request as deleted: the usual path
// then posts the note once (it checks for the marker first: a peer may
// have posted it) and resolves.
func (p *Processor) resolveOrphan(ctx context.Context, log *zap.Logger, o orphan) bool {
	rec, ok, err := p.records.GetRecord(ctx, o.requestID)
	if err != nil {
		log.Warn("local record not read for the orphan scan", zap.Error(err))
		return false
	}
	if !ok {
		rec = domain.Record{RequestID: o.requestID}
	}
	for _, ref := range o.incidents {
		if !slices.ContainsFunc(rec.Incidents, func(r domain.IncidentRef) bool { return r.IncidentID == ref.IncidentID }) {
			rec.Incidents = append(rec.Incidents, ref)
		}
	}
	rec.Resolution, rec.Intent = domain.StateUnknown, domain.Intent{}
	if err := p.records.PutRecord(ctx, rec); err != nil {
		log.Warn("local record not saved for the orphan scan", zap.Error(err))
		return false
	}
	p.metrics.Incident(ports.IncidentOrphaned)
	log.Info("open incident of a deleted request found; resolving it", zap.Int("incidents", len(o.incidents)))
	p.Submit(domain.Request{ID: o.requestID, State: domain.StateExpired})
	return true
}

// orphanServices returns the notify service IDs to scan: the default
// notify service, those of the local open records and those of every
// record read since start (capped at maxOrphanServices). A service only a
// deleted request named, that no record this process read names, is not
// covered.
func (p *Processor) orphanServices(ctx context.Context, local []string) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) && len(ids) < maxOrphanServices {
			ids = append(ids, id)
		}
	}
	if name := p.cfg.Policy.DefaultNotifyService; name != "" {
		svc, err := p.oc.FindService(ctx, name)
		if err != nil {
			p.log.Warn("default notify service not found for the orphan scan", zap.String("pd_service", name), zap.Error(err))
		} else {
			add(svc.ID)
		}
	}
	for _, id := range local {
		add(id)
	}
	p.mu.Lock()
	known := make([]string, 0, len(p.knownServices))
	for id := range p.knownServices {
		known = append(known, id)
	}
	p.mu.Unlock()
	slices.Sort(known)
	for _, id := range known {
		add(id)
	}
	if len(known)+len(local) >= maxOrphanServices {
		p.log.Warn("orphan scan covers only some notify services", zap.Int("services", len(ids)))
	}
	return ids
}

// learnServices remembers the notify services of a record for the orphan
// scan.
func (p *Processor) learnServices(rec domain.Record) {
	if len(rec.Incidents) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range rec.Incidents {
		if len(p.knownServices) >= maxKnownServices {
			return
		}
		if in.ServiceID != "" {
			p.knownServices[in.ServiceID] = struct{}{}
		}
	}
}

// isActive reports whether the request is queued or being handled.
func (p *Processor) isActive(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.items[id]
	return ok
}

func (p *Processor) isForeign(incidentID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.foreign[incidentID]
	return ok
}

// allForeign reports whether every incident was found not to be this
// cluster's.
func (p *Processor) allForeign(incs []domain.Incident) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range incs {
		if _, ok := p.foreign[in.ID]; !ok {
			return false
		}
	}
	return true
}

func (p *Processor) markForeign(incidentID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.foreign[incidentID] = struct{}{}
}

// pruneForeign forgets foreign incidents that are no longer open, so the
// set stays as small as the open incidents.
func (p *Processor) pruneForeign(open []domain.Incident) {
	still := make(map[string]struct{}, len(open))
	for _, in := range open {
		still[in.ID] = struct{}{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.foreign {
		if _, ok := still[id]; !ok {
			delete(p.foreign, id)
		}
	}
}
