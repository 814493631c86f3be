package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/mock/gomock"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// shiftWorld is what the shift tests' ports answer: the on-call entries
// of the moment (or a lookup error), the requests in Teleport, the notes
// and the locks made. Everything runs in a synctest bubble, so time is
// the bubble's fake clock.
type shiftWorld struct {
	mu        sync.Mutex
	onCalls   []domain.OnCall
	lookupErr error
	lookups   []time.Time // when OnCallsNow was called after the approval
	reqs      map[string]domain.Request
	notes     map[string][]string
	locks     []domain.Lock
	lockErr   error
}

func (w *shiftWorld) setOnCalls(ocs []domain.OnCall, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onCalls, w.lookupErr = ocs, err
}

func (w *shiftWorld) setRequest(r domain.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reqs[r.ID] = r
}

func (w *shiftWorld) made() []domain.Lock {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.locks)
}

func (w *shiftWorld) notesOf(id string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.notes[id])
}

func (w *shiftWorld) lookupTimes() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lookups)
}

// newShiftHarness is a harness whose clock is the bubble's, with
// bind_to_shift on and the ports answering from a shiftWorld.
func newShiftHarness(t *testing.T, mutate func(*Config)) (*harness, *shiftWorld) {
	h := newHarness(t, func(c *Config) {
		c.Now = time.Now
		c.Policy.BindToShift = true
		c.RetryMin, c.RetryMax = time.Second, time.Minute
		if mutate != nil {
			mutate(c)
		}
	})
	h.allowCAS()
	w := &shiftWorld{reqs: map[string]domain.Request{}, notes: map[string][]string{}}
	h.wire(w)
	return h, w
}

// wire makes the harness's mocks answer from w: the approval's lookups
// (alice on call for Critical), incidents (PI1), notes, requests, locks.
func (h *harness) wire(w *shiftWorld) {
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil).AnyTimes()
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil).AnyTimes()
	h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUA", []string{"EPC"}).DoAndReturn(
		func(context.Context, string, []string) ([]domain.OnCall, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.lookups = append(w.lookups, time.Now())
			return slices.Clone(w.onCalls), w.lookupErr
		}).AnyTimes()
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1", ServiceID: "PSN"}, nil).AnyTimes()
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Return(nil).AnyTimes()
	h.pg.EXPECT().OpenIncidents(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, false, nil).AnyTimes()
	h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id, text string) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.notes[id] = append(w.notes[id], text)
		return nil
	}).AnyTimes()
	h.pg.EXPECT().ListNotes(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id string) ([]string, error) {
		return w.notesOf(id), nil
	}).AnyTimes()
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v domain.Verdict) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		r := w.reqs[v.RequestID]
		r.State = v.State
		w.reqs[v.RequestID] = r
		return nil
	}).AnyTimes()
	h.tp.EXPECT().GetRequest(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id string) (domain.Request, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		r, ok := w.reqs[id]
		if !ok {
			return domain.Request{}, ports.ErrNotFound
		}
		return r, nil
	}).AnyTimes()
	h.lk.EXPECT().LockRequest(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, l domain.Lock) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.lockErr != nil {
			return w.lockErr
		}
		w.locks = append(w.locks, l)
		return nil
	}).AnyTimes()
}

// shiftRequest is alice's request for an approval service, its access
// expiring 8 hours from now.
func shiftRequest(id string) domain.Request {
	r := withApproval(id)
	r.Created = time.Now()
	r.Expires = time.Now().Add(8 * time.Hour)
	return r
}

// onCallUntil is alice on call for Critical's policy from an hour ago
// until end (zero: no end).
func onCallUntil(end time.Time) []domain.OnCall {
	return []domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1, Start: time.Now().Add(-time.Hour), End: end}}
}

