//go:build !linux

package memrelease

// dropExecutablePages drops nothing outside Linux.
func dropExecutablePages() (int64, error) { return 0, nil }
