package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

var _ ports.Actions = (*Processor)(nil)

// HandleAction applies an approve / deny / manual resolve delivered by the
// pager (SPEC §6). It returns an outcome, a final result error (see
// domain.ActionStatus: the answer for good, nothing changed) or a transient
// error; a delivery that failed transiently is forgotten so the pager's
// retry works. Every final result is logged and counted, and noted on the
// incident where one was named.
func (p *Processor) HandleAction(ctx context.Context, a domain.Action) (domain.Outcome, error) {
	log := p.log.With(zap.String("delivery_id", a.DeliveryID), zap.String("verb", a.Verb.String()),
		zap.String("pd_incident_id", a.IncidentID), zap.String("pd_user_id", a.ActorID))
	now := p.cfg.Now()
	if !a.OccurredAt.IsZero() && now.Sub(a.OccurredAt) > p.cfg.ReplayWindow {
		err := fmt.Errorf("%w (%s)", domain.ErrDeliveryTooOld, a.OccurredAt.UTC().Format("2006-01-02T15:04:05Z"))
		p.report(ctx, a, 0, err, "", log)
		return 0, err
	}
	if len(a.ReplayKeys) == 0 {
		p.report(ctx, a, 0, domain.ErrNoReplayKey, "", log)
		return 0, domain.ErrNoReplayKey
	}
	// An event dated ahead of this clock stays remembered until it is too
	// old, so its replay is never taken as new.
	ttl := p.cfg.ReplayWindow + max(0, a.OccurredAt.Sub(now))
	fresh, err := p.rememberDelivery(ctx, a.ReplayKeys, ttl)
	if err != nil {
		return 0, fmt.Errorf("%w: replay store: %w", ports.ErrUnavailable, err)
	}
	if fresh == nil {
		p.metrics.Action(ports.ActionReplayed)
		log.Info("delivery replayed; ignored", zap.String("outcome", "replayed"))
		return domain.OutcomeReplayed, nil
	}
	out, email, err := p.handleAction(ctx, a, log)
	if _, final := domain.ActionStatus(out, err); !final {
		p.forgetDelivery(context.WithoutCancel(ctx), fresh, log)
	}
	p.report(ctx, a, out, err, email, log)
	return out, err
}

// rememberDelivery remembers every replay key; it returns the keys it
// stored, or nil when one of them was seen before (a replay).
func (p *Processor) rememberDelivery(ctx context.Context, keys []string, ttl time.Duration) ([]string, error) {
	var fresh []string
	replay := false
	for _, k := range keys {
		ok, err := p.dedup.Remember(ctx, "delivery/"+k, ttl)
		if err != nil {
			p.forgetDelivery(context.WithoutCancel(ctx), fresh, p.log)
			return nil, err
		}
		if ok {
			fresh = append(fresh, k)
		} else {
			replay = true
		}
	}
	if replay {
		return nil, nil
	}
	return fresh, nil
}

func (p *Processor) forgetDelivery(ctx context.Context, keys []string, log *zap.Logger) {
	for _, k := range keys {
		if err := p.dedup.Forget(ctx, "delivery/"+k); err != nil {
			log.Warn("delivery key not forgotten; a retry will be taken as a replay", zap.Error(err))
		}
	}
}

// report logs and counts the result of an action and, for a final result
// that changed nothing, notes why on the incident the delivery named.
func (p *Processor) report(ctx context.Context, a domain.Action, out domain.Outcome, err error, email string, log *zap.Logger) {
	status, final := domain.ActionStatus(out, err)
	switch {
	case !final:
		p.metrics.Action(ports.ActionFailed) // the webhook logs it with its answer
		return
	case err == nil:
		if out == domain.OutcomeIgnored {
			p.metrics.Action(ports.ActionResult(status))
		}
		return // done and replayed are counted, and all are logged, where they happen
	}
	p.metrics.Action(ports.ActionResult(status))
	log.Info("pager action changed nothing", zap.String("decision", "refuse"), zap.String("outcome", status),
		zap.String("reason", err.Error()))
	if a.IncidentID == "" || errors.Is(err, errNoIncident) {
		return // nothing to note on
	}
	if errors.Is(err, domain.ErrDeliveryTooOld) || errors.Is(err, domain.ErrNoReplayKey) {
		return // not remembered, so it may come again and again: no note
	}
	// One note per incident, outcome, verb and actor in a while: the same
	// click again and again is told once, not posted each time.
	key := a.IncidentID + "/" + status + "/" + a.Verb.String() + "/" + a.ActorID
	if !p.noted.admit(key, p.cfg.Now()) {
		return
	}
	if nerr := p.pg.AddNote(ctx, a.IncidentID, domain.RefusalNote(a, email, err)); nerr != nil {
		log.Warn("refusal note not posted", zap.Error(nerr))
		p.noted.forget(key)
	}
}

