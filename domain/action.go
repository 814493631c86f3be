package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Verb is what a pager action asks for.
type Verb int

// Pager action verbs.
const (
	VerbApprove Verb = iota + 1
	VerbDeny
	// VerbManualResolve: a responder resolved pagergate's incident by hand.
	VerbManualResolve
)

// String names the verb.
func (v Verb) String() string {
	switch v {
	case VerbApprove:
		return "approve"
	case VerbDeny:
		return "deny"
	case VerbManualResolve:
		return "manual_resolve"
	}
	return fmt.Sprintf("Verb(%d)", int(v))
}

// Action is one approve / deny / resolve delivered by the pager.
type Action struct {
	// DeliveryID identifies the delivery for replay protection.
	DeliveryID  string
	Verb        Verb
	IncidentID  string
	IncidentKey string
	// ActorID is the pager user who acted; ActorEmail is filled when the
	// delivery carries it.
	ActorID    string
	ActorEmail string
	Note       string
	OccurredAt time.Time
}

// Outcome is what handling a pager action did.
type Outcome int

// Action outcomes.
const (
	OutcomeDone Outcome = iota + 1
	OutcomeReplayed
	OutcomeIgnored
)

// Errors of pager actions. Every refusal wraps ErrRefused.
var (
	ErrRefused         = errors.New("action refused")
	ErrSelfApproval    = fmt.Errorf("%w: the requester cannot approve their own request", ErrRefused)
	ErrActorNotOnCall  = fmt.Errorf("%w: responder is not on call for the service", ErrRefused)
	ErrActorUnknown    = fmt.Errorf("%w: responder has no email", ErrRefused)
	ErrNotPending      = errors.New("request is not pending")
	ErrDeliveryTooOld  = errors.New("delivery is older than the replay window")
	ErrUnknownIncident = errors.New("incident is not an access request incident")
)

// AuthorizeAction applies the pager-action policy of SPEC §6. onCall says
// whether the actor is on call for the notify service's escalation policy
// (only read under ApproversOnCall).
func (p Policy) AuthorizeAction(a Action, r Request, actorEmail string, onCall bool) error {
	if r.State != StatePending {
		return fmt.Errorf("%w: it is %s", ErrNotPending, r.State.Word())
	}
	if actorEmail == "" {
		return ErrActorUnknown
	}
	if a.Verb == VerbApprove {
		if email, ok := p.PagerEmail(r.User); ok && strings.EqualFold(email, actorEmail) {
			return ErrSelfApproval
		}
		if strings.EqualFold(r.User, actorEmail) {
			return ErrSelfApproval
		}
	}
	if p.Approvers != ApproversAny && !onCall {
		return ErrActorNotOnCall
	}
	return nil
}

// ActionVerdict returns the verdict an authorised action submits.
func ActionVerdict(a Action, r Request, actorEmail string, mode ApprovalMode) Verdict {
	st := StateApproved
	word := "Approved"
	if a.Verb != VerbApprove {
		st, word = StateDenied, "Denied"
	}
	reason := fmt.Sprintf("%s in PagerDuty by %s", word, actorEmail)
	if n := strings.TrimSpace(a.Note); n != "" {
		reason += ": " + n
	}
	return Verdict{RequestID: r.ID, State: st, Reason: reason, Mode: mode, Delegator: Delegator(actorEmail)}
}

// RefusalNote returns the incident note explaining a refused action.
func RefusalNote(a Action, actorEmail string, err error) string {
	who := actorEmail
	if who == "" {
		who = "user " + a.ActorID
	}
	return fmt.Sprintf("pagergate refused to %s the access request for %s: %v", a.Verb, who, err)
}
