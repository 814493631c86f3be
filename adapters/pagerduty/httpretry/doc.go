// Package httpretry is the HTTP transport every pager adapter's client
// calls its vendor through: a client-side rate limit (golang.org/x/time/rate
// behind a pause gate that a 429 closes for every call, since vendors
// limit per account), a per-attempt timeout, retries of 429, 408, 5xx and
// transport failures with equal-jitter exponential backoff
// (cenkalti/backoff), the metrics of every attempt, and the vendor's
// reachability for readiness, with the background probe that clears it.
//
// It belongs to the PagerDuty adapter: adapters never import each other, so
// the Opsgenie adapter holds its own copy of this package
// (adapters/opsgenie/httpretry). The copies are kept the same, and
// a fix to one is made to both. It knows no vendor (the vendor names its
// endpoints and its rate-limit reset header) and imports only ports (for
// ports.Metrics), zap and the two libraries above.
package httpretry
