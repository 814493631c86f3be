// Package metrics is the driven adapter behind ports.Metrics: Prometheus
// counters and gauges, and the always-on listener of SPEC §13 that serves
// /metrics, /healthz and /readyz, so probes work with or without the webhook.
package metrics
