package app

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// newRetryBackoff returns the backoff of one request's failed passes:
// the step d doubles from lo to hi, and each wait is drawn uniformly from
// [d/2, d] (equal jitter: never less than half the step, so retries
// spread out without coming back at once). cenkalti/backoff draws from
// interval·[1-f, 1+f]; an interval of 3d/4 with f = 1/3 is that range.
func newRetryBackoff(lo, hi time.Duration) backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(lo*3/4),
		backoff.WithMaxInterval(hi*3/4),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(1.0/3),
		backoff.WithMaxElapsedTime(0), // a request is retried until it ends
	)
}

// busyWait is how long to wait when a peer holds a fresh intent on the
// request: about one short step, so its result is seen soon after.
func busyWait(lo time.Duration) time.Duration { return lo + rand.N(lo+1) }
