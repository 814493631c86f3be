package pagerduty

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func TestFindService(t *testing.T) {
	h := newHarness(t, nil)
	want := h.fake.AddService("Payments")
	h.fake.AddService("Payments Legacy")
	if want.EscalationPolicyID == "" {
		t.Fatal("the fake gave the service no escalation policy")
	}

	for _, in := range []string{"payments", "PAYMENTS", " Payments ", want.ID} {
		got, err := h.client.FindService(t.Context(), in)
		if err != nil {
			t.Fatalf("FindService(%q) = %v", in, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FindService(%q) mismatch (-want +got):\n%s", in, diff)
		}
	}
	if _, err := h.client.FindService(t.Context(), "Billing"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("FindService(Billing) = %v, want ErrNotFound", err)
	}
	if _, err := h.client.FindService(t.Context(), "PZZZZ99"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("FindService(PZZZZ99) = %v, want ErrNotFound", err)
	}
}

func TestFindServiceByIDCachedAfterName(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Databases")
	if _, err := h.client.FindService(t.Context(), "databases"); err != nil {
		t.Fatal(err)
	}
	before := h.totalCalls()
	got, err := h.client.FindService(t.Context(), svc.ID)
	if err != nil || got != svc {
		t.Fatalf("FindService(%s) = %+v, %v; want %+v", svc.ID, got, err, svc)
	}
	if n := h.totalCalls() - before; n != 0 {
		t.Errorf("FindService by ID after by name made %d calls, want 0 (cached)", n)
	}
}

func TestFindUserByEmailAndGetUser(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.fake.AddUser("Alice@Example.com", "Alice")
	h.fake.AddUser("malice@example.com", "Mal")

	got, err := h.client.FindUserByEmail(t.Context(), "alice@example.COM")
	if err != nil {
		t.Fatalf("FindUserByEmail = %v", err)
	}
	if diff := cmp.Diff(alice, got); diff != "" {
		t.Errorf("FindUserByEmail mismatch (-want +got):\n%s", diff)
	}
	if _, err := h.client.FindUserByEmail(t.Context(), "bob@example.com"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("FindUserByEmail(bob) = %v, want ErrNotFound", err)
	}

	// A fresh client: GetUser must ask PagerDuty.
	h2 := newHarness(t, nil)
	carol := h2.fake.AddUser("carol@example.com", "Carol")
	got, err = h2.client.GetUser(t.Context(), carol.ID)
	if err != nil || got != carol {
		t.Fatalf("GetUser(%s) = %+v, %v; want %+v", carol.ID, got, err, carol)
	}
	if n := h2.calls("GET /users/{id}"); n != 1 {
		t.Errorf("GET /users/{id} calls = %d, want 1", n)
	}
	if _, err := h2.client.GetUser(t.Context(), "PNOUSER"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetUser(unknown) = %v, want ErrNotFound", err)
	}
	before := h2.totalCalls()
	if _, err := h2.client.GetUser(t.Context(), "../abilities"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetUser(../abilities) = %v, want ErrNotFound", err)
	}
	if h2.totalCalls() != before {
		t.Error("GetUser with a malformed ID reached PagerDuty")
	}
}

func TestListsFollowPages(t *testing.T) {
	h := newHarness(t, nil)
	h.client.limit = 2

	// Users: the one we want comes last, after six partial matches.
	for i := range 6 {
		h.fake.AddUser(fmt.Sprintf("x%d.dev@example.com", i), "")
	}
	dev := h.fake.AddUser("dev@example.com", "Dev")
	got, err := h.client.FindUserByEmail(t.Context(), "dev@example.com")
	if err != nil || got != dev {
		t.Fatalf("FindUserByEmail = %+v, %v; want %+v", got, err, dev)
	}
	if n := h.calls("GET /users"); n < 3 {
		t.Errorf("GET /users calls = %d, want >= 3 pages", n)
	}

	// Services likewise.
	for i := range 6 {
		h.fake.AddService(fmt.Sprintf("Search %d", i))
	}
	search := h.fake.AddService("Search")
	svc, err := h.client.FindService(t.Context(), "search")
	if err != nil || svc != search {
		t.Fatalf("FindService = %+v, %v; want %+v", svc, err, search)
	}
	if n := h.calls("GET /services"); n < 3 {
		t.Errorf("GET /services calls = %d, want >= 3 pages", n)
	}

	// Incidents: five with one key (one open at a time).
	spec := domain.IncidentSpec{ServiceID: search.ID, Key: domain.IncidentKey("req-pages"), Title: "t"}
	var ids []string
	for range 5 {
		in, err := h.client.EnsureIncident(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
		if err := h.client.ResolveIncident(t.Context(), in.ID); err != nil {
			t.Fatal(err)
		}
	}
	before := h.calls("GET /incidents")
	found, err := h.client.FindIncidents(t.Context(), spec.Key)
	if err != nil {
		t.Fatal(err)
	}
	var foundIDs []string
	for _, in := range found {
		foundIDs = append(foundIDs, in.ID)
	}
	if diff := cmp.Diff(ids, foundIDs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("FindIncidents IDs mismatch (-want +got):\n%s", diff)
	}
	if n := h.calls("GET /incidents") - before; n != 3 {
		t.Errorf("FindIncidents made %d GET /incidents calls, want 3 pages of 2", n)
	}

	// Active incidents assigned to a user, over pages.
	for range 5 {
		if _, err := h.fake.AddIncident(fakepd.IncidentSeed{Service: "Search", Assignees: []string{"dev@example.com"}}); err != nil {
			t.Fatal(err)
		}
	}
	active, err := h.client.ActiveIncidents(t.Context(), dev.ID, []string{search.ID})
	if err != nil || len(active) != 5 {
		t.Fatalf("ActiveIncidents = %d incidents, %v; want 5", len(active), err)
	}
}

func TestOnCallsNow(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Infra")
	h.fake.AddService("Web")
	u := h.fake.AddUser("oncall@example.com", "")
	if err := h.fake.AddOnCall(u.Email, "Infra", 2); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.AddOnCall(u.Email, "Web", 1); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := h.fake.AddOnCallWindow(u.Email, "Infra", 1, now.Add(-time.Hour), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	got, err := h.client.OnCallsNow(t.Context(), u.ID, []string{svc.EscalationPolicyID, svc.EscalationPolicyID})
	if err != nil {
		t.Fatalf("OnCallsNow = %v", err)
	}
	if n := h.calls("GET /oncalls"); n != 1 {
		t.Errorf("GET /oncalls calls = %d, want 1", n)
	}
	levels := map[int]domain.OnCall{}
	for _, oc := range got {
		if oc.UserID != u.ID || oc.EscalationPolicyID != svc.EscalationPolicyID {
			t.Errorf("OnCallsNow returned %+v, want only user %s on policy %s", oc, u.ID, svc.EscalationPolicyID)
		}
		levels[oc.Level] = oc
	}
	if len(levels) != 2 {
		t.Fatalf("OnCallsNow levels = %v, want 1 and 2", got)
	}
	if p := levels[2]; !p.Start.IsZero() || !p.End.IsZero() {
		t.Errorf("permanent on-call = %+v, want zero start and end", p)
	}
	if w := levels[1]; w.Start.IsZero() || w.End.IsZero() || !w.ActiveAt(now) {
		t.Errorf("windowed on-call = %+v, want a window around now", w)
	}

	// Never cached: asking again asks PagerDuty again.
	if _, err := h.client.OnCallsNow(t.Context(), u.ID, []string{svc.EscalationPolicyID}); err != nil {
		t.Fatal(err)
	}
	if n := h.calls("GET /oncalls"); n != 2 {
		t.Errorf("GET /oncalls calls = %d after the second ask, want 2", n)
	}
	// No policies: nothing to ask.
	if got, err := h.client.OnCallsNow(t.Context(), u.ID, nil); err != nil || len(got) != 0 {
		t.Errorf("OnCallsNow(no policies) = %v, %v; want none", got, err)
	}
}

func TestActiveIncidents(t *testing.T) {
	h := newHarness(t, nil)
	a := h.fake.AddService("Alpha")
	h.fake.AddService("Beta")
	u := h.fake.AddUser("resp@example.com", "")
	h.fake.AddUser("other@example.com", "")
	mine, err := h.fake.AddIncident(fakepd.IncidentSeed{Service: "Alpha", Title: "disk full", Assignees: []string{u.Email}})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []fakepd.IncidentSeed{
		{Service: "Alpha", Title: "done", Status: domain.IncidentResolved, Assignees: []string{u.Email}},
		{Service: "Beta", Title: "elsewhere", Assignees: []string{u.Email}},
		{Service: "Alpha", Title: "not mine", Assignees: []string{"other@example.com"}},
	} {
		if _, err := h.fake.AddIncident(seed); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.client.ActiveIncidents(t.Context(), u.ID, []string{a.ID})
	if err != nil {
		t.Fatalf("ActiveIncidents = %v", err)
	}
	if len(got) != 1 || got[0].ID != mine.ID || got[0].ServiceID != a.ID || !got[0].Active() {
		t.Fatalf("ActiveIncidents = %+v, want only %s", got, mine.ID)
	}
	if len(got[0].AssigneeIDs) != 1 || got[0].AssigneeIDs[0] != u.ID {
		t.Errorf("AssigneeIDs = %v, want [%s]", got[0].AssigneeIDs, u.ID)
	}
}

// TestCacheTTL: users and services are cached for CacheTTL, then looked
// up again.
func TestCacheTTL(t *testing.T) {
	contractRouter(t)
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.CacheTTL = time.Minute })
		u := h.fake.AddUser("cached@example.com", "")
		h.fake.AddService("Cached")

		lookup := func() {
			t.Helper()
			if got, err := h.client.FindUserByEmail(t.Context(), u.Email); err != nil || got != u {
				t.Fatalf("FindUserByEmail = %+v, %v", got, err)
			}
			if _, err := h.client.FindService(t.Context(), "cached"); err != nil {
				t.Fatalf("FindService = %v", err)
			}
			if _, err := h.client.GetUser(t.Context(), u.ID); err != nil {
				t.Fatalf("GetUser = %v", err)
			}
		}
		lookup()
		want := map[string]int{"GET /users": 1, "GET /services": 1}
		if diff := cmp.Diff(want, h.fake.Calls()); diff != "" {
			t.Fatalf("calls after the first lookups (-want +got):\n%s", diff)
		}
		time.Sleep(59 * time.Second)
		lookup()
		if diff := cmp.Diff(want, h.fake.Calls()); diff != "" {
			t.Fatalf("calls within the TTL (-want +got):\n%s", diff)
		}
		time.Sleep(2 * time.Second)
		lookup()
		want = map[string]int{"GET /users": 2, "GET /services": 2}
		if diff := cmp.Diff(want, h.fake.Calls()); diff != "" {
			t.Fatalf("calls after the TTL (-want +got):\n%s", diff)
		}
	})
}
