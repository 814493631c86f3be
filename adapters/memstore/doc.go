// Package memstore is an in-memory driven adapter of the hexagon: it
// implements the local store ports (ports.Records, ports.DedupStore and
// ports.Cache) with maps behind one mutex.
//
// It keeps nothing across restarts. Tests use it, and so does
// `pagergate demo` when no store file is wanted. It follows the same
// contract as the bbolt store (see ports/storetest).
package memstore
