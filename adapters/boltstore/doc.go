// Package boltstore is a driven adapter of the hexagon: it implements the
// local store ports (ports.Records, ports.DedupStore and ports.Cache) in one
// bbolt file.
//
// The file holds the local mirror of request records, webhook replay keys
// and lookup caches. Losing it loses no correctness: the cluster-wide state
// is kept in Teleport plugin data. A goroutine owned by the Store prunes
// resolved records and expired keys; Close stops it.
package boltstore
