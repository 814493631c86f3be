package memrelease

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/ports"
	"github.com/pagergate/pagergate/ports/metricstest"
)

// part is a ports.PageReleaser counting its calls.
type part struct {
	calls atomic.Int32
	err   error
}

func (p *part) ReleasePages() error { p.calls.Add(1); return p.err }

// newTest returns a Releaser whose executable drop is counted, not done.
func newTest(t *testing.T, cfg Config, parts ...ports.PageReleaser) (*Releaser, *metricstest.Recorder, *atomic.Int32) {
	t.Helper()
	m := &metricstest.Recorder{}
	r := New(cfg, parts, m, zap.NewNop())
	var drops atomic.Int32
	r.drop = func() (int64, error) { drops.Add(1); return 4096, nil }
	return r, m, &drops
}

func stop(t *testing.T, r *Releaser) {
	t.Helper()
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("Stop() = %v", err)
	}
}

func TestIdleReleasesAfterTheSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &part{}
		r, m, drops := newTest(t, Config{IdleAfter: 5 * time.Second}, p)
		defer stop(t, r)
		r.Idle()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle"); got != 0 {
			t.Fatalf("%v releases 4s into a 5s idle spell, want 0", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle"); got != 1 || drops.Load() != 1 || p.calls.Load() != 1 {
			t.Fatalf("after the spell: %v idle releases, %d executable drops, %d part drops; want 1 each", got, drops.Load(), p.calls.Load())
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle"); got != 1 {
			t.Fatalf("%v idle releases a minute later with no new Idle, want 1", got)
		}
	})
}

func TestBusyCancelsAndIdleRestartsTheSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, m, _ := newTest(t, Config{IdleAfter: 5 * time.Second})
		defer stop(t, r)
		r.Idle()
		time.Sleep(3 * time.Second)
		r.Busy()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle"); got != 0 {
			t.Fatalf("%v releases after Busy, want 0", got)
		}
		r.Idle()
		time.Sleep(3 * time.Second)
		r.Idle() // a later idle restarts the spell
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle"); got != 0 {
			t.Fatalf("%v releases 3s after the last Idle, want 0", got)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle"); got != 1 {
			t.Fatalf("%v releases 6s after the last Idle, want 1", got)
		}
	})
}

func TestOffAndStoppedReleaseNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		off, m, drops := newTest(t, Config{Off: true, IdleAfter: time.Second})
		off.Ready()
		off.Idle()
		if got := off.Release(ports.ReleaseIdle); got != (Released{}) {
			t.Errorf("Release when off = %+v, want nothing", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if m.Get("memory_releases", "ready")+m.Get("memory_releases", "idle") != 0 || drops.Load() != 0 {
			t.Fatalf("releases with Off: %v ready, %v idle, %d drops", m.Get("memory_releases", "ready"), m.Get("memory_releases", "idle"), drops.Load())
		}

		r, m, _ := newTest(t, Config{IdleAfter: time.Second})
		r.Idle()
		stop(t, r)
		r.Idle()
		r.Ready()
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := m.Get("memory_releases", "idle") + m.Get("memory_releases", "ready"); got != 0 {
			t.Fatalf("%v releases after Stop, want 0", got)
		}

		never, m, _ := newTest(t, Config{})
		never.Idle()
		never.Ready()
		time.Sleep(time.Minute)
		synctest.Wait()
		if m.Get("memory_releases", "idle") != 0 || m.Get("memory_releases", "ready") != 1 {
			t.Fatalf("IdleAfter 0: %v idle and %v ready releases, want 0 and 1", m.Get("memory_releases", "idle"), m.Get("memory_releases", "ready"))
		}
	})
}

// A drop of the executable's pages that fails is logged once and not tried
// again; the heap and the parts are still released, and a failing part
// does not keep the next from its drop.
func TestFailuresAreLoggedAndTheRestStillReleased(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	bad, good := &part{err: errors.New("madvise: invalid argument")}, &part{}
	m := &metricstest.Recorder{}
	r := New(Config{}, []ports.PageReleaser{bad, good}, m, zap.New(core))
	var drops atomic.Int32
	r.drop = func() (int64, error) { drops.Add(1); return 0, errors.New("smaps: no such file") }
	r.Release(ports.ReleaseIdle)
	r.Release(ports.ReleaseIdle)
	if drops.Load() != 1 {
		t.Errorf("a failed executable drop was tried %d times, want once", drops.Load())
	}
	if bad.calls.Load() != 2 || good.calls.Load() != 2 {
		t.Errorf("parts released %d and %d times, want 2 each", bad.calls.Load(), good.calls.Load())
	}
	if got := m.Get("memory_releases", "idle"); got != 2 {
		t.Errorf("%v releases counted, want 2", got)
	}
	if n := logs.FilterMessageSnippet("executable").Len(); n != 1 {
		t.Errorf("%d warnings on the executable's pages, want 1", n)
	}
	if n := logs.FilterMessageSnippet("cannot drop idle pages").Len(); n != 1 {
		t.Errorf("%d warnings on the part failing twice, want 1", n)
	}
}

