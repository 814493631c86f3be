package pagerduty

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func testSpec(serviceID string) domain.IncidentSpec {
	return domain.IncidentSpec{
		ServiceID: serviceID,
		Key:       domain.IncidentKey("0b8e1b4c-7a4f-4c53-9d3b-2f7e0e7c1a11"),
		Title:     "Access request from alice@example.com for editor",
		Details:   "User: alice@example.com\nRoles: editor",
		Urgency:   "low",
	}
}

func TestEnsureIncidentCreatesThenReusesOpenOne(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	spec := testSpec(svc.ID)

	first, err := h.client.EnsureIncident(t.Context(), spec)
	if err != nil {
		t.Fatalf("EnsureIncident = %v", err)
	}
	want := domain.Incident{ID: first.ID, Key: spec.Key, ServiceID: svc.ID, Status: domain.IncidentTriggered, Title: spec.Title, HTMLURL: first.HTMLURL, AssigneeIDs: first.AssigneeIDs}
	if diff := cmp.Diff(want, first); diff != "" || first.ID == "" {
		t.Errorf("EnsureIncident mismatch (-want +got):\n%s", diff)
	}
	body := h.bodies.last(t, "POST /incidents")
	inc, _ := body["incident"].(map[string]any)
	if inc["type"] != "incident" || inc["incident_key"] != spec.Key || inc["urgency"] != "low" {
		t.Errorf("POST /incidents body = %v, want type incident, the key and urgency low", body)
	}
	if b, _ := inc["body"].(map[string]any); b["type"] != "incident_body" || b["details"] != spec.Details {
		t.Errorf("incident body = %v, want incident_body with the details", inc["body"])
	}
	stored, ok := h.fake.Incident(first.ID)
	if !ok || stored.Details != spec.Details || stored.Urgency != "low" {
		t.Errorf("fake holds %+v, want details and urgency low", stored)
	}

	// Same key again: PagerDuty refuses the duplicate, we return the open one.
	again, err := h.client.EnsureIncident(t.Context(), spec)
	if err != nil {
		t.Fatalf("EnsureIncident again = %v", err)
	}
	if again.ID != first.ID || !again.Existing {
		t.Errorf("EnsureIncident again = %s (existing %v), want the open %s, marked existing", again.ID, again.Existing, first.ID)
	}
	if n := len(h.fake.Incidents()); n != 1 {
		t.Errorf("fake holds %d incidents, want 1", n)
	}
	if got := h.fake.CallsByStatus()["POST /incidents"]; got[201] != 1 || got[400] != 1 {
		t.Errorf("POST /incidents answers = %v, want one 201 and one 400", got)
	}

	// Once resolved, the key is free again.
	if err := h.client.ResolveIncident(t.Context(), first.ID); err != nil {
		t.Fatal(err)
	}
	third, err := h.client.EnsureIncident(t.Context(), spec)
	if err != nil || third.ID == first.ID || third.Existing {
		t.Fatalf("EnsureIncident after resolve = %+v, %v; want a new incident", third, err)
	}
	all, err := h.client.FindIncidents(t.Context(), spec.Key)
	if err != nil || len(all) != 2 {
		t.Fatalf("FindIncidents = %+v, %v; want 2", all, err)
	}
}

func TestEnsureIncidentPriority(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	spec := testSpec(svc.ID)
	spec.Priority = "p2"
	if _, err := h.client.EnsureIncident(t.Context(), spec); err != nil {
		t.Fatalf("EnsureIncident = %v", err)
	}
	inc, _ := h.bodies.last(t, "POST /incidents")["incident"].(map[string]any)
	want := map[string]any{"id": "PPRIO02", "type": "priority_reference"}
	if diff := cmp.Diff(want, inc["priority"]); diff != "" {
		t.Errorf("priority sent (-want +got):\n%s", diff)
	}

	// Priorities are cached; an unknown one opens the incident without it.
	spec.Key = domain.IncidentKey("other")
	spec.Priority = "P9"
	if _, err := h.client.EnsureIncident(t.Context(), spec); err != nil {
		t.Fatalf("EnsureIncident(unknown priority) = %v", err)
	}
	inc, _ = h.bodies.last(t, "POST /incidents")["incident"].(map[string]any)
	if inc["priority"] != nil {
		t.Errorf("priority sent = %v, want none", inc["priority"])
	}
	if n := h.bodies.count("GET /priorities"); n != 1 {
		t.Errorf("GET /priorities calls = %d, want 1", n)
	}
}

