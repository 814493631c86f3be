package teleport

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func TestGetRequestAndListPending(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	ctx := ctxT(t)
	a := mustCreate(t, srv, "alice", []string{"dev"})
	b := mustCreate(t, srv, "bob", []string{"dev"})
	if err := srv.SetState(b, types.RequestState_PROMOTED, "promoted to access list"); err != nil {
		t.Fatal(err)
	}

	got, err := c.GetRequest(ctx, b)
	if err != nil {
		t.Fatalf("GetRequest: %v", err)
	}
	if got.State != domain.StatePromoted || got.ResolveReason != "promoted to access list" {
		t.Errorf("GetRequest = %v %q, want PROMOTED with its reason", got.State, got.ResolveReason)
	}
	pending, err := c.ListPending(ctx)
	if err != nil {
		t.Fatalf("ListPending: %v", err)
	}
	if len(pending) != 1 || pending[0].ID != a {
		t.Errorf("ListPending = %+v, want only %s", pending, a)
	}
	all, err := c.ListRequests(ctx)
	if err != nil {
		t.Fatalf("ListRequests: %v", err)
	}
	states := map[string]domain.State{}
	for _, r := range all {
		states[r.ID] = r.State
	}
	if len(all) != 2 || states[a] != domain.StatePending || states[b] != domain.StatePromoted {
		t.Errorf("ListRequests = %v, want %s pending and %s promoted", states, a, b)
	}
	if err := srv.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRequest(ctx, a); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetRequest(deleted) = %v, want ErrNotFound", err)
	}
}

// A record write is conditional on the version it was planned on: any
// change a peer made since (to a key the record sets or not, or a key only
// the reference plugin writes) makes it lose, and every write replaces the
// whole record.
func TestRecordCompareAndSwap(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	a := newClient(t, srv, "replica-a", teleporttest.AllPerms)
	b := newClient(t, srv, "replica-b", teleporttest.AllPerms)
	ctx := ctxT(t)
	id := mustCreate(t, srv, "alice", []string{"dev"})

	got, v0, err := a.LoadRecord(ctx, id)
	if err != nil || v0 != "" || got.RequestID != id || len(got.Incidents) != 0 {
		t.Fatalf("LoadRecord(untouched) = %+v, %q, %v; want an empty record at the zero version", got, v0, err)
	}
	first := domain.Record{RequestID: id, User: "alice", Incidents: []domain.IncidentRef{{Service: "Ops", ServiceID: "PS1", IncidentID: "P1"}}}
	v1, err := a.UpdateRecord(ctx, id, v0, first)
	if err != nil {
		t.Fatalf("first write: %v", err)
	}
	// b planned on the empty record.
	if _, err := b.UpdateRecord(ctx, id, v0, domain.Record{RequestID: id, ApprovalDone: true}); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("write planned on nothing = %v, want ErrConflict", err)
	}
	cur, vb, err := b.LoadRecord(ctx, id)
	if err != nil || vb != v1 {
		t.Fatalf("LoadRecord() = %q, %v; want the version the write returned %q", vb, err, v1)
	}
	if d := cmp.Diff(first, cur); d != "" {
		t.Fatalf("record after the conflict (-want +got):\n%s", d)
	}
	// Full replacement: "user" is dropped.
	next := cur
	next.User, next.Resolution = "", domain.StateApproved
	if _, err := b.UpdateRecord(ctx, id, vb, next); err != nil {
		t.Fatalf("write at the current version: %v", err)
	}
	want := map[string]string{KeyIncidentID: "P1", KeyServiceID: "PS1", KeyIncidents: "Ops|PS1|P1", KeyResolution: "approved"}
	if d := cmp.Diff(want, srv.PluginData(id)); d != "" {
		t.Errorf("stored data (-want +got):\n%s", d)
	}
	// a's version is stale now.
	if _, err := a.UpdateRecord(ctx, id, v1, first); !errors.Is(err, ports.ErrConflict) {
		t.Errorf("write at a stale version = %v, want ErrConflict", err)
	}
	// A peer adds a key the record does not set (the reference plugin's
	// count), or one pagergate does not know: a write at the version read
	// before it loses.
	_, vc, _ := a.LoadRecord(ctx, id)
	for _, peer := range []map[string]string{
		{KeyIncidentID: "P1", KeyServiceID: "PS1", KeyIncidents: "Ops|PS1|P1", KeyResolution: "approved", KeyReviewsCount: "1"},
		{KeyIncidentID: "P1", KeyServiceID: "PS1", KeyIncidents: "Ops|PS1|P1", KeyResolution: "approved", "other_key": "x"},
	} {
		if err := srv.SetPluginData(id, peer); err != nil {
			t.Fatal(err)
		}
		if _, err := a.UpdateRecord(ctx, id, vc, next); !errors.Is(err, ports.ErrConflict) {
			t.Errorf("write over the peer's %v = %v, want ErrConflict", peer, err)
		}
		_, vc, _ = a.LoadRecord(ctx, id)
	}
	if _, err := a.UpdateRecord(ctx, id, vc, next); err != nil {
		t.Errorf("write at the version read after the peer: %v", err)
	}
	if got := srv.PluginData(id); got["other_key"] != "" || got[KeyReviewsCount] != "" {
		t.Errorf("a write must replace every key it was planned on: %v", got)
	}
	if _, err := a.UpdateRecord(ctx, id, "not a version", next); err == nil {
		t.Error("write at a version no load returned succeeded")
	}

	if err := srv.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.LoadRecord(ctx, id); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("LoadRecord(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := a.UpdateRecord(ctx, id, "", first); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("UpdateRecord(deleted) = %v, want ErrNotFound", err)
	}
}