// approveAndResolve walks the request through its approval while alice is
// on call until end, then through its resolution (the watcher sends the
// APPROVED snapshot).
func (h *harness) approveAndResolve(t *testing.T, w *shiftWorld, req domain.Request, end time.Time) {
	t.Helper()
	w.setOnCalls(onCallUntil(end), nil)
	w.setRequest(req)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventPut, Request: req})
	synctest.Wait()
	approved, err := h.tp.GetRequest(ctx, req.ID)
	if err != nil || approved.State != domain.StateApproved {
		t.Fatalf("request after the pass = %+v, %v; want approved", approved, err)
	}
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventPut, Request: approved})
	synctest.Wait()
	if rec := h.record(req.ID); rec.Resolution != domain.StateApproved {
		t.Fatalf("record after the APPROVED event = %+v, want resolved", rec)
	}
	w.mu.Lock()
	w.lookups = nil
	w.mu.Unlock()
}

// At approval the grant is bound to the earliest end of the qualifying
// on-call entries, the record keeps it, and a timer is armed for it; at
// the end (not a second before) on-call is read again and, alice being
// off call, the request is locked once: named from its ID, targeting it,
// expiring with its access, noted on the (resolved) incident, recorded
// and counted.
func TestShiftTimerArmedAtApprovalLocksAtTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, w := newShiftHarness(t, nil)
		h.p.Start()
		defer h.stopWithin()
		req := shiftRequest("r1")
		end := time.Now().Add(time.Hour)
		h.approveAndResolve(t, w, req, end)

		rec := h.record("r1")
		if !rec.Shift.End.Equal(end) || !rec.Shift.Until.Equal(req.Expires) || rec.Shift.UserID != "PUA" || !rec.Shift.Locked.IsZero() {
			t.Fatalf("shift recorded = %+v, want end %v, until %v, alice, not locked", rec.Shift, end, req.Expires)
		}
		if at, ok := h.p.sched.Armed("r1"); !ok || !at.Equal(end) {
			t.Fatalf("timer = %v %v, want armed at %v", at, ok, end)
		}
		if notes := w.notesOf("PI1"); len(notes) == 0 || !strings.Contains(notes[0], "ends with this on-call shift") {
			t.Errorf("approval note %q does not say the access ends with the shift", notes)
		}
		w.setOnCalls(nil, nil)
		time.Sleep(time.Until(end) - time.Second)
		synctest.Wait()
		if n := len(w.made()); n != 0 || len(w.lookupTimes()) != 0 {
			t.Fatalf("a second before the end: %d locks, %d lookups; want none", n, len(w.lookupTimes()))
		}
		time.Sleep(time.Second)
		synctest.Wait()

		locks := w.made()
		if len(locks) != 1 {
			t.Fatalf("locks = %+v, want one", locks)
		}
		if l := locks[0]; l.Name != "pagergate-shift-r1" || l.RequestID != "r1" || !l.Expires.Equal(req.Expires) || !strings.Contains(l.Message, "alice@example.com") {
			t.Errorf("lock = %+v", l)
		}
		notes := w.notesOf("PI1")
		if last := notes[len(notes)-1]; !strings.HasPrefix(last, domain.ShiftMarker) || !strings.Contains(notes[len(notes)-2], domain.ResolutionMarker) {
			t.Errorf("notes = %q, want the lock noted after the resolution", notes)
		}
		if rec := h.record("r1"); !rec.Shift.Locked.Equal(end) || !rec.Intent.IsZero() {
			t.Errorf("record after the lock = %+v, want locked at %v, no intent", rec.Shift, end)
		}
		if _, ok := h.p.sched.Armed("r1"); ok {
			t.Error("timer still armed after the lock")
		}
		if n := h.metrics.Count("shift_ends", "locked"); n != 1 {
			t.Errorf("shift_ends{locked} = %d, want 1", n)
		}
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		if n := len(w.made()); n != 1 {
			t.Errorf("locks a day later = %d, want still one", n)
		}
	})
}

// Without bind_to_shift, or when no qualifying entry has an end, nothing
// is bound and nothing is ever locked.
func TestShiftNotBoundWithoutOptionOrEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		bind bool
		end  bool
	}{{"option off", false, true}, {"on call with no end", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, w := newShiftHarness(t, func(c *Config) { c.Policy.BindToShift = tc.bind })
				h.p.Start()
				defer h.stopWithin()
				var end time.Time
				if tc.end {
					end = time.Now().Add(time.Hour)
				}
				h.approveAndResolve(t, w, shiftRequest("r1"), end)
				if rec := h.record("r1"); !rec.Shift.IsZero() {
					t.Errorf("shift recorded = %+v, want none", rec.Shift)
				}
				w.setOnCalls(nil, nil)
				time.Sleep(48 * time.Hour)
				synctest.Wait()
				if n := len(w.made()); n != 0 {
					t.Errorf("locks = %d, want none", n)
				}
			})
		})
	}
}

