// Package memrelease is the driven adapter of the process's own memory: it
// gives back to the operating system what the daemon holds but no longer
// uses, once it is ready and each time it has been idle for a while.
//
// A release returns the heap the collector freed (debug.FreeOSMemory), and
// drops the resident pages of file mappings that only ever hold the file's
// own bytes: the executable's read-only segments (code, read-only data,
// function tables) and the parts given as ports.PageReleaser (the store's
// memory map). Start-up code, TLS handshakes and a burst's code paths leave
// those pages mapped long after they ran. Dropping them shrinks the
// process's resident set; the pages stay in the kernel's page cache, now
// unmapped, which the kernel reclaims before mapped code when memory is
// short, and code that runs again faults them back in from there (or from
// the file once reclaimed). The heap part is memory the machine gets back;
// the page part is the process no longer holding cache it does not use.
//
// Which executable mappings may be dropped is decided from
// /proc/self/smaps: only mappings of the executable's own file (device and
// inode of the mapping holding this code), not writable, not locked, and
// holding no private copy of a page, neither in memory (Anonymous: 0 kB)
// nor swapped out (Swap: 0 kB). A dropped page of such a mapping reads back
// exactly as it was. A page the dynamic loader relocated (a cgo or PIE
// build), a debugger's breakpoint or a uprobe is a private copy, and its
// whole mapping is left alone. Each mapping is dropped as soon as its smaps
// entry is read; a breakpoint or uprobe placed in that instant (tens of
// microseconds per release) would be lost, which is why the `memory {}`
// block can turn releases off. The executable's mappings are made by the
// kernel at exec and never unmapped, so no other mapping can take their
// addresses between the read and the drop.
//
// Pages are dropped on Linux only; elsewhere a release returns the heap.
package memrelease
