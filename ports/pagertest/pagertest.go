package pagertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Pager is what the suite tests: both pager ports of one adapter.
type Pager interface {
	ports.OnCall
	ports.Pager
}

// Vendor is the vendor's fake behind the adapter under test. The suite
// seeds it and injects failures through it, never through the adapter.
// Its methods fail t on a seeding error.
type Vendor interface {
	// AddUser adds a pager user.
	AddUser(t *testing.T, email, name string)
	// AddService adds a notify service (PagerDuty: a service and its
	// escalation policy; Opsgenie: a schedule) that FindService resolves
	// by name.
	AddService(t *testing.T, name string)
	// PutOnCall puts the user on call now for the service's escalation
	// policy at level (1 = first).
	PutOnCall(t *testing.T, email, service string, level int)
	// AddAssignedIncident opens an incident in the service, by hand, with
	// no key of ours, assigned to (PagerDuty) or owned by (Opsgenie) the
	// user, and returns its ID.
	AddAssignedIncident(t *testing.T, service, email, title string) string
	// ResolveByHand resolves an incident the way a responder does.
	ResolveByHand(t *testing.T, incidentID string)
	// FailNext makes the next n API requests fail with the HTTP status,
	// unserved. A 429 asks to wait at most one second.
	FailNext(t *testing.T, n, status int)
	// LoseNoteAnswer makes the next note write be stored, but answered
	// with status: the client cannot know it worked.
	LoseNoteAnswer(t *testing.T, status int)
	// RefusedNote readies the incident so that the vendor refuses a note
	// for good, the way its documentation says it does, and returns the
	// note's text (PagerDuty: the incident already holds its maximum of
	// notes; Opsgenie: a text over the note length limit).
	RefusedNote(t *testing.T, incidentID string) string
	// Notes returns the texts of an incident's notes as the vendor holds
	// them, oldest first.
	Notes(t *testing.T, incidentID string) []string
	// Requests counts the API requests the vendor received so far.
	Requests() int
}

// Factory builds a new vendor fake and the adapter pointed at it, for one
// case, and registers their cleanup with t. Everything must run in memory
// (no sockets): the cases that wait run the factory inside a
// testing/synctest bubble. The adapter must retry a call at least twice,
// with waits of at most tens of milliseconds, and accept a 429's wait of
// one second.
type Factory func(t *testing.T) (Pager, Vendor)

// Capabilities say where vendors differ legitimately.
type Capabilities struct {
	// OneIncidentPerKey: the vendor keeps one open incident per key in the
	// whole account (Opsgenie's alias), so a request's second service gets
	// the same incident, which it then responds to. False: keys are per
	// service (PagerDuty's incident_key) and each service gets its own
	// incident.
	OneIncidentPerKey bool
	// ResolvedFoundByKey: FindIncidents also returns resolved incidents
	// (PagerDuty). Opsgenie finds alerts by alias only while they are open.
	ResolvedFoundByKey bool
}

// Run runs the conformance suite.
func Run(t *testing.T, f Factory, c Capabilities) {
	cases := []struct {
		name string
		fn   func(t *testing.T, f Factory, c Capabilities)
	}{
		{"FindService", testFindService},
		{"Users", testUsers},
		{"EnsureIncidentIdempotent", testEnsureIdempotent},
		{"DistinctKeys", testDistinctKeys},
		{"KeyAcrossServices", testKeyAcrossServices},
		{"GetIncident", testGetIncident},
		{"FindIncidents", testFindIncidents},
		{"NotesInOrder", testNotesInOrder},
		{"NoteOnUnknownIncident", testNoteUnknown},
		{"ResolveIdempotent", testResolveIdempotent},
		{"ResolvedByHand", testResolvedByHand},
		{"NewIncidentAfterResolve", testNewAfterResolve},
		{"OpenIncidents", testOpenIncidents},
		{"OnCallNowWithLevels", testOnCallLevels},
		{"ActiveIncidents", testActiveIncidents},
		{"TransientErrorsRetried", testTransientRetried},
		{"PersistentErrorsUnavailable", testPersistentUnavailable},
		{"ThrottleRetried", testThrottleRetried},
		{"LostNoteAnswerNotDuplicated", testLostNoteAnswer},
		{"FailedNoteRetried", testFailedNoteRetried},
		{"NoteRefusedForGood", testNoteRefused},
		{"NoteFailingTransientlyNotRefused", testNoteNotRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f, c) })
	}
}

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
	carol = "carol@example.com"
)