// Refusal notes: the same one at most every refusalNoteEvery, remembered
// for at most maxNoted keys (in memory: a restart may note once more).
const (
	refusalNoteEvery = 15 * time.Minute
	maxNoted         = 4096
)

// noteGate remembers which refusals were noted lately. The zero value is
// ready.
type noteGate struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// admit reports whether the refusal with key may be noted now, and if so
// remembers it.
func (g *noteGate) admit(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if at, ok := g.seen[key]; ok && now.Sub(at) < refusalNoteEvery {
		return false
	}
	if g.seen == nil || len(g.seen) >= maxNoted {
		g.seen = make(map[string]time.Time) // forgetting early costs a note, never an answer
	}
	g.seen[key] = now
	return true
}

func (g *noteGate) forget(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.seen, key)
}

// handleAction decides and applies one fresh action. It returns the actor's
// email once known, for the note.
func (p *Processor) handleAction(ctx context.Context, a domain.Action, log *zap.Logger) (domain.Outcome, string, error) {
	if a.Verb == domain.VerbManualResolve && p.cfg.Policy.OnManualResolve != domain.ManualResolveDeny {
		log.Info("incident resolved in the pager; nothing to do", zap.String("outcome", "ignored"))
		return domain.OutcomeIgnored, "", nil
	}
	t, err := p.actionTarget(ctx, a.IncidentID)
	if a.Verb == domain.VerbManualResolve && errors.Is(err, domain.ErrUnknownIncident) {
		return domain.OutcomeIgnored, "", nil // any other incident resolved: not ours to mind
	}
	if err != nil {
		return 0, "", err
	}
	req := t.req
	log = log.With(zap.String("request_id", req.ID))
	if a.Verb == domain.VerbManualResolve {
		if req.State != domain.StatePending {
			log.Info("incident resolved in the pager; request no longer pending", zap.String("outcome", "ignored"),
				zap.String("request_state", req.State.String()))
			return domain.OutcomeIgnored, "", nil
		}
		a.Verb = domain.VerbDeny
		if a.Note == "" {
			a.Note = "incident resolved in PagerDuty"
		}
	}
	if a.ActorID == "" {
		return 0, "", domain.ErrNoActor
	}
	who, err := p.actors(ctx, a, req)
	if err != nil {
		return 0, "", err
	}
	email := who.Actor.Email
	log = log.With(zap.String("pd_user_email", email))
	onCall := false
	if p.cfg.Policy.Approvers != domain.ApproversAny && who.Actor.ID != "" && req.State == domain.StatePending {
		if onCall, err = p.actorOnCall(ctx, a.ActorID, t.serviceID); err != nil {
			return 0, email, err
		}
	}
	if err := p.cfg.Policy.AuthorizeAction(a, req, who, onCall); err != nil {
		return 0, email, err
	}
	return p.applyAction(ctx, a, req, email, log)
}

func (p *Processor) applyAction(ctx context.Context, a domain.Action, req domain.Request, email string, log *zap.Logger) (domain.Outcome, string, error) {
	v := domain.ActionVerdict(a, req, email, p.Mode())
	switch err := p.tp.Resolve(ctx, v); {
	case err == nil:
	case errors.Is(err, ports.ErrAlreadyResolved), errors.Is(err, ports.ErrAlreadyReviewed):
		return 0, email, fmt.Errorf("%w: %w", domain.ErrNotPending, err)
	default:
		return 0, email, fmt.Errorf("submit %s: %w", v.State.Word(), err)
	}
	p.metrics.Action(ports.ActionDone(a.Verb))
	log.Info("pager action applied", zap.String("decision", a.Verb.String()), zap.String("outcome", "done"),
		zap.String("reason", v.Reason), zap.String("approval_mode", string(v.Mode)))
	return domain.OutcomeDone, email, nil
}

// errNoIncident: the pager has no incident with the delivery's ID.
var errNoIncident = fmt.Errorf("%w: no such incident", domain.ErrUnknownIncident)

// actionTarget is the request an incident was opened for, and the notify
// service it was opened in.
type actionTarget struct {
	req       domain.Request
	serviceID string
}

