package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// incidents does the pager side of a request's effects: open an incident
// in a notify service (SPEC §3), note reviews, note the resolution and
// resolve (§5).
type incidents struct {
	opts    domain.IncidentOptions
	hooks   []domain.ActionHook
	onCall  ports.OnCall // FindService
	pager   ports.Pager
	notes   noter
	cluster *clusterView
	metrics ports.Metrics
	log     *zap.Logger

	provisioned sync.Map // service ID -> struct{}
}

func (e *incidents) open(ctx context.Context, req domain.Request, service string) (domain.IncidentRef, error) {
	svc, err := e.onCall.FindService(ctx, service)
	if err != nil {
		if errors.Is(err, ports.ErrNotFound) {
			e.metrics.Incident(ports.IncidentUnknownService)
		}
		return domain.IncidentRef{}, fmt.Errorf("find notify service %q: %w", service, err)
	}
	e.provision(ctx, svc)
	spec := domain.NewIncidentSpec(req, e.cluster.get(), svc.ID, e.opts)
	inc, err := e.pager.EnsureIncident(ctx, spec)
	if err != nil {
		e.metrics.Incident(ports.IncidentFailed)
		return domain.IncidentRef{}, fmt.Errorf("open incident in %q: %w", service, err)
	}
	outcome, msg := ports.IncidentOpened, "incident opened"
	if inc.Existing {
		// Another writer (the reference plugin, a peer) opened it under
		// the request's key first.
		outcome, msg = ports.IncidentAdopted, "open incident adopted"
	}
	e.metrics.Incident(outcome)
	e.log.Info(msg, zap.String("request_id", req.ID), zap.String("requester", req.User),
		zap.Strings("roles", req.Roles), zap.String("pd_service", svc.Name), zap.String("pd_incident_id", inc.ID),
		zap.String("decision", "notify"))
	return domain.IncidentRef{Service: service, ServiceID: svc.ID, IncidentID: inc.ID}, nil
}

// provision creates the Custom Incident Actions on a service once per
// process, best effort.
func (e *incidents) provision(ctx context.Context, svc domain.Service) {
	if len(e.hooks) == 0 {
		return
	}
	if _, done := e.provisioned.Load(svc.ID); done {
		return
	}
	if err := e.pager.EnsureActions(ctx, svc.ID, e.hooks); err != nil {
		e.log.Warn("incident actions not provisioned", zap.String("pd_service", svc.Name), zap.Error(err))
		return
	}
	e.provisioned.Store(svc.ID, struct{}{})
	e.log.Info("incident actions provisioned", zap.String("pd_service", svc.Name))
}

func (e *incidents) noteReview(ctx context.Context, req domain.Request, rec domain.Record, n int, recovering bool) error {
	if n >= len(req.Reviews) {
		return nil
	}
	rv := req.Reviews[n]
	carried, err := e.notes.postAll(ctx, rec, domain.ReviewNote(n, rv), domain.ReviewMarker(n), recovering)
	if err != nil || !carried {
		return err // refused on every incident: postAll said so
	}
	e.metrics.ReviewNoted()
	e.log.Info("review noted", zap.String("request_id", req.ID), zap.String("reviewer", rv.Author),
		zap.String("review_state", rv.State.String()))
	return nil
}

func (e *incidents) resolve(ctx context.Context, req domain.Request, rec domain.Record, recovering bool) error {
	note := domain.ResolutionNote(req.State, req.ResolveReason)
	if _, err := e.notes.postAll(ctx, rec, note, domain.ResolutionMarker, recovering); err != nil {
		return err
	}
	var errs []error
	for _, in := range distinctIncidents(rec) {
		if err := e.pager.ResolveIncident(ctx, in.IncidentID); err != nil && !errors.Is(err, ports.ErrNotFound) {
			errs = append(errs, fmt.Errorf("resolve incident %s: %w", in.IncidentID, err))
			continue
		}
		e.metrics.Incident(ports.IncidentResolved)
		e.log.Info("incident resolved", zap.String("request_id", req.ID), zap.String("request_state", req.State.String()),
			zap.String("pd_incident_id", in.IncidentID), zap.String("decision", "resolve"))
	}
	return errors.Join(errs...)
}

// noter posts notes on a record's incidents.
type noter struct {
	pager   ports.Pager
	metrics ports.Metrics
	log     *zap.Logger
}

// postAll posts text once on every incident of the record (a pager that
// keeps one incident per request, such as one alert per alias, lists it
// once per notify service). When recovering, an incident that already
// carries a note starting with marker is skipped, so a crash between the
// note and its record does not post it twice. A note the pager refuses
// for good (ports.ErrRefused: an incident at its maximum of notes) is
// logged, counted and skipped: retrying cannot help, and it must not keep
// the incident from being resolved. Other failures fail the pass, which
// is retried. It reports whether any incident carries the note (none
// does when the pager refused it on every one).
func (n noter) postAll(ctx context.Context, rec domain.Record, text, marker string, recovering bool) (bool, error) {
	var errs []error
	carried := false
	for _, in := range distinctIncidents(rec) {
		if recovering {
			notes, err := n.pager.ListNotes(ctx, in.IncidentID)
			if err != nil && !errors.Is(err, ports.ErrNotFound) {
				errs = append(errs, fmt.Errorf("list notes of %s: %w", in.IncidentID, err))
				continue
			}
			if slices.ContainsFunc(notes, func(s string) bool { return strings.HasPrefix(s, marker) }) {
				carried = true
				continue
			}
		}
		err := n.pager.AddNote(ctx, in.IncidentID, text)
		switch {
		case err == nil:
			carried = true
		case errors.Is(err, ports.ErrNotFound):
		case errors.Is(err, ports.ErrRefused):
			n.metrics.NoteRefused()
			n.log.Warn("note refused by the pager, skipped", zap.String("request_id", rec.RequestID),
				zap.String("pd_service", in.Service), zap.String("pd_incident_id", in.IncidentID),
				zap.String("note", strings.TrimRight(marker, " :")), zap.Error(err))
		default:
			errs = append(errs, fmt.Errorf("note on %s: %w", in.IncidentID, err))
		}
	}
	return carried, errors.Join(errs...)
}

// distinctIncidents returns the record's incidents, each incident ID once
// (its first entry).
func distinctIncidents(rec domain.Record) []domain.IncidentRef {
	out := make([]domain.IncidentRef, 0, len(rec.Incidents))
	for _, in := range rec.Incidents {
		if !slices.ContainsFunc(out, func(o domain.IncidentRef) bool { return o.IncidentID == in.IncidentID }) {
			out = append(out, in)
		}
	}
	return out
}
