// Package pagerduty is a driven adapter of the hexagon: it implements
// ports.OnCall and ports.Pager against the PagerDuty REST API v2 with
// github.com/PagerDuty/go-pagerduty.
//
// Vendor types stop here: callers see domain types and the errors of the
// ports package (ErrNotFound, ErrConflict, ErrUnavailable,
// *ports.PermissionError). Every call goes through one http.RoundTripper
// that applies the client-side rate limit, honours 429 answers
// (Retry-After, ratelimit-reset), retries 5xx answers and timeouts with
// jittered exponential backoff, bounds each attempt with a timeout and
// counts each attempt in the metrics. User and service lookups are cached
// for Config.CacheTTL; on-call status never is.
package pagerduty
