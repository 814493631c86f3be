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

// maxPasses bounds the effects of one pass (lost compare-and-swaps
// included), so a request that keeps losing is retried later instead of
// spinning.
const maxPasses = 64

// state is one request's record as loaded, with the version its writes
// are conditional on.
type state struct {
	rec     domain.Record
	version ports.Version
	gone    bool // request deleted: no record to write in Teleport
}

// handle walks one request through its effects until nothing is left, an
// effect fails, or another replica holds it.
func (p *Processor) handle(ctx context.Context, req domain.Request) error {
	for range maxPasses {
		st, err := p.load(ctx, &req)
		if err != nil {
			return err
		}
		eff := p.cfg.Policy.Plan(req, st.rec)
		if eff.Kind == domain.EffectNone {
			return nil
		}
		err = p.perform(ctx, req, st, eff)
		if errors.Is(err, errCASLost) {
			p.metrics.RecordConflict(eff)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", eff, err)
		}
	}
	return fmt.Errorf("request %s: no progress after %d passes", req.ID, maxPasses)
}

// load reads the request's record: the one kept in Teleport when the request
// exists, else the local mirror, else the pager (incidents by key).
func (p *Processor) load(ctx context.Context, req *domain.Request) (state, error) {
	if req.State != domain.StateExpired {
		rec, version, err := p.tp.LoadRecord(ctx, req.ID)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			req.State = domain.StateExpired
		case err != nil:
			return state{}, fmt.Errorf("load record: %w", err)
		default:
			if req.State != domain.StatePending && !rec.Done() && rec.Intent.Effect.Kind == domain.EffectOpenIncident {
				// An incident may have been opened and the process stopped
				// before recording it; the request was resolved meanwhile, so
				// Plan will not open again. Adopt what the pager holds under
				// the key, before planning its notes and resolution.
				if err := p.adopt(ctx, &rec); err != nil {
					return state{}, err
				}
			}
			p.remember(rec)
			return state{rec: rec, version: version}, nil
		}
	}
	rec, ok, err := p.records.GetRecord(ctx, req.ID)
	if err != nil {
		return state{}, fmt.Errorf("read local record: %w", err)
	}
	if !ok || len(rec.Incidents) == 0 {
		found, err := p.pg.FindIncidents(ctx, domain.IncidentKey(req.ID))
		if err != nil {
			return state{}, fmt.Errorf("find incidents by key: %w", err)
		}
		rec.RequestID = req.ID
		for _, in := range found {
			if in.Active() {
				rec.Incidents = append(rec.Incidents, domain.IncidentRef{Service: in.ServiceID, ServiceID: in.ServiceID, IncidentID: in.ID})
			}
		}
		if len(rec.Incidents) == 0 && !ok {
			// Never seen and nothing open: nothing to resolve.
			rec.Resolution = domain.StateExpired
		}
	}
	return state{rec: rec, gone: true}, nil
}

func (p *Processor) mirror(ctx context.Context, rec domain.Record) {
	if err := p.records.PutRecord(ctx, rec); err != nil {
		p.log.Warn("local record not saved", zap.String("request_id", rec.RequestID), zap.Error(err))
	}
}

