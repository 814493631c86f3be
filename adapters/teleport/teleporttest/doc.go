// Package teleporttest runs an in-process Teleport Auth Service for tests,
// e2e runs and the demo: it serves the real generated gRPC AuthService over
// mutual TLS on loopback, so the Teleport adapter is exercised through the
// real api client.
//
// It sits outside the hexagon, beside the Teleport adapter: it stands in for
// the Teleport cluster the adapter talks to. It keeps access requests,
// reviews, plugin data and users with permissions in memory, streams watch
// events, and issues credentials (identity files, certificate trios) from
// its own throwaway certificate authorities.
package teleporttest
