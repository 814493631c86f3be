package app

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports/metricstest"
)

// schedTest is a scheduler whose pass is the test's, with the passes it
// saw.
type schedTest struct {
	t       *testing.T
	s       *scheduler
	metrics *metricstest.Recorder

	mu      sync.Mutex
	passes  []pass
	running map[string]int
	max     int // most passes of one request at once
	settled []domain.Request
}

type pass struct {
	req domain.Request
	at  time.Time
}

const (
	retryMin = 100 * time.Millisecond
	retryMax = 2 * time.Second
)

// newSchedTest returns a scheduler with two workers whose passes run fn.
func newSchedTest(t *testing.T, fn func(ctx context.Context, r domain.Request) error) *schedTest {
	st := &schedTest{t: t, metrics: &metricstest.Recorder{}, running: map[string]int{}}
	cfg := Config{Workers: 2, EffectTimeout: time.Minute, RetryMin: retryMin, RetryMax: retryMax}
	st.s = newScheduler(cfg, func(ctx context.Context, r domain.Request) error {
		st.mu.Lock()
		st.passes = append(st.passes, pass{req: r, at: time.Now()})
		st.running[r.ID]++
		st.max = max(st.max, st.running[r.ID])
		st.mu.Unlock()
		defer func() {
			st.mu.Lock()
			st.running[r.ID]--
			st.mu.Unlock()
		}()
		return fn(ctx, r)
	}, st.metrics, zaptest.NewLogger(t))
	st.s.passed = func(r domain.Request) {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.settled = append(st.settled, r)
	}
	return st
}

func (st *schedTest) seen() []pass {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]pass(nil), st.passes...)
}

func (st *schedTest) stop() {
	st.t.Helper()
	if err := st.s.Stop(context.Background()); err != nil {
		st.t.Fatalf("Stop() = %v", err)
	}
}

func pendingReq(id string) domain.Request { return domain.Request{ID: id, State: domain.StatePending} }

func withState(r domain.Request, s domain.State) domain.Request { r.State = s; return r }

// A request is never in two passes at once; snapshots that arrive during
// a pass are folded into one more pass on the newest; other requests run
// meanwhile.
func TestSchedulerRunsARequestOnceAtATimeOnItsNewestSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		st := newSchedTest(t, func(ctx context.Context, r domain.Request) error {
			if r.ID == "r1" && r.Reason == "v1" {
				<-release
			}
			return nil
		})
		st.s.Start()
		v := func(n string) domain.Request { r := pendingReq("r1"); r.Reason = n; return r }
		st.s.Submit(v("v1"))
		synctest.Wait()
		st.s.Submit(v("v2"))
		st.s.Submit(v("v3"))
		st.s.Submit(pendingReq("r2"))
		synctest.Wait()
		if got := st.seen(); len(got) != 2 || got[1].req.ID != "r2" {
			t.Fatalf("passes while r1 is held = %+v, want r1 then r2", got)
		}
		close(release)
		synctest.Wait()
		got := st.seen()
		if len(got) != 3 || got[2].req.Reason != "v3" {
			t.Fatalf("passes = %+v, want one more pass of r1 on v3", got)
		}
		if st.max != 1 {
			t.Errorf("a request ran in %d passes at once", st.max)
		}
		if st.s.Pending() != 0 {
			t.Errorf("Pending() = %d after every pass succeeded", st.s.Pending())
		}
		st.stop()
	})
}

// Requests queued while every worker sleeps run at once, one per worker:
// a slow pass does not hold up the queue.
func TestSchedulerRunsQueuedRequestsOnIdleWorkersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		st := newSchedTest(t, func(context.Context, domain.Request) error {
			<-release
			return nil
		})
		st.s.Start()
		synctest.Wait()
		st.s.Submit(pendingReq("r1"))
		st.s.Submit(pendingReq("r2"))
		synctest.Wait()
		if got := st.seen(); len(got) != 2 {
			t.Errorf("passes running with two workers and two queued requests = %d, want 2", len(got))
		}
		close(release)
		synctest.Wait()
		st.stop()
	})
}

