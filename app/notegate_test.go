package app

import (
	"fmt"
	"testing"
	"time"
)

// A refusal is noted once per refusalNoteEvery: again only once that long
// has passed, and noting another refusal meanwhile does not make it
// forgotten.
func TestNoteGateAdmitsARefusalOncePerPeriod(t *testing.T) {
	var g noteGate
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", time.Minute, false},
		{"b", 2 * time.Minute, true},
		{"a", 3 * time.Minute, false},
		{"a", refusalNoteEvery - time.Nanosecond, false},
		{"a", refusalNoteEvery, true},
		{"a", refusalNoteEvery + time.Minute, false},
	}
	for _, s := range steps {
		if got := g.admit(s.key, now.Add(s.at)); got != s.want {
			t.Errorf("admit(%q) at +%v = %v, want %v", s.key, s.at, got, s.want)
		}
	}
	g.forget("a")
	if !g.admit("a", now.Add(refusalNoteEvery+2*time.Minute)) {
		t.Error("a forgotten refusal is not noted again")
	}
}

// The gate holds at most maxNoted keys: at the cap it starts over, so a
// burst of distinct refusals cannot grow it without bound.
func TestNoteGateIsBounded(t *testing.T) {
	var g noteGate
	for i := range maxNoted {
		if !g.admit(fmt.Sprint("k", i), now) {
			t.Fatalf("admit(k%d) = false for a new key", i)
		}
	}
	if n := len(g.seen); n != maxNoted {
		t.Fatalf("gate holds %d keys, want %d", n, maxNoted)
	}
	if g.admit("k0", now) {
		t.Error("a key noted just now is admitted again below the cap")
	}
	g.admit("one-more", now)
	if n := len(g.seen); n != 1 {
		t.Errorf("gate holds %d keys after passing the cap, want 1 (started over)", n)
	}
}
