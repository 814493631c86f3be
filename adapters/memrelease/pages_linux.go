//go:build linux

package memrelease

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// dropExecutablePages drops the resident pages of the executable's
// droppable mappings (mapping.droppable) and returns how many bytes were
// resident in them. Each mapping is dropped as soon as its smaps entry is
// read, so little happens between the check and the drop.
func dropExecutablePages() (int64, error) {
	exe, err := executableFile()
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var dropped int64
	err = scanSmaps(f, func(m mapping) error {
		if !m.droppable(exe) {
			return nil
		}
		if err := dontNeed(m.start, m.end-m.start); err != nil {
			return fmt.Errorf("madvise %x-%x %s: %w", m.start, m.end, m.perms, err)
		}
		dropped += m.rss
		return nil
	})
	if err != nil {
		return dropped, fmt.Errorf("drop through /proc/self/smaps: %w", err)
	}
	return dropped, nil
}

// executableFile is the file of the mapping holding this code, from
// /proc/self/maps, read once: the executable's mappings never change.
var executableFile = sync.OnceValues(func() (file, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return file{}, err
	}
	defer f.Close()
	maps, err := parseSmaps(f)
	if err != nil {
		return file{}, fmt.Errorf("read /proc/self/maps: %w", err)
	}
	exe, ok := executable(maps, thisPC())
	if !ok {
		return file{}, fmt.Errorf("/proc/self/maps has no file mapping holding this code")
	}
	return exe, nil
})

// thisPC is an address in the executable's code.
func thisPC() uintptr {
	pc, _, _, _ := runtime.Caller(0)
	return pc
}

// dontNeed is madvise(MADV_DONTNEED) over [start, start+length).
func dontNeed(start, length uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, length, unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
