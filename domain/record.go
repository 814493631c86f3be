package domain

import (
	"strings"
	"time"
)

// IncidentRef is one incident opened for a request.
type IncidentRef struct {
	Service    string // as named by the annotation or the default
	ServiceID  string
	IncidentID string
}

// Intent is an effect that was started but whose result is not recorded yet
// (SPEC §7: record the intent, do the effect, record the result).
type Intent struct {
	Effect Effect
	Owner  string // the replica that holds it
	At     time.Time
}

// IsZero reports whether no intent is recorded.
func (in Intent) IsZero() bool { return in.Effect.Kind == EffectNone }

// Record is what pagergate remembers about one request: the cluster-wide
// record kept with the request in Teleport (ports.AccessRequests) and its
// mirror in the local store (ports.Records).
type Record struct {
	RequestID     string
	User          string
	Roles         []string
	Created       time.Time
	RequestReason string

	Incidents    []IncidentRef
	ReviewsNoted int
	// ApprovalDone: the auto-approval decision was taken (approved or skipped).
	ApprovalDone bool
	// Shift is the on-call shift an auto-approval bound the grant to.
	Shift Shift
	// Resolution is set once the incidents were noted and resolved.
	Resolution    State
	ResolveReason string
	Intent        Intent
	Updated       time.Time
}

// Done reports whether nothing is left to do for the request. A resolve in
// flight records the resolution with its intent (see Claim): not done
// until the result clears the intent.
func (r Record) Done() bool {
	return r.Resolution != StateUnknown && r.Intent.Effect.Kind != EffectResolve
}

// Incident returns the incident opened in a service (matched
// case-insensitively by the annotation's name).
func (r Record) Incident(service string) (IncidentRef, bool) {
	for _, in := range r.Incidents {
		if strings.EqualFold(in.Service, service) || in.ServiceID == service {
			return in, true
		}
	}
	return IncidentRef{}, false
}