// A deletion is never replaced by a later snapshot, nor a resolution by
// an older pending one.
func TestSchedulerKeepsADeletionAndAResolutionOverOlderSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newSchedTest(t, func(context.Context, domain.Request) error { return nil })
		st.s.Submit(domain.Request{ID: "r1", State: domain.StateExpired})
		st.s.Submit(pendingReq("r1"))
		st.s.Submit(withState(pendingReq("r1"), domain.StateApproved))
		if got, _ := st.s.snapshot("r1"); got.State != domain.StateExpired {
			t.Errorf("snapshot state = %v, want EXPIRED", got.State)
		}
		st.s.Submit(withState(pendingReq("r2"), domain.StateApproved))
		st.s.Submit(pendingReq("r2"))
		if got, _ := st.s.snapshot("r2"); got.State != domain.StateApproved {
			t.Errorf("snapshot state = %v, want APPROVED", got.State)
		}
		st.s.Start()
		synctest.Wait()
		st.stop()
	})
}

// A failed pass is retried after a jittered backoff whose step doubles
// from RetryMin to RetryMax, each wait in [step/2, step]; each retry is
// counted. The request counts as passed once a pass succeeds.
func TestSchedulerRetriesWithGrowingJitteredBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failures = 8
		calls := 0
		st := newSchedTest(t, func(ctx context.Context, r domain.Request) error {
			if calls++; calls <= failures {
				return errors.New("pager unavailable")
			}
			return nil
		})
		st.s.Start()
		st.s.Submit(withState(pendingReq("r1"), domain.StateApproved))
		time.Sleep(time.Minute)
		synctest.Wait()
		got := st.seen()
		if len(got) != failures+1 {
			t.Fatalf("%d passes, want %d", len(got), failures+1)
		}
		step := retryMin
		for i := 1; i < len(got); i++ {
			wait := got[i].at.Sub(got[i-1].at)
			if wait < step/2 || wait > step {
				t.Errorf("wait before retry %d = %v, want within [%v, %v]", i, wait, step/2, step)
			}
			step = min(step*2, retryMax)
		}
		if n := st.metrics.Count("effect_retries", "scheduled"); n != failures {
			t.Errorf("effect_retries = %d, want %d", n, failures)
		}
		if len(st.settled) != 1 || st.s.Pending() != 0 {
			t.Errorf("settled = %v, Pending() = %d; want the request once, then nothing", st.settled, st.s.Pending())
		}
		st.stop()
	})
}

// A peer's fresh intent is waited out in about one short step, and is no
// failure.
func TestSchedulerWaitsOutABusyRequestWithoutCountingARetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		st := newSchedTest(t, func(ctx context.Context, r domain.Request) error {
			if calls++; calls == 1 {
				return errBusy
			}
			return nil
		})
		st.s.Start()
		st.s.Submit(pendingReq("r1"))
		time.Sleep(time.Minute)
		got := st.seen()
		if len(got) != 2 {
			t.Fatalf("%d passes, want 2", len(got))
		}
		if wait := got[1].at.Sub(got[0].at); wait < retryMin || wait > 2*retryMin {
			t.Errorf("busy wait = %v, want within [%v, %v]", wait, retryMin, 2*retryMin)
		}
		if n := st.metrics.Count("effect_retries", "scheduled"); n != 0 {
			t.Errorf("effect_retries = %d for a busy request, want 0", n)
		}
		st.stop()
	})
}

// A new snapshot of a request waiting for its retry runs at once, and
// starts the backoff again.
func TestSchedulerRunsANewSnapshotWithoutWaitingForTheRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newSchedTest(t, func(ctx context.Context, r domain.Request) error {
			if r.State == domain.StatePending {
				return errors.New("pager unavailable")
			}
			return nil
		})
		st.s.Start()
		st.s.Submit(pendingReq("r1"))
		synctest.Wait()
		start := time.Now()
		st.s.Submit(withState(pendingReq("r1"), domain.StateDenied))
		synctest.Wait()
		got := st.seen()
		if len(got) != 2 || got[1].req.State != domain.StateDenied || got[1].at != start {
			t.Fatalf("passes = %+v, want the denial at once (%v)", got, start)
		}
		time.Sleep(time.Minute)
		if n := len(st.seen()); n != 2 {
			t.Errorf("%d passes: the cancelled retry ran", n)
		}
		st.stop()
	})
}

