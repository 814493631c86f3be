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

// approver is the auto-approval effect (SPEC §4): it gathers the on-call
// facts, lets domain.Policy decide, and approves in Teleport with a note.
type approver struct {
	policy   domain.Policy
	now      func() time.Time
	onCall   ports.OnCall
	teleport ports.AccessRequests // Resolve
	notes    noter
	cluster  *clusterView
	metrics  ports.Metrics
	log      *zap.Logger
}

// skipped wraps a reason the request is left for humans before any
// decision: a result (recorded, not retried), not a failure.
type skipped struct{ reason error }

func (s skipped) Error() string { return s.reason.Error() }

// approve applies SPEC §4. A skip is a result; a lookup failure is an
// error (fail closed, retried while pending). It returns the shift the
// grant is bound to (SPEC §17), zero when it is not.
func (a *approver) approve(ctx context.Context, req domain.Request, rec domain.Record, recovering bool) (domain.Shift, error) {
	log := a.log.With(zap.String("request_id", req.ID), zap.String("requester", req.User))
	email, facts, err := a.gather(ctx, req, log)
	if email != "" {
		log = log.With(zap.String("pd_user_email", email))
	}
	if skip := (skipped{}); errors.As(err, &skip) {
		a.metrics.Approval(ports.ApprovalSkipped)
		log.Info("request left for humans", zap.String("decision", "skip"), zap.String("reason", skip.Error()))
		return domain.Shift{}, nil
	}
	if err != nil {
		a.metrics.Approval(ports.ApprovalLookupFailed)
		return domain.Shift{}, err
	}
	appr, err := a.policy.DecideApproval(facts)
	if err != nil {
		log.Info("request left for humans", zap.String("decision", "skip"), zap.String("reason", err.Error()))
		a.metrics.Approval(ports.ApprovalNotOnCall)
		return domain.Shift{}, nil
	}
	shift := a.policy.BindShift(appr, facts, req)
	ours, err := a.act(ctx, req, rec, appr, shift, recovering, log)
	if err != nil || !ours || !shift.Bound() {
		return domain.Shift{}, err
	}
	log.Info("access bound to the on-call shift", zap.Time("shift_end", shift.End))
	return shift, nil
}

// gather looks up what the decision needs: the requester's pager user,
// the approval services and the on-calls now (never cached), and the
// active incidents when the policy asks for one. It returns the email
// looked up, or a skipped reason, or the lookup's error.
func (a *approver) gather(ctx context.Context, req domain.Request, log *zap.Logger) (string, domain.OnCallFacts, error) {
	cand, err := a.policy.PrecheckApproval(req)
	if err != nil {
		return "", domain.OnCallFacts{}, skipped{err}
	}
	user, err := a.onCall.FindUserByEmail(ctx, cand.Email)
	if errors.Is(err, ports.ErrNotFound) {
		return cand.Email, domain.OnCallFacts{}, skipped{domain.ErrNoPagerUser}
	}
	if err != nil {
		return cand.Email, domain.OnCallFacts{}, fmt.Errorf("find pager user: %w", err)
	}
	facts := domain.OnCallFacts{User: user, Now: a.now()}
	policies, err := a.services(ctx, cand.Services, &facts, log.With(zap.String("pd_user_email", cand.Email)))
	if err != nil {
		return cand.Email, facts, err
	}
	if len(policies) == 0 {
		return cand.Email, facts, skipped{domain.ErrNotOnCall}
	}
	if facts.OnCalls, err = a.onCall.OnCallsNow(ctx, user.ID, policies); err != nil {
		return cand.Email, facts, fmt.Errorf("on-calls of %s: %w", cand.Email, err)
	}
	if a.policy.RequireActiveIncident {
		ids := make([]string, len(facts.Services))
		for i, s := range facts.Services {
			ids[i] = s.ID
		}
		if facts.Incidents, err = a.onCall.ActiveIncidents(ctx, user.ID, ids); err != nil {
			return cand.Email, facts, fmt.Errorf("active incidents of %s: %w", cand.Email, err)
		}
	}
	return cand.Email, facts, nil
}

// services looks up the approval services into facts and returns their
// escalation policies. An unknown service is counted and left out.
func (a *approver) services(ctx context.Context, names []string, facts *domain.OnCallFacts, log *zap.Logger) ([]string, error) {
	var policies []string
	for _, name := range names {
		s, err := a.onCall.FindService(ctx, name)
		if errors.Is(err, ports.ErrNotFound) {
			a.metrics.Approval(ports.ApprovalUnknownService)
			log.Warn("approval service not found", zap.String("pd_service", name))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find approval service %q: %w", name, err)
		}
		facts.Services = append(facts.Services, s)
		if s.EscalationPolicyID != "" && !slices.Contains(policies, s.EscalationPolicyID) {
			policies = append(policies, s.EscalationPolicyID)
		}
	}
	return policies, nil
}

// act approves in Teleport (already reviewed or resolved is fine) and
// notes the approval on the incidents. ours says the grant may be this
// approval's: Teleport took it, or already holds this plugin's review, or
// the request was already resolved while an approval of ours was
// recorded as under way (a crash after approving). Binding a grant a human
// made at the same time to the shift errs on the side of less access.
func (a *approver) act(ctx context.Context, req domain.Request, rec domain.Record, appr domain.Approval, shift domain.Shift,
	recovering bool, log *zap.Logger) (ours bool, err error) {
	v := a.policy.ApprovalVerdict(req.ID, appr, a.cluster.mode())
	switch err := a.teleport.Resolve(ctx, v); {
	case err == nil:
		ours = true
	case errors.Is(err, ports.ErrAlreadyReviewed):
		ours = true
		log.Info("approval already submitted", zap.Error(err))
	case errors.Is(err, ports.ErrAlreadyResolved):
		ours = recovering
		log.Info("request already resolved", zap.Error(err))
	default:
		a.metrics.Approval(ports.ApprovalFailed)
		return false, fmt.Errorf("approve: %w", err)
	}
	a.metrics.Approval(ports.ApprovalApproved)
	log.Info("request auto-approved", zap.String("decision", "approve"), zap.String("reason", appr.Reason),
		zap.String("approval_mode", string(v.Mode)))
	note := domain.ApprovalNote(appr)
	if ours && shift.Bound() {
		note += "\n" + domain.ShiftBoundNote(shift)
	}
	_, err = a.notes.postAll(ctx, rec, note, domain.ApprovalMarker, recovering)
	return ours, err
}
