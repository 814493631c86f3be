// Package fakepd is a test and staging double on the outer ring of the
// hexagon: an in-memory PagerDuty that speaks the subset of PagerDuty's REST
// API pagergate uses (abilities, users, services, escalation policies,
// on-calls, incidents with incident_key dedup, notes, extensions and
// extension schemas), with PagerDuty's paths, JSON shapes, status codes,
// error envelope and offset pagination.
//
// It is not a port implementation: the PagerDuty adapter's tests, the
// `pager "fake"` staging mode, e2e tests and the demo point the real
// PagerDuty adapter at it. Besides the API it serves a small web page that
// lists incidents and sends real webhook deliveries (signed v3
// incident.annotated events or Custom Incident Action messages) to the
// daemon, and it offers test controls: latency, a rate limit answering 429,
// injected faults, per-route call counters and waiting helpers.
//
// It imports domain and the standard library only.
package fakepd
