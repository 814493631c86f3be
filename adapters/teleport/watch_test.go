package teleport

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func TestWatchBacklogThenEventsInOrder(t *testing.T) {
	srv := newServer(t, teleporttest.Options{Enterprise: true})
	created := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	expires := created.Add(4 * time.Hour)
	r1 := mustCreate(t, srv, "alice@example.com", []string{"db-admin", "auditor"},
		teleporttest.WithReason("incident 42"),
		teleporttest.WithAnnotations(map[string][]string{"pagerduty_notify_service": {"Teleport"}}),
		teleporttest.WithSuggestedReviewers("bob@example.com"),
		teleporttest.WithResources("/teleport.test/node/db-1"),
		teleporttest.WithCreated(created),
		teleporttest.WithAccessExpiry(expires))
	r2 := mustCreate(t, srv, "carol", []string{"dev"})
	done := mustCreate(t, srv, "dave", []string{"dev"})
	if err := srv.Deny(done, "erin", "no"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	events := watching(t, c)

	synced := nextKind(t, events, domain.EventSynced)
	if got, want := pendingIDs(synced), map[string]bool{r1: true, r2: true}; !cmp.Equal(got, want) {
		t.Fatalf("synced pending = %v, want %v", got, want)
	}
	var got domain.Request
	for _, r := range synced.Pending.Requests() {
		if r.ID == r1 {
			got = r
		}
	}
	want := domain.Request{
		ID:                 r1,
		User:               "alice@example.com",
		Roles:              []string{"auditor", "db-admin"},
		Resources:          []string{"/teleport.test/node/db-1"},
		Reason:             "incident 42",
		Created:            created,
		Expires:            expires,
		State:              domain.StatePending,
		SuggestedReviewers: []string{"bob@example.com"},
		Annotations:        map[string][]string{"pagerduty_notify_service": {"Teleport"}},
	}
	stored, err := srv.Get(r1)
	if err != nil {
		t.Fatal(err)
	}
	want.RequestExpires = stored.Expiry().UTC()
	if want.RequestExpires.IsZero() {
		t.Error("the request's own expiry is not set")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("converted request (-want +got):\n%s", d)
	}

	r3 := mustCreate(t, srv, "frank", []string{"ops"})
	if err := srv.Approve(r3, "grace", "looks fine"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Delete(r1); err != nil {
		t.Fatal(err)
	}

	ev := nextKind(t, events, domain.EventPut)
	if ev.Request.ID != r3 || ev.Request.State != domain.StatePending {
		t.Errorf("1st event = %s %v, want %s PENDING", ev.Request.ID, ev.Request.State, r3)
	}
	ev = nextKind(t, events, domain.EventPut)
	if ev.Request.ID != r3 || ev.Request.State != domain.StateApproved || ev.Request.ResolveReason != "looks fine" {
		t.Errorf("2nd event = %s %v %q, want %s APPROVED", ev.Request.ID, ev.Request.State, ev.Request.ResolveReason, r3)
	}
	if len(ev.Request.Reviews) != 1 || ev.Request.Reviews[0].Author != "grace" ||
		ev.Request.Reviews[0].State != domain.StateApproved || ev.Request.Reviews[0].Reason != "looks fine" ||
		ev.Request.Reviews[0].Created.IsZero() {
		t.Errorf("reviews = %+v, want one APPROVED by grace", ev.Request.Reviews)
	}
	ev = nextKind(t, events, domain.EventDelete)
	if ev.RequestID != r1 {
		t.Errorf("delete event for %s, want %s", ev.RequestID, r1)
	}
}

func TestWatchReconnectsAfterRestartWithOutageBacklog(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	before := mustCreate(t, srv, "alice", []string{"dev"})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	events := watching(t, c)
	if got := pendingIDs(nextKind(t, events, domain.EventSynced)); !got[before] || len(got) != 1 {
		t.Fatalf("first sync = %v, want only %s", got, before)
	}

	srv.Stop()
	disc := nextKind(t, events, domain.EventDisconnected)
	if disc.Err == nil {
		t.Error("EventDisconnected without an error")
	}
	during := mustCreate(t, srv, "bob", []string{"ops"})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Failed attempts during the outage are not reported again.
	got := pendingIDs(nextKind(t, events, domain.EventSynced))
	if want := map[string]bool{before: true, during: true}; !cmp.Equal(got, want) {
		t.Errorf("sync after restart = %v, want %v", got, want)
	}
	after := mustCreate(t, srv, "carol", []string{"ops"})
	if ev := nextKind(t, events, domain.EventPut); ev.Request.ID != after {
		t.Errorf("put after reconnect for %s, want %s", ev.Request.ID, after)
	}
}

func TestWatchDroppedStreamReconnects(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	events := watching(t, c)
	nextKind(t, events, domain.EventSynced)
	if err := srv.WaitWatchers(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}

	srv.DropStreams()
	disc := nextKind(t, events, domain.EventDisconnected)
	if !errors.Is(disc.Err, ports.ErrUnavailable) {
		t.Errorf("disconnect error = %v, want ErrUnavailable", disc.Err)
	}
	nextKind(t, events, domain.EventSynced)
	if err := srv.WaitWatchers(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if n := srv.Counts().WatchEvents; n != 2 {
		t.Errorf("WatchEvents calls = %d, want 2", n)
	}
}

func TestWatchWithoutReadPermissionKeepsRetrying(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.Perms{PluginData: true})
	events := watching(t, c)
	disc := nextKind(t, events, domain.EventDisconnected)
	var pe *ports.PermissionError
	if !errors.As(disc.Err, &pe) || pe.Permission != PermRead {
		t.Fatalf("disconnect error = %v, want PermissionError for %q", disc.Err, PermRead)
	}
	// Once granted, the next attempt syncs; the failures in between are
	// reported once.
	srv.AddUser("pagergate", teleporttest.AllPerms)
	nextKind(t, events, domain.EventSynced)
}
