package app

import (
	"sync"
	"time"
)

// Refusal notes: the same one at most every refusalNoteEvery, remembered
// for at most maxNoted keys (in memory: a restart may note once more).
const (
	refusalNoteEvery = 15 * time.Minute
	maxNoted         = 4096
)

// noteGate remembers which refusals were noted lately. The zero value is
// ready.
type noteGate struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// admit reports whether the refusal with key may be noted now, and if so
// remembers it.
func (g *noteGate) admit(key string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if at, ok := g.seen[key]; ok && now.Sub(at) < refusalNoteEvery {
		return false
	}
	if g.seen == nil || len(g.seen) >= maxNoted {
		g.seen = make(map[string]time.Time) // forgetting early costs a note, never an answer
	}
	g.seen[key] = now
	return true
}

func (g *noteGate) forget(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.seen, key)
}
