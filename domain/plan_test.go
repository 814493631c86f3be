package domain

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlan(t *testing.T) {
	p := DefaultPolicy()
	ann := map[string][]string{"pagerduty_notify_service": {"A", "B"}}
	pend := pending("alice@example.com", []string{"db"}, ann)
	withRev := pend
	withRev.Reviews = []Review{{Author: "bob", State: StateApproved}, {Author: "carol", State: StateApproved}}
	approved := withRev
	approved.State = StateApproved
	inc := []IncidentRef{{Service: "a", IncidentID: "1"}, {Service: "B", IncidentID: "2"}}
	tests := []struct {
		name   string
		req    Request
		rec    Record
		routed []string
		want   Effect
	}{
		{"first incident", pend, Record{}, nil, Effect{Kind: EffectOpenIncident, Service: "A"}},
		{"second incident (case-insensitive match)", pend, Record{Incidents: inc[:1]}, nil, Effect{Kind: EffectOpenIncident, Service: "B"}},
		{"then approval", pend, Record{Incidents: inc}, nil, Effect{Kind: EffectAutoApprove}},
		{"then nothing", pend, Record{Incidents: inc, ApprovalDone: true}, nil, Effect{}},
		{"reviews in order", withRev, Record{Incidents: inc, ApprovalDone: true, ReviewsNoted: 1}, nil, Effect{Kind: EffectNoteReview, Review: 1}},
		{"reviews before resolution", approved, Record{Incidents: inc, ApprovalDone: true}, nil, Effect{Kind: EffectNoteReview, Review: 0}},
		{"resolution", approved, Record{Incidents: inc, ReviewsNoted: 2}, nil, Effect{Kind: EffectResolve}},
		{"resolved request opens nothing", approved, Record{}, nil, Effect{Kind: EffectResolve}},
		{"done", approved, Record{Incidents: inc, Resolution: StateApproved}, nil, Effect{}},
		{"no incidents: no review notes", func() Request { r := withRev; r.Annotations = nil; return r }(), Record{ApprovalDone: true}, nil, Effect{}},
		{"rule services after the annotation's", pend, Record{Incidents: inc}, []string{"b", "R"}, Effect{Kind: EffectOpenIncident, Service: "R"}},
		{"rule services only while pending", approved, Record{Incidents: inc, ReviewsNoted: 2}, []string{"R"}, Effect{Kind: EffectResolve}},
	}
	for _, tt := range tests {
		if got := p.Plan(tt.req, tt.rec, tt.routed); got != tt.want {
			t.Errorf("%s: Plan() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestPlanDefaultService: the default service is the fallback of a
// request nothing routes and that has no incident yet.
func TestPlanDefaultService(t *testing.T) {
	p := DefaultPolicy()
	p.DefaultNotifyService = "Fallback"
	bare := pending("alice@example.com", []string{"db"}, nil)
	tests := []struct {
		name   string
		rec    Record
		routed []string
		want   Effect
	}{
		{"default service when nothing routes", Record{}, nil, Effect{Kind: EffectOpenIncident, Service: "Fallback"}},
		{"rules replace the default", Record{}, []string{"R"}, Effect{Kind: EffectOpenIncident, Service: "R"}},
		{"no default once paged by a rule that stopped matching", Record{Incidents: []IncidentRef{{Service: "R", IncidentID: "3"}}}, nil, Effect{Kind: EffectAutoApprove}},
		{"a rule that starts matching adds its service", Record{Incidents: []IncidentRef{{Service: "Fallback", IncidentID: "4"}}}, []string{"R"}, Effect{Kind: EffectOpenIncident, Service: "R"}},
	}
	for _, tt := range tests {
		if got := p.Plan(bare, tt.rec, tt.routed); got != tt.want {
			t.Errorf("%s: Plan() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEffectKeysAndApply(t *testing.T) {
	for _, e := range []Effect{{}, {Kind: EffectOpenIncident, Service: "My Svc"}, {Kind: EffectAutoApprove}, {Kind: EffectNoteReview, Review: 3}, {Kind: EffectResolve}, {Kind: EffectLock}} {
		if got := ParseEffect(e.String()); got != e {
			t.Errorf("ParseEffect(%q) = %v", e.String(), got)
		}
	}
	if (Effect{}).String() != "none" || ParseEffect("") != (Effect{}) {
		t.Error("empty effect misread")
	}
	for _, name := range []string{"review:x", "review:-1", "escalate"} {
		if got := ParseEffect(name); got.Kind != EffectUnknown {
			t.Errorf("ParseEffect(%q) = %v, want an unknown effect (it still holds its lease)", name, got)
		}
	}
	req := pending("alice@example.com", []string{"db"}, nil)
	rec := Apply(Record{Intent: Intent{Effect: Effect{Kind: EffectResolve}, Owner: "x"}}, req, Effect{Kind: EffectOpenIncident, Service: "A"}, Result{Incident: IncidentRef{Service: "A", IncidentID: "1"}}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectOpenIncident, Service: "A"}, Result{Incident: IncidentRef{Service: "A", IncidentID: "2"}}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectAutoApprove}, Result{}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectNoteReview, Review: 0}, Result{}, t0)
	req.State, req.ResolveReason = StateDenied, "nope"
	rec = Apply(rec, req, Effect{Kind: EffectResolve}, Result{}, t0)
	want := Record{RequestID: "req-1", User: "alice@example.com", Roles: []string{"db"}, Created: t0,
		Incidents: []IncidentRef{{Service: "A", IncidentID: "1"}}, ApprovalDone: true, ReviewsNoted: 1,
		Resolution: StateDenied, ResolveReason: "nope", Updated: t0}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("Apply() diff:\n%s", diff)
	}
	if !(OnCall{}).ActiveAt(t0) {
		t.Error("permanent on-call entry must be active")
	}
}

// The reference plugin records its incident by service ID. Opening in the
// named notify service finds that same incident (incident_key dedup):
// the record names it, it does not hold it twice, or its notes and its
// resolution would be posted twice.
func TestApplyNamesAnIncidentKnownByServiceID(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	ref := Record{Incidents: []IncidentRef{{Service: "PS1", ServiceID: "PS1", IncidentID: "PI1"}}}
	rec := Apply(ref, req, Effect{Kind: EffectOpenIncident, Service: "Ops"},
		Result{Incident: IncidentRef{Service: "Ops", ServiceID: "PS1", IncidentID: "PI1"}}, t0)
	want := []IncidentRef{{Service: "Ops", ServiceID: "PS1", IncidentID: "PI1"}}
	if diff := cmp.Diff(want, rec.Incidents); diff != "" {
		t.Errorf("Apply() incidents diff:\n%s", diff)
	}
	if ref.Incidents[0].Service != "PS1" {
		t.Error("Apply() changed the record it was given")
	}
	rec = Apply(rec, req, Effect{Kind: EffectOpenIncident, Service: "Other"},
		Result{Incident: IncidentRef{Service: "Other", ServiceID: "PS2", IncidentID: "PI2"}}, t0)
	if len(rec.Incidents) != 2 || rec.Incidents[1].IncidentID != "PI2" {
		t.Errorf("a second service's incident: %+v", rec.Incidents)
	}
}

// One pager incident may serve two notify services (an Opsgenie alert for
// a schedule and a team share an alias). Both services stay in the record:
// renaming the first entry would drop its service, which the next plan
// would open again, and again, without end.
func TestApplyKeepsTwoServicesOfOneIncident(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	rec := Apply(Record{}, req, Effect{Kind: EffectOpenIncident, Service: "ops"},
		Result{Incident: IncidentRef{Service: "ops", ServiceID: "team-1", IncidentID: "A1"}}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectOpenIncident, Service: "ops_schedule"},
		Result{Incident: IncidentRef{Service: "ops_schedule", ServiceID: "sched-1", IncidentID: "A1"}}, t0)
	want := []IncidentRef{
		{Service: "ops", ServiceID: "team-1", IncidentID: "A1"},
		{Service: "ops_schedule", ServiceID: "sched-1", IncidentID: "A1"},
	}
	if diff := cmp.Diff(want, rec.Incidents); diff != "" {
		t.Errorf("Apply() incidents diff:\n%s", diff)
	}
	for _, svc := range []string{"ops", "ops_schedule"} {
		if _, ok := rec.Incident(svc); !ok {
			t.Errorf("record lost the incident of %q: %+v", svc, rec.Incidents)
		}
	}
}

// A resolve's intent carries the resolution (the reference plugin reads it
// as "resolved already"), yet the record is done only once the result
// cleared the intent.
func TestClaimRecordsTheResolutionWithTheResolve(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	req.State, req.ResolveReason = StateDenied, "no"
	rec := Record{Incidents: []IncidentRef{{Service: "A", ServiceID: "PS1", IncidentID: "PI1"}}}
	claimed := Claim(rec, req, Effect{Kind: EffectResolve}, "host-1", t0)
	if claimed.Resolution != StateDenied || claimed.ResolveReason != "no" || claimed.Intent.Owner != "host-1" {
		t.Errorf("Claim(resolve) = %+v", claimed)
	}
	if claimed.Done() {
		t.Error("a record with a resolve in flight is done")
	}
	if got := (DefaultPolicy()).Plan(req, claimed, nil); got.Kind != EffectResolve {
		t.Errorf("Plan() on an interrupted resolve = %v, want resolve", got)
	}
	if !Apply(claimed, req, Effect{Kind: EffectResolve}, Result{}, t0).Done() {
		t.Error("record not done after the resolve")
	}
	other := Claim(rec, req, Effect{Kind: EffectNoteReview}, "host-1", t0)
	if other.Resolution != StateUnknown {
		t.Errorf("Claim(note) recorded a resolution: %+v", other)
	}
	if !(Record{Resolution: StateApproved, Intent: Intent{Effect: Effect{Kind: EffectNoteReview}}}).Done() {
		t.Error("a resolution with another intent (the reference resolved) is not done")
	}
}
