// Package opsgenie is a driven adapter of the hexagon: it implements
// ports.OnCall and ports.Pager against Opsgenie's REST API v2 with
// github.com/opsgenie/opsgenie-go-sdk-v2 (SPEC §16).
//
// The package has two layers. The vendor layer (alerts.go, notes.go,
// directory.go, oncall.go) speaks Opsgenie: alerts with the incident key as
// their alias, asynchronous requests awaited through their request status,
// schedules and teams as notify targets, who is on call for a schedule. The
// port layer (port.go) only maps it to the ports' methods and domain
// types, so re-targeting the ports costs one file.
//
// Mapping. A notify service is an Opsgenie schedule ("schedule:<id>") or
// team ("team:<id>"); FindService takes "team:<name or id>",
// "schedule:<name or id>" or a bare schedule name or ID, as Teleport's
// Opsgenie plugin reads teleport.dev/notify-services (schedules) and
// teleport.dev/teams. Opsgenie keeps one open alert per alias in the whole
// account, so all notify targets of a request share one alert: a second
// target joins the open alert as a responder (teams; Opsgenie cannot add a
// schedule to an existing alert, which is logged). A schedule's escalation
// policy is the schedule itself: on call at level 1 means in the
// schedule's rotation now (directly or through an on-call team), level n
// means reached at the n-th step (distinct escalationTime, in order) of an
// escalation that takes part in the rotation. Opsgenie's on-call answer
// has no shift end: entries have no End.
//
// Vendor types stop here: callers see domain types and the errors of the
// ports package (ErrNotFound, ErrConflict, ErrUnavailable,
// *ports.PermissionError). Every call goes through one http.RoundTripper
// that points the SDK at Config.APIURL, applies the client-side rate limit,
// honours 429 answers, retries 408, 5xx and timeouts with jittered
// exponential backoff (waits capped at 60 s), bounds each attempt and
// counts it in the metrics; the SDK's own retries are off. Notes stay
// exactly once under retries: a note whose answer was lost is looked for
// on the alert before it is posted again.
package opsgenie
