package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// EffectKind is a kind of side effect pagergate performs for a request.
type EffectKind int

// Effect kinds, in the order they happen for one request.
const (
	EffectNone EffectKind = iota
	EffectOpenIncident
	EffectAutoApprove
	EffectNoteReview
	EffectResolve
	// EffectLock locks the access of an auto-approved request whose
	// on-call shift ended (SPEC §17). Plan never returns it: the shift's
	// end decides it (Record.ShiftStep, Policy.RecheckShift).
	EffectLock
	// EffectUnknown is an effect this build cannot name, read from a record
	// another version wrote. An intent holding it still holds its lease;
	// Plan never returns it.
	EffectUnknown
)

// Effect is the next thing to do for a request.
type Effect struct {
	Kind    EffectKind
	Service string // EffectOpenIncident: the service as named
	Review  int    // EffectNoteReview: index of the review
}

// String names the effect ("open:<service>", "approve", "review:<n>",
// "resolve", "lock"; "none" for EffectNone), as logs and stored intents show it.
func (e Effect) String() string {
	switch e.Kind {
	case EffectOpenIncident:
		return "open:" + e.Service
	case EffectAutoApprove:
		return "approve"
	case EffectNoteReview:
		return "review:" + strconv.Itoa(e.Review)
	case EffectResolve:
		return "resolve"
	case EffectLock:
		return "lock"
	case EffectUnknown:
		return "unknown"
	}
	return "none"
}

// ParseEffect reads an effect's name as String writes it: EffectNone for
// "" or "none", EffectUnknown for a name it does not know.
func ParseEffect(key string) Effect {
	switch {
	case key == "" || key == "none":
		return Effect{}
	case key == "approve":
		return Effect{Kind: EffectAutoApprove}
	case key == "resolve":
		return Effect{Kind: EffectResolve}
	case key == "lock":
		return Effect{Kind: EffectLock}
	case strings.HasPrefix(key, "open:"):
		return Effect{Kind: EffectOpenIncident, Service: strings.TrimPrefix(key, "open:")}
	case strings.HasPrefix(key, "review:"):
		n, err := strconv.Atoi(strings.TrimPrefix(key, "review:"))
		if err == nil && n >= 0 {
			return Effect{Kind: EffectNoteReview, Review: n}
		}
	}
	return Effect{Kind: EffectUnknown}
}

// Plan returns the next effect for a request given what was already done
// and the services the routing rules add while it is pending (see
// NotifyServices). Calling it again after recording each effect walks a
// request through its whole life: open incidents, decide auto-approval,
// note reviews, resolve.
//
// Rules are evaluated on every pass while the request is pending, so a
// rule that starts matching adds its services; a service once paged stays
// paged. The default service is the fallback of a request with no
// incident yet: a request whose rules stopped matching is not paged there.
func (p Policy) Plan(r Request, rec Record, routed []string) Effect {
	if rec.Done() {
		return Effect{}
	}
	if r.State == StatePending {
		services := p.NotifyServices(r, routed)
		if len(rec.Incidents) > 0 {
			services = p.routedServices(r, routed)
		}
		for _, s := range services {
			if _, ok := rec.Incident(s); !ok {
				return Effect{Kind: EffectOpenIncident, Service: s}
			}
		}
		if !rec.ApprovalDone {
			return Effect{Kind: EffectAutoApprove}
		}
	}
	if len(rec.Incidents) > 0 && rec.ReviewsNoted < len(r.Reviews) {
		return Effect{Kind: EffectNoteReview, Review: rec.ReviewsNoted}
	}
	if r.State.Resolved() {
		return Effect{Kind: EffectResolve}
	}
	return Effect{}
}

// Result is what an effect found out that the record keeps: the incident
// it opened, the shift an approval bound the grant to.
type Result struct {
	Incident IncidentRef
	Shift    Shift
}

// Claim returns the record with the intent to do e recorded. A resolve
// records the request's resolution with it: the reference plugin takes a
// record with a resolution as resolved already, so one still running
// beside pagergate (during a switch) leaves the note and the resolve to
// us instead of doing them a second time. Done stays false while the
// intent is there, so an interrupted resolve is still finished.
func Claim(rec Record, r Request, e Effect, owner string, at time.Time) Record {
	rec.Intent = Intent{Effect: e, Owner: owner, At: at}
	if e.Kind == EffectResolve && r.State.Resolved() {
		rec.Resolution, rec.ResolveReason = r.State, r.ResolveReason
	}
	return rec
}

// Apply returns the record after the effect succeeded.
func Apply(rec Record, r Request, e Effect, result Result, now time.Time) Record {
	rec.RequestID = r.ID
	if rec.User == "" {
		rec.User, rec.Roles, rec.Created, rec.RequestReason = r.User, r.Roles, r.Created, r.Reason
	}
	switch e.Kind {
	case EffectOpenIncident:
		rec.Incidents = withIncident(rec.Incidents, e.Service, result.Incident)
	case EffectAutoApprove:
		rec.ApprovalDone = true
		if !result.Shift.IsZero() {
			rec.Shift = result.Shift
		}
	case EffectNoteReview:
		if e.Review+1 > rec.ReviewsNoted {
			rec.ReviewsNoted = e.Review + 1
		}
	case EffectResolve:
		rec.Resolution = r.State
		rec.ResolveReason = r.ResolveReason
	case EffectLock:
		rec.Shift.Locked = now
	}
	rec.Intent = Intent{}
	rec.Updated = now
	return rec
}

// withIncident returns incs with the incident opened (or found open) in
// a notify service. An incident the record already holds, known by
// service ID only (the reference plugin records it so), gets the
// service's name instead of a second entry: a second entry would have it
// noted and resolved twice. An incident already named for another
// service stays: one pager incident may serve two notify services (an
// Opsgenie alert for a schedule and a team), and renaming it would drop
// the first service from the record, which would then be opened again.
func withIncident(incs []IncidentRef, service string, in IncidentRef) []IncidentRef {
	if _, ok := (Record{Incidents: incs}).Incident(service); ok {
		return incs
	}
	for i, have := range incs {
		idOnly := have.Service == "" || have.Service == have.ServiceID
		if idOnly && in.IncidentID != "" && have.IncidentID == in.IncidentID {
			out := slices.Clone(incs)
			out[i].Service = service
			return out
		}
	}
	return append(slices.Clone(incs), in)
}
