package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// maxPasses bounds the effects of one pass (lost compare-and-swaps
// included), so a request that keeps losing is retried later instead of
// spinning.
const maxPasses = 64

// errCASLost: a record compare-and-swap lost to another writer. It is the
// only error that re-plans at once (SPEC §8).
var errCASLost = errors.New("record changed by another writer")

// requests walks one request through its effects under the intent
// protocol of SPEC §7: load the record, plan the next effect
// (domain.Policy.Plan), record the intent, do the effect, record the
// result; repeat until nothing is left.
type requests struct {
	policy    domain.Policy
	replicaID string
	lease     time.Duration
	now       func() time.Time
	teleport  ports.AccessRequests // LoadRecord, UpdateRecord
	mirror    ports.Records
	pager     ports.Pager // FindIncidents
	incidents *incidents
	approver  *approver
	router    *router
	shifts    *shifts
	routes    *routeCache
	services  *serviceSet
	metrics   ports.Metrics
	log       *zap.Logger
}

// state is one request's record as loaded, with the version its writes
// are conditional on.
type state struct {
	rec     domain.Record
	version ports.Version
	gone    bool // request deleted: no record to write in Teleport
}

// handle walks one request through its effects until nothing is left, an
// effect fails, or another replica holds it.
func (h *requests) handle(ctx context.Context, req domain.Request) error {
	routed, err := h.prepare(ctx, &req)
	if err != nil {
		return err
	}
	for range maxPasses {
		st, err := h.load(ctx, &req)
		if err != nil {
			return err
		}
		h.nameIncidents(ctx, req, routed, &st.rec)
		eff := h.policy.Plan(req, st.rec, routed)
		if eff.Kind == domain.EffectNone {
			// Nothing left for the request's life; its grant may still be
			// bound to a shift.
			eff, err = h.shifts.step(ctx, req, st)
			if errors.Is(err, errCASLost) {
				h.metrics.RecordConflict(domain.Effect{Kind: domain.EffectLock})
				continue
			}
			if err != nil || eff.Kind == domain.EffectNone {
				return err
			}
		}
		err = h.perform(ctx, req, st, eff)
		if errors.Is(err, errCASLost) {
			h.metrics.RecordConflict(eff)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", eff, err)
		}
	}
	return fmt.Errorf("request %s: no progress after %d passes", req.ID, maxPasses)
}

// prepare reads a request the scheduler has no snapshot of (a shift timer
// fired), then routes a pending one by the access monitoring rules.
func (h *requests) prepare(ctx context.Context, req *domain.Request) ([]string, error) {
	if req.State == domain.StateUnknown {
		r, err := h.fetch(ctx, req.ID)
		if err != nil {
			return nil, err
		}
		*req = r
	}
	if req.State != domain.StatePending {
		return nil, nil
	}
	routed, err := h.router.route(ctx, *req)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	return routed, nil
}

// fetch reads a request the scheduler has no snapshot of (a shift timer
// fired): deleted, it is EXPIRED.
func (h *requests) fetch(ctx context.Context, id string) (domain.Request, error) {
	req, err := h.teleport.GetRequest(ctx, id)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return domain.Request{ID: id, State: domain.StateExpired}, nil
	case err != nil:
		return domain.Request{}, fmt.Errorf("read request: %w", err)
	}
	return req, nil
}

// load reads the request's record: the one kept in Teleport when the
// request exists, else (deleted: req becomes EXPIRED) the local mirror,
// else the pager.
func (h *requests) load(ctx context.Context, req *domain.Request) (state, error) {
	if req.State == domain.StateExpired {
		return h.loadGone(ctx, req.ID)
	}
	rec, version, err := h.teleport.LoadRecord(ctx, req.ID)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		req.State = domain.StateExpired
		return h.loadGone(ctx, req.ID)
	case err != nil:
		return state{}, fmt.Errorf("load record: %w", err)
	}
	if req.State != domain.StatePending && !rec.Done() && rec.Intent.Effect.Kind == domain.EffectOpenIncident {
		// An incident may have been opened and the process stopped before
		// recording it; the request was resolved meanwhile, so Plan will
		// not open again. Adopt what the pager holds under the key, before
		// planning its notes and resolution.
		if err := h.adopt(ctx, &rec); err != nil {
			return state{}, err
		}
	}
	h.remember(rec)
	return state{rec: rec, version: version}, nil
}

// loadGone reads the record of a deleted request from the local mirror,
// or finds its open incidents by key (ownedByKey).
func (h *requests) loadGone(ctx context.Context, id string) (state, error) {
	rec, ok, err := h.mirror.GetRecord(ctx, id)
	if err != nil {
		return state{}, fmt.Errorf("read local record: %w", err)
	}
	if !ok || len(rec.Incidents) == 0 {
		refs, err := h.ownedByKey(ctx, id)
		if err != nil {
			return state{}, err
		}
		rec.RequestID, rec.Incidents = id, refs
		if len(rec.Incidents) == 0 && !ok {
			// Never seen and nothing open: nothing to resolve.
			rec.Resolution = domain.StateExpired
		}
	}
	return state{rec: rec, gone: true}, nil
}

