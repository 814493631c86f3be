package domain

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecideApprovalShiftEnd(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name string
		ocs  []OnCall
		want time.Time
	}{
		{"earliest end of the qualifying entries", []OnCall{
			{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, End: t0.Add(3 * h)},
			{UserID: "PU1", EscalationPolicyID: "EP2", Level: 1, End: t0.Add(2 * h)},
		}, t0.Add(2 * h)},
		{"an entry without end does not hide one with an end", []OnCall{
			{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1},
			{UserID: "PU1", EscalationPolicyID: "EP2", Level: 1, End: t0.Add(h)},
		}, t0.Add(h)},
		{"no entry has an end: unbounded", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}}, time.Time{}},
		{"entries that do not qualify do not count", []OnCall{
			{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, End: t0.Add(5 * h)},
			{UserID: "PU1", EscalationPolicyID: "EP1", Level: 4, End: t0.Add(h)},          // above max level
			{UserID: "PU9", EscalationPolicyID: "EP1", Level: 1, End: t0.Add(h)},          // someone else
			{UserID: "PU1", EscalationPolicyID: "EPX", Level: 1, End: t0.Add(h)},          // another policy
			{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, End: t0.Add(-time.Hour)}, // over
		}, t0.Add(5 * h)},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		p.MaxEscalationLevel = 2
		a, err := p.DecideApproval(facts(tt.ocs, nil))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !a.ShiftEnd.Equal(tt.want) {
			t.Errorf("%s: ShiftEnd = %v, want %v", tt.name, a.ShiftEnd, tt.want)
		}
	}
}

func TestBindShift(t *testing.T) {
	f := facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, End: t0.Add(time.Hour)}}, nil)
	req := pending("alice@example.com", []string{"db"}, nil)
	req.Expires = t0.Add(8 * time.Hour)
	p := DefaultPolicy()
	a, err := p.DecideApproval(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.BindShift(a, f, req); !got.IsZero() {
		t.Errorf("bind_to_shift off: BindShift = %+v, want nothing", got)
	}
	p.BindToShift = true
	want := Shift{End: t0.Add(time.Hour), Until: t0.Add(8 * time.Hour), UserID: "PU1", Email: "alice@example.com",
		Policies: []string{"EP1", "EP2"}, Services: []string{"Critical"}}
	if diff := cmp.Diff(want, p.BindShift(a, f, req)); diff != "" {
		t.Errorf("BindShift diff:\n%s", diff)
	}
	a.ShiftEnd = time.Time{}
	if got := p.BindShift(a, f, req); !got.IsZero() || got.Bound() {
		t.Errorf("no end: BindShift = %+v, want nothing (no limit)", got)
	}
}

