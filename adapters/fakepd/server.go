package fakepd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultAPIKey is the API key the fake accepts when Options.APIKey is empty.
const DefaultAPIKey = "fake-token"

// Webhook delivery modes (Options.WebhookMode).
const (
	// ModeV3 sends signed v3 incident.annotated events to
	// WebhookURL + "/pagerduty/v3".
	ModeV3 = "v3"
	// ModeCustomAction sends Custom Incident Action messages (v2 envelope)
	// to WebhookURL + "/pagerduty/actions/approve" or ".../deny".
	ModeCustomAction = "custom_action"
)

// Paths the fake appends to Options.WebhookURL.
const (
	V3Path            = "/pagerduty/v3"
	ActionPathPrefix  = "/pagerduty/actions/"
	defaultLimit      = 25
	maxLimit          = 100
	maxRecords        = 10000 // offset + limit of classic pagination
	maxBodyBytes      = 1 << 20
	v3DeliveryTimeout = 5 * time.Second
	// PagerDuty waits up to 16 s for a Custom Incident Action answer.
	customActionTimeout = 16 * time.Second
)

// Options configures the fake.
type Options struct {
	// APIKey is the token accepted in "Authorization: Token token=<key>"
	// (default DefaultAPIKey).
	APIKey string
	// Latency delays every API answer.
	Latency time.Duration
	// RateLimit is the number of API requests allowed per minute; over it
	// the fake answers 429 with Retry-After. 0 means no limit.
	RateLimit int

	// WebhookURL is the base URL of the daemon's webhook server, e.g.
	// https://127.0.0.1:8443, in both modes: the fake appends V3Path in
	// ModeV3 and ActionPathPrefix + "approve" / "deny" in ModeCustomAction.
	// In ModeCustomAction a custom_webhook extension provisioned on the
	// incident's service (endpoint ending in "/approve" or "/deny") takes
	// precedence, with its configured headers, like PagerDuty.
	WebhookURL string
	// WebhookMode is ModeV3 (default) or ModeCustomAction.
	WebhookMode string
	// WebhookSecret signs v3 deliveries (X-PagerDuty-Signature); empty
	// sends them unsigned.
	WebhookSecret string
	// WebhookBasicUser and WebhookBasicPassword, when the user is set, add
	// HTTP basic authentication to every delivery.
	WebhookBasicUser, WebhookBasicPassword string
	// WebhookHeader and WebhookHeaderValue, when the header is set, add
	// that header to every delivery.
	WebhookHeader, WebhookHeaderValue string
	// WebhookTLSConfig is the client TLS configuration of deliveries (CA to
	// trust the daemon's certificate, client certificate for mutual TLS).
	// Its MaxVersion defaults to TLS 1.2, the only version PagerDuty uses.
	WebhookTLSConfig *tls.Config
	// ApproveWorkflow and DenyWorkflow name the Incident Workflows of
	// FormatV3Workflow (default DefaultApproveWorkflow, DefaultDenyWorkflow).
	ApproveWorkflow, DenyWorkflow string
	// RetryDelays are the waits before a failed delivery's attempts 2 to 5
	// (default DefaultRetryDelays, about 20 minutes in all); the last one
	// repeats if fewer are given.
	RetryDelays []time.Duration
	// DisableFor is how long a destination stays disabled after 3 dropped
	// deliveries in a row (default 24 hours).
	DisableFor time.Duration
	// DeliveryTimeout, when set, replaces PagerDuty's answer deadlines (5 s
	// for v3 webhooks, 16 s for Custom Incident Actions), for tests.
	DeliveryTimeout time.Duration
}

// Faults makes API answers fail at random (with a seeded generator, so a
// run is repeatable).
type Faults struct {
	// Rate429 and Rate500 are the probabilities (0..1) of answering 429
	// (with Retry-After) or 500 instead of serving a request.
	Rate429, Rate500 float64
	// RetryAfter is the Retry-After of injected 429s (default 1s).
	RetryAfter time.Duration
	// Timeout makes every request hang until the client gives up (or the
	// fake is closed).
	Timeout bool
	// Seed seeds the generator (default 1).
	Seed uint64
}

// Server is the fake PagerDuty. It is safe for concurrent use.
type Server struct {
	opts    Options
	handler http.Handler
	api     *http.ServeMux
	client  *http.Client
	now     func() time.Time

	// mu guards the data and controls below; callMu the call counters;
	// chMu the change channel. Order: mu, then callMu or chMu.
	mu      sync.Mutex
	callMu  sync.Mutex
	chMu    sync.Mutex
	changed chan struct{}
	ids     ids
	users   []*user
	svcs    []*service
	pols    map[string]*policy
	oncalls []onCall
	incs    []*incident
	byID    map[string]*incident
	byKey   map[string][]*incident
	exts    []*extension
	number  int
	base    string // base URL seen last when not started
	events  int
	form    *RequestForm // the web page's new-request form, when set

	// test controls
	latency    time.Duration
	rateLimit  int
	winStart   time.Time
	winCount   int
	faults     Faults
	rng        *rand.Rand
	failNext   int
	failStatus int

	calls    map[string]int         // callMu
	byStatus map[string]map[int]int // callMu

	dests      map[string]*destination // delivery destinations by key (mu)
	deliveries []*Delivery             // the latest deliveries (mu)
	bgWG       sync.WaitGroup          // retrying deliveries

	srv     *http.Server
	url     string
	serveWG sync.WaitGroup
	closed  chan struct{}
	once    sync.Once
}

