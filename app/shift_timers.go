package app

import (
	"time"

	"github.com/pagergate/pagergate/domain"
)

// shiftTimer wakes a request up at the end of the shift its grant is bound
// to (SPEC §17).
type shiftTimer struct {
	at    time.Time
	timer *time.Timer
}

// Arm sets the request's shift timer to at (replacing another time; the
// same time keeps the running timer). When it fires, the request gets a
// pass (Poke).
func (s *scheduler) Arm(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	if old, ok := s.shifts[id]; ok {
		if old.at.Equal(at) {
			return
		}
		old.timer.Stop()
	}
	wait := max(at.Sub(s.now()), 0)
	s.shifts[id] = shiftTimer{at: at, timer: time.AfterFunc(wait, func() { s.fire(id, at) })}
}

// Disarm stops the request's shift timer, if any.
func (s *scheduler) Disarm(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.shifts[id]; ok {
		old.timer.Stop()
		delete(s.shifts, id)
	}
}

// Armed returns when the request's shift timer fires.
func (s *scheduler) Armed(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.shifts[id]
	return t.at, ok
}

// fire forgets the timer (unless it was re-armed meanwhile) and gives the
// request a pass.
func (s *scheduler) fire(id string, at time.Time) {
	s.mu.Lock()
	if t, ok := s.shifts[id]; ok && t.at.Equal(at) {
		delete(s.shifts, id)
	}
	s.mu.Unlock()
	s.Poke(id)
}

// Poke gives a request a pass on its current snapshot: queued or waiting
// for a retry, it will have one; running, it runs again; unknown to the
// scheduler, it is queued with no snapshot (State unknown), and the pass
// reads the request from Teleport first.
func (s *scheduler) Poke(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	if it, ok := s.items[id]; ok {
		if it.running {
			it.dirty = true
		}
		return
	}
	it := &item{req: domain.Request{ID: id}}
	s.items[id] = it
	s.enqueueLocked(id, it)
}

// stopShiftsLocked stops every shift timer; s.mu is held. The next start
// rebuilds them from the records.
func (s *scheduler) stopShiftsLocked() {
	for id, t := range s.shifts {
		t.timer.Stop()
		delete(s.shifts, id)
	}
}