// At the end alice is still on call (her shift was extended): the end
// moves with a compare-and-swap on the record and the timer follows; at
// the new end she is off call and the request is locked. Still on call
// with no end drops the binding.
func TestShiftExtendedMovesTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, w := newShiftHarness(t, nil)
		h.p.Start()
		defer h.stopWithin()
		end := time.Now().Add(time.Hour)
		h.approveAndResolve(t, w, shiftRequest("r1"), end)
		later := end.Add(2 * time.Hour)
		w.setOnCalls(onCallUntil(later), nil)
		time.Sleep(time.Until(end))
		synctest.Wait()
		if n := len(w.made()); n != 0 {
			t.Fatalf("locked at the old end while still on call")
		}
		if rec := h.record("r1"); !rec.Shift.End.Equal(later) {
			t.Fatalf("recorded end = %v, want %v", rec.Shift.End, later)
		}
		if at, ok := h.p.sched.Armed("r1"); !ok || !at.Equal(later) {
			t.Fatalf("timer = %v %v, want %v", at, ok, later)
		}
		w.setOnCalls(nil, nil)
		time.Sleep(time.Until(later))
		synctest.Wait()
		if locks := w.made(); len(locks) != 1 || !h.record("r1").Shift.Locked.Equal(later) {
			t.Errorf("locks = %+v, want one at the new end", locks)
		}
		if h.metrics.Count("shift_ends", "extended") != 1 || h.metrics.Count("shift_ends", "locked") != 1 {
			t.Errorf("shift_ends = extended %d, locked %d; want 1 and 1",
				h.metrics.Count("shift_ends", "extended"), h.metrics.Count("shift_ends", "locked"))
		}

		h.approveAndResolve(t, w, shiftRequest("r2"), end.Add(5*time.Hour))
		w.setOnCalls(onCallUntil(time.Time{}), nil)
		time.Sleep(6 * time.Hour)
		synctest.Wait()
		rec := h.record("r2")
		if rec.Shift.Bound() || !rec.Shift.Locked.IsZero() || len(w.made()) != 1 {
			t.Errorf("on call with no end: shift %+v, %d locks; want unbound, r2 not locked", rec.Shift, len(w.made()))
		}
		if _, ok := h.p.sched.Armed("r2"); ok {
			t.Error("r2's timer still armed")
		}
	})
}

// A lookup error at the end never locks and never gives up: the re-check
// is retried with the jittered backoff (steps capped at RetryMax) for as
// long as it fails, and the lock comes with the first answer.
func TestShiftLookupFailureRetriesWithoutLocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, w := newShiftHarness(t, nil)
		h.p.Start()
		defer h.stopWithin()
		end := time.Now().Add(time.Hour)
		h.approveAndResolve(t, w, shiftRequest("r1"), end)
		w.setOnCalls(nil, ports.ErrUnavailable)
		time.Sleep(time.Until(end) + 3*time.Hour)
		synctest.Wait()
		if n := len(w.made()); n != 0 {
			t.Fatalf("locked %d times while on-call could not be read", n)
		}
		times := w.lookupTimes()
		if len(times) < 150 {
			t.Fatalf("%d lookups in 3 hours of failures, want the re-check retried all along", len(times))
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap > time.Minute {
				t.Fatalf("gap of %v between retries %d and %d, want at most RetryMax", gap, i-1, i)
			}
		}
		if h.metrics.Count("shift_ends", "lookup_failed") != len(times) {
			t.Errorf("shift_ends{lookup_failed} = %d, want %d", h.metrics.Count("shift_ends", "lookup_failed"), len(times))
		}
		w.setOnCalls(nil, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(w.made()); n != 1 {
			t.Errorf("locks after the lookup recovered = %d, want 1", n)
		}
	})
}

