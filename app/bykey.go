package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// An incident found by the request's incident_key alone is not proof that
// pagergate opened it for that request: PagerDuty dedups the key only per
// service, and anyone who can open incidents can set it (SPEC §6). These
// are the rules that find a request's incidents when no record names
// them.

// ownedByKey returns the open incidents with the key of a deleted request
// that no record names and that count as opened for it: those in a notify
// service this replica pages (the default one, or one a record named),
// and elsewhere those whose details name this cluster and the request
// (domain.OpenedIn), as the scan for requests deleted while away decides.
// The others are left alone. An error is worth a retry: guessing would
// either leave an incident open for good or resolve a foreign one.
func (h *requests) ownedByKey(ctx context.Context, id string) ([]domain.IncidentRef, error) {
	found, err := h.pager.FindIncidents(ctx, domain.IncidentKey(id))
	if err != nil {
		return nil, fmt.Errorf("find incidents by key: %w", err)
	}
	var known []string
	var refs []domain.IncidentRef
	for _, in := range found {
		if !in.Active() {
			continue
		}
		if known == nil {
			if known, err = h.knownServices(ctx); err != nil {
				return nil, err
			}
		}
		ours, err := h.openedFor(ctx, id, in, known)
		if err != nil {
			return nil, err
		}
		if !ours {
			h.log.Warn("open incident with the request's key left alone: not in a notify service of ours, not opened for this cluster's request",
				zap.String("request_id", id), zap.String("pd_incident_id", in.ID), zap.String("pd_service", in.ServiceID))
			continue
		}
		refs = append(refs, domain.IncidentRef{Service: in.ServiceID, ServiceID: in.ServiceID, IncidentID: in.ID})
	}
	return refs, nil
}

// openedFor reports whether an open incident with the request's key is in
// a known notify service or names this cluster and the request.
func (h *requests) openedFor(ctx context.Context, id string, in domain.Incident, known []string) (bool, error) {
	if in.ServiceID != "" && slices.Contains(known, in.ServiceID) {
		return true, nil
	}
	cluster := h.incidents.cluster.get().Name
	if cluster == "" {
		return false, nil
	}
	details, err := h.pager.IncidentDetails(ctx, in.ID)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read details of incident %s: %w", in.ID, err)
	}
	return domain.OpenedIn(details, cluster, id), nil
}

// knownServices returns the IDs of the notify services this replica
// pages: the default one and those the records read since start name.
func (h *requests) knownServices(ctx context.Context) ([]string, error) {
	ids := h.services.list()
	name := strings.TrimSpace(h.policy.DefaultNotifyService)
	if name == "" {
		return ids, nil
	}
	svc, err := h.incidents.onCall.FindService(ctx, name)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return ids, nil // unknown: reported by check and by every open
	case err != nil:
		return nil, fmt.Errorf("find default notify service %q: %w", name, err)
	}
	return append(ids, svc.ID), nil
}

// adopt adds to the record the open incident of the service the recorded
// intent was opening in, found under the request's key: the incident may
// have been opened and the process stopped before recording it. Only that
// service's incident counts; another with the key elsewhere is foreign.
func (h *requests) adopt(ctx context.Context, rec *domain.Record) error {
	name := rec.Intent.Effect.Service
	svc, err := h.incidents.onCall.FindService(ctx, name)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return nil // nothing can have been opened there
	case err != nil:
		return fmt.Errorf("find notify service %q: %w", name, err)
	}
	found, err := h.pager.FindIncidents(ctx, domain.IncidentKey(rec.RequestID))
	if err != nil {
		return fmt.Errorf("find incidents by key: %w", err)
	}
	for _, in := range found {
		known := slices.ContainsFunc(rec.Incidents, func(r domain.IncidentRef) bool { return r.IncidentID == in.ID })
		if in.Active() && !known && in.ServiceID == svc.ID {
			rec.Incidents = append(rec.Incidents, domain.IncidentRef{Service: name, ServiceID: svc.ID, IncidentID: in.ID})
			h.log.Info("unrecorded incident adopted", zap.String("request_id", rec.RequestID), zap.String("pd_incident_id", in.ID))
		}
	}
	return nil
}
