package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Registry implements ports.Metrics on a Prometheus registry.
type Registry struct {
	reg *prometheus.Registry

	events, incidents, approvals, notes, actions *prometheus.CounterVec
	notesRefused                                 *prometheus.CounterVec
	shiftEnds                                    *prometheus.CounterVec
	effectRetries, conflicts                     *prometheus.CounterVec
	pagerCalls, pagerRetries, webhookRequests    *prometheus.CounterVec
	ruleErrors                                   *prometheus.CounterVec
	memoryReleases                               *prometheus.CounterVec
	queueDepth, watcherConnected                 prometheus.Gauge
	pagerLatency                                 *prometheus.HistogramVec
	buildInfo                                    *prometheus.GaugeVec
	// dropped counts samples with a label value this build does not know
	// (a bug, which tests look for): they are not exported.
	dropped atomic.Int64
}

var _ ports.Metrics = (*Registry)(nil)

// NewRegistry returns a registry with every pagergate metric and the Go
// runtime and process collectors. The series that alert rules select are
// there from the start, at 0 (see preinit); pagergate_build_info names
// the version of the module's build information until SetVersion.
func NewRegistry() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.events = r.counter("events", "Teleport watcher events by kind.", "kind")
	r.incidents = r.counter("incidents", "Incidents opened, resolved or failed.", "outcome")
	r.approvals = r.counter("approvals", "Auto-approval decisions by outcome.", "outcome")
	r.shiftEnds = r.counter("shift_ends", "Ends of on-call shifts bound to auto-approved access, by outcome.", "outcome")
	r.notes = r.counter("notes", "Incident notes posted by kind.", "kind")
	r.notesRefused = r.counter("notes_refused", "Incident notes the pager refused for good, skipped.")
	r.actions = r.counter("actions", "Pager actions (webhook) by the verb asked for and what it came to.", "verb", "outcome")
	r.effectRetries = r.counter("effect_retries", "Side effects scheduled for retry.", "reason")
	r.conflicts = r.counter("plugin_data_conflicts", "Compare-and-swap conflicts on Teleport plugin data.", "effect")
	r.pagerCalls = r.counter("pager_calls", "Pager API calls by endpoint and HTTP status.", "endpoint", "code")
	r.pagerRetries = r.counter("pager_retries", "Pager API calls retried, by endpoint and the status that caused it.", "endpoint", "code")
	r.webhookRequests = r.counter("webhook_requests", "Webhook requests by route and HTTP status.", "route", "code")
	r.ruleErrors = r.counter("rule_errors", "Routing rules that cannot route: loaded with a condition that does not parse, or failing to evaluate.", "stage")
	r.memoryReleases = r.counter("memory_releases", "Unused memory given back to the OS, by what started it.", "trigger")
	r.queueDepth = r.gauge("queue_depth", "Requests waiting for a worker.")
	r.watcherConnected = r.gauge("watcher_connected", "1 while the Teleport watcher is connected.")
	r.pagerLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pagergate", Name: "pager_call_duration_seconds",
		Help: "Pager API call latency by endpoint.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"endpoint"})
	r.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pagergate", Name: "build_info",
		Help: "Always 1; its labels name the running build."}, []string{"version", "revision", "goversion"})
	r.reg.MustRegister(r.pagerLatency, r.buildInfo)
	r.SetVersion("")
	r.preinit()
	return r
}

// preinit creates, at 0, the series whose first increment alert rules
// must see: rate() and increase() miss a series' first sample, so a
// counter born at 1 would never fire them.
func (r *Registry) preinit() {
	for _, o := range []ports.IncidentOutcome{ports.IncidentFailed, ports.IncidentUnknownService} {
		r.incidents.WithLabelValues(string(o))
	}
	for _, o := range []ports.ApprovalOutcome{ports.ApprovalFailed, ports.ApprovalLookupFailed} {
		r.approvals.WithLabelValues(string(o))
	}
	r.effectRetries.WithLabelValues("scheduled")
	for _, v := range []domain.Verb{domain.VerbApprove, domain.VerbDeny, domain.VerbManualResolve} {
		r.actions.WithLabelValues(v.String(), string(ports.ActionFailed))
	}
	r.ruleErrors.WithLabelValues(string(ports.RuleStageParse))
	r.ruleErrors.WithLabelValues(string(ports.RuleStageEvaluate))
}

// SetVersion sets the version label of pagergate_build_info; "" takes the
// module's from the build information, else "dev".
func (r *Registry) SetVersion(version string) {
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	r.buildInfo.Reset()
	r.buildInfo.WithLabelValues(version, revision, runtime.Version()).Set(1)
}

