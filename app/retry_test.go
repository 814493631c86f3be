package app

import (
	"testing"
	"time"
)

// The wait behind a peer's fresh intent is one to two short steps, the
// smallest step included.
func TestBusyWaitIsOneToTwoSteps(t *testing.T) {
	for _, lo := range []time.Duration{time.Nanosecond, time.Millisecond, 500 * time.Millisecond} {
		for range 100 {
			if d := busyWait(lo); d < lo || d > 2*lo {
				t.Fatalf("busyWait(%v) = %v, want within [%v, %v]", lo, d, lo, 2*lo)
			}
		}
	}
}
