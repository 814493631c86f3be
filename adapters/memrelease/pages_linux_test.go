//go:build linux

package memrelease

import (
	"crypto/sha256"
	"os"
	"testing"
)

// executableRSS is the resident size of this test binary's own mappings.
func executableRSS(t *testing.T) (all, droppable int64) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	maps, err := parseSmaps(f)
	if err != nil {
		t.Fatal(err)
	}
	exe, ok := executable(maps, thisPC())
	if !ok {
		t.Fatal("no mapping holds this code")
	}
	for _, m := range maps {
		if m.inode == exe.inode && m.dev == exe.dev {
			all += m.rss
			if m.droppable(exe) {
				droppable += m.rss
			}
		}
	}
	return all, droppable
}

// The executable's clean pages leave the resident set, and the code and
// data in them still run and read back unchanged.
func TestDropExecutablePages(t *testing.T) {
	before, droppable := executableRSS(t)
	if droppable < 1<<20 {
		t.Fatalf("%d bytes of the test binary droppable (of %d resident); the test needs some", droppable, before)
	}
	sum := sha256.Sum256([]byte("pagergate")) // code and tables from the binary
	n, err := dropExecutablePages()
	if err != nil {
		t.Fatalf("dropExecutablePages() = %d, %v", n, err)
	}
	if n < droppable/2 {
		t.Errorf("dropExecutablePages() dropped %d bytes; %d were droppable", n, droppable)
	}
	after, _ := executableRSS(t)
	if after >= before-n/2 {
		t.Errorf("the executable's resident set went from %d to %d bytes after dropping %d", before, after, n)
	}
	if again := sha256.Sum256([]byte("pagergate")); again != sum {
		t.Fatal("the same code computed another result after the drop")
	}
	t.Logf("executable resident %d -> %d bytes (dropped %d)", before, after, n)
}