// Dropped returns how many samples had a label value this build does not
// know, and were not exported.
func (r *Registry) Dropped() int64 { return r.dropped.Load() }

func (r *Registry) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pagergate", Name: name + "_total", Help: help}, labels)
	r.reg.MustRegister(c)
	return c
}

func (r *Registry) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pagergate", Name: name, Help: help})
	r.reg.MustRegister(g)
	return g
}

// known counts with the label values, or drops the sample when one is
// not known.
func (r *Registry) known(c *prometheus.CounterVec, ok bool, values ...string) {
	if !ok || slices.Contains(values, "") {
		r.dropped.Add(1)
		return
	}
	c.WithLabelValues(values...).Inc()
}

// Event implements ports.Metrics.
func (r *Registry) Event(kind domain.EventKind) {
	r.known(r.events, kind >= domain.EventPut && kind <= domain.EventRuleDelete, kind.String())
}

// Incident implements ports.Metrics.
func (r *Registry) Incident(o ports.IncidentOutcome) { r.known(r.incidents, true, string(o)) }

// Approval implements ports.Metrics.
func (r *Registry) Approval(o ports.ApprovalOutcome) { r.known(r.approvals, true, string(o)) }

// ReviewNoted implements ports.Metrics.
func (r *Registry) ReviewNoted() { r.notes.WithLabelValues("review").Inc() }

// NoteRefused implements ports.Metrics.
func (r *Registry) NoteRefused() { r.notesRefused.WithLabelValues().Inc() }

// Action implements ports.Metrics.
func (r *Registry) Action(v domain.Verb, o ports.ActionOutcome) {
	r.known(r.actions, v >= domain.VerbApprove && v <= domain.VerbManualResolve, v.String(), string(o))
}

// EffectRetry implements ports.Metrics.
func (r *Registry) EffectRetry() { r.effectRetries.WithLabelValues("scheduled").Inc() }

// RecordConflict implements ports.Metrics.
func (r *Registry) RecordConflict(e domain.Effect) {
	r.known(r.conflicts, e.Kind != domain.EffectNone, e.String())
}

// QueueDepth implements ports.Metrics.
func (r *Registry) QueueDepth(n int) { r.queueDepth.Set(float64(n)) }

// WatcherConnected implements ports.Metrics.
func (r *Registry) WatcherConnected(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	r.watcherConnected.Set(v)
}

// PagerCall implements ports.Metrics.
func (r *Registry) PagerCall(endpoint, code string, took time.Duration) {
	r.pagerLatency.WithLabelValues(endpoint).Observe(took.Seconds())
	r.pagerCalls.WithLabelValues(endpoint, code).Inc()
}

// PagerRetry implements ports.Metrics.
func (r *Registry) PagerRetry(endpoint, code string) {
	r.pagerRetries.WithLabelValues(endpoint, code).Inc()
}

// Shift implements ports.Metrics.
func (r *Registry) Shift(o ports.ShiftOutcome) { r.known(r.shiftEnds, true, string(o)) }

// WebhookRequest implements ports.Metrics.
func (r *Registry) WebhookRequest(route string, code int) {
	r.webhookRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// RuleError implements ports.Metrics.
func (r *Registry) RuleError(s ports.RuleStage) {
	r.known(r.ruleErrors, s == ports.RuleStageParse || s == ports.RuleStageEvaluate, string(s))
}

// MemoryRelease implements ports.Metrics.
func (r *Registry) MemoryRelease(t ports.ReleaseTrigger) {
	r.known(r.memoryReleases, t == ports.ReleaseStart || t == ports.ReleaseReady || t == ports.ReleaseIdle, string(t))
}

// Handler serves the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Checks are the readiness conditions of /readyz, by name. Together they
// are one ports.Readiness: ready when every check is.
type Checks map[string]ports.Readiness

var _ ports.Readiness = Checks(nil)

// Ready returns nil when every check passes, else the failing ones by name.
func (c Checks) Ready() error {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if err := c[name].Ready(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Server is the metrics and health listener.
type Server struct {
	log  *zap.Logger
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	mu   sync.Mutex
}

// NewServer returns the listener of /metrics, /healthz and /readyz.
func NewServer(addr string, reg *Registry, checks Checks, log *zap.Logger) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	health := Health(checks)
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	return &Server{log: log.Named("metrics"), srv: &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
}

// ReadyHandler answers 200 when every check passes, else 503 naming the
// failing ones.
func ReadyHandler(checks ports.Readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := checks.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// Start binds the address (a busy port fails here) and serves.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", s.srv.Addr, err)
	}
	s.mu.Lock()
	s.ln, s.done = ln, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	s.log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop shuts the listener down.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	<-done
	return err
}