func TestResolveByReviewOnEnterprise(t *testing.T) {
	srv := newServer(t, teleporttest.Options{Enterprise: true})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	ctx := ctxT(t)
	id := mustCreate(t, srv, "alice", []string{"dev"})

	v := domain.Verdict{RequestID: id, State: domain.StateApproved, Reason: "alice is on call", Mode: domain.ModeReview}
	if err := c.Resolve(ctx, v); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	r, err := c.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != domain.StateApproved || len(r.Reviews) != 1 || r.Reviews[0].Author != "pagergate" || r.Reviews[0].Reason != "alice is on call" {
		t.Errorf("after review: state %v, reviews %+v; want APPROVED by pagergate", r.State, r.Reviews)
	}
	if err := c.Resolve(ctx, v); !errors.Is(err, ports.ErrAlreadyReviewed) {
		t.Errorf("second review = %v, want ErrAlreadyReviewed", err)
	}

	other := mustCreate(t, srv, "bob", []string{"dev"})
	if err := srv.Deny(other, "carol", "no"); err != nil {
		t.Fatal(err)
	}
	v.RequestID = other
	if err := c.Resolve(ctx, v); !errors.Is(err, ports.ErrAlreadyResolved) {
		t.Errorf("review of a denied request = %v, want ErrAlreadyResolved", err)
	}
	v.RequestID = "3f0c54d4-0000-4000-8000-000000000000"
	if err := c.Resolve(ctx, v); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("review of a missing request = %v, want ErrNotFound", err)
	}
}

func TestResolveBySetStateOnCommunity(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	ctx := ctxT(t)
	id := mustCreate(t, srv, "alice", []string{"dev"})

	review := domain.Verdict{RequestID: id, State: domain.StateApproved, Reason: "on call", Mode: domain.ModeReview}
	var pe *ports.PermissionError
	if err := c.Resolve(ctx, review); !errors.As(err, &pe) || pe.Permission != PermReview {
		t.Errorf("review on Community = %v, want PermissionError for %q", err, PermReview)
	}

	v := domain.Verdict{
		RequestID: id,
		State:     domain.StateDenied,
		Reason:    "Denied in PagerDuty by bob@example.com",
		Mode:      domain.ModeSetState,
		Delegator: domain.Delegator("pagerduty", "bob@example.com"),
	}
	if err := c.Resolve(ctx, v); err != nil {
		t.Fatalf("Resolve(set_state): %v", err)
	}
	r, err := srv.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetState() != types.RequestState_DENIED || r.GetResolveReason() != v.Reason {
		t.Errorf("request = %v %q, want DENIED with the reason", r.GetState(), r.GetResolveReason())
	}
	if got := srv.Delegator(id); got != "pagerduty:bob@example.com" {
		t.Errorf("delegator = %q, want pagerduty:bob@example.com", got)
	}
	v.State = domain.StateApproved
	if err := c.Resolve(ctx, v); !errors.Is(err, ports.ErrAlreadyResolved) {
		t.Errorf("set_state on a denied request = %v, want ErrAlreadyResolved", err)
	}
	if n := srv.Counts().SetAccessRequestState; n != 1 {
		t.Errorf("SetAccessRequestState calls = %d, want 1 (no call for a resolved request)", n)
	}
	v.Mode = domain.ModeAuto
	if err := c.Resolve(ctx, v); err == nil {
		t.Error("Resolve with mode auto succeeded, want an error")
	}
}

func TestMissingPermissions(t *testing.T) {
	srv := newServer(t, teleporttest.Options{Enterprise: true})
	c := newClient(t, srv, "pagergate", teleporttest.Perms{ReadRequests: true})
	ctx := ctxT(t)
	id := mustCreate(t, srv, "alice", []string{"dev"})

	cases := []struct {
		name string
		err  error
		perm string
	}{
		{"set_state", c.Resolve(ctx, domain.Verdict{RequestID: id, State: domain.StateApproved, Mode: domain.ModeSetState}), PermUpdate},
		{"review", c.Resolve(ctx, domain.Verdict{RequestID: id, State: domain.StateApproved, Mode: domain.ModeReview}), PermReview},
		{"load record", func() error { _, _, err := c.LoadRecord(ctx, id); return err }(), PermPluginData},
		{"update record", func() error { _, err := c.UpdateRecord(ctx, id, "", domain.Record{User: "b"}); return err }(), PermPluginUpdate},
	}
	for _, tc := range cases {
		var pe *ports.PermissionError
		if !errors.As(tc.err, &pe) || pe.Permission != tc.perm {
			t.Errorf("%s = %v, want PermissionError for %q", tc.name, tc.err, tc.perm)
		}
	}
	if r, _ := srv.Get(id); r.GetState() != types.RequestState_PENDING {
		t.Errorf("request state = %v after refused calls, want PENDING", r.GetState())
	}
}
