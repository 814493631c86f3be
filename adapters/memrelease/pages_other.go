//go:build !linux

package memrelease

// pagesDropped says whether dropExecutablePages drops anything here.
const pagesDropped = false

// dropExecutablePages drops nothing outside Linux.
func dropExecutablePages() (int64, error) { return 0, nil }