// world is a vendor seeded with three users and two services.
type world struct {
	p    Pager
	v    Vendor
	svc  domain.Service
	svc2 domain.Service
}

func newWorld(t *testing.T, f Factory) world {
	t.Helper()
	p, v := f(t)
	v.AddUser(t, alice, "Alice")
	v.AddUser(t, bob, "Bob")
	v.AddUser(t, carol, "Carol")
	v.AddService(t, "Access Requests")
	v.AddService(t, "Databases")
	w := world{p: p, v: v}
	w.svc = must(t, "FindService(Access Requests)", func() (domain.Service, error) { return p.FindService(ctx(t), "Access Requests") })
	w.svc2 = must(t, "FindService(Databases)", func() (domain.Service, error) { return p.FindService(ctx(t), "Databases") })
	return w
}

// spec is what pagergate opens for request id in the service.
func spec(serviceID, requestID string) domain.IncidentSpec {
	return domain.IncidentSpec{
		ServiceID: serviceID,
		Key:       domain.IncidentKey(requestID),
		Title:     "Access request from alice@example.com for db-admin",
		Details:   "User: alice@example.com\nRoles: db-admin\nCluster: test\nRequest ID: " + requestID,
	}
}

func (w world) open(t *testing.T, serviceID, requestID string) domain.Incident {
	t.Helper()
	return must(t, "EnsureIncident", func() (domain.Incident, error) { return w.p.EnsureIncident(ctx(t), spec(serviceID, requestID)) })
}

func must[T any](t *testing.T, what string, fn func() (T, error)) T {
	t.Helper()
	v, err := fn()
	if err != nil {
		t.Fatalf("%s = %v", what, err)
	}
	return v
}

// ctx bounds every call of a case.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("%s = %v, want ErrNotFound", what, err)
	}
}

func testFindService(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	if w.svc.ID == "" || w.svc.Name != "Access Requests" {
		t.Fatalf("FindService(Access Requests) = %+v, want an ID and the name", w.svc)
	}
	if w.svc.EscalationPolicyID == "" {
		t.Errorf("FindService(Access Requests) = %+v, want its escalation policy", w.svc)
	}
	for _, ref := range []string{"access requests", "ACCESS REQUESTS", w.svc.ID} {
		got, err := w.p.FindService(ctx(t), ref)
		if err != nil || got.ID != w.svc.ID {
			t.Errorf("FindService(%q) = %+v, %v; want %s", ref, got, err, w.svc.ID)
		}
	}
	if w.svc2.ID == w.svc.ID {
		t.Errorf("two services share ID %s", w.svc.ID)
	}
	_, err := w.p.FindService(ctx(t), "No Such Service")
	wantNotFound(t, "FindService(unknown)", err)
}

func testUsers(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	u, err := w.p.FindUserByEmail(ctx(t), "Alice@Example.COM")
	if err != nil || u.ID == "" || !strings.EqualFold(u.Email, alice) {
		t.Fatalf("FindUserByEmail(mixed case) = %+v, %v; want alice", u, err)
	}
	got, err := w.p.GetUser(ctx(t), u.ID)
	if err != nil || got.ID != u.ID || !strings.EqualFold(got.Email, alice) {
		t.Errorf("GetUser(%s) = %+v, %v; want alice", u.ID, got, err)
	}
	_, err = w.p.FindUserByEmail(ctx(t), "nobody@example.com")
	wantNotFound(t, "FindUserByEmail(unknown)", err)
	_, err = w.p.GetUser(ctx(t), "UNKNOWN0USER")
	wantNotFound(t, "GetUser(unknown)", err)
}

