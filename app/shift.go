package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// shifts ends auto-approved grants with the on-call shift they were bound
// to (SPEC §17): it keeps a timer per bound request (in the scheduler),
// re-checks on-call when one fires, locks the request in Teleport when the
// requester is no longer on call, and notes it on the incidents. The lock
// runs under the intent protocol like every effect (EffectLock), so it is
// made once across replicas and restarts; its name comes from the request
// ID, so making it again after a crash is the same lock.
type shifts struct {
	policy   domain.Policy
	now      func() time.Time
	onCall   ports.OnCall         // OnCallsNow
	teleport ports.AccessRequests // UpdateRecord, ListRecords
	locks    ports.Locks
	mirror   ports.Records
	notes    noter
	sched    *scheduler // Arm, Disarm, Poke, Go
	metrics  ports.Metrics
	log      *zap.Logger
	// retryMin and retryMax bound the backoff of a failed rebuild.
	retryMin, retryMax time.Duration
	// rebuilds counts the rebuilds started; an older one stops retrying.
	rebuilds atomic.Uint64
}

// step says what the request's shift binding needs once Plan found nothing
// left: wait for the end (arm the timer), re-check on-call at the end
// (which may move the end), or lock (EffectLock).
func (s *shifts) step(ctx context.Context, req domain.Request, st state) (domain.Effect, error) {
	switch st.rec.ShiftStep(req.State, s.now()) {
	case domain.ShiftWait:
		s.sched.Arm(req.ID, st.rec.Shift.End)
		return domain.Effect{}, nil
	case domain.ShiftLock:
		return domain.Effect{Kind: domain.EffectLock}, nil
	case domain.ShiftRecheck:
		return s.recheck(ctx, req, st)
	}
	s.sched.Disarm(req.ID)
	return domain.Effect{}, nil
}

// recheck looks at the user's on-call entries at the shift's end: not on
// call any more means lock; still on call moves the end (or drops it when
// the entries have none) with a compare-and-swap on the record. A lookup
// error is returned, so the pass is retried with backoff: it never locks
// and never gives up.
func (s *shifts) recheck(ctx context.Context, req domain.Request, st state) (domain.Effect, error) {
	sh := st.rec.Shift
	log := s.log.With(zap.String("request_id", req.ID), zap.String("pd_user_email", sh.Email))
	ocs, err := s.onCall.OnCallsNow(ctx, sh.UserID, sh.Policies)
	if err != nil {
		s.metrics.Shift(ports.ShiftLookupFailed)
		return domain.Effect{}, fmt.Errorf("on-calls of %s at the end of the shift: %w", sh.Email, err)
	}
	now := s.now()
	v := s.policy.RecheckShift(sh, ocs, now)
	if !v.OnCall {
		return domain.Effect{Kind: domain.EffectLock}, nil
	}
	rec := st.rec
	rec.Shift.End, rec.Updated = v.End, now
	if !st.gone {
		if _, err := s.teleport.UpdateRecord(ctx, req.ID, st.version, rec); err != nil && !errors.Is(err, ports.ErrNotFound) {
			return domain.Effect{}, fmt.Errorf("record the new end of the shift: %w", casLost(err))
		}
	}
	if err := s.mirror.PutRecord(ctx, rec); err != nil {
		log.Warn("local record not saved", zap.Error(err))
	}
	if v.End.IsZero() {
		s.metrics.Shift(ports.ShiftUnbounded)
		s.sched.Disarm(req.ID)
		log.Info("still on call with no end; access no longer bound to a shift")
		return domain.Effect{}, nil
	}
	s.metrics.Shift(ports.ShiftExtended)
	s.sched.Arm(req.ID, v.End)
	log.Info("still on call; shift end moved", zap.Time("shift_end", v.End))
	return domain.Effect{}, nil
}

// lock is the EffectLock: it makes the lock, then notes it on the
// request's incidents (resolved ones too: PagerDuty takes notes on
// incidents in any status). recovering says a previous attempt may have
// done part of it: the lock is the same lock, and notes already posted
// are found by their marker.
func (s *shifts) lock(ctx context.Context, req domain.Request, rec domain.Record, recovering bool) error {
	sh := rec.Shift
	if !req.Expires.IsZero() {
		sh.Until = req.Expires // exact; the record keeps whole seconds
	}
	l := s.policy.ShiftLock(req.ID, sh)
	if err := s.locks.LockRequest(ctx, l); err != nil {
		s.metrics.Shift(ports.ShiftLockFailed)
		return fmt.Errorf("lock: %w", err)
	}
	if _, err := s.notes.postAll(ctx, rec, domain.ShiftNote(l, sh), domain.ShiftMarker, recovering); err != nil {
		return err
	}
	s.metrics.Shift(ports.ShiftLocked)
	s.sched.Disarm(req.ID)
	s.log.Info("access locked at the end of the on-call shift", zap.String("request_id", req.ID),
		zap.String("pd_user_email", rec.Shift.Email), zap.String("lock", l.Name), zap.Time("shift_end", rec.Shift.End))
	return nil
}

// rebuild arms the timers of every bound grant not locked yet, from the
// records in Teleport (one call), and gives a pass to those whose end has
// passed. It runs after every (re)connect, in the background, retrying a
// failed listing with backoff until it succeeds, the service stops, or a
// newer rebuild starts.
func (s *shifts) rebuild() {
	gen := s.rebuilds.Add(1)
	s.sched.Go(func(ctx context.Context) {
		b := newRetryBackoff(s.retryMin, s.retryMax)
		for s.rebuilds.Load() == gen {
			recs, err := s.teleport.ListRecords(ctx)
			if err == nil {
				s.arm(recs)
				return
			}
			wait := b.NextBackOff()
			s.log.Warn("records not listed to rebuild shift timers; will retry", zap.Duration("retry_in", wait), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	})
}

// arm sets the timers of the records' bound grants. The request's state
// is not known here: the pass the timer gives reads it.
func (s *shifts) arm(recs []domain.Record) {
	now := s.now()
	armed, due := 0, 0
	for _, rec := range recs {
		switch rec.ShiftStep(domain.StateApproved, now) {
		case domain.ShiftWait:
			s.sched.Arm(rec.RequestID, rec.Shift.End)
			armed++
		case domain.ShiftRecheck, domain.ShiftLock:
			s.sched.Poke(rec.RequestID)
			due++
		}
	}
	s.log.Info("shift timers rebuilt", zap.Int("records", len(recs)), zap.Int("armed", armed), zap.Int("due", due))
}
