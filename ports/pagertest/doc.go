// Package pagertest is the conformance suite of the pager ports
// (ports.OnCall and ports.Pager). Every pager adapter runs it from its
// tests against its vendor's fake, so the core can count on the same
// behaviour from PagerDuty and Opsgenie: one incident per key and service,
// notes in order and exactly once under lost answers, ErrRefused at once
// for a note the vendor will never take, idempotent resolution, who is on
// call now and at which level, ErrNotFound for unknown services, users
// and incidents, and 429 / 5xx answers retried, then reported as
// ErrUnavailable.
//
// Where vendors differ legitimately, Capabilities says how, and the suite
// checks each adapter against its own vendor's rule.
//
// It imports only the standard library, domain and ports.
package pagertest