// Ready while busy (a backlog found at start) leaves the release to the
// idle spell that follows.
func TestReadyWhileBusyWaitsForIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, m, _ := newTest(t, Config{IdleAfter: 5 * time.Second})
		defer stop(t, r)
		r.Busy()
		r.Ready()
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := m.Get("memory_releases", "ready"); got != 0 {
			t.Fatalf("%v ready releases while busy, want 0", got)
		}
		r.Idle()
		r.Ready()
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if m.Get("memory_releases", "ready") != 1 || m.Get("memory_releases", "idle") != 1 {
			t.Fatalf("once idle: %v ready and %v idle releases, want 1 and 1", m.Get("memory_releases", "ready"), m.Get("memory_releases", "idle"))
		}
	})
}

// blockingPart blocks in ReleasePages until released.
type blockingPart struct {
	entered, release chan struct{}
	calls            atomic.Int32
}

func (p *blockingPart) ReleasePages() error {
	p.calls.Add(1)
	p.entered <- struct{}{}
	<-p.release
	return nil
}

// Stop waits for a release running (bounded by its context) and nothing
// is released after it.
func TestStopWaitsForTheRunningRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &blockingPart{entered: make(chan struct{}, 1), release: make(chan struct{})}
		r, m, _ := newTest(t, Config{IdleAfter: time.Second}, p)
		r.Ready()
		<-p.entered
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := r.Stop(ctx); err == nil {
			t.Fatal("Stop() = nil while a release blocks, want the context's error")
		}
		stopped := make(chan error, 1)
		go func() { stopped <- r.Stop(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-stopped:
			t.Fatalf("Stop() = %v before the running release ended", err)
		default:
		}
		close(p.release)
		if err := <-stopped; err != nil {
			t.Fatalf("Stop() = %v", err)
		}
		if got := r.Release(ports.ReleaseIdle); got != (Released{}) || p.calls.Load() != 1 || m.Get("memory_releases", "idle") != 0 {
			t.Fatalf("after Stop: Release = %+v, %d part calls, %v idle releases; want nothing", got, p.calls.Load(), m.Get("memory_releases", "idle"))
		}
	})
}

// Started releases at once, busy or not, in the background.
func TestStartedReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, m, drops := newTest(t, Config{IdleAfter: 5 * time.Second})
		defer stop(t, r)
		r.Busy()
		r.Started()
		synctest.Wait()
		if m.Get("memory_releases", "start") != 1 || drops.Load() != 1 {
			t.Fatalf("Started: %v start releases, %d drops; want 1 and 1", m.Get("memory_releases", "start"), drops.Load())
		}
	})
}

// flakyPart fails its drops while fail is set.
type flakyPart struct{ fail bool }

func (p *flakyPart) ReleasePages() error {
	if p.fail {
		return errors.New("madvise: cannot allocate memory")
	}
	return nil
}

// A part's failure is logged once per run of failures: again after a
// drop that worked.
func TestPartFailuresLoggedOncePerRun(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	p := &flakyPart{fail: true}
	r := New(Config{}, []ports.PageReleaser{p}, &metricstest.Recorder{}, zap.New(core))
	r.drop = func() (int64, error) { return 0, nil }
	r.Release(ports.ReleaseIdle)
	r.Release(ports.ReleaseIdle)
	p.fail = false
	r.Release(ports.ReleaseIdle)
	p.fail = true
	r.Release(ports.ReleaseIdle)
	if n := logs.FilterMessageSnippet("cannot drop idle pages").Len(); n != 2 {
		t.Errorf("%d warnings over two runs of failures, want 2", n)
	}
	if n := logs.FilterMessage("idle pages drop again").Len(); n != 1 {
		t.Errorf("%d recoveries logged, want 1", n)
	}
}
