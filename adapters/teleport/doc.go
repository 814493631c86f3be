// Package teleport is the Teleport adapter: a driven adapter of the hexagon
// that implements ports.AccessRequests and ports.Watcher over Teleport's
// gRPC API (github.com/gravitational/teleport/api).
//
// It loads the plugin's credentials (an identity file, optionally re-read
// when it changes, or a client certificate, key and CA), checks the cluster
// version, converts access requests into domain.Request, approves or denies
// them by review or by setting their state, keeps each request's record in
// its plugin data (record.go: the reference plugin's keys plus pagergate's,
// every write conditional on the version read and naming every key), and
// watches access request events with reconnects.
// Teleport types and errors stop here: callers see domain types and the
// errors of package ports.
package teleport
