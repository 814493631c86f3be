package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIncidentContent(t *testing.T) {
	r := Request{ID: "4f1c", User: "alice@example.com", Roles: []string{"db", "web"}, Reason: "fix prod",
		Resources: []string{"/cl/node/n1"}, Created: t0, Expires: t0.Add(time.Hour), SuggestedReviewers: []string{"bob"}}
	c := Cluster{Name: "prod", ProxyAddr: "https://teleport.example.com:443/"}
	spec := NewIncidentSpec(r, c, "PS1", IncidentOptions{Urgency: "high"})
	want := IncidentSpec{
		ServiceID: "PS1", Key: "teleport-access-request/4f1c", Urgency: "high",
		Title: "Access request from alice@example.com for db, web",
		Details: "User: alice@example.com\nRoles: db, web\nResources: /cl/node/n1\nReason: fix prod\n" +
			"Created: 2026-11-21T10:00:00Z\nExpires: 2026-11-21T11:00:00Z\nCluster: prod\nRequest ID: 4f1c\n" +
			"Suggested reviewers: bob\nLink: https://teleport.example.com:443/web/requests/4f1c",
	}
	if diff := cmp.Diff(want, spec); diff != "" {
		t.Errorf("NewIncidentSpec() diff:\n%s", diff)
	}
	if got := Details(Request{ID: "x"}, Cluster{}); strings.Contains(got, "Link") {
		t.Errorf("Details without proxy address has a link: %q", got)
	}
	long := Title(Request{User: strings.Repeat("é", 300)})
	if n := len([]rune(long)); n != MaxTitleLen {
		t.Errorf("Title length = %d, want %d", n, MaxTitleLen)
	}
	if got := RequestLink("proxy:3080", "id"); got != "https://proxy:3080/web/requests/id" {
		t.Errorf("RequestLink = %q", got)
	}
}

// A huge reason is cut in the incident, which says so, names the limit and
// the full length, and points to Teleport for the rest.
func TestIncidentDetailsCapTheReason(t *testing.T) {
	reason := strings.Repeat("x", MaxReasonLen+1234)
	got := Details(Request{ID: "4f1c", Reason: reason}, Cluster{ProxyAddr: "teleport.example.com"})
	line := ""
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, "Reason: ") {
			line = strings.TrimPrefix(l, "Reason: ")
		}
	}
	if n := len([]rune(line)); n != MaxReasonLen {
		t.Errorf("reason line holds %d characters, want %d", n, MaxReasonLen)
	}
	wantNote := fmt.Sprintf("Reason cut to %d of %d characters; the full reason is in Teleport.", MaxReasonLen, len(reason))
	if !strings.Contains(got, wantNote) {
		t.Errorf("Details() does not say the reason was cut (want %q):\n%.300s", wantNote, got)
	}
	if len(got) > MaxReasonLen+1000 {
		t.Errorf("Details() is %d bytes for a %d-byte reason", len(got), len(reason))
	}
	if short := Details(Request{ID: "x", Reason: "fix prod"}, Cluster{}); strings.Contains(short, "cut to") {
		t.Errorf("short reason marked as cut: %q", short)
	}
}

func TestKeys(t *testing.T) {
	if got := RequestIDFromKey(IncidentKey("abc")); got != "abc" {
		t.Errorf("RequestIDFromKey(IncidentKey(abc)) = %q", got)
	}
	if got := RequestIDFromKey("other"); got != "" {
		t.Errorf("RequestIDFromKey(other) = %q, want empty", got)
	}
	if !OwnIncident(Incident{Key: IncidentKey("a")}) || OwnIncident(Incident{Key: "x"}) {
		t.Error("OwnIncident misjudges keys")
	}
}

func TestNotes(t *testing.T) {
	rv := Review{Author: "bob", State: StateApproved, Reason: "ok", Created: t0}
	if got, want := ReviewNote(1, rv), "[review #2] Review by bob: APPROVED at 2026-11-21T10:00:00Z\nReason: ok"; got != want {
		t.Errorf("ReviewNote = %q, want %q", got, want)
	}
	if !strings.HasPrefix(ReviewNote(0, rv), ReviewMarker(0)) {
		t.Error("ReviewNote does not start with its marker")
	}
	if got := ResolutionNote(StateExpired, ""); got != "Access request has been expired" {
		t.Errorf("ResolutionNote = %q", got)
	}
	if got := ResolutionNote(StateDenied, "no"); !strings.HasPrefix(got, ResolutionMarker) || !strings.HasSuffix(got, "Reason: no") {
		t.Errorf("ResolutionNote = %q", got)
	}
}

