//go:build !unix

package boltstore

// ReleasePages implements ports.PageReleaser; it drops nothing here.
func (s *Store) ReleasePages() error { return nil }