// nameIncidents gives an incident the record knows by service ID only
// (the reference plugin records its incident so; adopt too) the name of
// the notify service that resolves to that ID, so Plan finds it there
// instead of opening again: a POST PagerDuty would refuse as a duplicate
// key. Lookups are cached; one that fails leaves the name to open, which
// reports it.
func (h *requests) nameIncidents(ctx context.Context, req domain.Request, routed []string, rec *domain.Record) {
	if req.State != domain.StatePending || !slices.ContainsFunc(rec.Incidents, unnamed) {
		return
	}
	for _, name := range h.policy.NotifyServices(req, routed) {
		if _, ok := rec.Incident(name); ok {
			continue
		}
		svc, err := h.incidents.onCall.FindService(ctx, name)
		if err != nil {
			continue
		}
		i := slices.IndexFunc(rec.Incidents, func(in domain.IncidentRef) bool { return unnamed(in) && in.ServiceID == svc.ID })
		if i < 0 {
			continue
		}
		rec.Incidents = slices.Clone(rec.Incidents)
		rec.Incidents[i].Service = name
		h.log.Info("recorded incident adopted", zap.String("request_id", req.ID), zap.String("pd_service", name),
			zap.String("pd_incident_id", rec.Incidents[i].IncidentID))
	}
}

// unnamed: the record knows the incident's service by ID only.
func unnamed(in domain.IncidentRef) bool { return in.Service == "" || in.Service == in.ServiceID }

// remember keeps what a record tells about our incidents: their routes
// for pager actions, their services for the orphan scan.
func (h *requests) remember(rec domain.Record) {
	h.routes.learn(rec)
	h.services.learn(rec)
}

// perform runs one effect under the intent protocol.
func (h *requests) perform(ctx context.Context, req domain.Request, st state, eff domain.Effect) error {
	st, recovering, err := h.claim(ctx, req, st, eff)
	if err != nil {
		return err
	}
	result, err := h.do(ctx, req, st.rec, eff, recovering)
	if err != nil {
		return err
	}
	done := domain.Apply(st.rec, req, eff, result, h.now())
	if !st.gone {
		// Conditional on the intent's version, like the intent on the
		// plan's.
		if _, err := h.teleport.UpdateRecord(ctx, req.ID, st.version, done); err != nil {
			if errors.Is(err, ports.ErrNotFound) {
				// Deleted meanwhile: the effect happened; keep it locally.
				h.mirrorRecord(ctx, done)
				return nil
			}
			return fmt.Errorf("record result: %w", casLost(err))
		}
	}
	h.mirrorRecord(ctx, done)
	h.remember(done)
	return nil
}

// claim records the intent to do eff, conditional on the version the plan
// was made on: a peer's write since then makes it lose, and the request is
// planned again. A fresh intent of a peer means wait (errBusy); a stale one,
// or ours from before a crash, is taken over. recovering says the effect
// may have been done already (check before redoing).
func (h *requests) claim(ctx context.Context, req domain.Request, st state, eff domain.Effect) (state, bool, error) {
	if st.gone {
		return st, true, nil // a deleted request may have been handled by a peer
	}
	now := h.now()
	recovering := false
	if in := st.rec.Intent; !in.IsZero() {
		if in.Owner != h.replicaID && now.Sub(in.At) < h.lease {
			return st, false, errBusy
		}
		recovering = in.Effect == eff
	}
	claimed := domain.Claim(st.rec, req, eff, h.replicaID, now)
	v, err := h.teleport.UpdateRecord(ctx, req.ID, st.version, claimed)
	if err != nil {
		return st, false, fmt.Errorf("record intent: %w", casLost(err))
	}
	st.rec, st.version = claimed, v
	return st, recovering, nil
}

// do does the effect itself.
func (h *requests) do(ctx context.Context, req domain.Request, rec domain.Record, eff domain.Effect, recovering bool) (domain.Result, error) {
	var (
		res domain.Result
		err error
	)
	switch eff.Kind {
	case domain.EffectOpenIncident:
		res.Incident, err = h.incidents.open(ctx, req, eff.Service)
	case domain.EffectAutoApprove:
		res.Shift, err = h.approver.approve(ctx, req, rec, recovering)
	case domain.EffectNoteReview:
		err = h.incidents.noteReview(ctx, req, rec, eff.Review, recovering)
	case domain.EffectResolve:
		err = h.incidents.resolve(ctx, req, rec, recovering)
	case domain.EffectLock:
		err = h.shifts.lock(ctx, req, rec, recovering)
	default:
		err = fmt.Errorf("effect %s cannot be done", eff)
	}
	return res, err
}

func (h *requests) mirrorRecord(ctx context.Context, rec domain.Record) {
	if err := h.mirror.PutRecord(ctx, rec); err != nil {
		h.log.Warn("local record not saved", zap.String("request_id", rec.RequestID), zap.Error(err))
	}
}

// casLost marks a record conflict as a lost compare-and-swap; other
// errors pass as they are.
func casLost(err error) error {
	if errors.Is(err, ports.ErrConflict) {
		return fmt.Errorf("%w: %w", errCASLost, err)
	}
	return err
}