func TestStates(t *testing.T) {
	for _, s := range []State{StatePending, StateApproved, StateDenied, StatePromoted, StateExpired} {
		if got := ParseState(strings.ToLower(s.String())); got != s {
			t.Errorf("ParseState(%q) = %v", s, got)
		}
	}
	if ParseState("bogus") != StateUnknown || State(42).String() != "State(42)" {
		t.Error("unknown states misread")
	}
	if StatePending.Resolved() || !StatePromoted.Resolved() {
		t.Error("Resolved() wrong")
	}
	if ModeAuto.Effective(Cluster{AdvancedWorkflows: true}) != ModeReview || ApprovalMode("").Effective(Cluster{}) != ModeSetState ||
		ModeSetState.Effective(Cluster{AdvancedWorkflows: true}) != ModeSetState {
		t.Error("Effective() wrong")
	}
}

var (
	pdAlice = PagerUser{ID: "PUA", Email: "alice@example.com"}
	pdBob   = PagerUser{ID: "PUB", Email: "bob@example.com"}
)

// by returns the action verb by u on a request whose requester is the
// pager user requester.
func by(verb Verb, u PagerUser) Action { return Action{Verb: verb, ActorID: u.ID} }

func TestAuthorizeActionAllows(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	unmapped := pending("alice", []string{"db"}, nil)
	tests := []struct {
		name   string
		policy Policy
		a      Action
		req    Request
		who    Actors
		onCall bool
	}{
		{"on-call responder approves", DefaultPolicy(), by(VerbApprove, pdBob), req, Actors{pdBob, pdAlice}, true},
		{"any responder under approvers=any", Policy{Approvers: ApproversAny}, by(VerbApprove, pdBob), req, Actors{pdBob, pdAlice}, false},
		{"requester may deny (withdraw) own request", DefaultPolicy(), by(VerbDeny, pdAlice), req, Actors{Actor: pdAlice}, true},
		{"deny of a requester without pager user", DefaultPolicy(), by(VerbDeny, pdBob), unmapped, Actors{Actor: pdBob}, true},
	}
	for _, tt := range tests {
		if err := tt.policy.AuthorizeAction(tt.a, tt.req, tt.who, tt.onCall); err != nil {
			t.Errorf("%s: AuthorizeAction() = %v, want nil", tt.name, err)
		}
	}
}