func testEnsureIdempotent(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	first := w.open(t, w.svc.ID, "req-1")
	second := w.open(t, w.svc.ID, "req-1")
	if first.ID == "" || second.ID != first.ID {
		t.Fatalf("EnsureIncident twice = %s then %s, want one incident", first.ID, second.ID)
	}
	type view struct{ ID, Key, ServiceID, Status string }
	want := view{first.ID, domain.IncidentKey("req-1"), w.svc.ID, domain.IncidentTriggered}
	got := view{second.ID, second.Key, second.ServiceID, second.Status}
	if got != want {
		t.Errorf("EnsureIncident = %+v, want %+v", got, want)
	}
	found := must(t, "FindIncidents", func() ([]domain.Incident, error) { return w.p.FindIncidents(ctx(t), domain.IncidentKey("req-1")) })
	if ids := incidentIDs(found); !slices.Equal(ids, []string{first.ID}) {
		t.Errorf("FindIncidents = %v, want [%s]", ids, first.ID)
	}
}

func testDistinctKeys(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	a, b := w.open(t, w.svc.ID, "req-1"), w.open(t, w.svc.ID, "req-2")
	if a.ID == b.ID {
		t.Errorf("two keys share incident %s", a.ID)
	}
}

func testKeyAcrossServices(t *testing.T, f Factory, c Capabilities) {
	w := newWorld(t, f)
	a := w.open(t, w.svc.ID, "req-1")
	b := w.open(t, w.svc2.ID, "req-1")
	if c.OneIncidentPerKey {
		if b.ID != a.ID {
			t.Fatalf("second service got incident %s, want the key's incident %s", b.ID, a.ID)
		}
		again := w.open(t, w.svc2.ID, "req-1")
		if again.ID != a.ID {
			t.Errorf("EnsureIncident again = %s, want %s", again.ID, a.ID)
		}
		return
	}
	if b.ID == a.ID || b.ServiceID != w.svc2.ID || a.ServiceID != w.svc.ID {
		t.Errorf("incidents = %+v and %+v, want one per service", a, b)
	}
	found := must(t, "FindIncidents", func() ([]domain.Incident, error) { return w.p.FindIncidents(ctx(t), domain.IncidentKey("req-1")) })
	if ids := incidentIDs(found); len(ids) != 2 || !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
		t.Errorf("FindIncidents = %v, want %s and %s", ids, a.ID, b.ID)
	}
}

func testGetIncident(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	got := must(t, "GetIncident", func() (domain.Incident, error) { return w.p.GetIncident(ctx(t), in.ID) })
	if got.ID != in.ID || got.Key != in.Key || got.ServiceID != w.svc.ID || !got.Active() || got.Title != spec("", "req-1").Title {
		t.Errorf("GetIncident = %+v, want the incident opened (%+v)", got, in)
	}
	details := must(t, "IncidentDetails", func() (string, error) { return w.p.IncidentDetails(ctx(t), in.ID) })
	if details != spec("", "req-1").Details {
		t.Errorf("IncidentDetails = %q, want %q", details, spec("", "req-1").Details)
	}
	_, err := w.p.GetIncident(ctx(t), "Q0UNKNOWN0")
	wantNotFound(t, "GetIncident(unknown)", err)
}

func testFindIncidents(t *testing.T, f Factory, c Capabilities) {
	w := newWorld(t, f)
	found := must(t, "FindIncidents(none)", func() ([]domain.Incident, error) { return w.p.FindIncidents(ctx(t), domain.IncidentKey("req-0")) })
	if len(found) != 0 {
		t.Errorf("FindIncidents(unused key) = %v, want none", incidentIDs(found))
	}
	in := w.open(t, w.svc.ID, "req-1")
	if err := w.p.ResolveIncident(ctx(t), in.ID); err != nil {
		t.Fatalf("ResolveIncident = %v", err)
	}
	found = must(t, "FindIncidents(resolved)", func() ([]domain.Incident, error) { return w.p.FindIncidents(ctx(t), in.Key) })
	switch {
	case c.ResolvedFoundByKey && (len(found) != 1 || found[0].ID != in.ID || found[0].Active()):
		t.Errorf("FindIncidents after resolve = %+v, want the resolved incident", found)
	case !c.ResolvedFoundByKey && len(found) != 0:
		t.Errorf("FindIncidents after resolve = %+v, want none (open incidents only)", found)
	}
}

