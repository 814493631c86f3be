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

// Action is one approve / deny / resolve delivered by the pager. It holds
// only what the delivery's authenticity covers: which incident, who acted,
// what they asked. The incident's key and service and the actor's email
// are read from the pager, never taken from the delivery's body.
type Action struct {
	// DeliveryID names the delivery in logs.
	DeliveryID string
	// ReplayKeys are remembered for the replay window; a delivery with any
	// key already seen is a replay. They are values the sender cannot
	// change after the fact (SPEC §6): the signed event id of a v3
	// delivery; the message id and X-Webhook-Id of a custom action.
	ReplayKeys []string
	Verb       Verb
	IncidentID string
	// ActorID is the pager user who acted; "" when the delivery names none
	// (a workflow started by automation).
	ActorID    string
	Note       string
	OccurredAt time.Time
}

// Outcome is what handling a pager action did.
type Outcome int

// Action outcomes. Every one but OutcomeDone changed nothing.
const (
	OutcomeDone Outcome = iota + 1
	OutcomeReplayed
	OutcomeIgnored
)

// Final results of pager actions: each changes nothing and is the answer
// for good (the pager must not retry). Every refusal by policy wraps
// ErrRefused.
var (
	ErrRefused      = errors.New("action refused")
	ErrSelfApproval = fmt.Errorf("%w: the requester cannot approve their own request", ErrRefused)
	// ErrRequesterUnmapped: the requester resolves to no pager user, so
	// nobody can tell a responder from the requester; approvals from the
	// pager are refused. AuthorizeAction words it with the pager's name.
	ErrRequesterUnmapped = fmt.Errorf("%w: the requester has no pager user, approvals from the pager are refused", ErrRefused)
	ErrActorNotOnCall    = fmt.Errorf("%w: responder is not on call for the service", ErrRefused)
	// ErrActorUnknown: AuthorizeAction words it with the pager's name.
	ErrActorUnknown = fmt.Errorf("%w: responder is not a pager user with an email", ErrRefused)
	// ErrNoReplayKey: the delivery carries nothing to remember it by, so
	// its replays could not be told apart.
	ErrNoReplayKey = fmt.Errorf("%w: delivery has no id to protect against replays", ErrRefused)

	ErrNotPending      = errors.New("request is not pending")
	ErrDeliveryTooOld  = errors.New("delivery is older than the replay window")
	ErrUnknownIncident = errors.New("incident is not an access request incident")
	// ErrForeignIncident: the incident carries a request's key but is not
	// one pagergate opened for it (not in the record, not in one of the
	// request's notify services). The pager dedups incident_key only per
	// service, so anyone may open such an incident elsewhere.
	ErrForeignIncident = errors.New("incident was not opened by pagergate for this access request")
	ErrNoActor         = errors.New("delivery names no responder")
)

// Actors of a pager action, as the pager knows them. A zero Requester
// (no ID) means the requester resolves to no pager user.
type Actors struct {
	Actor     PagerUser
	Requester PagerUser
}

// AuthorizeAction applies the pager-action policy of SPEC §6. Identity is
// the pager user ID: the actor's ID against the requester's pager user;
// the emails are compared too, as a second line, case-insensitively.
// onCall says whether the actor is on call for the escalation policy of
// the incident's notify service (only read under ApproversOnCall).
func (p Policy) AuthorizeAction(a Action, r Request, who Actors, onCall bool) error {
	if r.State != StatePending {
		return fmt.Errorf("%w: it is %s", ErrNotPending, r.State.Word())
	}
	actor := who.Actor
	if actor.ID == "" || actor.ID != a.ActorID || strings.TrimSpace(actor.Email) == "" {
		return p.worded(ErrActorUnknown)
	}
	if a.Verb == VerbApprove {
		req := who.Requester
		if req.ID == "" {
			return p.worded(ErrRequesterUnmapped)
		}
		if actor.ID == req.ID || sameEmail(actor.Email, req.Email) || sameEmail(actor.Email, r.User) {
			return ErrSelfApproval
		}
		if email, ok := p.PagerEmail(r.User); ok && sameEmail(actor.Email, email) {
			return ErrSelfApproval
		}
	}
	if p.Approvers != ApproversAny && !onCall {
		return ErrActorNotOnCall
	}
	return nil
}

// wordedError is a final result worded with the pager's name; errors.Is
// matches the sentinel it words.
type wordedError struct {
	err  error
	text string
}

