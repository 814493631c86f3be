package httpretry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// MaxRetryAfter caps any wait a vendor asks for after a 429: the rate-limit
// windows of PagerDuty and Opsgenie are a minute at most, so a longer wait
// is a broken header and would stall every call of the process.
const MaxRetryAfter = time.Minute

// Options configure a Transport.
type Options struct {
	// Base sends each attempt (default http.DefaultTransport).
	Base http.RoundTripper
	// Log receives a debug line per retry (default none).
	Log *zap.Logger
	// Metrics, optional, observes every attempt (PagerCall) and retry
	// (PagerRetry).
	Metrics ports.Metrics
	// RateLimit is the client-side limit in requests per minute (>= 1).
	RateLimit int
	// Timeout bounds each attempt, until the answer's body is closed.
	Timeout time.Duration
	// MaxRetries bounds the retries of one call (0: none).
	MaxRetries int
	// Wait is the first backoff wait; MaxWait caps one wait, and a 429
	// asking for more than MaxWait is not retried (the caller retries
	// later; every call still holds back meanwhile).
	Wait, MaxWait time.Duration
	// ResetHeader is the vendor's header saying, in seconds, how long to
	// wait after a 429 when Retry-After is absent (PagerDuty's
	// "Ratelimit-Reset", Opsgenie's "X-RateLimit-Period-In-Sec").
	ResetHeader string
	// Endpoint names a call for metrics and logs from its method and URL
	// path, with identifiers replaced ("POST /incidents/{id}/notes").
	Endpoint func(method, path string) string
}

// Transport is the http.RoundTripper of a pager client. It is safe for
// concurrent use; one Transport serves every call of one client, so its
// limiter and reachability are the client's.
type Transport struct {
	opts    Options
	limiter *limiter
	health  health
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport for o.
func New(o Options) *Transport {
	if o.Base == nil {
		o.Base = http.DefaultTransport
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Endpoint == nil {
		o.Endpoint = func(method, path string) string { return method + " " + path }
	}
	return &Transport{opts: o, limiter: newLimiter(max(1, o.RateLimit))}
}

// RoundTrip sends req, retrying 429, 408 and 5xx answers and transport
// failures (see WithOutcome for calls that must not be repeated blindly).
// A request with a body is retried only when it has GetBody. After the
// last attempt it returns the last answer (or error) as is, so the caller
// sees the real status.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	ctx := req.Context()
	endpoint := t.opts.Endpoint(req.Method, req.URL.Path)
	bo := t.newBackOff()
	for attempt := 0; ; attempt++ {
		if err := t.limiter.wait(ctx); err != nil {
			return nil, err
		}
		began := time.Now()
		resp, err := t.attempt(ctx, req, attempt)
		t.count(ctx, endpoint, resp, err, time.Since(began))
		retry, wait := t.decide(ctx, resp, err, attempt, bo)
		if !retry || !replayable(req) {
			return resp, err
		}
		status := "error"
		if resp != nil {
			status = strconv.Itoa(resp.StatusCode)
			drain(resp)
		}
		if t.opts.Metrics != nil {
			t.opts.Metrics.PagerRetry(endpoint, status)
		}
		t.opts.Log.Debug("pager call retried", zap.String("endpoint", endpoint), zap.String("status", status),
			zap.Int("attempt", attempt+1), zap.Duration("wait", wait), zap.Error(err))
		if err := Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attempt sends one try of req, bounded by the per-attempt timeout. The
// timeout stays armed until the answer's body is closed.
func (t *Transport) attempt(ctx context.Context, req *http.Request, n int) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	try := req.Clone(actx)
	if n > 0 && req.Body != nil && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, err
		}
		try.Body = body
	} else if n > 0 && req.Body != nil {
		cancel()
		return nil, errors.New("request body cannot be replayed")
	}
	resp, err := t.opts.Base.RoundTrip(try)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// decide says whether to retry after an attempt, and after how long.
func (t *Transport) decide(ctx context.Context, resp *http.Response, err error, attempt int, bo backoff.BackOff) (bool, time.Duration) {
	if ctx.Err() != nil || attempt >= t.opts.MaxRetries {
		return false, 0
	}
	if err != nil {
		return !outcomeMatters(ctx), bo.NextBackOff()
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, ok := RetryAfter(resp.Header, t.opts.ResetHeader, time.Now())
		if !ok {
			wait = bo.NextBackOff()
		}
		wait = min(wait, MaxRetryAfter)
		// The vendor's limit is per account: everyone holds back, even
		// when this call gives up because the wait is longer than its
		// patience (the caller retries later).
		t.limiter.pause(wait)
		return wait <= t.opts.MaxWait, wait
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout:
		return !outcomeMatters(ctx), bo.NextBackOff()
	}
	return false, 0
}

// newBackOff returns the waits between the retries of one call: a
// doubling interval d from Wait up to MaxWait, each wait drawn from
// [d/2, d] (equal jitter: the library's randomized interval centred on
// 3d/4, ±1/3). The number of retries is bounded by MaxRetries, not by
// time.
func (t *Transport) newBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(t.opts.Wait*3/4),
		backoff.WithMaxInterval(t.opts.MaxWait*3/4),
		backoff.WithRandomizationFactor(1.0/3),
		backoff.WithMultiplier(2),
		backoff.WithMaxElapsedTime(0))
}

