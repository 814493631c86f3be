package app

import (
	"context"
	"testing"
	"time"
)

// waitLimit bounds every wait of the package's tests: a regression fails
// with what did not happen, well under the package's timeout, instead of
// hanging until it.
const waitLimit = 10 * time.Second

// eventually polls cond until it holds (true) or waitLimit passes (false).
// It calls nothing of testing.T, so goroutines other than the test's may
// use it.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// waitFor fails the test when cond does not hold within waitLimit; what
// says what should have happened.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !eventually(cond) {
		t.Fatalf("not within %v: %s", waitLimit, what)
	}
}

// receive returns the next value of ch, or fails the test when none comes
// within waitLimit; what says what should have happened.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("not within %v: %s", waitLimit, what)
		panic("unreachable")
	}
}

// stop stops the service; the test fails when Stop does not return within
// waitLimit.
func (h *harness) stop(ctx context.Context) error {
	h.t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.p.Stop(ctx) }()
	return receive(h.t, done, "Stop returned")
}

// stopWithin stops the service with waitLimit to drain: work that does not
// end fails the test instead of keeping Stop, and the test, waiting
// forever (in a synctest bubble too, where a retry loop would otherwise
// run on in fake time).
func (h *harness) stopWithin() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.p.Stop(ctx); err != nil {
		h.t.Errorf("Stop() = %v: in-flight work did not end within %v", err, waitLimit)
	}
}
