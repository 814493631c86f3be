package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/opsgenie/opsgenie-go-sdk-v2/alert"
	ogclient "github.com/opsgenie/opsgenie-go-sdk-v2/client"
	"github.com/opsgenie/opsgenie-go-sdk-v2/integration"
	"github.com/opsgenie/opsgenie-go-sdk-v2/schedule"
	"github.com/opsgenie/opsgenie-go-sdk-v2/team"
	"github.com/opsgenie/opsgenie-go-sdk-v2/user"
	"github.com/sirupsen/logrus"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/opsgenie/httpretry"
	"github.com/pagergate/pagergate/ports"
)

// sdkHost is the host the SDK is configured with. The SDK only takes a
// host name (and sends plain HTTP to hosts without "api" in their name);
// the transport rewrites every request onto Config.APIURL, which may name
// any scheme, port and path prefix.
const sdkHost = "api.opsgenie.com"

// ErrInvalidToken says Opsgenie refused the API key (HTTP 401: invalid,
// or its integration is disabled).
var ErrInvalidToken = errors.New("the Opsgenie API key was rejected (invalid, or its integration is disabled)")

// Client talks to the Opsgenie REST API. It is safe for concurrent use.
type Client struct {
	cfg       Config
	log       *zap.Logger
	cache     ports.Cache
	transport *httpretry.Transport

	alerts    *alert.Client
	schedules *schedule.Client
	teams     *team.Client
	users     *user.Client
	// integrations is read by check only.
	integrations *integration.Client

	actionsMu sync.Mutex
	actions   []string // custom actions put on new alerts

	probe httpretry.Probe
}

var (
	_ ports.OnCall = (*Client)(nil)
	_ ports.Pager  = (*Client)(nil)
)

// sdkMu serialises building SDK clients: the SDK writes a package variable
// (its User-Agent) each time.
var sdkMu sync.Mutex

// New returns a Client. cache keeps user, schedule and team lookups (nil:
// in memory); m observes every HTTP attempt (PagerCall, with the endpoint
// template and the status) and every retry (PagerRetry); nil: none.
func New(cfg Config, log *zap.Logger, cache ports.Cache, m ports.Metrics) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("opsgenie config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("opsgenie")
	if cache == nil {
		cache = newMemCache()
	}
	target, _ := url.Parse(cfg.APIURL) // checked by withDefaults
	base := http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	}
	rt := httpretry.New(httpretry.Options{
		Base: base, Log: log, Metrics: m, RateLimit: cfg.RateLimit,
		Timeout: cfg.RequestTimeout, MaxRetries: cfg.MaxRetries, Wait: cfg.RetryWait, MaxWait: cfg.MaxRetryWait,
		ResetHeader: resetHeader,
		Endpoint:    func(method, path string) string { return endpointOf(method, strings.TrimPrefix(path, target.Path)) },
	})
	c := &Client{cfg: cfg, log: log, cache: cache, transport: rt, actions: append([]string(nil), cfg.Actions...)}
	if err := c.buildSDK(rewrite{target: target, next: rt}); err != nil {
		return nil, fmt.Errorf("opsgenie client: %w", err)
	}
	return c, nil
}

// buildSDK configures the SDK minimally: our transport, no retries of its
// own (the transport retries), its logger silenced.
func (c *Client) buildSDK(rt http.RoundTripper) error {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	quiet.SetLevel(logrus.PanicLevel)
	sc := &ogclient.Config{
		ApiKey:         c.cfg.APIKey,
		OpsGenieAPIURL: ogclient.ApiUrl(sdkHost),
		HttpClient:     &http.Client{Transport: rt},
		RetryCount:     1,
		RetryPolicy:    func(context.Context, *http.Response, error) (bool, error) { return false, nil },
		Logger:         quiet,
	}
	sdkMu.Lock()
	defer sdkMu.Unlock()
	var err error
	if c.alerts, err = alert.NewClient(sc); err != nil {
		return err
	}
	if c.schedules, err = schedule.NewClient(sc); err != nil {
		return err
	}
	if c.teams, err = team.NewClient(sc); err != nil {
		return err
	}
	if c.users, err = user.NewClient(sc); err != nil {
		return err
	}
	c.integrations, err = integration.NewClient(sc)
	return err
}

// Check verifies that the API key works and can read schedules, for
// `pagergate check`.
func (c *Client) Check(ctx context.Context) error {
	if _, err := c.fetchSchedules(ctx); err != nil {
		return fmt.Errorf("check API key: %w", err)
	}
	return nil
}

// apiError is an HTTP error answer of Opsgenie. It unwraps to the
// matching port error.
type apiError struct {
	status  int
	message string
	errType string // X-Opsgenie-Errortype
	details map[string]string
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Opsgenie answered %d %s", e.status, http.StatusText(e.status))
	if e.message != "" {
		b.WriteString(": " + e.message)
	}
	for k, v := range e.details {
		fmt.Fprintf(&b, "; %s: %s", k, v)
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

// asAPIError returns the HTTP error answer behind err, if any.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var se *ogclient.ApiError
	if errors.As(err, &se) {
		return &apiError{status: se.StatusCode, message: se.Message, errType: se.ErrorHeader, details: se.Errors}, true
	}
	return nil, false
}

// fail translates an error of an SDK call into the port errors: HTTP error
// answers by status, 403 as *ports.PermissionError, transport failures and
// timeouts as ports.ErrUnavailable; the SDK's own checks of a request stay
// as they are (a bug here, not Opsgenie's state).
func (c *Client) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ae, ok := asAPIError(err); ok {
		if ae.status == http.StatusForbidden {
			return &ports.PermissionError{Permission: "an Opsgenie API integration key with Read, Create and Update access, allowed to reach this resource", Err: ae}
		}
		return ae
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, ctx.Err())
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || strings.HasPrefix(err.Error(), "Response could not be parsed") {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	}
	return err
}