func testNotesInOrder(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	notes := []string{
		"[review #1] Review by bob: APPROVED at 2025-01-02 03:04:05 UTC",
		"Auto-approved: alice is on call\nsecond line, ünïcödé, <b>&amp;</b>",
		"Access request has been APPROVED",
	}
	for _, n := range notes {
		if err := w.p.AddNote(ctx(t), in.ID, n); err != nil {
			t.Fatalf("AddNote(%q) = %v", n, err)
		}
	}
	got := must(t, "ListNotes", func() ([]string, error) { return w.p.ListNotes(ctx(t), in.ID) })
	if !slices.Equal(got, notes) {
		t.Errorf("ListNotes = %q, want %q", got, notes)
	}
	if held := w.v.Notes(t, in.ID); !slices.Equal(held, notes) {
		t.Errorf("vendor holds notes %q, want %q", held, notes)
	}
}

func testNoteUnknown(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	wantNotFound(t, "AddNote(unknown incident)", w.p.AddNote(ctx(t), "Q0UNKNOWN0", "hello"))
	_, err := w.p.ListNotes(ctx(t), "Q0UNKNOWN0")
	wantNotFound(t, "ListNotes(unknown incident)", err)
}

func testResolveIdempotent(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	for i := range 2 {
		if err := w.p.ResolveIncident(ctx(t), in.ID); err != nil {
			t.Fatalf("ResolveIncident #%d = %v, want success", i+1, err)
		}
	}
	got := must(t, "GetIncident", func() (domain.Incident, error) { return w.p.GetIncident(ctx(t), in.ID) })
	if got.Status != domain.IncidentResolved {
		t.Errorf("status after resolve = %q, want resolved", got.Status)
	}
}

func testResolvedByHand(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	w.v.ResolveByHand(t, in.ID)
	if err := w.p.ResolveIncident(ctx(t), in.ID); err != nil {
		t.Errorf("ResolveIncident of an incident resolved by hand = %v, want success", err)
	}
}

func testNewAfterResolve(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	if err := w.p.ResolveIncident(ctx(t), in.ID); err != nil {
		t.Fatalf("ResolveIncident = %v", err)
	}
	again := w.open(t, w.svc.ID, "req-1")
	if again.ID == in.ID || !again.Active() {
		t.Errorf("EnsureIncident after resolve = %+v, want a new open incident (not %s)", again, in.ID)
	}
}

func testOpenIncidents(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	a, b := w.open(t, w.svc.ID, "req-1"), w.open(t, w.svc.ID, "req-2")
	done := w.open(t, w.svc.ID, "req-3")
	other := w.open(t, w.svc2.ID, "req-4")
	if err := w.p.ResolveIncident(ctx(t), done.ID); err != nil {
		t.Fatalf("ResolveIncident = %v", err)
	}
	list, more, err := w.p.OpenIncidents(ctx(t), []string{w.svc.ID}, 10)
	ids := incidentIDs(list)
	if err != nil || more || len(ids) != 2 || !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
		t.Errorf("OpenIncidents = %v, more %v, %v; want %s and %s only (not %s, %s)", ids, more, err, a.ID, b.ID, done.ID, other.ID)
	}
	list, more, err = w.p.OpenIncidents(ctx(t), []string{w.svc.ID}, 1)
	if err != nil || len(list) != 1 || !more {
		t.Errorf("OpenIncidents(max 1) = %v, more %v, %v; want one and more", incidentIDs(list), more, err)
	}
}

