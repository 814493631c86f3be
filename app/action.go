package app

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

var _ ports.Actions = (*Processor)(nil)

// HandleAction applies an approve / deny / manual resolve delivered by the
// pager (SPEC §6). Replays answer OutcomeReplayed and change nothing; a
// delivery that failed transiently is forgotten so the pager's retry works.
func (p *Processor) HandleAction(ctx context.Context, a domain.Action) (domain.Outcome, error) {
	log := p.log.With(zap.String("delivery_id", a.DeliveryID), zap.String("verb", a.Verb.String()),
		zap.String("pd_incident_id", a.IncidentID), zap.String("pd_user_id", a.ActorID))
	now := p.cfg.Now()
	if !a.OccurredAt.IsZero() && now.Sub(a.OccurredAt) > p.cfg.ReplayWindow {
		p.metrics.Count("actions", "too_old")
		return 0, fmt.Errorf("%w (%s)", domain.ErrDeliveryTooOld, a.OccurredAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if a.DeliveryID != "" {
		fresh, err := p.dedup.Remember(ctx, "delivery/"+a.DeliveryID, p.cfg.ReplayWindow)
		if err != nil {
			return 0, fmt.Errorf("%w: replay store: %w", ports.ErrUnavailable, err)
		}
		if !fresh {
			p.metrics.Count("actions", "replayed")
			log.Info("delivery replayed; ignored")
			return domain.OutcomeReplayed, nil
		}
	}
	out, err := p.handleAction(ctx, a, log)
	if err != nil && a.DeliveryID != "" && !final(err) {
		if ferr := p.dedup.Forget(context.WithoutCancel(ctx), "delivery/"+a.DeliveryID); ferr != nil {
			log.Warn("delivery key not forgotten; a retry will be taken as a replay", zap.Error(ferr))
		}
	}
	return out, err
}

// final reports whether an action error is the answer for good; any other
// error is transient and the pager may retry the delivery.
func final(err error) bool {
	return errors.Is(err, domain.ErrRefused) || errors.Is(err, domain.ErrNotPending) ||
		errors.Is(err, ports.ErrNotFound) || errors.Is(err, domain.ErrUnknownIncident)
}

func (p *Processor) handleAction(ctx context.Context, a domain.Action, log *zap.Logger) (domain.Outcome, error) {
	var inc domain.Incident
	key := a.IncidentKey
	if r, ok := p.routes.get(a.IncidentID); ok {
		key = domain.IncidentKey(r.requestID)
		inc = domain.Incident{ID: a.IncidentID, Key: key, ServiceID: r.serviceID}
	} else if key == "" || p.cfg.Policy.Approvers != domain.ApproversAny {
		var err error
		if inc, err = p.pg.GetIncident(ctx, a.IncidentID); err != nil {
			return 0, fmt.Errorf("get incident %s: %w", a.IncidentID, err)
		}
		key = inc.Key
	}
	reqID := domain.RequestIDFromKey(key)
	if reqID == "" {
		p.metrics.Count("actions", "unknown_incident")
		return 0, fmt.Errorf("%w: %s", domain.ErrUnknownIncident, a.IncidentID)
	}
	log = log.With(zap.String("request_id", reqID))
	req, err := p.tp.GetRequest(ctx, reqID)
	if err != nil {
		return 0, fmt.Errorf("get request %s: %w", reqID, err)
	}
	if a.Verb == domain.VerbManualResolve {
		if req.State != domain.StatePending || p.cfg.Policy.OnManualResolve != domain.ManualResolveDeny {
			log.Info("incident resolved in the pager; nothing to do", zap.String("request_state", req.State.String()))
			return domain.OutcomeIgnored, nil
		}
		a.Verb = domain.VerbDeny
		if a.Note == "" {
			a.Note = "incident resolved in PagerDuty"
		}
	}
	email := a.ActorEmail
	if email == "" && a.ActorID != "" {
		u, err := p.oc.GetUser(ctx, a.ActorID)
		if err != nil && !errors.Is(err, ports.ErrNotFound) {
			return 0, fmt.Errorf("get responder %s: %w", a.ActorID, err)
		}
		email = u.Email
	}
	log = log.With(zap.String("pd_user_email", email))
	onCall := false
	if p.cfg.Policy.Approvers != domain.ApproversAny && email != "" && req.State == domain.StatePending {
		if onCall, err = p.actorOnCall(ctx, a.ActorID, inc.ServiceID); err != nil {
			return 0, err
		}
	}
	if err := p.cfg.Policy.AuthorizeAction(a, req, email, onCall); err != nil {
		if errors.Is(err, domain.ErrRefused) {
			p.metrics.Count("actions", "refused")
			log.Info("pager action refused", zap.String("decision", "refuse"), zap.String("reason", err.Error()))
			if nerr := p.pg.AddNote(ctx, a.IncidentID, domain.RefusalNote(a, email, err)); nerr != nil {
				log.Warn("refusal note not posted", zap.Error(nerr))
			}
		} else {
			p.metrics.Count("actions", "not_pending")
		}
		return 0, err
	}
	v := domain.ActionVerdict(a, req, email, p.Mode())
	switch err := p.tp.Resolve(ctx, v); {
	case err == nil:
	case errors.Is(err, ports.ErrAlreadyResolved), errors.Is(err, ports.ErrAlreadyReviewed):
		p.metrics.Count("actions", "not_pending")
		return 0, fmt.Errorf("%w: %w", domain.ErrNotPending, err)
	default:
		p.metrics.Count("actions", "failed")
		return 0, fmt.Errorf("submit %s: %w", v.State.Word(), err)
	}
	p.metrics.Count("actions", a.Verb.String())
	log.Info("pager action applied", zap.String("decision", a.Verb.String()), zap.String("reason", v.Reason),
		zap.String("approval_mode", string(v.Mode)))
	return domain.OutcomeDone, nil
}

// actorOnCall reports whether the responder is on call now for the
// escalation policy of the incident's service.
func (p *Processor) actorOnCall(ctx context.Context, userID, serviceID string) (bool, error) {
	if userID == "" || serviceID == "" {
		return false, nil
	}
	svc, err := p.oc.FindService(ctx, serviceID)
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