// Stop lets a pass in flight finish, refuses new work, drops the retry
// timers, and stops the background tasks with the workers.
func TestSchedulerStopDrainsAndRefusesNewWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newSchedTest(t, func(ctx context.Context, r domain.Request) error {
			if r.ID == "slow" {
				time.Sleep(10 * time.Second)
				return nil
			}
			return errors.New("fails")
		})
		if st.s.Go(func(context.Context) {}) {
			t.Error("Go() ran a task before Start")
		}
		st.s.Start()
		taskDone := make(chan struct{})
		if !st.s.Go(func(ctx context.Context) { <-ctx.Done(); close(taskDone) }) {
			t.Fatal("Go() refused a task after Start")
		}
		st.s.Submit(pendingReq("slow"))
		st.s.Submit(pendingReq("failing"))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		// The task ends only when cancelled: Stop waits for the slow pass
		// and the task until its deadline, then cancels.
		if err := st.s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop() = %v, want the deadline", err)
		}
		if took := time.Since(start); took != time.Minute {
			t.Errorf("Stop() took %v, want its deadline", took)
		}
		<-taskDone
		before, pending := len(st.seen()), st.s.Pending()
		st.s.Submit(pendingReq("new"))
		if got := st.s.Pending(); got != pending {
			t.Errorf("Pending() = %d after a submit to a stopped scheduler, want %d", got, pending)
		}
		time.Sleep(time.Hour)
		if n := len(st.seen()); n != before {
			t.Errorf("%d passes after Stop (retry timers included), want %d", n, before)
		}
		if st.s.Go(func(context.Context) {}) {
			t.Error("Go() ran a task after Stop")
		}
	})
}

// A pass still running at Stop's deadline has its context cancelled, and
// Stop returns only once it has ended: nothing of the use cases runs after
// Stop (a pass winding down would write to a store being closed).
func TestSchedulerStopDeadlineCancelsPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ended sync.WaitGroup // Wait panics in the bubble if it is never done
		ended.Add(1)
		var mu sync.Mutex
		over := false
		st := newSchedTest(t, func(ctx context.Context, r domain.Request) error {
			defer ended.Done()
			<-ctx.Done()
			time.Sleep(time.Second) // winding down
			mu.Lock()
			over = true
			mu.Unlock()
			return ctx.Err()
		})
		st.s.Start()
		st.s.Submit(pendingReq("r1"))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := st.s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop() = %v, want the deadline", err)
		}
		mu.Lock()
		returnedEarly := !over
		mu.Unlock()
		if took := time.Since(start); returnedEarly || took != 2*time.Second {
			t.Errorf("Stop() returned after %v with the cancelled pass still running (%v), want it after the pass (2 s)", took, returnedEarly)
		}
		ended.Wait()
	})
}

// The scheduler says busy when the first request comes in hand and idle
// when the last is done; a request waiting for a retry keeps it busy.
func TestSchedulerTellsBusyAndIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		failed := false
		var mu sync.Mutex
		var told []string
		tell := func(what string) func() {
			return func() { mu.Lock(); told = append(told, what); mu.Unlock() }
		}
		st := newSchedTest(t, func(_ context.Context, r domain.Request) error {
			if r.ID == "r1" && !failed {
				failed = true
				return errors.New("pager down")
			}
			if r.ID == "r2" {
				<-release
			}
			return nil
		})
		st.s.onBusy, st.s.onIdle = tell("busy"), tell("idle")
		saw := func(want ...string) {
			t.Helper()
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(told) != len(want) {
				t.Fatalf("told %v, want %v", told, want)
			}
			for i := range want {
				if told[i] != want[i] {
					t.Fatalf("told %v, want %v", told, want)
				}
			}
		}
		st.s.Start()
		st.s.Submit(pendingReq("r1"))
		st.s.Submit(pendingReq("r2"))
		saw("busy")
		close(release) // r2 done; r1 waits for its retry
		saw("busy")
		time.Sleep(retryMax)
		saw("busy", "idle")
		st.s.Submit(pendingReq("r3"))
		saw("busy", "idle", "busy", "idle")
		st.stop()
	})
}

// A pager action in hand keeps the daemon busy as a request does.
func TestSchedulerCountsPagerActionsAsBusy(t *testing.T) {
	st := newSchedTest(t, func(context.Context, domain.Request) error { return nil })
	var told []string
	st.s.onBusy = func() { told = append(told, "busy") }
	st.s.onIdle = func() { told = append(told, "idle") }
	st.s.enter()
	st.s.enter()
	st.s.leave()
	if len(told) != 1 || told[0] != "busy" {
		t.Fatalf("with one of two actions left: told %v, want [busy]", told)
	}
	st.s.leave()
	if len(told) != 2 || told[1] != "idle" {
		t.Fatalf("after both actions: told %v, want [busy idle]", told)
	}
}