// actionTarget maps an incident to its request, and proves the incident is
// one pagergate opened for it (SPEC §6): known from a record (route cache,
// or the request's record in Teleport), or in one of the request's notify services
// with the request's incident_key. A key alone proves nothing: PagerDuty
// dedups it per service only.
func (p *Processor) actionTarget(ctx context.Context, incidentID string) (actionTarget, error) {
	if r, ok := p.routes.get(incidentID); ok {
		req, err := p.actionRequest(ctx, r.requestID)
		return actionTarget{req: req, serviceID: r.serviceID}, err
	}
	inc, err := p.pg.GetIncident(ctx, incidentID)
	if errors.Is(err, ports.ErrNotFound) {
		return actionTarget{}, fmt.Errorf("%w: %s", errNoIncident, incidentID)
	}
	if err != nil {
		return actionTarget{}, fmt.Errorf("get incident %s: %w", incidentID, err)
	}
	reqID := domain.RequestIDFromKey(inc.Key)
	if reqID == "" {
		return actionTarget{}, fmt.Errorf("%w: %s", domain.ErrUnknownIncident, incidentID)
	}
	req, err := p.actionRequest(ctx, reqID)
	if err != nil {
		return actionTarget{}, err
	}
	serviceID, err := p.openedFor(ctx, req, inc)
	if err != nil {
		return actionTarget{}, err
	}
	p.routes.put(inc.ID, route{requestID: req.ID, serviceID: serviceID})
	return actionTarget{req: req, serviceID: serviceID}, nil
}

// actionRequest reads the request; a deleted one is no target.
func (p *Processor) actionRequest(ctx context.Context, id string) (domain.Request, error) {
	req, err := p.tp.GetRequest(ctx, id)
	if errors.Is(err, ports.ErrNotFound) {
		return domain.Request{}, fmt.Errorf("%w: access request %s not found", domain.ErrUnknownIncident, id)
	}
	if err != nil {
		return domain.Request{}, fmt.Errorf("get request %s: %w", id, err)
	}
	return req, nil
}

// openedFor returns the notify service the incident was opened in for the
// request, or ErrForeignIncident.
func (p *Processor) openedFor(ctx context.Context, req domain.Request, inc domain.Incident) (string, error) {
	rec, _, err := p.tp.LoadRecord(ctx, req.ID)
	if err != nil && !errors.Is(err, ports.ErrNotFound) {
		return "", fmt.Errorf("load record: %w", err)
	}
	for _, in := range rec.Incidents {
		if in.IncidentID == inc.ID {
			return cmp.Or(in.ServiceID, inc.ServiceID), nil
		}
	}
	if inc.Key == domain.IncidentKey(req.ID) && inc.ServiceID != "" {
		for _, name := range p.cfg.Policy.NotifyServices(req) {
			svc, err := p.oc.FindService(ctx, name)
			if errors.Is(err, ports.ErrNotFound) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("find notify service %q: %w", name, err)
			}
			if svc.ID == inc.ServiceID {
				return svc.ID, nil
			}
		}
	}
	return "", fmt.Errorf("%w (request %s)", domain.ErrForeignIncident, req.ID)
}

// actors reads the actor and, for an approval, the requester from the
// pager: identity is the pager user ID, and the email is the pager's, never
// the delivery's. A user the pager does not know resolves to a zero user
// (refused by the policy).
func (p *Processor) actors(ctx context.Context, a domain.Action, req domain.Request) (domain.Actors, error) {
	var who domain.Actors
	u, err := p.oc.GetUser(ctx, a.ActorID)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return who, nil
	case err != nil:
		return who, fmt.Errorf("get responder %s: %w", a.ActorID, err)
	}
	who.Actor = u
	if a.Verb != domain.VerbApprove || req.State != domain.StatePending {
		return who, nil // only an approval of a pending request needs the requester
	}
	email, ok := p.cfg.Policy.PagerEmail(req.User)
	if !ok {
		return who, nil
	}
	r, err := p.oc.FindUserByEmail(ctx, email)
	switch {
	case errors.Is(err, ports.ErrNotFound):
	case err != nil:
		return who, fmt.Errorf("find requester %s: %w", email, err)
	default:
		who.Requester = r
	}
	return who, nil
}

// actorOnCall reports whether the responder is on call now for the
// escalation policy of the incident's service.
func (p *Processor) actorOnCall(ctx context.Context, userID, serviceID string) (bool, error) {
	if userID == "" || serviceID == "" {
		return false, nil
	}
	svc, err := p.oc.FindService(ctx, serviceID)
	if errors.Is(err, ports.ErrNotFound) {
		return false, nil // the service is gone: nobody is on call for it
	}
	if err != nil {
		return false, fmt.Errorf("find service %s: %w", serviceID, err)
	}
	if svc.EscalationPolicyID == "" {
		return false, nil
	}
	ocs, err := p.oc.OnCallsNow(ctx, userID, []string{svc.EscalationPolicyID})
	if err != nil {
		return false, fmt.Errorf("on-calls of responder %s: %w", userID, err)
	}
	now := p.cfg.Now()
	for _, oc := range ocs {
		if oc.UserID == userID && oc.EscalationPolicyID == svc.EscalationPolicyID && oc.ActiveAt(now) {
			return true, nil
		}
	}
	return false, nil
}
