package teleporttest

import (
	"context"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRequestLifecycle(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	id, err := s.CreateRequest("alice", []string{"dev"}, WithReason("why"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPluginData(id, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddReview(id, "alice", types.RequestState_PENDING, ""); !trace.IsBadParameter(err) {
		t.Errorf("review proposing PENDING = %v, want BadParameter", err)
	}
	if err := s.Approve(id, "bob", "ok"); err != nil {
		t.Fatal(err)
	}
	if err := s.Approve(id, "bob", "again"); !trace.IsAccessDenied(err) {
		t.Errorf("second review by bob = %v, want AccessDenied (already reviewed)", err)
	}
	if err := s.Deny(id, "carol", "late"); !trace.IsAccessDenied(err) {
		t.Errorf("review of an approved request = %v, want AccessDenied", err)
	}
	r, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetState() != types.RequestState_APPROVED || r.GetRequestReason() != "why" {
		t.Errorf("request = %v %q, want APPROVED with reason", r.GetState(), r.GetRequestReason())
	}
	if err := s.SetState(id, types.RequestState_DENIED, "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(id, types.RequestState_APPROVED, ""); !trace.IsBadParameter(err) {
		t.Errorf("approving a denied request = %v, want BadParameter", err)
	}
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if s.PluginData(id) != nil {
		t.Error("plugin data survived its request")
	}
	if _, err := s.Get(id); !trace.IsNotFound(err) {
		t.Errorf("Get(deleted) = %v, want NotFound", err)
	}
}

func TestWaitWatchersTimesOut(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitWatchers(ctx, 1); err == nil {
		t.Error("WaitWatchers(1) with no stream = nil, want a timeout")
	}
	if err := s.WaitWatchers(context.Background(), 0); err != nil {
		t.Errorf("WaitWatchers(0) = %v", err)
	}
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Errorf("Restart on the same address: %v", err)
	}
}
