package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// actions is the pager-action use case (SPEC §6): an approve, deny or
// manual resolve delivered by the pager, checked against replays, mapped
// to its request, decided by domain.Policy.AuthorizeAction and applied in
// Teleport.
type actions struct {
	policy   domain.Policy
	window   time.Duration // replay window
	now      func() time.Time
	lookups  *actionLookups
	teleport ports.AccessRequests // Resolve
	pager    ports.Pager          // AddNote
	dedup    ports.DedupStore
	cluster  *clusterView
	metrics  ports.Metrics
	log      *zap.Logger

	noted noteGate // refusals noted lately
}

// HandleAction applies an approve / deny / manual resolve delivered by the
// pager (SPEC §6). It returns an outcome, a final result error (see
// domain.ActionStatus: the answer for good, nothing changed) or a transient
// error; a delivery that failed transiently is forgotten so the pager's
// retry works. Every final result is logged and counted, and noted on the
// incident where one was named.
func (h *actions) HandleAction(ctx context.Context, a domain.Action) (domain.Outcome, error) {
	log := h.log.With(zap.String("delivery_id", a.DeliveryID), zap.String("verb", a.Verb.String()),
		zap.String("pd_incident_id", a.IncidentID), zap.String("pd_user_id", a.ActorID))
	now := h.now()
	if !a.OccurredAt.IsZero() && now.Sub(a.OccurredAt) > h.window {
		err := fmt.Errorf("%w (%s)", domain.ErrDeliveryTooOld, a.OccurredAt.UTC().Format("2006-01-02T15:04:05Z"))
		h.report(ctx, a, 0, err, "", log)
		return 0, err
	}
	if len(a.ReplayKeys) == 0 {
		h.report(ctx, a, 0, domain.ErrNoReplayKey, "", log)
		return 0, domain.ErrNoReplayKey
	}
	// An event dated ahead of this clock stays remembered until it is too
	// old, so its replay is never taken as new. The sum saturates: a date
	// centuries ahead must not wrap to a TTL the store refuses.
	ttl := h.window + min(max(0, a.OccurredAt.Sub(now)), math.MaxInt64-h.window)
	fresh, err := h.rememberDelivery(ctx, a.ReplayKeys, ttl)
	if err != nil {
		return 0, fmt.Errorf("%w: replay store: %w", ports.ErrUnavailable, err)
	}
	if fresh == nil {
		h.metrics.Action(a.Verb, ports.ActionReplayed)
		log.Info("delivery replayed; ignored", zap.String("outcome", "replayed"))
		return domain.OutcomeReplayed, nil
	}
	out, email, err := h.handle(ctx, a, log)
	if _, final := domain.ActionStatus(out, err); !final {
		h.forgetDelivery(context.WithoutCancel(ctx), fresh, log)
	}
	h.report(ctx, a, out, err, email, log)
	return out, err
}

// rememberDelivery remembers every replay key; it returns the keys it
// stored, or nil when one of them was seen before (a replay).
func (h *actions) rememberDelivery(ctx context.Context, keys []string, ttl time.Duration) ([]string, error) {
	var fresh []string
	replay := false
	for _, k := range keys {
		ok, err := h.dedup.Remember(ctx, "delivery/"+k, ttl)
		if err != nil {
			h.forgetDelivery(context.WithoutCancel(ctx), fresh, h.log)
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

func (h *actions) forgetDelivery(ctx context.Context, keys []string, log *zap.Logger) {
	for _, k := range keys {
		if err := h.dedup.Forget(ctx, "delivery/"+k); err != nil {
			log.Warn("delivery key not forgotten; a retry will be taken as a replay", zap.Error(err))
		}
	}
}

// report logs and counts the result of an action and, for a final result
// that changed nothing, notes why on the incident the delivery named.
func (h *actions) report(ctx context.Context, a domain.Action, out domain.Outcome, err error, email string, log *zap.Logger) {
	status, final := domain.ActionStatus(out, err)
	switch {
	case !final:
		h.metrics.Action(a.Verb, ports.ActionFailed) // the webhook logs it with its answer
		return
	case err == nil:
		if out == domain.OutcomeIgnored {
			h.metrics.Action(a.Verb, ports.ActionResult(status))
		}
		return // done and replayed are counted, and all are logged, where they happen
	}
	h.metrics.Action(a.Verb, ports.ActionResult(status))
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
	if !h.noted.admit(key, h.now()) {
		return
	}
	if nerr := h.pager.AddNote(ctx, a.IncidentID, domain.RefusalNote(a, email, err)); nerr != nil {
		log.Warn("refusal note not posted", zap.Error(nerr))
		if !errors.Is(nerr, ports.ErrRefused) { // refused for good: no use sending it again
			h.noted.forget(key)
		}
	}
}

// handle decides and applies one fresh action: it gathers the facts (the
// request and service the incident was opened for, the actors, whether
// the actor is on call), lets domain.Policy decide, and acts. It returns
// the actor's email once known, for the note.
func (h *actions) handle(ctx context.Context, a domain.Action, log *zap.Logger) (domain.Outcome, string, error) {
	if a.Verb == domain.VerbManualResolve && h.policy.OnManualResolve != domain.ManualResolveDeny {
		log.Info("incident resolved in the pager; nothing to do", zap.String("outcome", "ignored"))
		return domain.OutcomeIgnored, "", nil
	}
	t, err := h.lookups.target(ctx, a.IncidentID)
	if a.Verb == domain.VerbManualResolve && errors.Is(err, domain.ErrUnknownIncident) {
		return domain.OutcomeIgnored, "", nil // any other incident resolved: not ours to mind
	}
	if err != nil {
		return 0, "", err
	}
	log = log.With(zap.String("request_id", t.req.ID))
	a, ok := h.policy.ManualResolveAction(a, t.req)
	if !ok {
		log.Info("incident resolved in the pager; request no longer pending", zap.String("outcome", "ignored"),
			zap.String("request_state", t.req.State.String()))
		return domain.OutcomeIgnored, "", nil
	}
	who, onCall, err := h.lookups.gather(ctx, a, t)
	email := who.Actor.Email
	if err != nil {
		return 0, email, err
	}
	if err := h.policy.AuthorizeAction(a, t.req, who, onCall); err != nil {
		return 0, email, err
	}
	return h.apply(ctx, a, t.req, email, log.With(zap.String("pd_user_email", email)))
}

// apply submits the authorised action's verdict to Teleport.
func (h *actions) apply(ctx context.Context, a domain.Action, req domain.Request, email string, log *zap.Logger) (domain.Outcome, string, error) {
	v := h.policy.ActionVerdict(a, req, email, h.cluster.mode())
	switch err := h.teleport.Resolve(ctx, v); {
	case err == nil:
	case errors.Is(err, ports.ErrAlreadyResolved), errors.Is(err, ports.ErrAlreadyReviewed):
		return 0, email, fmt.Errorf("%w: %w", domain.ErrNotPending, err)
	default:
		return 0, email, fmt.Errorf("submit %s: %w", v.State.Word(), err)
	}
	h.metrics.Action(a.Verb, ports.ActionDone)
	log.Info("pager action applied", zap.String("decision", a.Verb.String()), zap.String("outcome", "done"),
		zap.String("reason", v.Reason), zap.String("approval_mode", string(v.Mode)))
	return domain.OutcomeDone, email, nil
}