// A failed lock is retried until it is made; the note follows it once.
func TestShiftLockFailureIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, w := newShiftHarness(t, nil)
		h.p.Start()
		defer h.stopWithin()
		end := time.Now().Add(time.Hour)
		h.approveAndResolve(t, w, shiftRequest("r1"), end)
		w.setOnCalls(nil, nil)
		w.mu.Lock()
		w.lockErr = &ports.PermissionError{Permission: "lock: create, update", Err: errors.New("access denied")}
		w.mu.Unlock()
		time.Sleep(time.Until(end) + 10*time.Minute)
		synctest.Wait()
		if n := h.metrics.Count("shift_ends", "lock_failed"); n < 5 || len(w.made()) != 0 {
			t.Fatalf("lock_failed = %d, locks %d; want retries and no lock yet", n, len(w.made()))
		}
		w.mu.Lock()
		w.lockErr = nil
		w.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		shiftNotes := 0
		for _, n := range w.notesOf("PI1") {
			if strings.HasPrefix(n, domain.ShiftMarker) {
				shiftNotes++
			}
		}
		if len(w.made()) != 1 || shiftNotes != 1 {
			t.Errorf("locks %d, shift notes %d; want 1 and 1", len(w.made()), shiftNotes)
		}
	})
}

// A new process rebuilds the timers from the records in Teleport at its
// first sync (and again after every reconnect): a grant still within its
// shift is armed; one whose shift ended while no process ran is handled
// at once; one locked, one whose access is over, one denied, one never
// bound are left alone; a lock intent this replica recorded before a
// crash is finished without a second note.
func TestShiftTimersRebuiltAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, w := newShiftHarness(t, nil)
		now := time.Now()
		inc := []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}
		bound := func(id string, end time.Time, state domain.State) domain.Record {
			r := shiftRequest(id)
			r.State = state
			w.setRequest(r)
			return domain.Record{RequestID: id, User: "alice@example.com", Incidents: inc, ApprovalDone: true, Resolution: state,
				Shift: domain.Shift{End: end, Until: r.Expires, UserID: "PUA", Email: "alice@example.com", Policies: []string{"EPC"}, Services: []string{"Critical"}}}
		}
		future := bound("future", now.Add(time.Hour), domain.StateApproved)
		passed := bound("passed", now.Add(-time.Minute), domain.StateApproved)
		locked := bound("locked", now.Add(-time.Hour), domain.StateApproved)
		locked.Shift.Locked = now.Add(-time.Hour)
		over := bound("over", now.Add(-9*time.Hour), domain.StateApproved)
		over.Shift.Until = now.Add(-time.Hour)
		denied := bound("denied", now.Add(-time.Minute), domain.StateDenied)
		crashed := bound("crashed", now.Add(-time.Minute), domain.StateApproved)
		crashed.Intent = domain.Intent{Effect: domain.Effect{Kind: domain.EffectLock}, Owner: "replica-a", At: now.Add(-time.Minute)}
		for _, r := range []domain.Record{future, passed, locked, over, denied, crashed, {RequestID: "plain", ApprovalDone: true}} {
			h.setRecord(r)
		}
		// The crashed replica made the lock and posted its note.
		l := domain.DefaultPolicy().ShiftLock("crashed", crashed.Shift)
		w.notes["PI1"] = []string{domain.ShiftNote(l, crashed.Shift)}
		w.setOnCalls(nil, nil)

		h.p.Start()
		defer h.stopWithin()
		h.synced()
		synctest.Wait()
		byRequest := func() map[string]int {
			out := map[string]int{}
			for _, l := range w.made() {
				out[l.RequestID]++
			}
			return out
		}
		if got := byRequest(); len(got) != 2 || got["passed"] != 1 || got["crashed"] != 1 {
			t.Fatalf("locks after the start = %v, want passed and crashed once each", got)
		}
		if n := len(w.notesOf("PI1")); n != 2 {
			t.Errorf("notes = %q, want the crashed one's and passed's: one each", w.notesOf("PI1"))
		}
		if at, ok := h.p.sched.Armed("future"); !ok || !at.Equal(future.Shift.End) {
			t.Errorf("future's timer = %v %v, want %v", at, ok, future.Shift.End)
		}
		h.synced() // a reconnect rebuilds again: nothing new
		synctest.Wait()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := byRequest(); len(got) != 3 || got["future"] != 1 || got["passed"] != 1 || got["crashed"] != 1 {
			t.Errorf("locks = %v, want future, passed and crashed once each", got)
		}
	})
}

