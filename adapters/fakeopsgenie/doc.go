// Package fakeopsgenie is a test and staging double on the outer ring of
// the hexagon: an in-memory Opsgenie that speaks the subset of Opsgenie's
// REST API v2 pagergate uses, with Opsgenie's paths, JSON envelopes
// ({"data": …, "took": …, "requestId": …}), error bodies, status codes and
// headers:
//
//   - alerts: create (alias dedup: one open alert per alias, the count goes
//     up instead), get and list by id, tiny id or alias, the search query
//     subset `field: value [AND …]` over status, alias, owner, teams,
//     responders, tag, message, offset pagination capped at 20,000, notes
//     (add, list with offset cursors), close, add responder (users and
//     teams only, as Opsgenie), custom actions;
//   - asynchronous processing: create, close, note, responder and custom
//     action requests answer 202 with a requestId and take effect when
//     processed (after Options.ProcessingDelay); GET
//     /v2/alerts/requests/{id} answers 404 with X-Opsgenie-Errortype:
//     RequestNotProcessed until then, and its result (isSuccess, status)
//     after, so a note on a missing alert is accepted and fails later;
//   - users (by id or username), teams and schedules (lists), and who is on
//     call for a schedule (flat or with participants: users, teams, and
//     escalations whose nested participants carry their escalationTime);
//   - GenieKey authentication, a per-domain rate limit (alert, search,
//     configuration, schedule on-calls) answering 429 with X-RateLimit-*
//     headers, injected failures and lost answers.
//
// It is not a port implementation: the Opsgenie adapter's tests, staging
// and demos point the real adapter (on opsgenie-go-sdk-v2) at it. Its web
// page lists alerts with their notes and has Approve / Deny buttons that
// execute the alerts' custom actions, which a webhook integration delivers
// to the daemon like Opsgenie does: the alert action payload with the
// custom action's name, the configured custom headers, retries on
// timeouts, 429 and 5xx.
//
// It imports the standard library and hcl/v2 (seed files); its fx.go runs
// it in-process for `pager "opsgenie-fake" {}` from the configuration.
package fakeopsgenie