func TestAuthorizeActionRefuses(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	mapped := pending("gh-alice", []string{"db"}, nil)
	unmapped := pending("alice", []string{"db"}, nil)
	approved := req
	approved.State = StateApproved
	aliceOtherEmail := PagerUser{ID: "PUA", Email: "a.smith@example.com"}
	tests := []struct {
		name   string
		policy Policy
		req    Request
		a      Action
		who    Actors
		onCall bool
		want   error
	}{
		{"self approval", DefaultPolicy(), req, by(VerbApprove, pdAlice), Actors{pdAlice, pdAlice}, true, ErrSelfApproval},
		{"self approval by ID, emails differ", Policy{Approvers: ApproversAny}, mapped, by(VerbApprove, pdAlice), Actors{pdAlice, aliceOtherEmail}, true, ErrSelfApproval},
		{"self approval by email, case differs", Policy{Approvers: ApproversAny}, req, by(VerbApprove, PagerUser{ID: "PUA2", Email: "ALICE@example.com"}), Actors{PagerUser{ID: "PUA2", Email: "ALICE@example.com"}, pdAlice}, true, ErrSelfApproval},
		{"self approval through user_map", Policy{UserMap: map[string]string{"gh-alice": "alice@example.com"}, Approvers: ApproversAny}, mapped, by(VerbApprove, PagerUser{ID: "PUA2", Email: "alice@example.com"}), Actors{PagerUser{ID: "PUA2", Email: "alice@example.com"}, pdBob}, true, ErrSelfApproval},
		{"self approval under approvers=any", Policy{Approvers: ApproversAny}, req, by(VerbApprove, pdAlice), Actors{pdAlice, pdAlice}, true, ErrSelfApproval},
		// user_map sends the requester's name elsewhere; a pager user with
		// the Teleport name's own email is still the requester.
		{"self approval by the Teleport name", Policy{UserMap: map[string]string{"alice@example.com": "a.smith@example.com"}, Approvers: ApproversAny}, req, by(VerbApprove, PagerUser{ID: "PUA2", Email: "Alice@Example.com"}), Actors{PagerUser{ID: "PUA2", Email: "Alice@Example.com"}, PagerUser{ID: "PUA", Email: "a.smith@example.com"}}, true, ErrSelfApproval},
		// The pager answered the mapped email with a user of another
		// email; an actor of that email is the requester too.
		{"self approval by the requester's pager email", Policy{UserMap: map[string]string{"gh-alice": "alice@corp.example.com"}, Approvers: ApproversAny}, mapped, by(VerbApprove, PagerUser{ID: "PUA2", Email: "ALICE@example.com"}), Actors{PagerUser{ID: "PUA2", Email: "ALICE@example.com"}, pdAlice}, true, ErrSelfApproval},
		{"requester resolves to no pager user", Policy{Approvers: ApproversAny}, unmapped, by(VerbApprove, pdAlice), Actors{Actor: pdAlice}, true, ErrRequesterUnmapped},
		{"responder not on call", DefaultPolicy(), req, by(VerbApprove, pdBob), Actors{pdBob, pdAlice}, false, ErrActorNotOnCall},
		{"responder the pager does not know", DefaultPolicy(), req, by(VerbApprove, pdBob), Actors{Requester: pdAlice}, true, ErrActorUnknown},
		{"responder without email", DefaultPolicy(), req, by(VerbApprove, PagerUser{ID: "PUB"}), Actors{PagerUser{ID: "PUB"}, pdAlice}, true, ErrActorUnknown},
		{"looked-up user is not the actor", DefaultPolicy(), req, by(VerbApprove, pdBob), Actors{PagerUser{ID: "PUC", Email: "carol@example.com"}, pdAlice}, true, ErrActorUnknown},
		{"request not pending", DefaultPolicy(), approved, by(VerbApprove, pdBob), Actors{pdBob, pdAlice}, true, ErrNotPending},
	}
	for _, tt := range tests {
		err := tt.policy.AuthorizeAction(tt.a, tt.req, tt.who, tt.onCall)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: AuthorizeAction() = %v, want %v", tt.name, err, tt.want)
		}
	}
	for _, e := range []error{ErrSelfApproval, ErrActorNotOnCall, ErrActorUnknown, ErrRequesterUnmapped, ErrNoReplayKey} {
		if !errors.Is(e, ErrRefused) {
			t.Errorf("%v must wrap ErrRefused", e)
		}
	}
}

func TestActionStatus(t *testing.T) {
	tests := []struct {
		out    Outcome
		err    error
		status string
		final  bool
	}{
		{OutcomeDone, nil, "done", true},
		{OutcomeReplayed, nil, "replayed", true},
		{OutcomeIgnored, nil, "ignored", true},
		{0, fmt.Errorf("ctx: %w", ErrSelfApproval), "refused", true},
		{0, fmt.Errorf("%w: it is approved", ErrNotPending), "not_pending", true},
		{0, ErrDeliveryTooOld, "too_old", true},
		{0, ErrUnknownIncident, "unknown_incident", true},
		{0, ErrForeignIncident, "foreign_incident", true},
		{0, ErrNoActor, "no_actor", true},
		{0, errors.New("teleport unreachable"), "", false},
		{0, nil, "", false},
	}
	for _, tt := range tests {
		status, final := ActionStatus(tt.out, tt.err)
		if status != tt.status || final != tt.final {
			t.Errorf("ActionStatus(%v, %v) = %q, %v; want %q, %v", tt.out, tt.err, status, final, tt.status, tt.final)
		}
	}
}

func TestActionVerdictBoundsTheNote(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	v := DefaultPolicy().ActionVerdict(Action{Verb: VerbApprove, Note: strings.Repeat("é", 5000)}, req, "bob@example.com", ModeSetState)
	if n := len([]rune(v.Reason)); n > 600 {
		t.Errorf("reason of %d runes", n)
	}
}

