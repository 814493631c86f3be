package opsgenie

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// maxRetryAfter caps any wait Opsgenie asks for: its rate-limit windows
// are a second and a minute.
const maxRetryAfter = time.Minute

// retryTransport is the one http.RoundTripper every Opsgenie call goes
// through: base URL, rate limit, per-attempt timeout, retries, metrics and
// reachability.
type retryTransport struct {
	base    http.RoundTripper
	target  *url.URL
	limiter *limiter
	log     *zap.Logger
	metrics ports.Metrics

	timeout    time.Duration
	maxRetries int
	wait       time.Duration
	maxWait    time.Duration

	health health
}

var _ http.RoundTripper = (*retryTransport)(nil)

// RoundTrip points req at the configured API URL and sends it, retrying
// 429, 408 and 5xx answers and transport failures (see withOutcome for
// calls whose retry must not be blind). After the last attempt it returns
// the last answer as is, so the caller sees the real status.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req, err := t.prepare(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	endpoint := endpointOf(req.Method, strings.TrimPrefix(req.URL.Path, t.target.Path))
	for attempt := 0; ; attempt++ {
		if err := t.limiter.wait(ctx); err != nil {
			return nil, err
		}
		began := time.Now()
		resp, err := t.attempt(ctx, req)
		t.count(ctx, endpoint, resp, err, time.Since(began))
		retry, wait := t.decide(ctx, resp, err, attempt)
		if !retry {
			return resp, err
		}
		status := "error"
		if resp != nil {
			status = strconv.Itoa(resp.StatusCode)
			drain(resp)
		}
		if t.metrics != nil {
			t.metrics.PagerRetry(endpoint, status)
		}
		t.log.Debug("pager call retried", zap.String("endpoint", endpoint), zap.String("status", status),
			zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// prepare rewrites the SDK's URL (https://<host>/v2/…) onto the configured
// base URL and buffers the body so every attempt can send it.
func (t *retryTransport) prepare(req *http.Request) (*http.Request, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = t.target.Scheme, t.target.Host, ""
	out.URL.Path = t.target.Path + req.URL.Path
	out.URL.RawPath = ""
	if req.URL.RawPath != "" {
		out.URL.RawPath = t.target.EscapedPath() + req.URL.RawPath
	}
	if req.Body == nil || req.Body == http.NoBody {
		return out, nil
	}
	defer req.Body.Close()
	body, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out, nil
}

// attempt sends one try, bounded by the per-attempt timeout, which stays
// armed until the answer's body is closed.
func (t *retryTransport) attempt(ctx context.Context, req *http.Request) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	try := req.Clone(actx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, err
		}
		try.Body = body
	}
	resp, err := t.base.RoundTrip(try)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// decide says whether to retry after an attempt, and after how long.
func (t *retryTransport) decide(ctx context.Context, resp *http.Response, err error, attempt int) (bool, time.Duration) {
	if ctx.Err() != nil || attempt >= t.maxRetries {
		return false, 0
	}
	if err != nil {
		return !outcomeMatters(ctx), t.backoff(attempt)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, ok := retryAfter(resp.Header, time.Now())
		if !ok {
			wait = t.backoff(attempt)
		}
		wait = min(wait, maxRetryAfter)
		t.limiter.pause(wait) // Opsgenie's limits are per account: everyone waits
		if wait > t.maxWait {
			return false, 0 // more patience than we have: the caller retries later
		}
		return true, wait
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout:
		return !outcomeMatters(ctx), t.backoff(attempt)
	}
	return false, 0
}

// retryAfter reads how long Opsgenie asks to wait after a 429:
// Retry-After (seconds or an HTTP date) when present, else the throttling
// period X-RateLimit-Period-In-Sec.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Period-In-Sec")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second)), true
		}
	}
	return 0, false
}

type outcomeKey struct{}

// withOutcome marks a call whose retry is not blind: after an answer that
// leaves the outcome unknown (a transport failure, a timeout, 408 or 5xx)
// the transport returns it instead of sending the request again, so the
// caller can look whether the first attempt took effect. 429s, which say
// the request was not processed, are still retried.
func withOutcome(ctx context.Context) context.Context {
	return context.WithValue(ctx, outcomeKey{}, true)
}

func outcomeMatters(ctx context.Context) bool {
	v, _ := ctx.Value(outcomeKey{}).(bool)
	return v
}

// backoff is the jittered exponential wait before retry attempt+1: half of
// the doubled wait is fixed, the other half random.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.wait
	for i := 0; i < attempt && d < t.maxWait; i++ {
		d *= 2
	}
	d = min(d, t.maxWait)
	half := d / 2
	return half + rand.N(half+1)
}

func (t *retryTransport) count(ctx context.Context, endpoint string, resp *http.Response, err error, took time.Duration) {
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up: this says nothing about Opsgenie.
	case resp != nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests &&
		resp.StatusCode != http.StatusRequestTimeout:
		t.health.observe(true)
	default:
		t.health.observe(false)
	}
	if t.metrics == nil {
		return
	}
	status := "error"
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		status = "timeout"
	case resp != nil:
		status = strconv.Itoa(resp.StatusCode)
	}
	t.metrics.PagerCall(endpoint, status, took)
}

// endpointOf names a call for metrics and logs: the method and the path
// with identifiers replaced, e.g. "POST /v2/alerts/{id}/notes".
func endpointOf(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	collections := map[string]bool{"alerts": true, "requests": true, "schedules": true, "users": true, "teams": true, "actions": true}
	for i := 1; i < len(parts); i++ {
		if collections[parts[i-1]] && parts[i] != "requests" {
			parts[i] = "{id}"
		}
	}
	return method + " /" + strings.Join(parts, "/")
}

// drain reads a little of an answer we drop, so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cancelBody releases the per-attempt context once the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// limiter is a token bucket shared by all calls of a Client: rate tokens
// per second, at most burst saved up. A 429 pauses it for everyone.
type limiter struct {
	mu         sync.Mutex
	rate       float64
	burst      float64
	tokens     float64
	last       time.Time
	pauseUntil time.Time
}

func newLimiter(perMinute int) *limiter {
	rate := float64(perMinute) / 60
	burst := max(1, float64(perMinute/60))
	return &limiter{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// wait blocks until a token is available or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	for {
		d, took := l.reserve()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			if took {
				l.refund()
			}
			return err
		}
		if !took {
			continue // the pause is over: now take a token
		}
		if l.paused() {
			l.refund() // a 429 arrived meanwhile: queue behind the pause
			continue
		}
		return nil
	}
}

// reserve takes a token, possibly on credit, and returns how long to wait
// until it is really there. During a pause it takes nothing.
func (l *limiter) reserve() (wait time.Duration, took bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Before(l.pauseUntil) {
		return l.pauseUntil.Sub(now), false
	}
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0, true
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second)), true
}

func (l *limiter) refund() {
	l.mu.Lock()
	l.tokens = min(l.burst, l.tokens+1)
	l.mu.Unlock()
}

func (l *limiter) paused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.pauseUntil)
}

// pause holds every call back for d from now.
func (l *limiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.pauseUntil) {
		l.pauseUntil = until
	}
}
