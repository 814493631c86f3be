package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// actionLookups gather the facts a pager action is decided on, from
// Teleport and the pager: the request and notify service the incident was
// opened for, the actors, whether the actor is on call.
type actionLookups struct {
	policy   domain.Policy
	now      func() time.Time
	teleport ports.AccessRequests // GetRequest, LoadRecord
	onCall   ports.OnCall
	pager    ports.Pager // GetIncident
	router   *router
	routes   *routeCache
}

// gather reads the actors and, when the policy asks, whether the actor is
// on call for the incident's notify service.
func (l *actionLookups) gather(ctx context.Context, a domain.Action, t actionTarget) (domain.Actors, bool, error) {
	if a.ActorID == "" {
		return domain.Actors{}, false, domain.ErrNoActor
	}
	who, err := l.actors(ctx, a, t.req)
	if err != nil || l.policy.Approvers == domain.ApproversAny || who.Actor.ID == "" || t.req.State != domain.StatePending {
		return who, false, err
	}
	onCall, err := l.actorOnCall(ctx, a.ActorID, t.serviceID)
	return who, onCall, err
}

// errNoIncident: the pager has no incident with the delivery's ID.
var errNoIncident = fmt.Errorf("%w: no such incident", domain.ErrUnknownIncident)

// actionTarget is the request an incident was opened for, and the notify
// service it was opened in.
type actionTarget struct {
	req       domain.Request
	serviceID string
}

// target maps an incident to its request, and proves the incident is one
// pagergate opened for it (SPEC §6): known from a record (route cache, or
// the request's record in Teleport), or in one of the request's notify
// services with the request's incident_key. A key alone proves nothing:
// the pager dedups it per service only.
func (l *actionLookups) target(ctx context.Context, incidentID string) (actionTarget, error) {
	if r, ok := l.routes.get(incidentID); ok {
		req, err := l.request(ctx, r.requestID)
		return actionTarget{req: req, serviceID: r.serviceID}, err
	}
	inc, err := l.pager.GetIncident(ctx, incidentID)
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
	req, err := l.request(ctx, reqID)
	if err != nil {
		return actionTarget{}, err
	}
	serviceID, err := l.openedFor(ctx, req, inc)
	if err != nil {
		return actionTarget{}, err
	}
	l.routes.put(inc.ID, route{requestID: req.ID, serviceID: serviceID})
	return actionTarget{req: req, serviceID: serviceID}, nil
}

// request reads the request; a deleted one is no target.
func (l *actionLookups) request(ctx context.Context, id string) (domain.Request, error) {
	req, err := l.teleport.GetRequest(ctx, id)
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
func (l *actionLookups) openedFor(ctx context.Context, req domain.Request, inc domain.Incident) (string, error) {
	rec, _, err := l.teleport.LoadRecord(ctx, req.ID)
	if err != nil && !errors.Is(err, ports.ErrNotFound) {
		return "", fmt.Errorf("load record: %w", err)
	}
	for _, in := range rec.Incidents {
		if in.IncidentID == inc.ID {
			return cmp.Or(in.ServiceID, inc.ServiceID), nil
		}
	}
	if inc.Key == domain.IncidentKey(req.ID) && inc.ServiceID != "" {
		routed, err := l.router.route(ctx, req)
		if err != nil {
			return "", fmt.Errorf("route: %w", err)
		}
		for _, name := range l.policy.NotifyServices(req, routed) {
			svc, err := l.onCall.FindService(ctx, name)
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
func (l *actionLookups) actors(ctx context.Context, a domain.Action, req domain.Request) (domain.Actors, error) {
	var who domain.Actors
	u, err := l.onCall.GetUser(ctx, a.ActorID)
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
	email, ok := l.policy.PagerEmail(req.User)
	if !ok {
		return who, nil
	}
	r, err := l.onCall.FindUserByEmail(ctx, email)
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
func (l *actionLookups) actorOnCall(ctx context.Context, userID, serviceID string) (bool, error) {
	if userID == "" || serviceID == "" {
		return false, nil
	}
	svc, err := l.onCall.FindService(ctx, serviceID)
	if errors.Is(err, ports.ErrNotFound) {
		return false, nil // the service is gone: nobody is on call for it
	}
	if err != nil {
		return false, fmt.Errorf("find service %s: %w", serviceID, err)
	}
	if svc.EscalationPolicyID == "" {
		return false, nil
	}
	ocs, err := l.onCall.OnCallsNow(ctx, userID, []string{svc.EscalationPolicyID})
	if err != nil {
		return false, fmt.Errorf("on-calls of responder %s: %w", userID, err)
	}
	now := l.now()
	for _, oc := range ocs {
		if oc.UserID == userID && oc.EscalationPolicyID == svc.EscalationPolicyID && oc.ActiveAt(now) {
			return true, nil
		}
	}
	return false, nil
}