// New returns a fake with no data; seed it with AddUser, AddService,
// AddOnCall, AddIncident or LoadSeed.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	if opts.WebhookMode == "" {
		opts.WebhookMode = ModeV3
	}
	tlsConf := &tls.Config{MaxVersion: tls.VersionTLS12}
	if opts.WebhookTLSConfig != nil {
		tlsConf = opts.WebhookTLSConfig.Clone()
		if tlsConf.MaxVersion == 0 {
			tlsConf.MaxVersion = tls.VersionTLS12
		}
	}
	s := &Server{
		opts: opts,
		client: &http.Client{
			Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: false},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		now:       time.Now,
		changed:   make(chan struct{}),
		pols:      map[string]*policy{},
		byID:      map[string]*incident{},
		byKey:     map[string][]*incident{},
		latency:   opts.Latency,
		rateLimit: opts.RateLimit,
		rng:       rand.New(rand.NewPCG(1, 1)),
		calls:     map[string]int{},
		byStatus:  map[string]map[int]int{},
		dests:     map[string]*destination{},
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

// Handler returns the fake's HTTP handler (API and web page), e.g. for
// httptest.NewServer.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr and serves in the background; it returns the base
// URL ("http://127.0.0.1:port"). An empty host (or addr "") binds the
// loopback interface; port 0 picks a free port.
func (s *Server) Start(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if addr == "" {
		host, port, err = "", "0", nil
	}
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("fake pagerduty already started")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	srv := s.srv
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s.url, nil
}

// URL returns the base URL after Start ("" before).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the server started by Start, releases requests hanging on
// injected timeouts or latency, and closes idle webhook connections. It is
// safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv != nil {
			err = srv.Close()
			s.serveWG.Wait()
		}
		s.bgWG.Wait() // retries end at close
		s.client.CloseIdleConnections()
	})
	return err
}

// SetWebhookURL points the deliveries not yet prepared at another base URL
// (Options.WebhookURL), such as a daemon's webhook once it listens.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.WebhookURL = u
}

// webhookURL returns Options.WebhookURL as last set.
func (s *Server) webhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.WebhookURL
}

// SetLatency sets the delay added to every API answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimit sets the API requests allowed per minute (0 = no limit) and
// starts a new window.
func (s *Server) SetRateLimit(perMin int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = perMin
	s.winStart, s.winCount = time.Time{}, 0
}

// InjectFaults replaces the random faults; Faults{} turns them off.
func (s *Server) InjectFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Seed == 0 {
		f.Seed = 1
	}
	if f.RetryAfter <= 0 {
		f.RetryAfter = time.Second
	}
	s.faults = f
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed))
}

// FailNext makes the next n API requests answer status with PagerDuty's
// error envelope (429s carry Retry-After: 1).
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// Calls returns how many API requests each route received, keyed by
// "METHOD /path/template" (e.g. "POST /incidents", "GET /users/{id}").
// Requests to unknown paths are keyed by their path.
func (s *Server) Calls() map[string]int {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// CallsByStatus returns, per route key (see Calls), how many answers had
// each HTTP status. Requests that never got an answer are not counted.
func (s *Server) CallsByStatus() map[string]map[int]int {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	out := make(map[string]map[int]int, len(s.byStatus))
	for k, m := range s.byStatus {
		c := make(map[int]int, len(m))
		for st, n := range m {
			c[st] = n
		}
		out[k] = c
	}
	return out
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.callMu.Lock()
	s.calls = map[string]int{}
	s.byStatus = map[string]map[int]int{}
	s.callMu.Unlock()
	s.notify()
}

// WaitFor blocks until cond(s) is true or ctx ends. cond is evaluated
// again after every change of the fake's state (data or call counters); it
// may call the Server's methods.
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
			return fmt.Errorf("wait for fake pagerduty: %w", ctx.Err())
		}
	}
}

// WaitIncidents blocks until the fake holds at least n incidents.
func (s *Server) WaitIncidents(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func(s *Server) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.incs) >= n
	})
}

// notify wakes WaitFor callers after a change.
func (s *Server) notify() {
	s.chMu.Lock()
	defer s.chMu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}

// baseURL returns the fake's base URL for self and html_url links.
func (s *Server) baseURLLocked() string {
	if s.url != "" {
		return s.url
	}
	if s.base != "" {
		return s.base
	}
	return "http://fakepd.invalid"
}

// wait sleeps d, or until the request or the fake ends; it reports whether
// the full delay passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
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
