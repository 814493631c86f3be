//go:build linux

package memrelease

import (
	"crypto/sha256"
	"fmt"
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

// readOnlyImage hashes every read-only mapping of the executable, read
// through /proc/self/mem (which faults each page in), by address.
func readOnlyImage(t *testing.T) map[string][32]byte {
	t.Helper()
	exe, err := executableFile()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := parseSmaps(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	out := map[string][32]byte{}
	for _, m := range maps {
		if m.inode != exe.inode || m.dev != exe.dev || m.perms[0] != 'r' || m.perms[1] == 'w' {
			continue
		}
		buf := make([]byte, m.end-m.start)
		if _, err := mem.ReadAt(buf, int64(m.start)); err != nil {
			t.Fatalf("read %x-%x: %v", m.start, m.end, err)
		}
		out[fmt.Sprintf("%x-%x %s", m.start, m.end, m.perms)] = sha256.Sum256(buf)
	}
	if len(out) == 0 {
		t.Fatal("no read-only mapping of the executable")
	}
	return out
}

// The executable's clean pages leave the resident set, and every byte of
// its read-only mappings reads back unchanged: code, read-only data,
// function tables and, in a cgo or PIE build, the pages the loader
// relocated (which are never dropped).
func TestDropExecutablePages(t *testing.T) {
	image := readOnlyImage(t) // every page resident
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
	for k, v := range readOnlyImage(t) {
		if image[k] != v {
			t.Errorf("mapping %s reads back changed after the drop", k)
		}
	}
	t.Logf("executable resident %d -> %d bytes (dropped %d)", before, after, n)
}