func TestGetIncident(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	created, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.client.GetIncident(t.Context(), created.ID)
	if err != nil {
		t.Fatalf("GetIncident = %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("GetIncident mismatch (-created +got):\n%s", diff)
	}
	if _, err := h.client.GetIncident(t.Context(), "PNOTTHERE"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetIncident(unknown) = %v, want ErrNotFound", err)
	}
}

func TestNotes(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"[review #1] Review by bob: APPROVED", "[review #2] Review by carol: DENIED", "Access request has been denied"}
	for _, s := range texts {
		if err := h.client.AddNote(t.Context(), in.ID, s); err != nil {
			t.Fatalf("AddNote = %v", err)
		}
	}
	got, err := h.client.ListNotes(t.Context(), in.ID)
	if err != nil {
		t.Fatalf("ListNotes = %v", err)
	}
	if diff := cmp.Diff(texts, got); diff != "" {
		t.Errorf("ListNotes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(texts, h.fake.Notes(in.ID)); diff != "" {
		t.Errorf("fake notes mismatch (-want +got):\n%s", diff)
	}
	if err := h.client.AddNote(t.Context(), "PNOTTHERE", "x"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("AddNote(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := h.client.ListNotes(t.Context(), "PNOTTHERE"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("ListNotes(unknown) = %v, want ErrNotFound", err)
	}
}

func TestResolveIncident(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.client.ResolveIncident(t.Context(), in.ID); err != nil {
		t.Fatalf("ResolveIncident = %v", err)
	}
	if got, _ := h.fake.Incident(in.ID); got.Status != domain.IncidentResolved {
		t.Errorf("status = %s, want resolved", got.Status)
	}
	// Resolved already (by us or a human): still success.
	if err := h.client.ResolveIncident(t.Context(), in.ID); err != nil {
		t.Errorf("ResolveIncident again = %v, want nil", err)
	}
	if got := h.fake.CallsByStatus()["PUT /incidents"]; got[200] != 1 || got[400] != 1 {
		t.Errorf("PUT /incidents answers = %v, want one 200 and one 400", got)
	}
	if err := h.client.ResolveIncident(t.Context(), "PNOTTHERE"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("ResolveIncident(unknown) = %v, want ErrNotFound", err)
	}
}

// TestWarmPathCalls checks SPEC §12: with warm caches, notify only is one
// PagerDuty call and notify + auto-approval two.
func TestWarmPathCalls(t *testing.T) {
	h := newHarness(t, nil)
	notify := h.fake.AddService("Access Requests")
	h.fake.AddService("Databases")
	u := h.fake.AddUser("alice@example.com", "Alice")
	if err := h.fake.AddOnCall(u.Email, "Databases", 1); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Warm the caches as a first request would.
	if _, err := h.client.FindService(ctx, "Access Requests"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.FindService(ctx, "Databases"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.FindUserByEmail(ctx, u.Email); err != nil {
		t.Fatal(err)
	}

	// Notify only.
	h.fake.ResetCalls()
	svc, err := h.client.FindService(ctx, "access requests")
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(svc.ID)
	spec.Key = domain.IncidentKey("warm-1")
	if _, err := h.client.EnsureIncident(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"POST /incidents": 1}, h.fake.Calls()); diff != "" {
		t.Errorf("notify-only calls (-want +got):\n%s", diff)
	}

	// Notify + auto-approval.
	h.fake.ResetCalls()
	if svc, err = h.client.FindService(ctx, notify.ID); err != nil {
		t.Fatal(err)
	}
	spec.ServiceID, spec.Key = svc.ID, domain.IncidentKey("warm-2")
	if _, err := h.client.EnsureIncident(ctx, spec); err != nil {
		t.Fatal(err)
	}
	user, err := h.client.FindUserByEmail(ctx, "ALICE@example.com")
	if err != nil {
		t.Fatal(err)
	}
	approval, err := h.client.FindService(ctx, "databases")
	if err != nil {
		t.Fatal(err)
	}
	ocs, err := h.client.OnCallsNow(ctx, user.ID, []string{approval.EscalationPolicyID})
	if err != nil || len(ocs) != 1 {
		t.Fatalf("OnCallsNow = %+v, %v; want one entry", ocs, err)
	}
	if diff := cmp.Diff(map[string]int{"POST /incidents": 1, "GET /oncalls": 1}, h.fake.Calls()); diff != "" {
		t.Errorf("notify + approval calls (-want +got):\n%s", diff)
	}
}