// count observes an attempt: reachability, and the PagerCall metric.
func (t *Transport) count(ctx context.Context, endpoint string, resp *http.Response, err error, took time.Duration) {
	switch {
	case err != nil && errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up: this says nothing about the vendor.
	case resp != nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests &&
		resp.StatusCode != http.StatusRequestTimeout:
		t.health.observe(true)
	default:
		t.health.observe(false)
	}
	if t.opts.Metrics == nil {
		return
	}
	status := "error"
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		status = "timeout"
	case resp != nil:
		status = strconv.Itoa(resp.StatusCode)
	}
	t.opts.Metrics.PagerCall(endpoint, status, took)
}

type outcomeKey struct{}

// WithOutcome marks a call whose retry is not blind: after an answer that
// leaves the outcome unknown (a transport failure, a timeout, 408 or 5xx)
// the transport returns it instead of sending the request again, so the
// caller can look whether the first attempt took effect (a note posted
// twice cannot be taken back). 429s, which say the request was not
// processed, are still retried.
func WithOutcome(ctx context.Context) context.Context {
	return context.WithValue(ctx, outcomeKey{}, true)
}

func outcomeMatters(ctx context.Context) bool {
	v, _ := ctx.Value(outcomeKey{}).(bool)
	return v
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// RetryAfter reads how long a 429 asks to wait: Retry-After (seconds or an
// HTTP date) when present, else the vendor's reset header (seconds, above
// zero).
func RetryAfter(h http.Header, resetHeader string, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0), true
		}
	}
	if resetHeader == "" {
		return 0, false
	}
	if v := strings.TrimSpace(h.Get(resetHeader)); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second)), true
		}
	}
	return 0, false
}

// drain reads a little of an answer we drop, so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}

// Sleep waits d or until ctx ends (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
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

// NewBackOff returns the waits between the attempts of one call, as the
// transport's own retries use them.
func (t *Transport) NewBackOff() backoff.BackOff { return t.newBackOff() }

// Once runs a write no dedup key protects (a note) exactly once: post runs
// with WithOutcome, so the transport does not repeat it blindly; when it
// fails and unknown(err) says it may have taken effect (its answer was
// lost), Once waits a backoff, asks stored whether it did, and posts again
// only when it did not, at most maxRetries more times. It returns post's
// last error, joined with stored's when that could not tell.
func (t *Transport) Once(ctx context.Context, maxRetries int, post func(context.Context) error,
	unknown func(error) bool, stored func(context.Context) (bool, error)) error {
	bo := t.newBackOff()
	for attempt := 0; ; attempt++ {
		err := post(WithOutcome(ctx))
		if err == nil {
			return nil
		}
		if !unknown(err) || attempt >= maxRetries || ctx.Err() != nil {
			return err
		}
		// Give a post the vendor took but did not answer time to land,
		// then look for it.
		if serr := Sleep(ctx, bo.NextBackOff()); serr != nil {
			return err
		}
		ok, serr := stored(ctx)
		if serr != nil {
			return errors.Join(err, serr) // unknown either way: the caller retries with its own check
		}
		if ok {
			t.opts.Log.Debug("write found stored after a lost answer")
			return nil
		}
	}
}