func TestShiftStep(t *testing.T) {
	bound := Shift{End: t0, Until: t0.Add(time.Hour), UserID: "PU1", Policies: []string{"EP1"}}
	locked := bound
	locked.Locked = t0
	noUntil := bound
	noUntil.Until = time.Time{}
	lockIntent := Intent{Effect: Effect{Kind: EffectLock}, Owner: "peer", At: t0}
	tests := []struct {
		name  string
		rec   Record
		state State
		now   time.Time
		want  ShiftStep
	}{
		{"not bound", Record{}, StateApproved, t0, ShiftNothing},
		{"before the end: wait", Record{Shift: bound}, StateApproved, t0.Add(-time.Second), ShiftWait},
		{"at the end: re-check", Record{Shift: bound}, StateApproved, t0, ShiftRecheck},
		{"pending (review thresholds) is re-checked too", Record{Shift: bound}, StatePending, t0, ShiftRecheck},
		{"deleted: its certificates outlive it", Record{Shift: bound}, StateExpired, t0, ShiftRecheck},
		{"already locked", Record{Shift: locked}, StateApproved, t0, ShiftNothing},
		{"denied: nothing granted", Record{Shift: bound}, StateDenied, t0, ShiftNothing},
		{"promoted: nothing granted", Record{Shift: bound}, StatePromoted, t0, ShiftNothing},
		{"access over", Record{Shift: bound}, StateApproved, t0.Add(time.Hour), ShiftNothing},
		{"no access expiry known", Record{Shift: noUntil}, StateApproved, t0.Add(99 * time.Hour), ShiftRecheck},
		{"lock intent recorded: make it without re-checking", Record{Shift: bound, Intent: lockIntent}, StateApproved, t0.Add(-time.Minute), ShiftLock},
	}
	for _, tt := range tests {
		if got := tt.rec.ShiftStep(tt.state, tt.now); got != tt.want {
			t.Errorf("%s: ShiftStep = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRecheckShift(t *testing.T) {
	s := Shift{End: t0, UserID: "PU1", Policies: []string{"EP1", "EP2"}}
	h := time.Hour
	tests := []struct {
		name string
		ocs  []OnCall
		want ShiftVerdict
	}{
		{"no entries: lock", nil, ShiftVerdict{}},
		{"the ended entry itself: lock", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, Start: t0.Add(-h), End: t0}}, ShiftVerdict{}},
		{"extended: the end moves", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, Start: t0.Add(-h), End: t0.Add(2 * h)}},
			ShiftVerdict{OnCall: true, End: t0.Add(2 * h)}},
		{"a following shift in another approval policy", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP2", Level: 1, Start: t0, End: t0.Add(h)}},
			ShiftVerdict{OnCall: true, End: t0.Add(h)}},
		{"on call with no end: no limit", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP2", Level: 1}}, ShiftVerdict{OnCall: true}},
		{"another policy does not count", []OnCall{{UserID: "PU1", EscalationPolicyID: "EPX", Level: 1, End: t0.Add(h)}}, ShiftVerdict{}},
		{"another user does not count", []OnCall{{UserID: "PU2", EscalationPolicyID: "EP1", Level: 1, End: t0.Add(h)}}, ShiftVerdict{}},
		{"above max level does not count", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 3, End: t0.Add(h)}}, ShiftVerdict{}},
		{"at max level counts", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 2, End: t0.Add(h)}}, ShiftVerdict{OnCall: true, End: t0.Add(h)}},
		{"starting later does not count", []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, Start: t0.Add(time.Minute), End: t0.Add(h)}}, ShiftVerdict{}},
	}
	p := DefaultPolicy()
	p.MaxEscalationLevel = 2
	for _, tt := range tests {
		if got := p.RecheckShift(s, tt.ocs, t0); got != tt.want {
			t.Errorf("%s: RecheckShift = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	// Without max_escalation_level every level counts.
	p.MaxEscalationLevel = 0
	deep := []OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 5, End: t0.Add(h)}}
	if got, want := p.RecheckShift(s, deep, t0), (ShiftVerdict{OnCall: true, End: t0.Add(h)}); got != want {
		t.Errorf("no level cap, level 5: RecheckShift = %+v, want %+v", got, want)
	}
}

func TestShiftLockAndNote(t *testing.T) {
	s := Shift{End: t0, Until: t0.Add(8 * time.Hour), Email: "alice@example.com", Services: []string{"Critical", "Other"}}
	l := DefaultPolicy().ShiftLock("req-1", s)
	if l.Name != ShiftLockName("req-1") || l.Name != "pagergate-shift-req-1" || l.RequestID != "req-1" || !l.Expires.Equal(s.Until) {
		t.Errorf("ShiftLock = %+v", l)
	}
	for _, part := range []string{"alice@example.com", "Critical, Other", "in PagerDuty", "2026-11-21T10:00:00Z", "req-1"} {
		if !strings.Contains(l.Message, part) {
			t.Errorf("lock message %q does not name %q", l.Message, part)
		}
	}
	n := ShiftNote(l, s)
	if !strings.HasPrefix(n, ShiftMarker) {
		t.Errorf("note %q does not start with its marker", n)
	}
	for _, part := range []string{"alice@example.com", "pagergate-shift-req-1", "2026-11-21T18:00:00Z", "Critical, Other"} {
		if !strings.Contains(n, part) {
			t.Errorf("note %q does not name %q", n, part)
		}
	}
	rec := Apply(Record{Shift: s, Intent: Intent{Effect: Effect{Kind: EffectLock}}}, pending("a", nil, nil), Effect{Kind: EffectLock}, Result{}, t0.Add(time.Minute))
	if !rec.Shift.Locked.Equal(t0.Add(time.Minute)) || !rec.Intent.IsZero() || rec.ShiftStep(StateApproved, t0) != ShiftNothing {
		t.Errorf("after the lock: %+v", rec)
	}
	rec = Apply(Record{}, pending("a", nil, nil), Effect{Kind: EffectAutoApprove}, Result{Shift: s}, t0)
	if diff := cmp.Diff(s, rec.Shift); diff != "" || !rec.ApprovalDone {
		t.Errorf("approval does not record its shift:\n%s", diff)
	}
}
