// Package webhook is a driving adapter on the outer ring of the hexagon: an
// HTTPS server that receives PagerDuty deliveries (Custom Incident Actions
// and v3 webhook events, SPEC §6 and §6a), authenticates them, turns each
// into one domain.Action and hands it to the ports.Actions use case, then
// maps the use case's answer to an HTTP status PagerDuty understands.
//
// The package imports ports and domain only; PagerDuty's JSON shapes stop
// here. Parsers are pure functions so they can be fuzzed on their own.
package webhook
