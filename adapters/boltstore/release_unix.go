//go:build unix

package boltstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// beforeDrop runs between reading the map's range and dropping it (tests).
var beforeDrop = func() {}

// ReleasePages implements ports.PageReleaser: it drops the pages of the
// store's memory map from the process. bbolt maps the file read-only and
// shared and writes through the file, so a dropped page reads back from
// the page cache as the file holds it. The read transaction holds bbolt's
// map lock: the map cannot be replaced (grown) while it is dropped.
func (s *Store) ReleasePages() error {
	err := s.db.View(func(tx *bolt.Tx) error {
		// Info().Data is the start of bbolt's map (not Go memory); it
		// stays valid while the transaction holds the map lock.
		start, size := s.db.Info().Data, uintptr(tx.Size())
		if size == 0 {
			return nil
		}
		beforeDrop()
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, size, unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise: %w", errno)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release the pages of %s: %w", s.cfg.Path, err)
	}
	return nil
}
