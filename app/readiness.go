package app

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Why the service is not ready (Service.Ready wraps them).
var (
	ErrDisconnected = errors.New("teleport watcher is not connected")
	ErrReconciling  = errors.New("backlog reconcile has not finished")
)

// readiness follows the watcher's events: ready once connected and the
// backlog found at the last (re)connect was scheduled. The zero value is
// not ready.
type readiness struct {
	connected      atomic.Bool
	reconciled     atomic.Bool
	lastDisconnect atomic.Pointer[error]
	once           sync.Once
}

// Ready returns nil when ready; while disconnected it says why, as the
// watcher last reported.
func (r *readiness) Ready() error {
	if !r.connected.Load() {
		if why := r.lastDisconnect.Load(); why != nil && *why != nil {
			return fmt.Errorf("%w: %w", ErrDisconnected, *why)
		}
		return ErrDisconnected
	}
	if !r.reconciled.Load() {
		return ErrReconciling
	}
	return nil
}

func (r *readiness) connect() { r.connected.Store(true) }

func (r *readiness) disconnect(why error) {
	r.connected.Store(false)
	r.reconciled.Store(false)
	r.lastDisconnect.Store(&why)
}

// backlogScheduled marks the reconcile done; the first time, it logs the
// one "ready" line (SPEC §13) and calls onReady (when set).
func (r *readiness) backlogScheduled(log *zap.Logger, onReady func()) {
	r.reconciled.Store(true)
	r.once.Do(func() {
		log.Info("ready")
		if onReady != nil {
			onReady()
		}
	})
}
