package ports

import (
	"time"

	"github.com/pagergate/pagergate/domain"
)

// Metrics receives what the core and the adapters measure. Each method is
// one metric, its labels typed; adapters/metrics names them for Prometheus
// (the name is given with each method, without its pagergate_ prefix).
type Metrics interface {
	// Event counts a watcher event (events_total{kind}).
	Event(kind domain.EventKind)
	// Incident counts what happened to an incident (incidents_total{outcome}).
	Incident(o IncidentOutcome)
	// Approval counts an auto-approval decision (approvals_total{outcome}).
	Approval(o ApprovalOutcome)
	// ReviewNoted counts a review posted as an incident note
	// (notes_total{kind="review"}).
	ReviewNoted()
	// NoteRefused counts a note the pager refused for good
	// (ports.ErrRefused), skipped so the request's other effects happen
	// (notes_refused_total).
	NoteRefused()
	// Action counts what a pager action asking for verb came to
	// (actions_total{verb,outcome}).
	Action(verb domain.Verb, o ActionOutcome)
	// EffectRetry counts a side effect scheduled for retry
	// (effect_retries_total{reason="scheduled"}).
	EffectRetry()
	// RecordConflict counts a record compare-and-swap lost while recording
	// the effect (plugin_data_conflicts_total{effect}).
	RecordConflict(e domain.Effect)
	// QueueDepth sets how many requests wait for a worker (queue_depth).
	QueueDepth(n int)
	// WatcherConnected sets whether the Teleport watcher is connected
	// (watcher_connected).
	WatcherConnected(up bool)
	// PagerCall observes one pager API call: its answer (an HTTP status,
	// "timeout" or "error") and how long it took
	// (pager_calls_total{endpoint,code},
	// pager_call_duration_seconds{endpoint}).
	PagerCall(endpoint, code string, took time.Duration)
	// PagerRetry counts a pager API call retried, with the answer that
	// caused it (pager_retries_total{endpoint,code}).
	PagerRetry(endpoint, code string)
	// Shift counts what a shift's end came to for a grant bound to it
	// (shift_ends_total{outcome}).
	Shift(o ShiftOutcome)
	// WebhookRequest counts a webhook request by route and HTTP status
	// (webhook_requests_total{route,code}).
	WebhookRequest(route string, code int)
	// RuleError counts a routing rule that cannot route: loaded with a
	// condition that does not parse (once per load), or failing to
	// evaluate against a request (rule_errors_total{stage}).
	RuleError(s RuleStage)
	// MemoryRelease counts memory given back to the OS
	// (memory_releases_total{trigger}).
	MemoryRelease(t ReleaseTrigger)
}

// RuleStage labels Metrics.RuleError.
type RuleStage string

// Rule error stages.
const (
	RuleStageParse    RuleStage = "parse"
	RuleStageEvaluate RuleStage = "evaluate"
)

// IncidentOutcome labels Metrics.Incident.
type IncidentOutcome string

// Incident outcomes.
const (
	IncidentOpened IncidentOutcome = "opened"
	// IncidentAdopted: opening found the incident already open under the
	// request's key (the reference plugin or a peer opened it).
	IncidentAdopted        IncidentOutcome = "adopted"
	IncidentFailed         IncidentOutcome = "failed"
	IncidentUnknownService IncidentOutcome = "unknown_service"
	IncidentResolved       IncidentOutcome = "resolved"
	// IncidentOrphaned: an open incident of a request deleted while the
	// watcher was away, found by the scan after a sync.
	IncidentOrphaned IncidentOutcome = "orphaned"
)

// ApprovalOutcome labels Metrics.Approval.
type ApprovalOutcome string

// Approval outcomes.
const (
	ApprovalApproved       ApprovalOutcome = "approved"
	ApprovalSkipped        ApprovalOutcome = "skipped"
	ApprovalNotOnCall      ApprovalOutcome = "not_on_call"
	ApprovalUnknownService ApprovalOutcome = "unknown_service"
	ApprovalLookupFailed   ApprovalOutcome = "lookup_failed"
	ApprovalFailed         ApprovalOutcome = "failed"
)

// ActionOutcome labels Metrics.Action: done (applied), a final result
// (domain.ActionStatus: replayed, ignored, refused, not_pending, too_old,
// unknown_incident, foreign_incident, no_actor), or failed (transient).
type ActionOutcome string

// Action outcomes measured before or apart from domain.ActionStatus.
const (
	ActionDone     ActionOutcome = "done"
	ActionFailed   ActionOutcome = "failed"
	ActionReplayed ActionOutcome = "replayed"
)

// ActionResult is the outcome of a final result named by
// domain.ActionStatus.
func ActionResult(status string) ActionOutcome { return ActionOutcome(status) }

// ShiftOutcome labels Metrics.Shift.
type ShiftOutcome string

// Shift outcomes.
const (
	// ShiftLocked: the shift ended and the request's access was locked.
	ShiftLocked ShiftOutcome = "locked"
	// ShiftExtended: still on call at the end; the end moved.
	ShiftExtended ShiftOutcome = "extended"
	// ShiftUnbounded: still on call at the end, with no end any more.
	ShiftUnbounded ShiftOutcome = "unbounded"
	// ShiftLookupFailed: on-call could not be read at the end; retried.
	ShiftLookupFailed ShiftOutcome = "lookup_failed"
	// ShiftLockFailed: the lock could not be made; retried.
	ShiftLockFailed ShiftOutcome = "lock_failed"
)
