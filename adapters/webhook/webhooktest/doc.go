// Package webhooktest makes the certificates the webhook adapter is tested
// with, in its own tests, the end-to-end suite, the chart tests and the
// demo: a throw-away self-signed CA that is also a loopback server
// certificate, and the server and client certificates it issues (PagerDuty
// presents a client certificate under mutual TLS).
//
// It is test support: the daemon binary never links it.
package webhooktest
