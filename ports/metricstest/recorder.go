package metricstest

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Recorder is a ports.Metrics that keeps counters and gauges in memory,
// keyed by the metric's name (as ports.Metrics gives it, without the
// pagergate_ prefix and the _total suffix) and its label values. The zero
// value is ready; it is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	values map[string]float64
}

var _ ports.Metrics = (*Recorder)(nil)

func key(name string, labels ...string) string {
	return strings.Join(append([]string{name}, labels...), "|")
}

func (r *Recorder) add(v float64, set bool, name string, labels ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]float64{}
	}
	k := key(name, labels...)
	if set {
		r.values[k] = v
		return
	}
	r.values[k] += v
}

// Get returns a counter's count or a gauge's value, e.g.
// Get("incidents", "opened"); 0 when never measured.
func (r *Recorder) Get(name string, labels ...string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.values[key(name, labels...)]
}

// Count is Get as an int, for counters.
func (r *Recorder) Count(name string, labels ...string) int { return int(r.Get(name, labels...)) }

// Event implements ports.Metrics.
func (r *Recorder) Event(k domain.EventKind) { r.add(1, false, "events", k.String()) }

// Incident implements ports.Metrics.
func (r *Recorder) Incident(o ports.IncidentOutcome) { r.add(1, false, "incidents", string(o)) }

// Approval implements ports.Metrics.
func (r *Recorder) Approval(o ports.ApprovalOutcome) { r.add(1, false, "approvals", string(o)) }

// ReviewNoted implements ports.Metrics.
func (r *Recorder) ReviewNoted() { r.add(1, false, "notes", "review") }

// NoteRefused implements ports.Metrics.
func (r *Recorder) NoteRefused() { r.add(1, false, "notes_refused") }

// Action implements ports.Metrics.
func (r *Recorder) Action(v domain.Verb, o ports.ActionOutcome) {
	r.add(1, false, "actions", v.String(), string(o))
}

// EffectRetry implements ports.Metrics.
func (r *Recorder) EffectRetry() { r.add(1, false, "effect_retries", "scheduled") }

// RecordConflict implements ports.Metrics.
func (r *Recorder) RecordConflict(e domain.Effect) {
	r.add(1, false, "plugin_data_conflicts", e.String())
}

// QueueDepth implements ports.Metrics.
func (r *Recorder) QueueDepth(n int) { r.add(float64(n), true, "queue_depth") }

// WatcherConnected implements ports.Metrics.
func (r *Recorder) WatcherConnected(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	r.add(v, true, "watcher_connected")
}

// PagerCall implements ports.Metrics: it counts pager_calls and adds the
// seconds to pager_call_duration_seconds{endpoint}.
func (r *Recorder) PagerCall(endpoint, code string, took time.Duration) {
	r.add(1, false, "pager_calls", endpoint, code)
	r.add(took.Seconds(), false, "pager_call_duration_seconds", endpoint)
}

// PagerRetry implements ports.Metrics.
func (r *Recorder) PagerRetry(endpoint, code string) {
	r.add(1, false, "pager_retries", endpoint, code)
}

// Shift implements ports.Metrics.
func (r *Recorder) Shift(o ports.ShiftOutcome) { r.add(1, false, "shift_ends", string(o)) }

// WebhookRequest implements ports.Metrics.
func (r *Recorder) WebhookRequest(route string, code int) {
	r.add(1, false, "webhook_requests", route, strconv.Itoa(code))
}

// MemoryRelease implements ports.Metrics.
func (r *Recorder) MemoryRelease(t ports.ReleaseTrigger) {
	r.add(1, false, "memory_releases", string(t))
}

// RuleError implements ports.Metrics.
func (r *Recorder) RuleError(s ports.RuleStage) { r.add(1, false, "rule_errors", string(s)) }