func TestActionVerdict(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	got := DefaultPolicy().ActionVerdict(Action{Verb: VerbDeny, Note: " not now "}, req, "bob@example.com", ModeSetState)
	want := Verdict{RequestID: "req-1", State: StateDenied, Reason: "Denied in PagerDuty by bob@example.com: not now", Mode: ModeSetState, Delegator: "pagerduty:bob@example.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ActionVerdict() diff:\n%s", diff)
	}
	if got := DefaultPolicy().ActionVerdict(Action{Verb: VerbApprove}, req, "b@x", ModeReview).Reason; got != "Approved in PagerDuty by b@x" {
		t.Errorf("reason = %q", got)
	}
	if got := RefusalNote(Action{Verb: VerbApprove, ActorID: "<b>" + strings.Repeat("x", 1000)}, "", ErrActorUnknown); strings.Contains(got, "<b>") || len(got) > 200 {
		t.Errorf("RefusalNote echoes a delivery's text: %q", got)
	}
	if got := RefusalNote(Action{Verb: VerbApprove, ActorID: "PU9"}, "", ErrActorUnknown); !strings.Contains(got, "user PU9") || !strings.Contains(got, "approve") {
		t.Errorf("RefusalNote = %q", got)
	}
	// The note names the responder as the one who asked, never as if
	// they were the requester.
	if got, want := RefusalNote(Action{Verb: VerbDeny, ActorID: "PU9"}, "carol@example.com", ErrSelfApproval),
		"pagergate refused to deny the access request, as asked by responder carol@example.com: "+ErrSelfApproval.Error(); got != want {
		t.Errorf("RefusalNote = %q, want %q", got, want)
	}
	if got := RefusalNote(Action{Verb: VerbManualResolve, ActorID: "PU9"}, "carol@example.com", ErrRefused); !strings.HasPrefix(got, "pagergate refused to resolve the incident by hand, as asked by responder carol@example.com") {
		t.Errorf("RefusalNote of a manual resolve = %q", got)
	}
	for v, s := range map[Verb]string{VerbApprove: "approve", VerbDeny: "deny", VerbManualResolve: "manual_resolve", Verb(9): "Verb(9)"} {
		if v.String() != s {
			t.Errorf("Verb(%d).String() = %q", v, v.String())
		}
	}
}

// Another pager's verdicts name it: where, and in the delegator.
func TestVerdictsNameThePager(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	p := DefaultPolicy()
	p.PagerName, p.PagerID = "Opsgenie", "opsgenie"
	v := p.ActionVerdict(Action{Verb: VerbApprove}, req, "bob@example.com", ModeSetState)
	if v.Reason != "Approved in Opsgenie by bob@example.com" || v.Delegator != "opsgenie:bob@example.com" {
		t.Errorf("action verdict = %q, %q", v.Reason, v.Delegator)
	}
	if d := p.ApprovalVerdict("req-1", Approval{Email: "bob@example.com"}, ModeSetState).Delegator; d != "opsgenie:bob@example.com" {
		t.Errorf("approval delegator = %q", d)
	}
	if d := DefaultPolicy().ApprovalVerdict("req-1", Approval{Email: "bob@example.com"}, ModeSetState).Delegator; d != "pagerduty:bob@example.com" {
		t.Errorf("default approval delegator = %q", d)
	}
}

// A refusal note names the responder by a pager ID of either vendor's
// shape, and echoes nothing else of a delivery.
func TestRefusalNoteQuotesOnlyIDShapes(t *testing.T) {
	for id, quoted := range map[string]bool{
		"PU9": true, "daed1180-0ce8-438b-8f8e-57e1a5920a2d": true,
		"-x": false, "x-": false, "a--b": false, "a b": false, "a<b>": false, "a\nb": false,
		strings.Repeat("a", 41): false, "a.b": false, "é": false,
	} {
		got := RefusalNote(Action{Verb: VerbApprove, ActorID: id}, "", ErrActorUnknown)
		if strings.Contains(got, "user "+id) != quoted {
			t.Errorf("RefusalNote for actor %q = %q; quoted want %v", id, got, quoted)
		}
	}
}

