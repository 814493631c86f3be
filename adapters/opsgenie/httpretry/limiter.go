package httpretry

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter paces the calls of one client to its rate per minute (a token
// bucket of golang.org/x/time/rate: the rate, bursts of one second's
// worth) behind a pause gate: a 429 holds every call back for the wait the
// vendor asked, since its limit is per account.
type limiter struct {
	bucket *rate.Limiter

	mu         sync.Mutex
	pauseUntil time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{bucket: rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(1, perMinute/60))}
}

// wait blocks until the pause is over and a token is available, or ctx
// ends. A pause that begins while it waits for a token is waited out too.
func (l *limiter) wait(ctx context.Context) error {
	for {
		if err := Sleep(ctx, l.paused()); err != nil {
			return err
		}
		if err := l.bucket.Wait(ctx); err != nil {
			return err
		}
		if l.paused() <= 0 {
			return nil
		}
	}
}

// paused returns how long the pause lasts from now (<= 0: none).
func (l *limiter) paused() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.pauseUntil)
}

// pause holds every call back for d from now.
func (l *limiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.pauseUntil) {
		l.pauseUntil = until
	}
}
