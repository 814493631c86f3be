package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/pagerduty/httpretry"
	"github.com/pagergate/pagergate/ports"
)

// pageLimit is the page size of list calls (PagerDuty's maximum).
const pageLimit = 100

// ErrInvalidToken says PagerDuty refused the API key (HTTP 401).
var ErrInvalidToken = errors.New("PagerDuty rejected the API key (invalid or revoked)")

// Client talks to the PagerDuty REST API. It is safe for concurrent use.
type Client struct {
	cfg     Config
	log     *zap.Logger
	cache   ports.Cache
	metrics ports.Metrics
	pd      *pd.Client
	// transport sends every call; it also tracks reachability.
	transport *httpretry.Transport
	// limit is the page size of list calls; tests lower it.
	limit uint

	probe httpretry.Probe
}

var (
	_ ports.OnCall = (*Client)(nil)
	_ ports.Pager  = (*Client)(nil)
)

// New returns a Client. cache keeps user and service lookups (nil: none,
// every lookup asks PagerDuty); m receives one "pager_calls" count per HTTP attempt,
// labelled with the endpoint and status, and one "pager_retries" count per
// retry (nil: none).
func New(cfg Config, log *zap.Logger, cache ports.Cache, m ports.Metrics) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pagerduty config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("pagerduty")
	if cache == nil {
		cache = noCache{}
	}

	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	rt := httpretry.New(httpretry.Options{
		Base: base, Log: log, Metrics: m, RateLimit: cfg.RateLimit,
		Timeout: cfg.RequestTimeout, MaxRetries: cfg.MaxRetries, Wait: cfg.RetryWait, MaxWait: cfg.MaxRetryWait,
		ResetHeader: resetHeader, Endpoint: endpointOf,
	})
	hc.Transport = rt
	client := pd.NewClient(cfg.APIKey, pd.WithAPIEndpoint(cfg.APIEndpoint))
	client.HTTPClient = &hc

	return &Client{cfg: cfg, log: log, cache: cache, metrics: m, pd: client, transport: rt, limit: pageLimit}, nil
}

// Check verifies that the API key works (GET /abilities) and that the bot
// user of Config.UserEmail exists, for `pagergate check`.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.pd.ListAbilitiesWithContext(ctx); err != nil {
		return fmt.Errorf("check API key: %w", c.fail(ctx, err))
	}
	if _, err := c.FindUserByEmail(ctx, c.cfg.UserEmail); err != nil {
		return fmt.Errorf("check user_email (the bot user): %w", err)
	}
	return nil
}

// apiError is an HTTP error answer of PagerDuty, with its message. It
// unwraps to the matching port error.
type apiError struct {
	status  int
	code    int
	message string
	details []string
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PagerDuty answered %d %s", e.status, http.StatusText(e.status))
	if e.message != "" {
		b.WriteString(": " + e.message)
	}
	if len(e.details) > 0 {
		b.WriteString(": " + strings.Join(e.details, "; "))
	}
	return b.String()
}

func (e *apiError) Unwrap() error {
	switch {
	case e.status == http.StatusUnauthorized:
		return ErrInvalidToken
	case e.status == http.StatusNotFound:
		return ports.ErrNotFound
	case e.status == http.StatusConflict:
		return ports.ErrConflict
	case e.status == http.StatusTooManyRequests, e.status == http.StatusRequestTimeout, e.status >= 500:
		return ports.ErrUnavailable
	}
	return nil
}

// has reports whether PagerDuty's message or details contain s (any case).
func (e *apiError) has(s string) bool {
	s = strings.ToLower(s)
	if strings.Contains(strings.ToLower(e.message), s) {
		return true
	}
	for _, d := range e.details {
		if strings.Contains(strings.ToLower(d), s) {
			return true
		}
	}
	return false
}

// fail translates an error of a PagerDuty call into the port errors: HTTP
// error answers by status, 403 as *ports.PermissionError, and everything
// else (transport failures, timeouts, unreadable answers) as
// ports.ErrUnavailable.
func (c *Client) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		var pe pd.APIError
		if errors.As(err, &pe) {
			ae = fromPD(pe)
		}
	}
	if ae != nil {
		if ae.status == http.StatusForbidden {
			return &ports.PermissionError{Permission: "a PagerDuty API key allowed to make this call (a full-access REST API key)", Err: ae}
		}
		return ae
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, ctx.Err())
	}
	return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
}

func fromPD(e pd.APIError) *apiError {
	ae := &apiError{status: e.StatusCode}
	if e.APIError.Valid {
		ae.code = e.APIError.ErrorObject.Code
		ae.message = e.APIError.ErrorObject.Message
		ae.details = e.APIError.ErrorObject.Errors
	}
	return ae
}

// asAPIError returns the HTTP error answer behind err, if any.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var pe pd.APIError
	if errors.As(err, &pe) {
		return fromPD(pe), true
	}
	return nil, false
}

// doJSON sends a JSON request the SDK cannot make correctly itself and
// decodes the answer into out (when not nil).
func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIEndpoint+path, body)
	if err != nil {
		return err
	}
	resp, err := c.pd.Do(req, true)
	if err != nil {
		return c.fail(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return c.fail(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &apiError{status: resp.StatusCode}
		var doc struct {
			Error struct {
				Code    int      `json:"code"`
				Message string   `json:"message"`
				Errors  []string `json:"errors"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &doc) == nil {
			ae.code, ae.message, ae.details = doc.Error.Code, doc.Error.Message, doc.Error.Errors
		}
		return c.fail(ctx, ae)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return c.fail(ctx, fmt.Errorf("decode answer of %s: %w", endpointOf(method, req.URL.Path), err))
	}
	return nil
}

// allPages collects a list over offset pagination. fetch returns one page
// and whether PagerDuty has more.
func allPages[T any](fetch func(offset uint) ([]T, bool, error)) ([]T, error) {
	var all []T
	var offset uint
	for {
		items, more, err := fetch(offset)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if !more || len(items) == 0 {
			return all, nil
		}
		offset += uint(len(items))
	}
}

// validID reports whether s can be put in a URL path as a PagerDuty ID.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func idError(kind, id string) error {
	return fmt.Errorf("%s ID %q: %w", kind, id, ports.ErrNotFound)
}
