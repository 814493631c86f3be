package ports

// PageReleaser is a part of the process that maps a file and can drop
// the resident pages of that map, which read back unchanged from the
// file (the store's memory map). The memory releaser calls it when the
// daemon is idle.
type PageReleaser interface {
	// ReleasePages drops the pages.
	ReleasePages() error
}

// ReleaseTrigger labels Metrics.MemoryRelease: what started a release.
type ReleaseTrigger string

// Release triggers.
const (
	// ReleaseStart: every part started, before the first connection
	// (what configuration, init and wiring left behind).
	ReleaseStart ReleaseTrigger = "start"
	// ReleaseReady: the daemon became ready (start-up done).
	ReleaseReady ReleaseTrigger = "ready"
	// ReleaseIdle: the daemon had no request in hand for a while.
	ReleaseIdle ReleaseTrigger = "idle"
)
