package teleport

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// LockRequest makes one lock targeting the request, named by the caller,
// expiring with the request's access; making it again is the same lock.
func TestLockRequest(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	ctx := ctxT(t)
	id := mustCreate(t, srv, "alice", []string{"dev"})
	exp := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	l := domain.Lock{Name: domain.ShiftLockName(id), RequestID: id, Message: "shift over", Expires: exp}
	for range 2 {
		if err := c.LockRequest(ctx, l); err != nil {
			t.Fatalf("LockRequest: %v", err)
		}
	}
	locks := srv.Locks()
	if len(locks) != 1 {
		t.Fatalf("locks = %d, want exactly one after two creations", len(locks))
	}
	got := locks[0]
	if got.GetName() != l.Name || got.Target().AccessRequest != id || got.Message() != "shift over" ||
		got.LockExpiry() == nil || !got.LockExpiry().Equal(exp) || got.CreatedBy() != "pagergate" {
		t.Errorf("lock = %v, want %s targeting %s until %v, created by the plugin", got, l.Name, id, exp)
	}
	if !srv.RequestLocked(id) || srv.RequestLocked("other") {
		t.Error("the lock does not target exactly the request")
	}
	if got := srv.Counts().UpsertLock; got != 2 {
		t.Errorf("UpsertLock calls = %d, want 2", got)
	}
}

// The test server serves locks as the api client calls them: GetLock,
// GetLocks (by target, in force only), DeleteLock, each under its own
// permission, and an expired lock is gone.
func TestLockRPCs(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	admin := newClient(t, srv, "admin", teleporttest.Perms{Locks: true, ReadLocks: true, DeleteLocks: true})
	plain := newClient(t, srv, "plain", teleporttest.Perms{Locks: true})
	ctx := ctxT(t)
	api, err := admin.conn("test")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []domain.Lock{
		{Name: "a", RequestID: "req-a", Message: "a"},
		{Name: "b", RequestID: "req-b", Message: "b", Expires: time.Now().Add(time.Hour)},
		{Name: "gone", RequestID: "req-c", Message: "c", Expires: time.Now().Add(-time.Second)},
	} {
		if err := admin.LockRequest(ctx, l); err != nil {
			t.Fatalf("LockRequest(%s): %v", l.Name, err)
		}
	}
	got, err := api.GetLock(ctx, "b")
	if err != nil || got.Target().AccessRequest != "req-b" {
		t.Errorf("GetLock(b) = %v, %v", got, err)
	}
	if _, err := api.GetLock(ctx, "gone"); !trace.IsNotFound(err) {
		t.Errorf("GetLock(expired) = %v, want NotFound", err)
	}
	all, err := api.GetLocks(ctx, true)
	if err != nil || len(all) != 2 {
		t.Errorf("GetLocks(in force) = %v, %v; want a and b", all, err)
	}
	some, err := api.GetLocks(ctx, false, types.LockTarget{AccessRequest: "req-a"})
	if err != nil || len(some) != 1 || some[0].GetName() != "a" {
		t.Errorf("GetLocks(req-a) = %v, %v; want a", some, err)
	}
	if err := api.DeleteLock(ctx, "a"); err != nil {
		t.Fatalf("DeleteLock: %v", err)
	}
	if err := api.DeleteLock(ctx, "a"); !trace.IsNotFound(err) {
		t.Errorf("second DeleteLock = %v, want NotFound", err)
	}
	papi, err := plain.conn("test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := papi.GetLocks(ctx, false); !trace.IsAccessDenied(err) {
		t.Errorf("GetLocks without lock: read = %v, want AccessDenied", err)
	}
	if err := papi.DeleteLock(ctx, "b"); !trace.IsAccessDenied(err) {
		t.Errorf("DeleteLock without lock: delete = %v, want AccessDenied", err)
	}
}

// Without lock: create, update the lock is refused with the permission
// named, and the probe tells it apart without making a lock.
func TestLockPermission(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	without := newClient(t, srv, "nolocks", teleporttest.Perms{ReadRequests: true, PluginData: true})
	with := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	ctx := ctxT(t)
	err := without.LockRequest(ctx, domain.Lock{Name: "x", RequestID: "r", Message: "m"})
	var pe *ports.PermissionError
	if !errors.As(err, &pe) || pe.Permission != PermLock {
		t.Errorf("LockRequest without permission = %v, want PermissionError for %q", err, PermLock)
	}
	err = without.ProbeLocks(ctx)
	if !errors.As(err, &pe) || pe.Permission != PermLock {
		t.Errorf("ProbeLocks without permission = %v, want PermissionError for %q", err, PermLock)
	}
	if err := with.ProbeLocks(ctx); err != nil {
		t.Errorf("ProbeLocks with permission = %v", err)
	}
	if n := len(srv.Locks()); n != 0 {
		t.Errorf("the probes left %d locks", n)
	}
}

// The shift binding round-trips through plugin data under its own key,
// leaving the reference keys as they are, and ListRecords reads every
// request's record in one call.
func TestShiftRecordAndListRecords(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	ctx := ctxT(t)
	a := mustCreate(t, srv, "alice", []string{"dev"})
	b := mustCreate(t, srv, "bob", []string{"dev"})
	mustCreate(t, srv, "carol", []string{"dev"}) // no record
	end := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	shift := domain.Shift{End: end, Until: end.Add(4 * time.Hour), UserID: "PU1", Email: "alice@example.com",
		Policies: []string{"EP1", "EP|2"}, Services: []string{"Critical; Ops"}}
	rec := domain.Record{RequestID: a, User: "alice", Roles: []string{"dev"}, ApprovalDone: true, Shift: shift,
		Incidents: []domain.IncidentRef{{Service: "Ops", ServiceID: "PS1", IncidentID: "PI1"}}}
	if _, err := c.UpdateRecord(ctx, a, "", rec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRecord(ctx, b, "", domain.Record{RequestID: b, User: "bob"}); err != nil {
		t.Fatal(err)
	}
	raw := srv.PluginData(a)
	if raw[KeyIncidentID] != "PI1" || raw[KeyServiceID] != "PS1" || raw[KeyUser] != "alice" || raw[KeyShift] == "" {
		t.Errorf("plugin data = %v, want the reference keys and %s", raw, KeyShift)
	}
	got, _, err := c.LoadRecord(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(shift, got.Shift); diff != "" {
		t.Errorf("shift after a round trip:\n%s", diff)
	}
	before := srv.Counts().GetPluginData
	all, err := c.ListRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Counts().GetPluginData - before; n != 1 {
		t.Errorf("ListRecords made %d GetPluginData calls, want 1", n)
	}
	byID := map[string]domain.Record{}
	for _, r := range all {
		byID[r.RequestID] = r
	}
	if len(all) != 2 || !byID[a].Shift.End.Equal(end) || byID[b].User != "bob" || byID[b].Shift.Bound() {
		t.Errorf("ListRecords = %+v, want the two records with their shifts", all)
	}
	if err := srv.SetPluginData(b, map[string]string{KeyUser: "bob", KeyShift: "{not json"}); err != nil {
		t.Fatal(err)
	}
	if all, err = c.ListRecords(ctx); err != nil || len(all) != 2 {
		t.Errorf("ListRecords with an unreadable shift = %d records, %v; want both, the bad part left zero", len(all), err)
	}
}
