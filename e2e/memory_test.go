//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// The daemon gives memory back once ready and after each idle spell: its
// binary's resident pages shrink, and it keeps working on what comes next.
func TestMemoryReleasedWhenIdle(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig(withTop("memory {", `  idle_after = "2s"`, "}")))
	waitUntil(t, d, 30*time.Second, "the release once ready", func() bool { return d.releases("ready") == 1 })

	// The busy figure must come before the idle release that follows the
	// request: a reading that raced with it is taken again.
	var busy float64
	for attempt := 1; ; attempt++ {
		before := d.releases("idle")
		e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "before a release"))
		var err error
		if busy, err = binaryRSS(d.cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if d.releases("idle") == before {
			waitUntil(t, d, 30*time.Second, "a release once idle", func() bool { return d.releases("idle") > before })
			break
		}
		if attempt == 3 {
			t.Fatal("an idle release came before the busy reading three times")
		}
	}
	idle, err := binaryRSS(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if idle > 0.8*busy {
		t.Errorf("the binary's resident pages went from %.1f MB to %.1f MB across the idle release; want a fifth or more dropped", busy, idle)
	}
	n := d.releases("idle")
	e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "after a release"))
	waitUntil(t, d, 30*time.Second, "the next idle release", func() bool { return d.releases("idle") > n })
	t.Logf("binary resident %.1f MB busy, %.1f MB after the idle release", busy, idle)
}

// release_when_idle = false: nothing is released. A replica with releases
// on sees the same events next to it; once it has released after the
// request, the other one has been idle as long.
func TestMemoryReleaseOff(t *testing.T) {
	e := newEnv(t, envOpts{})
	e2 := fReplica(t, e)
	on := e.start(e.writeConfig(withTop("memory {", `  idle_after = "1s"`, "}")))
	off := e2.start(e2.writeConfig(withTop("memory {", "  release_when_idle = false", `  idle_after = "1s"`, "}")))
	e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "no release"))
	waitUntil(t, on, 30*time.Second, "the other replica's idle release", func() bool { return on.releases("idle") >= 1 })
	for _, trigger := range []string{"start", "ready", "idle"} {
		if n := off.releases(trigger); n != 0 {
			t.Errorf("%v releases (%s) with release_when_idle = false", n, trigger)
		}
	}
}
