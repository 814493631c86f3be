//go:build e2e

package e2e

import (
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// Scenario 20: requests deleted while no replica that knows their
// incidents is watching. Replica A opens the incidents of r1 and r2;
// replica B (never acted on them, its store empty) has its watcher cut; A
// stops; r1 is deleted; B's watcher comes back: B resolves r1's incident
// from the pager alone. Then B stops, r2 is deleted and replica C starts
// with a new store file: C resolves r2's incident. Each exactly once (one
// resolve, one note). Another Teleport cluster's incident in the same
// service, with the same key scheme, stays open.
func TestScenario20DeletedWhileAwayIsResolvedFromThePager(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	eb, ec := fReplica(t, e), fReplica(t, e)
	const userB = "pagergate-b"
	e.tp.AddUser(userB, teleporttest.AllPerms)
	eb.identity = filepath.Join(eb.dir, "identity-b")
	if err := e.tp.WriteIdentityFile(eb.identity, userB, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	foreignID := "5d8f9a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	foreign, err := e.pd.AddIncident(fakepd.IncidentSeed{Service: svcTeleport, Key: "teleport-access-request/" + foreignID,
		Title: "Access request from mallory for admin", Details: "User: mallory\nCluster: elsewhere\nRequest ID: " + foreignID})
	if err != nil {
		t.Fatal(err)
	}
	opts := []configOpt{withDefaultNotify(svcTeleport), withNoWebhook()}
	a := e.start(e.writeConfig(opts...))
	r1 := e.createRequest(alice, []string{"editor"}, nil, "deleted while B is cut")
	r2 := e.createRequest(alice, []string{"editor"}, nil, "deleted while no replica runs")
	inc1, inc2 := e.waitIncident(r1), e.waitIncident(r2)

	b := eb.start(eb.writeConfig(opts...))
	b.waitReady()
	e.tp.CutWatches(userB)
	e.waitFor("replica B unready while its watcher is cut", func() bool { return fReadyz(b) == http.StatusServiceUnavailable })
	a.stop()
	resolvesBefore := e.pd.Calls()["PUT /incidents"]
	if err := e.tp.Delete(r1); err != nil {
		t.Fatal(err)
	}
	e.tp.RestoreWatches(userB)
	b.waitReady()
	e.waitResolved(r1)
	b.stop()

	if err := e.tp.Delete(r2); err != nil {
		t.Fatal(err)
	}
	c := ec.start(ec.writeConfig(opts...))
	c.waitReady()
	e.waitResolved(r2)
	c.stop()

	resolves := e.pd.Calls()["PUT /incidents"] - resolvesBefore
	var notes []int
	for _, id := range []string{inc1.ID, inc2.ID} {
		got, _ := e.pd.Incident(id)
		n := fCountNotes(got, fIsResolution)
		notes = append(notes, n)
		if got.Status != "resolved" || n != 1 || !slices.Contains(fNoteTexts(got), "Access request has been expired") {
			t.Errorf("incident %s: status %s, %d resolution notes %q; want resolved with one expired note", id, got.Status, n, fNoteTexts(got))
		}
	}
	if resolves != 2 {
		t.Errorf("%d resolve calls, want 2", resolves)
	}
	if f, _ := e.pd.Incident(foreign.ID); f.Status == "resolved" || len(f.Notes) != 0 {
		t.Errorf("another cluster's incident %s: status %s, %d notes; want open, untouched", f.ID, f.Status, len(f.Notes))
	}
	byB, byC := fResolvedBy(b, inc1.ID), fResolvedBy(c, inc2.ID)
	if byB != 1 || byC != 1 {
		t.Errorf("replica B resolved %s %d times, replica C resolved %s %d times; want 1 each", inc1.ID, byB, inc2.ID, byC)
	}
	fReport(t, 20, "incidents", inc1.ID+","+inc2.ID, "resolve_calls", resolves, "resolution_notes", notes,
		"resolved_by_b", byB, "resolved_by_c", byC, "foreign_left_open", foreign.ID)
}

// fResolvedBy counts a replica's "incident resolved" log lines for an
// incident.
func fResolvedBy(d *daemon, incidentID string) int {
	n := 0
	for _, l := range d.logEntries() {
		if l.str("msg") == "incident resolved" && l.str("pd_incident_id") == incidentID {
			n++
		}
	}
	return n
}