// perform runs one effect under the intent protocol.
func (p *Processor) perform(ctx context.Context, req domain.Request, st state, eff domain.Effect) error {
	now := p.cfg.Now()
	recovering := st.gone // a deleted request may have been handled by a peer
	if !st.gone {
		in := st.rec.Intent
		if !in.IsZero() {
			if in.Owner != p.cfg.ReplicaID && now.Sub(in.At) < p.cfg.IntentLease {
				return errBusy
			}
			// Ours from before a crash or a failed attempt, or a stale peer's:
			// check before redoing.
			recovering = in.Effect == eff
		}
		claimed := st.rec
		claimed.Intent = domain.Intent{Effect: eff, Owner: p.cfg.ReplicaID, At: now}
		// Conditional on the version the plan was made on: a peer's write
		// since then makes this lose, and the request is planned again.
		v, err := p.tp.UpdateRecord(ctx, req.ID, st.version, claimed)
		if err != nil {
			return fmt.Errorf("record intent: %w", casLost(err))
		}
		st.rec, st.version = claimed, v
	}

	var result domain.IncidentRef
	var err error
	switch eff.Kind {
	case domain.EffectOpenIncident:
		result, err = p.openIncident(ctx, req, eff.Service)
	case domain.EffectAutoApprove:
		err = p.autoApprove(ctx, req, st.rec, recovering)
	case domain.EffectNoteReview:
		err = p.noteReview(ctx, req, st.rec, eff.Review, recovering)
	case domain.EffectResolve:
		err = p.resolve(ctx, req, st.rec, recovering)
	}
	if err != nil {
		return err
	}

	done := domain.Apply(st.rec, req, eff, result, p.cfg.Now())
	if !st.gone {
		if _, err := p.tp.UpdateRecord(ctx, req.ID, st.version, done); err != nil {
			if errors.Is(err, ports.ErrNotFound) {
				// Deleted meanwhile: the effect happened; keep it locally.
				p.mirror(ctx, done)
				return nil
			}
			return fmt.Errorf("record result: %w", casLost(err))
		}
	}
	p.mirror(ctx, done)
	p.remember(done)
	return nil
}

// casLost marks a record conflict as a lost compare-and-swap; other
// errors pass as they are.
func casLost(err error) error {
	if errors.Is(err, ports.ErrConflict) {
		return fmt.Errorf("%w: %w", errCASLost, err)
	}
	return err
}

// adopt adds the active incidents found under the request's key to the
// record.
func (p *Processor) adopt(ctx context.Context, rec *domain.Record) error {
	found, err := p.pg.FindIncidents(ctx, domain.IncidentKey(rec.RequestID))
	if err != nil {
		return fmt.Errorf("find incidents by key: %w", err)
	}
	for _, in := range found {
		known := slices.ContainsFunc(rec.Incidents, func(r domain.IncidentRef) bool { return r.IncidentID == in.ID })
		if in.Active() && !known {
			rec.Incidents = append(rec.Incidents, domain.IncidentRef{Service: in.ServiceID, ServiceID: in.ServiceID, IncidentID: in.ID})
			p.log.Info("unrecorded incident adopted", zap.String("request_id", rec.RequestID), zap.String("pd_incident_id", in.ID))
		}
	}
	return nil
}

// route is what a pager action needs to know about one of our incidents.
type route struct{ requestID, serviceID string }

// remember keeps the incidents of records seen, so a pager action maps its
// incident to the request without asking the pager.
func (p *Processor) remember(rec domain.Record) {
	for _, in := range rec.Incidents {
		p.routes.put(in.IncidentID, route{requestID: rec.RequestID, serviceID: in.ServiceID})
	}
	p.learnServices(rec)
}

// routeCache is a bounded map from incident ID to route; the oldest entry
// goes first when it is full.
type routeCache struct {
	mu   sync.Mutex
	m    map[string]route
	ring []string
	next int
}

// maxRoutes bounds the route cache (about 100 bytes an entry).
const maxRoutes = 16384

func newRouteCache() *routeCache {
	return &routeCache{m: make(map[string]route), ring: make([]string, maxRoutes)}
}

