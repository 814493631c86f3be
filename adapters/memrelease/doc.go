// Package memrelease is the driven adapter of the process's own memory: it
// gives back to the operating system what the daemon holds but no longer
// uses, once it is ready and each time it has been idle for a while.
//
// A release returns the heap the collector freed (debug.FreeOSMemory), and
// drops the resident pages of file mappings that only ever hold the file's
// own bytes: the executable's read-only segments (code, read-only data,
// function tables) and the parts given as ports.PageReleaser (the store's
// memory map). Start-up code, TLS handshakes and a burst's code paths leave
// those pages mapped long after they ran; the kernel keeps them in its page
// cache, so code that runs again faults them back in from memory, not
// from disk.
//
// Which executable mappings may be dropped is decided from
// /proc/self/smaps: only mappings of the executable's own file (device and
// inode), not writable, not locked, and holding no private copy of a page
// (Anonymous: 0 kB). A dropped page of such a mapping reads back exactly
// as it was; a relocated or patched page (a cgo or PIE build's relocation
// tables, a debugger's breakpoint) is a private copy, and its mapping is
// left alone. The executable's mappings are made by the kernel at exec and
// never unmapped, so no other mapping can take their addresses between
// the read of smaps and the drop.
//
// Pages are dropped on Linux only; elsewhere a release returns the heap.
package memrelease