func testOnCallLevels(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	w.v.PutOnCall(t, alice, "Access Requests", 1)
	w.v.PutOnCall(t, bob, "Access Requests", 2)
	policy := w.svc.EscalationPolicyID
	for _, tc := range []struct {
		email string
		level int
	}{{alice, 1}, {bob, 2}, {carol, 0}} {
		u := must(t, "FindUserByEmail", func() (domain.PagerUser, error) { return w.p.FindUserByEmail(ctx(t), tc.email) })
		got := must(t, "OnCallsNow", func() ([]domain.OnCall, error) { return w.p.OnCallsNow(ctx(t), u.ID, []string{policy}) })
		if err := checkLevel(got, u.ID, policy, tc.level); err != nil {
			t.Errorf("OnCallsNow(%s) = %+v: %v", tc.email, got, err)
		}
		other := must(t, "OnCallsNow(other)", func() ([]domain.OnCall, error) {
			return w.p.OnCallsNow(ctx(t), u.ID, []string{w.svc2.EscalationPolicyID})
		})
		if len(other) != 0 {
			t.Errorf("OnCallsNow(%s, other policy) = %+v, want none", tc.email, other)
		}
	}
}

// checkLevel checks that the lowest level of the user's entries for the
// policy that are active now is level (0: none).
func checkLevel(entries []domain.OnCall, userID, policy string, level int) error {
	low := 0
	for _, e := range entries {
		if e.UserID != userID || e.EscalationPolicyID != policy || !e.ActiveAt(time.Now()) {
			return fmt.Errorf("entry %+v is not the user's, for the policy, now", e)
		}
		if low == 0 || e.Level < low {
			low = e.Level
		}
	}
	if low != level {
		return fmt.Errorf("lowest level %d, want %d", low, level)
	}
	return nil
}

func testActiveIncidents(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	id := w.v.AddAssignedIncident(t, "Access Requests", alice, "Disk full")
	w.v.AddAssignedIncident(t, "Access Requests", bob, "Queue stuck")
	w.v.AddAssignedIncident(t, "Databases", alice, "Replica lag")
	u := must(t, "FindUserByEmail", func() (domain.PagerUser, error) { return w.p.FindUserByEmail(ctx(t), alice) })
	got := must(t, "ActiveIncidents", func() ([]domain.Incident, error) { return w.p.ActiveIncidents(ctx(t), u.ID, []string{w.svc.ID}) })
	if len(got) != 1 || got[0].ID != id || !got[0].Active() || !slices.Contains(got[0].AssigneeIDs, u.ID) {
		t.Errorf("ActiveIncidents(alice, Access Requests) = %+v, want only %s, assigned to %s", got, id, u.ID)
	}
}

func testTransientRetried(t *testing.T, f Factory, _ Capabilities) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusRequestTimeout} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			w := newWorld(t, f)
			in := w.open(t, w.svc.ID, "req-1")
			w.v.FailNext(t, 2, status)
			before := w.v.Requests()
			got, err := w.p.GetIncident(ctx(t), in.ID)
			if err != nil || got.ID != in.ID {
				t.Fatalf("GetIncident after two %d = %+v, %v; want the retries to succeed", status, got, err)
			}
			if n := w.v.Requests() - before; n < 3 {
				t.Errorf("vendor saw %d requests, want at least 3 (two failed, one served)", n)
			}
		})
	}
}

func testPersistentUnavailable(t *testing.T, f Factory, _ Capabilities) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		w := newWorld(t, f)
		in := w.open(t, w.svc.ID, "req-1")
		w.v.FailNext(t, 1000, status)
		_, err := w.p.GetIncident(ctx(t), in.ID)
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("GetIncident on %d answers = %v, want ErrUnavailable", status, err)
		}
		if errors.Is(err, ports.ErrNotFound) {
			t.Errorf("GetIncident on %d answers = %v, must not be ErrNotFound", status, err)
		}
	}
}

