package app

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"weak"

	"go.uber.org/mock/gomock"

	"github.com/pagergate/pagergate/domain"
)

// backlogWatcher is a ports.Watcher that sends one synced event with n
// pending requests, then waits; list is a weak pointer to the event's
// list, so nothing of the watcher holds it once sent.
type backlogWatcher struct {
	n       int
	list    weak.Pointer[domain.Request]
	backlog *domain.Backlog
}

func (w *backlogWatcher) Watch(ctx context.Context, out chan<- domain.Event) error {
	w.send(out)
	<-ctx.Done()
	return ctx.Err()
}

//go:noinline
func (w *backlogWatcher) send(out chan<- domain.Event) {
	pending := make([]domain.Request, w.n)
	for i := range pending {
		pending[i] = domain.Request{ID: fmt.Sprintf("r%05d", i), State: domain.StatePending}
	}
	w.list = weak.Make(&pending[0])
	w.backlog = domain.NewBacklog(pending)
	out <- domain.Event{Kind: domain.EventSynced, Pending: w.backlog}
}

// A start-up backlog's list is garbage once scheduled: the scan of every
// request that follows (thousands of pages on a large cluster) does not
// run with it still held next to what the scheduler keeps.
func TestSyncLetsGoOfThePendingListBeforeTheScan(t *testing.T) {
	h := newHarness(t, nil)
	w := &backlogWatcher{n: 1000}
	held := make(chan bool, 1)
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, func(domain.Request)) error {
		runtime.GC()
		runtime.GC()
		held <- w.list.Value() != nil
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.p.Run(ctx, w) }()
	if receive(t, held, "the scan after the sync") {
		t.Error("the pending list was still reachable during the scan that follows its scheduling")
	}
	// Every copy of the event shares the backlog: taking it leaves none
	// of them holding the list (what the weak pointer shows depends on
	// the compiler's liveness too).
	if got := w.backlog.Requests(); got != nil {
		t.Errorf("the event's backlog still holds %d requests after the sync took it", len(got))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if n := h.p.sched.Pending(); n != 1000 {
		t.Fatalf("%d requests scheduled, want 1000", n)
	}
}

// A pager action counts as work in hand: the daemon is busy while it runs
// and idle after it.
func TestHandleActionIsBusy(t *testing.T) {
	var told []string
	h := newHarness(t, func(c *Config) {
		c.OnBusy = func() { told = append(told, "busy") }
		c.OnIdle = func() { told = append(told, "idle") }
	})
	_, _ = h.p.HandleAction(context.Background(), domain.Action{}) // refused before any call: no incident
	if len(told) != 2 || told[0] != "busy" || told[1] != "idle" {
		t.Fatalf("told %v around a pager action, want [busy idle]", told)
	}
}