func (e *wordedError) Error() string { return e.text }
func (e *wordedError) Unwrap() error { return e.err }

// worded returns err in the pager's words: "the requester has no
// PagerDuty user", not "no pager user".
func (p Policy) worded(err error) error {
	name := p.PagerName
	if name == "" {
		return err
	}
	switch err {
	case ErrRequesterUnmapped:
		return &wordedError{err, fmt.Sprintf("%v: the requester has no %s user, approvals from %s are refused", ErrRefused, name, name)}
	case ErrActorUnknown:
		return &wordedError{err, fmt.Sprintf("%v: responder is not %s %s user with an email", ErrRefused, article(name), name)}
	}
	return err
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func sameEmail(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}

// ManualResolveAction returns what a manual resolve of the request's
// incident asks for under on_manual_resolve = "deny" (SPEC §6a): a denial,
// noted as resolved in the pager, while the request is pending; nothing
// (false) once it is not. Any other action is returned as it is.
func (p Policy) ManualResolveAction(a Action, r Request) (Action, bool) {
	if a.Verb != VerbManualResolve {
		return a, true
	}
	if r.State != StatePending {
		return a, false
	}
	a.Verb = VerbDeny
	if a.Note == "" {
		a.Note = "incident resolved " + p.in()
	}
	return a, true
}

// maxActionNote bounds the responder's note carried into the review reason
// (in runes): a note may be as long as the delivery.
const maxActionNote = 500

// ActionVerdict returns the verdict an authorised action submits; its
// reason says where and by whom ("Approved in PagerDuty by …").
func (p Policy) ActionVerdict(a Action, r Request, actorEmail string, mode ApprovalMode) Verdict {
	st := StateApproved
	word := "Approved"
	if a.Verb != VerbApprove {
		st, word = StateDenied, "Denied"
	}
	reason := fmt.Sprintf("%s %s by %s", word, p.in(), actorEmail)
	if n := strings.TrimSpace(a.Note); n != "" {
		if r := []rune(n); len(r) > maxActionNote {
			n = string(r[:maxActionNote]) + "…"
		}
		reason += ": " + n
	}
	return Verdict{RequestID: r.ID, State: st, Reason: reason, Mode: mode, Delegator: Delegator(p.pagerID(), actorEmail)}
}

// RefusalNote returns the incident note explaining why an action changed
// nothing (a refusal, or any other final result).
func RefusalNote(a Action, actorEmail string, err error) string {
	who := actorEmail
	switch {
	case who != "":
	case pagerIDShape(a.ActorID):
		who = "user " + a.ActorID
	case a.ActorID != "":
		who = "an unknown responder" // the delivery's text is not echoed
	default:
		who = "an unnamed responder"
	}
	what := a.Verb.String() + " the access request"
	if a.Verb == VerbManualResolve {
		what = "resolve the incident by hand"
	}
	// The responder asked; the requester is named by the incident itself.
	return fmt.Sprintf("pagergate refused to %s, as asked by responder %s: %v", what, who, err)
}

// actionStatuses name the final results, most specific first.
var actionStatuses = []struct {
	err    error
	status string
}{
	{ErrRefused, "refused"},
	{ErrNotPending, "not_pending"},
	{ErrDeliveryTooOld, "too_old"},
	{ErrUnknownIncident, "unknown_incident"},
	{ErrForeignIncident, "foreign_incident"},
	{ErrNoActor, "no_actor"},
}

// ActionStatus names what a pager action came to, for answers, logs and
// metrics: done, replayed, ignored, or the final result its error is
// (refused, not_pending, too_old, unknown_incident, foreign_incident,
// no_actor). final is false for an error that is no final result: a
// transient failure the pager should retry.
func ActionStatus(o Outcome, err error) (status string, final bool) {
	if err == nil {
		switch o {
		case OutcomeDone:
			return "done", true
		case OutcomeReplayed:
			return "replayed", true
		case OutcomeIgnored:
			return "ignored", true
		}
		return "", false
	}
	for _, s := range actionStatuses {
		if errors.Is(err, s.err) {
			return s.status, true
		}
	}
	return "", false
}

// pagerIDShape reports whether s looks like a pager ID, safe to quote in
// a note: at most 40 ASCII letters, digits and inner hyphens (short IDs
// such as "PABC123", UUIDs). Nothing else of a delivery is echoed.
func pagerIDShape(s string) bool {
	if s == "" || len(s) > 40 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