func testThrottleRetried(t *testing.T, f Factory, _ Capabilities) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, f)
		in := w.open(t, w.svc.ID, "req-1")
		w.v.FailNext(t, 1, http.StatusTooManyRequests)
		if got, err := w.p.GetIncident(ctx(t), in.ID); err != nil || got.ID != in.ID {
			t.Errorf("GetIncident after one 429 = %+v, %v; want the retry to succeed", got, err)
		}
		w.v.FailNext(t, 1000, http.StatusTooManyRequests)
		if _, err := w.p.GetIncident(ctx(t), in.ID); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("GetIncident on 429s = %v, want ErrUnavailable", err)
		}
	})
}

func testLostNoteAnswer(t *testing.T, f Factory, _ Capabilities) {
	for _, status := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusRequestTimeout} {
		w := newWorld(t, f)
		in := w.open(t, w.svc.ID, "req-1")
		w.v.LoseNoteAnswer(t, status)
		if err := w.p.AddNote(ctx(t), in.ID, "Access request has been APPROVED"); err != nil {
			t.Errorf("%d after storing: AddNote = %v, want success (the note is there)", status, err)
		}
		if got := w.v.Notes(t, in.ID); len(got) != 1 {
			t.Errorf("%d after storing: notes = %q, want exactly one", status, got)
		}
	}
}

func testFailedNoteRetried(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	w.v.FailNext(t, 1, http.StatusBadGateway)
	if err := w.p.AddNote(ctx(t), in.ID, "[review #1] Review by bob: APPROVED"); err != nil {
		t.Fatalf("AddNote after a 502 that stored nothing = %v, want the retry to succeed", err)
	}
	if got := w.v.Notes(t, in.ID); len(got) != 1 {
		t.Errorf("notes = %q, want exactly one", got)
	}
}

// A note the vendor will never take fails with ErrRefused at once (the
// note sent once, perhaps one read confirming why; no retry), stores
// nothing, and leaves the incident resolvable.
func testNoteRefused(t *testing.T, f Factory, _ Capabilities) {
	w := newWorld(t, f)
	in := w.open(t, w.svc.ID, "req-1")
	text := w.v.RefusedNote(t, in.ID)
	held := len(w.v.Notes(t, in.ID))
	before := w.v.Requests()
	err := w.p.AddNote(ctx(t), in.ID, text)
	if !errors.Is(err, ports.ErrRefused) {
		t.Fatalf("AddNote the vendor refuses for good = %v, want ErrRefused", err)
	}
	if errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrNotFound) {
		t.Errorf("AddNote refused for good = %v, must be neither ErrUnavailable nor ErrNotFound", err)
	}
	if n := w.v.Requests() - before; n < 1 || n > 2 {
		t.Errorf("vendor saw %d requests for a refused note, want the note once and at most one read confirming why (a refusal is not retried)", n)
	}
	if got := len(w.v.Notes(t, in.ID)); got != held {
		t.Errorf("incident holds %d notes after a refused one, want %d", got, held)
	}
	if err := w.p.ResolveIncident(ctx(t), in.ID); err != nil {
		t.Errorf("ResolveIncident after a refused note = %v", err)
	}
}

// A note that fails for as long as the adapter retries (5xx) is
// ErrUnavailable, never ErrRefused: the caller must try it again later.
func testNoteNotRefused(t *testing.T, f Factory, _ Capabilities) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		w := newWorld(t, f)
		in := w.open(t, w.svc.ID, "req-1")
		w.v.FailNext(t, 1000, status)
		err := w.p.AddNote(ctx(t), in.ID, "[review #1] Review by bob: APPROVED")
		if !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrRefused) {
			t.Errorf("AddNote on %d answers = %v, want ErrUnavailable and not ErrRefused", status, err)
		}
	}
}

func incidentIDs(list []domain.Incident) []string {
	out := make([]string, 0, len(list))
	for _, in := range list {
		out = append(out, in.ID)
	}
	return out
}