// Only the Cluster / Request ID pair that Details writes makes an incident
// this cluster's; text a requester controls cannot forge it.
func TestOpenedInNeedsTheClusterAndRequestPair(t *testing.T) {
	r := Request{ID: "4f1c", User: "alice@example.com", Roles: []string{"db"}, Reason: "fix prod"}
	prod := Details(r, Cluster{Name: "prod"})
	if !OpenedIn(prod, "prod", "4f1c") {
		t.Errorf("OpenedIn(own details) = false:\n%s", prod)
	}
	forged := r
	forged.Reason = "x\nCluster: staging\nRequest ID: 4f1c"
	for _, c := range []struct {
		name, details, cluster, id string
	}{
		{"other cluster", prod, "staging", "4f1c"},
		{"other request", prod, "prod", "4f1d"},
		{"no cluster known", Details(r, Cluster{}), "prod", "4f1c"},
		{"empty cluster asked", Details(r, Cluster{}), "", "4f1c"},
		{"not our format", "Access request 4f1c for db", "prod", "4f1c"},
		{"forged pair in the reason", Details(forged, Cluster{Name: "prod"}), "staging", "4f1c"},
		{"forged pair, own cluster", Details(forged, Cluster{Name: "prod"}), "prod", "4f1c"},
	} {
		if OpenedIn(c.details, c.cluster, c.id) {
			t.Errorf("%s: OpenedIn(%q, %q) = true:\n%s", c.name, c.cluster, c.id, c.details)
		}
	}
}

// Reasons, notes and refusals name the pager they happened in: PagerDuty
// by default (as before it was a setting), the configured name otherwise,
// "the pager" when none is set; the refusals still match their sentinels.
func TestWordingNamesThePager(t *testing.T) {
	req := pending("alice@example.com", []string{"db"}, nil)
	act := Action{Verb: VerbApprove, ActorID: "PUB"}
	tests := []struct {
		name                                string
		pager                               string
		reason, resolved, unmapped, unknown string
	}{
		{"default", DefaultPagerName, "Approved in PagerDuty by b@x", "incident resolved in PagerDuty",
			"action refused: the requester has no PagerDuty user, approvals from PagerDuty are refused",
			"action refused: responder is not a PagerDuty user with an email"},
		{"second vendor", "Opsgenie", "Approved in Opsgenie by b@x", "incident resolved in Opsgenie",
			"action refused: the requester has no Opsgenie user, approvals from Opsgenie are refused",
			"action refused: responder is not an Opsgenie user with an email"},
		{"unnamed", "", "Approved in the pager by b@x", "incident resolved in the pager",
			"action refused: the requester has no pager user, approvals from the pager are refused",
			"action refused: responder is not a pager user with an email"},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		p.PagerName, p.Approvers = tt.pager, ApproversAny
		if got := p.ActionVerdict(act, req, "b@x", ModeReview).Reason; got != tt.reason {
			t.Errorf("%s: ActionVerdict().Reason = %q, want %q", tt.name, got, tt.reason)
		}
		if got, ok := p.ManualResolveAction(Action{Verb: VerbManualResolve}, req); !ok || got.Verb != VerbDeny || got.Note != tt.resolved {
			t.Errorf("%s: ManualResolveAction() = %+v, %v; want a denial noted %q", tt.name, got, ok, tt.resolved)
		}
		bob := PagerUser{ID: "PUB", Email: "bob@example.com"}
		err := p.AuthorizeAction(act, req, Actors{Actor: bob}, true)
		if !errors.Is(err, ErrRequesterUnmapped) || !errors.Is(err, ErrRefused) || err.Error() != tt.unmapped {
			t.Errorf("%s: AuthorizeAction(unmapped) = %q, want %q wrapping ErrRequesterUnmapped", tt.name, err, tt.unmapped)
		}
		err = p.AuthorizeAction(act, req, Actors{Requester: bob}, true)
		if !errors.Is(err, ErrActorUnknown) || err.Error() != tt.unknown {
			t.Errorf("%s: AuthorizeAction(unknown actor) = %q, want %q wrapping ErrActorUnknown", tt.name, err, tt.unknown)
		}
	}
	if _, ok := DefaultPolicy().ManualResolveAction(Action{Verb: VerbManualResolve}, approvedReq(req)); ok {
		t.Error("ManualResolveAction() of a resolved request asks for something")
	}
}

func approvedReq(r Request) Request { r.State = StateApproved; return r }
