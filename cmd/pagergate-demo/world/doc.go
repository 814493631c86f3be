// Package world is the demo's world: an in-process Teleport Auth test
// server (adapters/teleport/teleporttest), a fake PagerDuty seeded with an
// on-call schedule (adapters/fakepd) or a fake Opsgenie seeded the same way
// (adapters/fakeopsgenie), a webhook certificate, a
// configuration file, and the real pagergate binary started on it as a
// child process, as a user would run it. Tour walks the three main flows
// in it and narrates them.
//
// It is test infrastructure put to show: the daemon binary never links it
// (.ci/deps-check proves it).
package world