// Two replicas armed for the same grant both wake at its end: the record's
// compare-and-swap lets one make the lock; the other waits out its intent
// and then finds it made. One lock, one note.
func TestShiftTwoReplicasMakeOneLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, w := newShiftHarness(t, nil)
		end := time.Now().Add(time.Hour)
		r := shiftRequest("r1")
		r.State = domain.StateApproved
		w.setRequest(r)
		h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Resolution: domain.StateApproved,
			Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}},
			Shift:     domain.Shift{End: end, Until: r.Expires, UserID: "PUA", Email: "alice@example.com", Policies: []string{"EPC"}, Services: []string{"Critical"}}})
		cfg := h.p.requests.shifts.policy
		peer := New(Config{Policy: cfg, ReplicaID: "replica-b", Now: time.Now, RetryMin: time.Second, RetryMax: time.Minute, Workers: 4},
			Deps{Teleport: h.tp, Locks: h.lk, OnCall: h.oc, Pager: h.pg, Records: newMemRecords(), Dedup: newMemRecords()}, zaptest.NewLogger(t))
		w.setOnCalls(nil, nil)
		h.p.Start()
		defer h.stopWithin()
		peer.Start()
		defer peer.Stop(ctx)
		h.synced()
		h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).Return(nil).Times(1)
		peer.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Cluster: prod})
		synctest.Wait()
		_, a := h.p.sched.Armed("r1")
		_, b := peer.sched.Armed("r1")
		if !a || !b {
			t.Fatalf("armed: a %v, b %v; want both", a, b)
		}
		time.Sleep(time.Until(end) + 10*time.Minute)
		synctest.Wait()
		if n, notes := len(w.made()), w.notesOf("PI1"); n != 1 || len(notes) != 1 {
			t.Errorf("locks %d, notes %q; want one of each", n, notes)
		}
	})
}

// A grant is bound only when it may be this approval's: Teleport took it,
// or the request was already resolved while an approval of ours was
// recorded as under way (a crash after approving). Resolved by someone
// else before we acted, it is not bound.
func TestShiftBoundOnlyToOurApproval(t *testing.T) {
	for _, tc := range []struct {
		name       string
		recovering bool
		want       bool
	}{{"already resolved by someone else", false, false}, {"already resolved by us before a crash", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, func(c *Config) { c.Now = time.Now; c.Policy.BindToShift = true })
				h.allowCAS()
				w := &shiftWorld{reqs: map[string]domain.Request{}, notes: map[string][]string{}}
				h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil).AnyTimes()
				h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil).AnyTimes()
				h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUA", []string{"EPC"}).Return(onCallUntil(time.Now().Add(time.Hour)), nil).AnyTimes()
				h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Return(ports.ErrAlreadyResolved)
				h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id, text string) error {
					w.notes[id] = append(w.notes[id], text)
					return nil
				}).AnyTimes()
				h.pg.EXPECT().ListNotes(gomock.Any(), gomock.Any()).Return(nil, nil).AnyTimes()
				rec := domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}}
				if tc.recovering {
					rec.Intent = domain.Intent{Effect: domain.Effect{Kind: domain.EffectAutoApprove}, Owner: "replica-a", At: time.Now()}
				}
				h.setRecord(rec)
				if err := h.p.requests.handle(ctx, shiftRequest("r1")); err != nil {
					t.Fatalf("handle() = %v", err)
				}
				got := h.record("r1")
				if !got.ApprovalDone || got.Shift.Bound() != tc.want {
					t.Errorf("record = approval %v, shift %+v; want bound %v", got.ApprovalDone, got.Shift, tc.want)
				}
				if _, armed := h.p.sched.Armed("r1"); armed != tc.want {
					t.Errorf("timer armed = %v, want %v", armed, tc.want)
				}
			})
		})
	}
}
