// Package storetest is the contract suite of the local store ports
// (ports.Records, ports.DedupStore and ports.Cache). Every store adapter
// runs it from its tests, so the bbolt store and the in-memory store behave
// the same way behind the ports the core uses.
//
// It imports only the standard library, domain and ports.
package storetest