func (c *routeCache) put(id string, r route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok {
		if old := c.ring[c.next]; old != "" {
			delete(c.m, old)
		}
		c.ring[c.next] = id
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[id] = r
}

func (c *routeCache) get(id string) (route, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}

func (p *Processor) openIncident(ctx context.Context, req domain.Request, service string) (domain.IncidentRef, error) {
	svc, err := p.oc.FindService(ctx, service)
	if err != nil {
		if errors.Is(err, ports.ErrNotFound) {
			p.metrics.Incident(ports.IncidentUnknownService)
		}
		return domain.IncidentRef{}, fmt.Errorf("find notify service %q: %w", service, err)
	}
	p.provision(ctx, svc)
	spec := domain.NewIncidentSpec(req, p.Cluster(), svc.ID, p.cfg.Incident)
	inc, err := p.pg.EnsureIncident(ctx, spec)
	if err != nil {
		p.metrics.Incident(ports.IncidentFailed)
		return domain.IncidentRef{}, fmt.Errorf("open incident in %q: %w", service, err)
	}
	p.metrics.Incident(ports.IncidentOpened)
	p.log.Info("incident opened", zap.String("request_id", req.ID), zap.String("requester", req.User),
		zap.Strings("roles", req.Roles), zap.String("pd_service", svc.Name), zap.String("pd_incident_id", inc.ID),
		zap.String("decision", "notify"))
	return domain.IncidentRef{Service: service, ServiceID: svc.ID, IncidentID: inc.ID}, nil
}

// provision creates the Custom Incident Actions on a service once per
// process, best effort.
func (p *Processor) provision(ctx context.Context, svc domain.Service) {
	if len(p.cfg.ActionHooks) == 0 {
		return
	}
	if _, done := p.provisioned.Load(svc.ID); done {
		return
	}
	if err := p.pg.EnsureActions(ctx, svc.ID, p.cfg.ActionHooks); err != nil {
		p.log.Warn("incident actions not provisioned", zap.String("pd_service", svc.Name), zap.Error(err))
		return
	}
	p.provisioned.Store(svc.ID, struct{}{})
	p.log.Info("incident actions provisioned", zap.String("pd_service", svc.Name))
}

// autoApprove applies SPEC §4. A skip is a result (recorded, not retried);
// a lookup failure is an error (fail closed, retried while pending).
func (p *Processor) autoApprove(ctx context.Context, req domain.Request, rec domain.Record, recovering bool) error {
	log := p.log.With(zap.String("request_id", req.ID), zap.String("requester", req.User))
	skip := func(why error) error {
		p.metrics.Approval(ports.ApprovalSkipped)
		log.Debug("auto-approval skipped", zap.String("decision", "skip"), zap.String("reason", why.Error()))
		return nil
	}
	cand, err := p.cfg.Policy.PrecheckApproval(req)
	if err != nil {
		return skip(err)
	}
	log = log.With(zap.String("pd_user_email", cand.Email))
	user, err := p.oc.FindUserByEmail(ctx, cand.Email)
	if errors.Is(err, ports.ErrNotFound) {
		return skip(domain.ErrNoPagerUser)
	}
	if err != nil {
		p.metrics.Approval(ports.ApprovalLookupFailed)
		return fmt.Errorf("find pager user: %w", err)
	}
	var svcs []domain.Service
	var policies []string
	for _, name := range cand.Services {
		s, err := p.oc.FindService(ctx, name)
		if errors.Is(err, ports.ErrNotFound) {
			p.metrics.Approval(ports.ApprovalUnknownService)
			log.Warn("approval service not found", zap.String("pd_service", name))
			continue
		}
		if err != nil {
			p.metrics.Approval(ports.ApprovalLookupFailed)
			return fmt.Errorf("find approval service %q: %w", name, err)
		}
		svcs = append(svcs, s)
		if s.EscalationPolicyID != "" && !slices.Contains(policies, s.EscalationPolicyID) {
			policies = append(policies, s.EscalationPolicyID)
		}
	}
	if len(policies) == 0 {
		return skip(domain.ErrNotOnCall)
	}
	facts := domain.OnCallFacts{User: user, Services: svcs, Now: p.cfg.Now()}
	if facts.OnCalls, err = p.oc.OnCallsNow(ctx, user.ID, policies); err != nil {
		p.metrics.Approval(ports.ApprovalLookupFailed)
		return fmt.Errorf("on-calls of %s: %w", cand.Email, err)
	}
	if p.cfg.Policy.RequireActiveIncident {
		ids := make([]string, len(svcs))
		for i, s := range svcs {
			ids[i] = s.ID
		}
		if facts.Incidents, err = p.oc.ActiveIncidents(ctx, user.ID, ids); err != nil {
			p.metrics.Approval(ports.ApprovalLookupFailed)
			return fmt.Errorf("active incidents of %s: %w", cand.Email, err)
		}
	}
	appr, err := p.cfg.Policy.DecideApproval(facts)
	if err != nil {
		p.log.Info("request left for humans", zap.String("request_id", req.ID), zap.String("requester", req.User),
			zap.String("pd_user_email", cand.Email), zap.String("decision", "skip"), zap.String("reason", err.Error()))
		p.metrics.Approval(ports.ApprovalNotOnCall)
		return nil
	}
	v := domain.Verdict{RequestID: req.ID, State: domain.StateApproved, Mode: p.Mode(),
		Reason: "Auto-approved by pagergate: " + appr.Reason, Delegator: domain.Delegator(appr.Email)}
	switch err := p.tp.Resolve(ctx, v); {
	case err == nil:
	case errors.Is(err, ports.ErrAlreadyReviewed), errors.Is(err, ports.ErrAlreadyResolved):
		log.Info("approval already submitted or request resolved", zap.Error(err))
	default:
		p.metrics.Approval(ports.ApprovalFailed)
		return fmt.Errorf("approve: %w", err)
	}
	p.metrics.Approval(ports.ApprovalApproved)
	log.Info("request auto-approved", zap.String("decision", "approve"), zap.String("reason", appr.Reason),
		zap.String("approval_mode", string(v.Mode)))
	return p.noteAll(ctx, rec, domain.ApprovalNote(appr), domain.ApprovalMarker, recovering)
}

func (p *Processor) noteReview(ctx context.Context, req domain.Request, rec domain.Record, n int, recovering bool) error {
	if n >= len(req.Reviews) {
		return nil
	}
	rv := req.Reviews[n]
	if err := p.noteAll(ctx, rec, domain.ReviewNote(n, rv), domain.ReviewMarker(n), recovering); err != nil {
		return err
	}
	p.metrics.ReviewNoted()
	p.log.Info("review noted", zap.String("request_id", req.ID), zap.String("reviewer", rv.Author),
		zap.String("review_state", rv.State.String()))
	return nil
}

func (p *Processor) resolve(ctx context.Context, req domain.Request, rec domain.Record, recovering bool) error {
	note := domain.ResolutionNote(req.State, req.ResolveReason)
	if err := p.noteAll(ctx, rec, note, domain.ResolutionMarker, recovering); err != nil {
		return err
	}
	var errs []error
	for _, in := range rec.Incidents {
		if err := p.pg.ResolveIncident(ctx, in.IncidentID); err != nil && !errors.Is(err, ports.ErrNotFound) {
			errs = append(errs, fmt.Errorf("resolve incident %s: %w", in.IncidentID, err))
			continue
		}
		p.metrics.Incident(ports.IncidentResolved)
		p.log.Info("incident resolved", zap.String("request_id", req.ID), zap.String("request_state", req.State.String()),
			zap.String("pd_incident_id", in.IncidentID), zap.String("decision", "resolve"))
	}
	return errors.Join(errs...)
}

// noteAll posts text on every incident of the record. When recovering, an
// incident that already carries a note starting with marker is skipped, so
// a crash between the note and its record does not post it twice.
func (p *Processor) noteAll(ctx context.Context, rec domain.Record, text, marker string, recovering bool) error {
	var errs []error
	for _, in := range rec.Incidents {
		if recovering {
			notes, err := p.pg.ListNotes(ctx, in.IncidentID)
			if err != nil && !errors.Is(err, ports.ErrNotFound) {
				errs = append(errs, fmt.Errorf("list notes of %s: %w", in.IncidentID, err))
				continue
			}
			if slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, marker) }) {
				continue
			}
		}
		if err := p.pg.AddNote(ctx, in.IncidentID, text); err != nil && !errors.Is(err, ports.ErrNotFound) {
			errs = append(errs, fmt.Errorf("note on %s: %w", in.IncidentID, err))
		}
	}
	return errors.Join(errs...)
}
