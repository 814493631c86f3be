// Package app holds pagergate's use cases, between the driving adapters
// (the Teleport watcher, the webhook) and the driven ones (Teleport, the
// pager, the store). It decides with domain and acts through ports; it
// knows no vendor. New wires the parts into one Service:
//
//   - scheduler (scheduler.go): the per-request queue and its workers;
//     one pass at a time per request, always on its newest snapshot, and
//     retries with backoff (retry.go).
//   - requests (request.go): one request's life under the intent
//     protocol of SPEC §7 — the intent is recorded in the request's record
//     in Teleport with compare-and-swap, the effect is done (effects.go,
//     approve.go), the result is recorded.
//   - actions (action.go, action_lookup.go): approve, deny and manual
//     resolve from the pager (SPEC §6).
//   - reconciler (reconcile.go, orphans.go): what the watcher may have
//     missed, after every (re)connect (SPEC §2).
//   - readiness (readiness.go): connected and backlog scheduled.
package app
