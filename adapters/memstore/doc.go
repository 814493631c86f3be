// Package memstore is an in-memory driven adapter of the hexagon: it
// implements the local store ports (ports.Records, ports.DedupStore and
// ports.Cache) with maps behind one mutex.
//
// It keeps nothing across restarts, so the daemon never uses it: it is the
// store of tests that need a working one (the PagerDuty adapter's lookup
// cache, for one). It follows the same contract as the bbolt store: both
// run ports/storetest.
package memstore
