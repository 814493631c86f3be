package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// Known metrics and their label names. A Count of an unknown name, or with
// the wrong number of labels, goes to pagergate_unknown_metric_total so a
// mistake shows instead of panicking.
var counters = map[string][]string{
	"events":                {"kind"},
	"incidents":             {"outcome"},
	"approvals":             {"outcome"},
	"notes":                 {"kind"},
	"actions":               {"outcome"},
	"effect_retries":        {"reason"},
	"plugin_data_conflicts": {"effect"},
	"pager_calls":           {"endpoint", "code"},
	"pager_retries":         {"endpoint", "code"},
	"webhook_requests":      {"route", "code"},
}

var gauges = []string{"queue_depth", "watcher_connected"}

var help = map[string]string{
	"events":                "Teleport watcher events by kind.",
	"incidents":             "Incidents opened, resolved or failed.",
	"approvals":             "Auto-approval decisions by outcome.",
	"notes":                 "Incident notes posted by kind.",
	"actions":               "Pager actions (webhook) by outcome.",
	"effect_retries":        "Side effects scheduled for retry.",
	"plugin_data_conflicts": "Compare-and-swap conflicts on Teleport plugin data.",
	"pager_calls":           "Pager API calls by endpoint and HTTP status.",
	"pager_retries":         "Pager API calls retried, by endpoint and the status that caused it.",
	"webhook_requests":      "Webhook requests by route and HTTP status.",
	"queue_depth":           "Requests waiting for a worker.",
	"watcher_connected":     "1 while the Teleport watcher is connected.",
}

// Registry implements ports.Metrics on a Prometheus registry.
type Registry struct {
	reg      *prometheus.Registry
	counters map[string]*prometheus.CounterVec
	gauges   map[string]prometheus.Gauge
	latency  *prometheus.HistogramVec
	unknown  prometheus.Counter
}

var _ ports.Metrics = (*Registry)(nil)

// NewRegistry returns a registry with every pagergate metric and the Go
// runtime and process collectors.
func NewRegistry() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), counters: map[string]*prometheus.CounterVec{}, gauges: map[string]prometheus.Gauge{}}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, labels := range counters {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pagergate", Name: name + "_total", Help: help[name]}, labels)
		r.reg.MustRegister(c)
		r.counters[name] = c
	}
	for _, name := range gauges {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pagergate", Name: name, Help: help[name]})
		r.reg.MustRegister(g)
		r.gauges[name] = g
	}
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pagergate", Name: "pager_call_seconds",
		Help: "Pager API call latency by endpoint.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"endpoint"})
	r.unknown = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pagergate", Name: "unknown_metric_total",
		Help: "Counts of metric names or label sets this build does not know (a bug)."})
	r.reg.MustRegister(r.latency, r.unknown)
	return r
}

// Count implements ports.Metrics.
func (r *Registry) Count(name string, labels ...string) {
	c, ok := r.counters[name]
	if !ok || len(labels) != len(counters[name]) {
		r.unknown.Inc()
		return
	}
	c.WithLabelValues(labels...).Inc()
}

// Gauge implements ports.Metrics.
func (r *Registry) Gauge(name string, v float64) {
	if g, ok := r.gauges[name]; ok {
		g.Set(v)
		return
	}
	r.unknown.Inc()
}

// Observe records the latency of a pager call.
func (r *Registry) Observe(endpoint string, d time.Duration) {
	r.latency.WithLabelValues(endpoint).Observe(d.Seconds())
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
