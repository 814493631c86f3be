package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestPluginDataRoundTrip(t *testing.T) {
	rec := Record{
		RequestID: "r1", User: "alice@example.com", Roles: []string{"db", "web"}, Created: t0, RequestReason: "fix",
		Incidents:    []IncidentRef{{Service: "Ops | Team; 100%", ServiceID: "PS1", IncidentID: "PI1"}, {Service: "B", ServiceID: "PS2", IncidentID: "PI2"}},
		ReviewsNoted: 2, ApprovalDone: true, Resolution: StateDenied, ResolveReason: "no",
		Intent: Intent{Effect: "resolve", Owner: "host-1", At: t0}, Updated: t0.Add(time.Minute),
	}
	m := rec.PluginData()
	if m[KeyIncidentID] != "PI1" || m[KeyServiceID] != "PS1" || m[KeyResolution] != "denied" || m[KeyReviewsCount] != "2" {
		t.Errorf("reference keys wrong: %v", m)
	}
	got, err := RecordFromPluginData("r1", m)
	if err != nil {
		t.Fatalf("RecordFromPluginData() error = %v", err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("round trip diff:\n%s", diff)
	}
	empty, err := RecordFromPluginData("r2", nil)
	if err != nil || empty.RequestID != "r2" || len(empty.PluginData()) != 0 {
		t.Errorf("empty record: %+v, %v", empty, err)
	}
}

func TestPluginDataFromReferencePlugin(t *testing.T) {
	got, err := RecordFromPluginData("r1", map[string]string{
		"incident_id": "PI7", "service_id": "PS7", "user": "alice", "roles": "db", "created": "2026-11-21T10:00:00Z",
		"reviews_count": "1", "resolution": "approved", "resolve_reason": "ok",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Record{RequestID: "r1", User: "alice", Roles: []string{"db"}, Created: t0, ReviewsNoted: 1,
		Incidents: []IncidentRef{{Service: "PS7", ServiceID: "PS7", IncidentID: "PI7"}}, Resolution: StateApproved, ResolveReason: "ok"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diff:\n%s", diff)
	}
	if _, ok := got.Incident("PS7"); !ok {
		t.Error("reference incident not found by service ID")
	}
	other, _ := RecordFromPluginData("r1", map[string]string{"resolution": "something"})
	if !other.Done() {
		t.Error("any resolution value must mean done")
	}
}

func TestPluginDataErrors(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"created":   {KeyCreated: "yesterday"},
		"reviews":   {KeyReviewsCount: "-1"},
		"incidents": {KeyIncidents: "a|b"},
		"intent":    {KeyIntent: "x"},
		"intent ts": {KeyIntent: "x|y|z"},
	} {
		if _, err := RecordFromPluginData("r", m); !errors.Is(err, ErrBadPluginData) {
			t.Errorf("%s: error = %v, want ErrBadPluginData", name, err)
		}
	}
}

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
		name string
		req  Request
		rec  Record
		want Effect
	}{
		{"first incident", pend, Record{}, Effect{Kind: EffectOpenIncident, Service: "A"}},
		{"second incident (case-insensitive match)", pend, Record{Incidents: inc[:1]}, Effect{Kind: EffectOpenIncident, Service: "B"}},
		{"then approval", pend, Record{Incidents: inc}, Effect{Kind: EffectAutoApprove}},
		{"then nothing", pend, Record{Incidents: inc, ApprovalDone: true}, Effect{}},
		{"reviews in order", withRev, Record{Incidents: inc, ApprovalDone: true, ReviewsNoted: 1}, Effect{Kind: EffectNoteReview, Review: 1}},
		{"reviews before resolution", approved, Record{Incidents: inc, ApprovalDone: true}, Effect{Kind: EffectNoteReview, Review: 0}},
		{"resolution", approved, Record{Incidents: inc, ReviewsNoted: 2}, Effect{Kind: EffectResolve}},
		{"resolved request opens nothing", approved, Record{}, Effect{Kind: EffectResolve}},
		{"done", approved, Record{Incidents: inc, Resolution: StateApproved}, Effect{}},
		{"no incidents: no review notes", func() Request { r := withRev; r.Annotations = nil; return r }(), Record{ApprovalDone: true}, Effect{}},
	}
	for _, tt := range tests {
		if got := p.Plan(tt.req, tt.rec); got != tt.want {
			t.Errorf("%s: Plan() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEffectKeysAndApply(t *testing.T) {
	for _, e := range []Effect{{Kind: EffectOpenIncident, Service: "My Svc"}, {Kind: EffectAutoApprove}, {Kind: EffectNoteReview, Review: 3}, {Kind: EffectResolve}} {
		if got := ParseEffect(e.Key()); got != e {
			t.Errorf("ParseEffect(%q) = %v", e.Key(), got)
		}
	}
	if (Effect{}).String() != "none" || ParseEffect("review:x") != (Effect{}) {
		t.Error("empty effect misread")
	}
	req := pending("alice@example.com", []string{"db"}, nil)
	rec := Apply(Record{Intent: Intent{Effect: "x"}}, req, Effect{Kind: EffectOpenIncident, Service: "A"}, IncidentRef{Service: "A", IncidentID: "1"}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectOpenIncident, Service: "A"}, IncidentRef{Service: "A", IncidentID: "2"}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectAutoApprove}, IncidentRef{}, t0)
	rec = Apply(rec, req, Effect{Kind: EffectNoteReview, Review: 0}, IncidentRef{}, t0)
	req.State, req.ResolveReason = StateDenied, "nope"
	rec = Apply(rec, req, Effect{Kind: EffectResolve}, IncidentRef{}, t0)
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

func TestFullPluginDataNamesEveryKey(t *testing.T) {
	m := Record{RequestID: "r", User: "alice"}.FullPluginData()
	if len(m) != len(PluginDataKeys) || m[KeyUser] != "alice" || m[KeyIntent] != "" {
		t.Errorf("FullPluginData() = %v", m)
	}
	if got, err := RecordFromPluginData("r", m); err != nil || got.User != "alice" || got.Intent.Effect != "" {
		t.Errorf("empty values must read as absent: %+v, %v", got, err)
	}
}

// A service name may hold the separators of the stored intent; a peer must
// still read the claim back, or it would ignore it and act twice.
func TestIntentWithSeparatorsRoundTrips(t *testing.T) {
	for _, svc := range []string{"Ops | Platform", "a|b|c", "100% | done;", "%7C"} {
		eff := Effect{Kind: EffectOpenIncident, Service: svc}
		rec := Record{RequestID: "r1", Intent: Intent{Effect: eff.Key(), Owner: "host|1", At: t0}}
		got, err := RecordFromPluginData("r1", rec.PluginData())
		if err != nil {
			t.Errorf("service %q: RecordFromPluginData() error = %v", svc, err)
			continue
		}
		if diff := cmp.Diff(rec.Intent, got.Intent); diff != "" {
			t.Errorf("service %q: intent diff (-want +got):\n%s", svc, diff)
		}
		if back := ParseEffect(got.Intent.Effect); back != eff {
			t.Errorf("service %q: ParseEffect(%q) = %+v, want %+v", svc, got.Intent.Effect, back, eff)
		}
	}
	// An intent written before escaping existed still reads.
	old, err := RecordFromPluginData("r1", map[string]string{KeyIntent: "open:Ops 100%|host-1|1795255200"})
	if err != nil || old.Intent.Effect != "open:Ops 100%" || old.Intent.Owner != "host-1" {
		t.Errorf("unescaped intent = %+v, %v", old.Intent, err)
	}
}

// The request reason is stored cut to MaxReasonLen, with a mark that says
// so; the resolve reason too.
func TestPluginDataCapsReasons(t *testing.T) {
	long := strings.Repeat("ü", MaxReasonLen+500)
	rec := Record{RequestID: "r1", RequestReason: long, ResolveReason: long, Resolution: StateApproved}
	m := rec.PluginData()
	for _, k := range []string{KeyRequestReason, KeyResolveReason} {
		if n := utf8.RuneCountInString(m[k]); n > MaxReasonLen {
			t.Errorf("%s holds %d characters, want at most %d", k, n, MaxReasonLen)
		}
		if !strings.HasPrefix(m[k], strings.Repeat("ü", 100)) || !strings.HasSuffix(m[k], "…") {
			t.Errorf("%s does not keep the start and mark the cut: %.40q…%q", k, m[k], m[k][len(m[k])-8:])
		}
	}
	short := Record{RequestID: "r1", RequestReason: "fix prod"}
	if got := short.PluginData()[KeyRequestReason]; got != "fix prod" {
		t.Errorf("short reason stored as %q", got)
	}
}
