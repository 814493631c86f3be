package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Shift binds an auto-approved grant to the on-call shift that allowed it
// (SPEC §17, auto_approve.bind_to_shift): when the shift ends, and the
// requester is not on call again by then, the request's access is locked.
type Shift struct {
	// End is when the shift ends: the earliest end among the on-call
	// entries that qualified. Zero: not bound (no entry had an end).
	End time.Time
	// Until is the request's access expiry: the lock expires with it, and
	// after it there is nothing left to lock.
	Until time.Time
	// Locked is when the lock was made; zero while it is not.
	Locked time.Time
	// UserID and Email name the pager user whose shift it is; Policies are
	// the escalation policies of the approval services (an on-call entry
	// in any of them still counts); Services name those services.
	UserID   string
	Email    string
	Policies []string
	Services []string
}

// Bound reports whether the grant ends with a shift.
func (s Shift) Bound() bool { return !s.End.IsZero() }

// IsZero reports whether nothing about a shift is recorded.
func (s Shift) IsZero() bool {
	return s.End.IsZero() && s.Until.IsZero() && s.Locked.IsZero() && s.UserID == "" &&
		s.Email == "" && len(s.Policies) == 0 && len(s.Services) == 0
}

// ShiftStep is what a request's shift binding needs next.
type ShiftStep int

// Shift steps.
const (
	// ShiftNothing: not bound, already locked, never granted, or its
	// access is over.
	ShiftNothing ShiftStep = iota
	// ShiftWait: the shift has not ended yet; wake up at its end.
	ShiftWait
	// ShiftRecheck: the shift's end has come; look at on-call now.
	ShiftRecheck
	// ShiftLock: a lock was decided and its intent recorded; make it.
	ShiftLock
)

// ShiftStep says what the request's shift binding needs at now. A denied
// or promoted request granted nothing to lock; a deleted (EXPIRED) one is
// still locked from what its record holds, as its certificates outlive it.
func (rec Record) ShiftStep(state State, now time.Time) ShiftStep {
	s := rec.Shift
	switch {
	case !s.Bound() || !s.Locked.IsZero():
		return ShiftNothing
	case state == StateDenied || state == StatePromoted:
		return ShiftNothing
	case rec.Intent.Effect.Kind == EffectLock:
		return ShiftLock
	case !s.Until.IsZero() && !now.Before(s.Until):
		return ShiftNothing
	case now.Before(s.End):
		return ShiftWait
	}
	return ShiftRecheck
}

// BindShift returns the shift an approval binds the request to: zero when
// binding is off or no qualifying on-call entry has an end (no limit).
func (p Policy) BindShift(a Approval, f OnCallFacts, r Request) Shift {
	if !p.BindToShift || a.ShiftEnd.IsZero() {
		return Shift{}
	}
	var policies []string
	for _, s := range f.Services {
		if s.EscalationPolicyID != "" && !slices.Contains(policies, s.EscalationPolicyID) {
			policies = append(policies, s.EscalationPolicyID)
		}
	}
	slices.Sort(policies)
	return Shift{End: a.ShiftEnd, Until: r.Expires, UserID: f.User.ID, Email: a.Email,
		Policies: policies, Services: slices.Clone(a.Services)}
}

// ShiftVerdict is what a re-check of on-call at a shift's end found.
type ShiftVerdict struct {
	// OnCall: the user is still on call for one of the shift's policies
	// (at an allowed level), so the access goes on.
	OnCall bool
	// End is, when OnCall, the earliest end of the entries that qualify
	// now; zero when none has an end (no limit any more).
	End time.Time
}

// RecheckShift decides at a shift's end from the user's on-call entries
// now: still on call (an extended or a following shift) moves the end;
// else the access is to be locked.
func (p Policy) RecheckShift(s Shift, onCalls []OnCall, now time.Time) ShiftVerdict {
	var v ShiftVerdict
	for _, oc := range onCalls {
		if oc.UserID != s.UserID || !slices.Contains(s.Policies, oc.EscalationPolicyID) || !oc.ActiveAt(now) {
			continue
		}
		if p.MaxEscalationLevel > 0 && oc.Level > p.MaxEscalationLevel {
			continue
		}
		v.OnCall = true
		v.End = earliestEnd(v.End, oc.End)
	}
	return v
}

// earliestEnd returns the earlier of two ends, a zero end counting as none.
func earliestEnd(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// Lock is a Teleport lock on one access request.
type Lock struct {
	Name      string
	RequestID string
	Message   string
	// Expires is when the lock stops being in force; zero: never.
	Expires time.Time
}

// ShiftLockName is the lock's name for a request: derived from its ID, so
// that a second creation by a peer or after a crash is the same lock.
func ShiftLockName(requestID string) string { return "pagergate-shift-" + requestID }

// ShiftLock returns the lock that ends a request's access with its shift.
func (p Policy) ShiftLock(requestID string, s Shift) Lock {
	return Lock{
		Name:      ShiftLockName(requestID),
		RequestID: requestID,
		Expires:   s.Until,
		Message: fmt.Sprintf("The on-call shift of %s for %s %s ended at %s: access request %s was approved for that shift only (pagergate)",
			s.Email, strings.Join(s.Services, ", "), p.in(), formatTime(s.End), requestID),
	}
}

// ShiftBoundNote is the line an approval note gains when the grant is
// bound to the shift.
func ShiftBoundNote(s Shift) string {
	return fmt.Sprintf("The access ends with this on-call shift, at %s, unless %s is still on call then.", formatTime(s.End), s.Email)
}

// ShiftMarker starts every note of a lock made at a shift's end.
const ShiftMarker = "Access ended with the shift: "

// ShiftNote returns the incident note of a lock made at a shift's end.
func ShiftNote(l Lock, s Shift) string {
	until := "until it is removed"
	if !l.Expires.IsZero() {
		until = "until " + formatTime(l.Expires)
	}
	return fmt.Sprintf("%s%s is no longer on call for %s (shift ended at %s). Teleport lock %s now targets access request %s %s; sessions under it end.",
		ShiftMarker, s.Email, strings.Join(s.Services, ", "), formatTime(s.End), l.Name, l.RequestID, until)
}
