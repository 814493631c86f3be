// Package app holds pagergate's use cases, between the driving adapters
// (the Teleport watcher, the webhook) and the driven ones (Teleport, the
// pager, the store): handle a request event, reconcile the backlog after a
// (re)connect, and handle a pager action. It decides with domain and acts
// through ports; it knows no vendor.
//
// Every side effect follows SPEC §7: the intent is recorded in the
// request's record in Teleport with compare-and-swap, the effect is done,
// the result is recorded. A failed effect is retried with backoff until it succeeds or the
// request ends.
package app
