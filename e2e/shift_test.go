//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
)

// shiftMarker starts the incident note of a lock made at a shift's end.
const shiftMarker = domain.ShiftMarker

// onCallUntil makes bob on call for svcCritical from an hour ago until
// end only (the seed has him on call for good).
func (e *env) onCallUntil(user string, end time.Time) {
	e.t.Helper()
	e.pd.RemoveOnCall(user, svcCritical)
	if err := e.pd.AddOnCallWindow(user, svcCritical, 1, time.Now().Add(-time.Hour), end); err != nil {
		e.t.Fatal(err)
	}
}

// requestLocks returns the locks targeting the request.
func requestLocks(tp *teleporttest.Server, id string) []*types.LockV2 {
	var out []*types.LockV2
	for _, l := range tp.Locks() {
		if l.Target().AccessRequest == id {
			out = append(out, l)
		}
	}
	return out
}

// shiftNotes returns the notes that say a lock was made at a shift's end.
func shiftNotes(notes []string) []string {
	var out []string
	for _, n := range notes {
		if strings.HasPrefix(n, shiftMarker) {
			out = append(out, n)
		}
	}
	return out
}

// On-call-bound access (SPEC §17): bob is on call until T = now + 5 s,
// requests a role and is auto-approved; his grant is bound to the shift.
// After T the request is locked in Teleport (one lock, named from the
// request, targeting it, expiring with its access, its message naming the
// shift), the resolved incident has the note, and the record says when.
// Then the same again with the daemon killed (-9) between the approval
// and T: the next process rebuilds the timer from the record and still
// makes exactly one lock and one note.
func TestShiftEndLocksTheRequest(t *testing.T) {
	e := newEnv(t, envOpts{})
	cfg := e.writeConfig(withApprovalMode("set_state"), withAutoApprove(`bind_to_shift = true`))
	d := e.start(cfg)
	ann := annotations(notify(svcTeleport), approvalServices(svcCritical))

	end := time.Now().Add(5 * time.Second).Truncate(time.Second)
	e.onCallUntil(bob, end)
	id := e.createRequest(bob, []string{"editor"}, ann, "on call until the end of the shift")
	req := e.waitState(id, types.RequestState_APPROVED)
	inc := e.waitResolved(id)
	if !strings.Contains(e.pluginData(id)["pagergate_shift"], `"end":`) {
		t.Errorf("plugin data %v does not keep the shift's end", e.pluginData(id))
	}
	e.waitFor("the lock of "+id, func() bool { return len(requestLocks(e.tp, id)) > 0 })
	l := requestLocks(e.tp, id)[0]
	if l.CreatedAt().Before(end) {
		t.Errorf("lock made at %v, before the shift's end %v", l.CreatedAt(), end)
	}
	if l.GetName() != "pagergate-shift-"+id || l.LockExpiry() == nil || !l.LockExpiry().Equal(req.GetAccessExpiry()) ||
		!strings.Contains(l.Message(), bob) || !strings.Contains(l.Message(), svcCritical) || l.CreatedBy() != "pagergate" {
		t.Errorf("lock = %v, want pagergate-shift-%s until %v naming %s's shift", l, id, req.GetAccessExpiry(), bob)
	}
	if !e.tp.RequestLocked(id) {
		t.Error("the lock is not in force for the request")
	}
	e.waitPD("the shift note on "+inc.ID, func(pd *fakepd.Server) bool { return len(shiftNotes(pd.Notes(inc.ID))) == 1 })
	e.waitFor("the lock recorded", func() bool { return strings.Contains(e.pluginData(id)["pagergate_shift"], `"locked":`) })
	if v, ok := metricValue(d.metrics(), `pagergate_shift_ends_total{outcome="locked"}`); !ok || v != 1 {
		t.Errorf("pagergate_shift_ends_total{locked} = %v (%v), want 1", v, ok)
	}

	// kill -9 between the approval and the shift's end.
	end = time.Now().Add(5 * time.Second).Truncate(time.Second)
	e.onCallUntil(bob, end)
	killed := e.createRequest(bob, []string{"editor"}, ann, "the daemon dies during my shift")
	e.waitState(killed, types.RequestState_APPROVED)
	inc = e.waitResolved(killed)
	e.waitFor("the shift recorded", func() bool { return strings.Contains(e.pluginData(killed)["pagergate_shift"], `"end":`) })
	d.kill()
	if time.Now().After(end) {
		t.Fatalf("the daemon was killed after the shift's end; the scenario needs it before")
	}
	d = e.start(cfg)
	e.waitFor("the lock of "+killed, func() bool { return len(requestLocks(e.tp, killed)) > 0 })
	e.waitPD("the shift note on "+inc.ID, func(pd *fakepd.Server) bool { return len(shiftNotes(pd.Notes(inc.ID))) >= 1 })
	e.waitFor("the lock recorded", func() bool { return strings.Contains(e.pluginData(killed)["pagergate_shift"], `"locked":`) })
	// A restart after the lock changes nothing: its rebuild finds nothing
	// to arm.
	d.stop()
	d = e.start(cfg)
	rebuilt := d.waitLogEntry("the shift timers rebuilt", func(l logEntry) bool { return l.str("msg") == "shift timers rebuilt" })
	if rebuilt["armed"] != 0.0 || rebuilt["due"] != 0.0 {
		t.Errorf("rebuild after the locks: %v, want nothing armed or due", rebuilt)
	}
	if n, notes := len(requestLocks(e.tp, killed)), shiftNotes(e.pd.Notes(inc.ID)); n != 1 || len(notes) != 1 {
		t.Errorf("after kill -9 and two starts: %d locks, notes %q; want one of each", n, notes)
	}
	if n := len(requestLocks(e.tp, id)); n != 1 {
		t.Errorf("the first request has %d locks, want 1", n)
	}
	d.stop()
}
