package fakeopsgenie

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// DefaultAPIKey is the API key the fake accepts when Options.APIKey is empty.
const DefaultAPIKey = "fake-genie-key"

// Limits of Opsgenie's API the fake enforces.
const (
	defaultLimit  = 20
	maxLimit      = 100
	maxRecords    = 20000 // offset + limit of alert searches
	maxBodyBytes  = 1 << 20
	maxMessage    = 130
	maxAlias      = 512
	maxDescLen    = 15000
	maxNoteLen    = 25000
	ratePeriodSec = 60
)

// Options configures the fake.
type Options struct {
	// APIKey is the key accepted in "Authorization: GenieKey <key>"
	// (default DefaultAPIKey).
	APIKey string
	// Latency delays every API answer.
	Latency time.Duration
	// RateLimit is the number of requests allowed per minute in each of
	// Opsgenie's rate-limit domains (alert, search, configuration,
	// schedule on-calls); over it the fake answers 429. 0 means no limit.
	RateLimit int
	// ProcessingDelay is how long after its 202 answer an asynchronous
	// request (create, close, note, responder, custom action) takes
	// effect. 0 processes it at once; its status is still read with GET
	// /v2/alerts/requests/{id}.
	ProcessingDelay time.Duration
	// Webhook is the outgoing webhook integration (the daemon's route).
	Webhook WebhookOptions
	// NoConfigurationAccess makes the key one without configuration
	// access: the integration API answers 403.
	NoConfigurationAccess bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is the fake Opsgenie. It is safe for concurrent use.
type Server struct {
	opts    Options
	handler http.Handler
	api     *http.ServeMux
	client  *http.Client
	now     func() time.Time

	// mu guards the data and controls; callMu the call counters; chMu the
	// change channel. Order: mu, then callMu or chMu.
	mu        sync.Mutex
	callMu    sync.Mutex
	chMu      sync.Mutex
	changed   chan struct{}
	users     []*User
	teams     []*Team
	schedules []*Schedule
	oncalls   map[string][]participant // by schedule ID
	alerts    []*alert
	byID      map[string]*alert
	tiny      int
	noteSeq   int
	requests  map[string]*request
	pending   []*request
	timers    []*time.Timer // processing of delayed requests

	latency   time.Duration
	rateLimit int
	windows   map[string]*window
	failNext  int
	failCode  int
	losses    []loss

	calls      map[string]int
	deliveries []*Delivery
	form       *RequestForm // the web page's new-request form, when set
	bgWG       sync.WaitGroup

	srv     *httptest.Server
	closed  chan struct{}
	closeMu sync.Once
}

type window struct {
	start time.Time
	count int
}

// loss is an injected lost answer: the request is served, but the client
// gets status instead of the answer.
type loss struct {
	pattern string
	status  int
}

// New returns a fake with no data; seed it with AddUser, AddTeam,
// AddSchedule, AddOnCall, AddAlert or LoadSeed.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Webhook = opts.Webhook.withDefaults()
	s := &Server{
		opts:      opts,
		client:    webhookClient(opts.Webhook),
		now:       opts.Now,
		changed:   make(chan struct{}),
		oncalls:   map[string][]participant{},
		byID:      map[string]*alert{},
		requests:  map[string]*request{},
		latency:   opts.Latency,
		rateLimit: opts.RateLimit,
		windows:   map[string]*window{},
		calls:     map[string]int{},
		closed:    make(chan struct{}),
	}
	s.api = s.apiMux()
	ui := s.uiMux()
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/_ui/") {
			ui.ServeHTTP(w, r)
			return
		}
		s.serveAPI(w, r)
	})
	return s
}

// Handler returns the fake's HTTP handler (API and web page).
func (s *Server) Handler() http.Handler { return s.handler }

// StartTLS serves the fake over HTTPS on a loopback port chosen by the
// system and returns its base URL ("https://127.0.0.1:port"); Client
// trusts its certificate.
func (s *Server) StartTLS() (string, error) {
	return s.start(true, "")
}

// Start serves the fake over plain HTTP on addr ("" or port 0: a free
// loopback port) and returns its base URL.
func (s *Server) Start(addr string) (string, error) {
	return s.start(false, addr)
}

func (s *Server) start(useTLS bool, addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("fake opsgenie already started")
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	srv := httptest.NewUnstartedServer(s.handler)
	_ = srv.Listener.Close()
	srv.Listener = ln
	if useTLS {
		srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	s.srv = srv
	return srv.URL, nil
}

// URL returns the base URL after Start or StartTLS ("" before).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// Client returns an HTTP client that trusts the fake's TLS certificate
// (after StartTLS), or nil before a start.
func (s *Server) Client() *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	return s.srv.Client()
}

// Close stops the server, ends webhook retries and releases requests
// waiting on latency. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeMu.Do(func() {
		close(s.closed)
		s.mu.Lock()
		srv := s.srv
		for _, tm := range s.timers {
			tm.Stop()
		}
		s.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
		s.bgWG.Wait()
		s.client.CloseIdleConnections()
	})
	return nil
}

// SetLatency sets the delay added to every API answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimit sets the requests allowed per minute in each rate-limit
// domain (0 = no limit) and starts new windows.
func (s *Server) SetRateLimit(perMin int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = perMin
	s.windows = map[string]*window{}
}

// SetProcessingDelay sets how long asynchronous requests wait before they
// take effect.
func (s *Server) SetProcessingDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ProcessingDelay = d
}

// FailNext makes the next n API requests answer status with Opsgenie's
// error body, unserved (429s carry the throttling headers, with a period
// of one second).
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, status
}

// LoseNextAnswer makes the next request matching route ("METHOD
// /path/pattern", as Calls names them, e.g. "POST /v2/alerts/{id}/notes")
// be served, but answered with status instead: the write happened, the
// client cannot know.
func (s *Server) LoseNextAnswer(route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.losses = append(s.losses, loss{pattern: route, status: status})
}

// Calls returns how many API requests each route received, keyed by
// "METHOD /path/pattern" (e.g. "GET /v2/alerts/{id}"); requests to unknown
// paths are keyed by their path.
func (s *Server) Calls() map[string]int {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// TotalCalls returns how many API requests the fake received.
func (s *Server) TotalCalls() int {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	n := 0
	for _, v := range s.calls {
		n += v
	}
	return n
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.callMu.Lock()
	s.calls = map[string]int{}
	s.callMu.Unlock()
	s.notify()
}

// WaitFor blocks until cond(s) is true or ctx ends. cond is evaluated
// again after every change of the fake's state; it may call the Server's
// methods.
func (s *Server) WaitFor(ctx context.Context, cond func(*Server) bool) error {
	for {
		s.chMu.Lock()
		ch := s.changed
		s.chMu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for fake opsgenie: %w", ctx.Err())
		}
	}
}

// notify wakes WaitFor callers after a change.
func (s *Server) notify() {
	s.chMu.Lock()
	defer s.chMu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}

// sleep waits d, or until ctx or the fake ends; it reports whether the
// full delay passed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}
