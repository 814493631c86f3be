// Package httpretry is the HTTP transport every pager adapter's client
// calls its vendor through: a client-side rate limit (golang.org/x/time/rate
// behind a pause gate that a 429 closes for every call, since vendors
// limit per account), a per-attempt timeout, retries of 429, 408, 5xx and
// transport failures with equal-jitter exponential backoff
// (cenkalti/backoff), the metrics of every attempt, and the vendor's
// reachability for readiness, with the background probe that clears it.
//
// It is a library of the adapters, not an adapter: it knows no vendor (the
// vendor names its endpoints and its rate-limit reset header) and imports
// only ports (for ports.Metrics), zap and the two libraries above. Pager
// adapters import it; it imports no adapter (`make deps-check`).
package httpretry
