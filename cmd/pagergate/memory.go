package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit (heap, stacks
// and runtime structures: the anonymous part of the resident set) when the
// environment sets no GOMEMLIMIT. Under it the collector runs as GOGC
// says; near it, more often, so a burst (10,000 pending requests listed at
// start) does not double the heap before the next collection. It is soft:
// a live heap above it still works, at the price of more collector CPU
// (at most half of it). docs/benchmarks.md has the figures behind it;
// raise it (GOMEMLIMIT=64MiB) for clusters with tens of thousands of
// pending requests.
const defaultMemoryLimit = 28 << 20

// setMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT is set.
func setMemoryLimit() {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

// releaseStartupMemory returns what the start-up freed (configuration
// parsing, TLS set-up, the backlog listing) to the OS at once, instead of
// over the next minutes. It runs once, when the daemon is first ready.
func releaseStartupMemory() { go debug.FreeOSMemory() }
