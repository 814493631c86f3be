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

func TestPluginDataCompareAndSwap(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	a := newClient(t, srv, "replica-a", teleporttest.AllPerms)
	b := newClient(t, srv, "replica-b", teleporttest.AllPerms)
	ctx := ctxT(t)
	id := mustCreate(t, srv, "alice", []string{"dev"})

	got, err := a.GetPluginData(ctx, id)
	if err != nil || len(got) != 0 {
		t.Fatalf("GetPluginData(untouched) = %v, %v; want empty, nil", got, err)
	}
	if err := a.UpdatePluginData(ctx, id, map[string]string{"incident_id": "P1", "user": "alice"}, nil); err != nil {
		t.Fatalf("first write: %v", err)
	}
	// b still believes there is no data.
	if err := b.UpdatePluginData(ctx, id, map[string]string{"incident_id": "P2"}, nil); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("stale write from nothing = %v, want ErrConflict", err)
	}
	cur, err := b.GetPluginData(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"incident_id": "P1", "user": "alice"}
	if d := cmp.Diff(want, cur); d != "" {
		t.Fatalf("data after conflict (-want +got):\n%s", d)
	}
	// Full replacement: "user" is dropped.
	next := map[string]string{"incident_id": "P1", "resolution": "approved"}
	if err := b.UpdatePluginData(ctx, id, next, cur); err != nil {
		t.Fatalf("write with fresh expectation: %v", err)
	}
	if d := cmp.Diff(next, srv.PluginData(id)); d != "" {
		t.Errorf("stored data (-want +got):\n%s", d)
	}
	// a's view is stale now.
	if err := a.UpdatePluginData(ctx, id, map[string]string{"incident_id": "P3"}, want); !errors.Is(err, ports.ErrConflict) {
		t.Errorf("stale write = %v, want ErrConflict", err)
	}
	// Another writer adds a key a does not know about: a write from a's
	// expectation that names that key fails.
	if err := srv.SetPluginData(id, map[string]string{"incident_id": "P1", "resolution": "approved", "reviews_count": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := a.UpdatePluginData(ctx, id, map[string]string{"reviews_count": "2"}, next); !errors.Is(err, ports.ErrConflict) {
		t.Errorf("write over an unseen key = %v, want ErrConflict", err)
	}
	if n := srv.Counts().UpdatePluginData; n != 5 {
		t.Errorf("UpdatePluginData calls = %d, want 5", n)
	}

	if err := srv.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetPluginData(ctx, id); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetPluginData(deleted) = %v, want ErrNotFound", err)
	}
	if err := a.UpdatePluginData(ctx, id, map[string]string{"x": "y"}, nil); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("UpdatePluginData(deleted) = %v, want ErrNotFound", err)
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
		Delegator: domain.Delegator("bob@example.com"),
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
		{"get plugin data", func() error { _, err := c.GetPluginData(ctx, id); return err }(), PermPluginData},
		{"update plugin data", c.UpdatePluginData(ctx, id, map[string]string{"a": "b"}, nil), PermPluginUpdate},
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
