// Package domain is the pure core of pagergate, the centre of the hexagon:
// access requests, on-call facts, the records pagergate keeps about each
// request, and the decisions of the behaviour specification (which services
// to notify, what an incident says, whether a request is auto-approved,
// which reviews are new, what a pager action may do).
//
// It imports the standard library only. It takes data and returns data; it
// never logs and never performs I/O.
package domain
