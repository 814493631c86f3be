// Package metricstest holds Recorder, a ports.Metrics for tests that
// remembers every measurement under its Prometheus name and label values,
// so adapter and use-case tests assert what was measured without a
// Prometheus registry.
//
// It imports only the standard library, domain and ports.
package metricstest
