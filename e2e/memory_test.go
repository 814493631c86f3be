//go:build e2e || bench

package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// binaryRSS sums the Rss of the mappings of the process's executable.
func binaryRSS(pid int) (float64, error) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	kb, ours := 0.0, false
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			ours = len(f) >= 6 && f[5] == exe // a mapping's header line
		case ours && len(f) >= 2 && f[0] == "Rss:":
			v, _ := strconv.ParseFloat(f[1], 64)
			kb += v
		}
	}
	return kb / 1024, nil
}

// The daemon gives memory back once ready and after each idle spell: its
// binary's resident pages shrink, and it keeps working on what comes next.
func TestMemoryReleasedWhenIdle(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig(withTop("memory {", `  idle_after = "1s"`, "}")))
	released := func(trigger string) float64 {
		n, _ := metricValue(d.metrics(), `pagergate_memory_releases_total{trigger="`+trigger+`"}`)
		return n
	}
	waitUntil(t, d, 30*time.Second, "the release once ready", func() bool { return released("ready") == 1 })

	e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "before a release"))
	busy, err := binaryRSS(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, d, 30*time.Second, "a release once idle", func() bool { return released("idle") >= 1 })
	idle, err := binaryRSS(d.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if idle > 0.8*busy {
		t.Errorf("the binary's resident pages went from %.1f MB to %.1f MB across the idle release; want a fifth or more dropped", busy, idle)
	}
	n := released("idle")
	e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "after a release"))
	waitUntil(t, d, 30*time.Second, "the next idle release", func() bool { return released("idle") > n })
	t.Logf("binary resident %.1f MB busy, %.1f MB after the idle release", busy, idle)
}

// release_when_idle = false: nothing is released.
func TestMemoryReleaseOff(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig(withTop("memory {", "  release_when_idle = false", `  idle_after = "1s"`, "}")))
	e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "no release"))
	time.Sleep(3 * time.Second)
	text := d.metrics()
	for _, trigger := range []string{"ready", "idle"} {
		if n, _ := metricValue(text, `pagergate_memory_releases_total{trigger="`+trigger+`"}`); n != 0 {
			t.Errorf("%v releases (%s) with release_when_idle = false", n, trigger)
		}
	}
}
