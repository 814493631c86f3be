package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Reasons an auto-approval does not happen. They are skip reasons, not
// failures: the request is left for humans.
var (
	ErrAutoApproveDisabled = errors.New("auto-approval is disabled")
	ErrNoApprovalServices  = errors.New("request names no approval services")
	ErrNoPagerEmail        = errors.New("requester has no pager email (not an email and not in user_map)")
	ErrNoPagerUser         = errors.New("requester is not a pager user")
	ErrNotOnCall           = errors.New("requester is not on call for any approval service")
	ErrAboveMaxLevel       = errors.New("requester is on call only above max_escalation_level")
	ErrNoActiveIncident    = errors.New("requester has no active incident in the approval services")
)

// RoleError says a requested role blocks auto-approval.
type RoleError struct {
	Role    string
	Allowed bool // true: not in allowed_roles; false: in denied_roles
}

func (e *RoleError) Error() string {
	if e.Allowed {
		return fmt.Sprintf("role %q is not in allowed_roles", e.Role)
	}
	return fmt.Sprintf("role %q is in denied_roles", e.Role)
}

// ApprovalCandidate is the outcome of the checks that need no lookup: whom
// to look up and in which services.
type ApprovalCandidate struct {
	Email    string
	Services []string
}

// PrecheckApproval applies SPEC §4 rules 1, 2 (the email part) and 5. A nil
// error means the lookups of rules 2–4 are worth doing.
func (p Policy) PrecheckApproval(r Request) (ApprovalCandidate, error) {
	if !p.AutoApprove {
		return ApprovalCandidate{}, ErrAutoApproveDisabled
	}
	svcs := p.ApprovalServices(r)
	if len(svcs) == 0 {
		return ApprovalCandidate{}, ErrNoApprovalServices
	}
	for _, role := range r.Roles {
		if len(p.AllowedRoles) > 0 && !anyRoleMatches(p.AllowedRoles, role, false) {
			return ApprovalCandidate{}, &RoleError{Role: role, Allowed: true}
		}
		if anyRoleMatches(p.DeniedRoles, role, true) {
			return ApprovalCandidate{}, &RoleError{Role: role}
		}
	}
	email, ok := p.PagerEmail(r.User)
	if !ok {
		return ApprovalCandidate{}, ErrNoPagerEmail
	}
	return ApprovalCandidate{Email: email, Services: svcs}, nil
}

// OnCallFacts is what the lookups found for an approval candidate.
type OnCallFacts struct {
	User     PagerUser
	Services []Service
	OnCalls  []OnCall
	// Incidents assigned to the user in the approval services; only read when
	// RequireActiveIncident is set.
	Incidents []Incident
	Now       time.Time
}

// Approval is a positive auto-approval decision.
type Approval struct {
	Email    string
	Services []string // names of the services the user is on call for
	Level    int      // lowest escalation level found
	Reason   string
	// ShiftEnd is the earliest end among the on-call entries that
	// qualified; zero when none has an end.
	ShiftEnd time.Time
}

// DecideApproval applies SPEC §4 rules 3 and 4 to the facts. It returns the
// approval or the reason there is none.
func (p Policy) DecideApproval(f OnCallFacts) (Approval, error) {
	byPolicy := make(map[string][]Service)
	for _, s := range f.Services {
		byPolicy[s.EscalationPolicyID] = append(byPolicy[s.EscalationPolicyID], s)
	}
	var (
		names     []string
		seen      = map[string]bool{}
		best      = -1
		aboveOnly bool
		end       time.Time
	)
	for _, oc := range f.OnCalls {
		if oc.UserID != f.User.ID || !oc.ActiveAt(f.Now) {
			continue
		}
		svcs, ok := byPolicy[oc.EscalationPolicyID]
		if !ok {
			continue
		}
		if p.MaxEscalationLevel > 0 && oc.Level > p.MaxEscalationLevel {
			aboveOnly = true
			continue
		}
		for _, s := range svcs {
			if !seen[s.ID] {
				seen[s.ID] = true
				names = append(names, s.Name)
			}
		}
		if best < 0 || oc.Level < best {
			best = oc.Level
		}
		end = earliestEnd(end, oc.End)
	}
	if len(names) == 0 {
		if aboveOnly {
			return Approval{}, ErrAboveMaxLevel
		}
		return Approval{}, ErrNotOnCall
	}
	if p.RequireActiveIncident && !hasForeignActiveIncident(f) {
		return Approval{}, ErrNoActiveIncident
	}
	sort.Strings(names)
	a := Approval{Email: f.User.Email, Services: names, Level: best, ShiftEnd: end}
	a.Reason = fmt.Sprintf("%s is on call for %s at escalation level %d",
		a.Email, strings.Join(names, ", "), a.Level)
	return a, nil
}

func hasForeignActiveIncident(f OnCallFacts) bool {
	svc := make(map[string]bool, len(f.Services))
	for _, s := range f.Services {
		svc[s.ID] = true
	}
	for _, in := range f.Incidents {
		if !in.Active() || OwnIncident(in) || !svc[in.ServiceID] {
			continue
		}
		for _, a := range in.AssigneeIDs {
			if a == f.User.ID {
				return true
			}
		}
	}
	return false
}

// ApprovalNote returns the incident note of an auto-approval.
func ApprovalNote(a Approval) string { return ApprovalMarker + a.Reason }

// ApprovalVerdict returns the verdict an auto-approval submits.
func (p Policy) ApprovalVerdict(requestID string, a Approval, mode ApprovalMode) Verdict {
	return Verdict{RequestID: requestID, State: StateApproved, Mode: mode,
		Reason: "Auto-approved by pagergate: " + a.Reason, Delegator: Delegator(p.pagerID(), a.Email)}
}
