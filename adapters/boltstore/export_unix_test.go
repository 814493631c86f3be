//go:build unix

package boltstore

// SetBeforeDrop makes f run inside ReleasePages between reading the map's
// range and dropping it; the returned func restores the default.
func SetBeforeDrop(f func()) (restore func()) {
	beforeDrop = f
	return func() { beforeDrop = func() {} }
}
