package httpretry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, reset string
		header      http.Header
		want        time.Duration
		ok          bool
	}{
		{"seconds", "", http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{"http date", "", http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}, 5 * time.Second, true},
		{"pagerduty reset", "Ratelimit-Reset", http.Header{"Ratelimit-Reset": {"42"}}, 42 * time.Second, true},
		{"retry-after wins", "Ratelimit-Reset", http.Header{"Retry-After": {"1"}, "Ratelimit-Reset": {"42"}}, time.Second, true},
		{"opsgenie period", "X-RateLimit-Period-In-Sec", http.Header{"X-Ratelimit-Period-In-Sec": {"60"}}, time.Minute, true},
		{"reset header of another vendor", "Ratelimit-Reset", http.Header{"X-Ratelimit-Period-In-Sec": {"60"}}, 0, false},
		{"zero period says nothing", "X-RateLimit-Period-In-Sec", http.Header{"X-Ratelimit-Period-In-Sec": {"0"}}, 0, false},
		{"garbage", "", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"none", "Ratelimit-Reset", http.Header{}, 0, false},
	} {
		got, ok := RetryAfter(tc.header, tc.reset, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: RetryAfter = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// The waits between retries double from Wait, each within [d/2, d], and
// never exceed MaxWait.
func TestBackOffIsEqualJitter(t *testing.T) {
	tr := New(Options{Wait: 100 * time.Millisecond, MaxWait: time.Second})
	for range 200 {
		bo := tr.NewBackOff()
		d := 100 * time.Millisecond
		for i := range 8 {
			got := bo.NextBackOff()
			if got < d/2-time.Millisecond || got > d+time.Millisecond {
				t.Fatalf("wait %d = %v, want within [%v, %v]", i, got, d/2, d)
			}
			d = min(2*d, time.Second)
		}
	}
}

// statusServer answers each request with the next status of codes (the
// last one repeats) and counts the requests.
func statusServer(t *testing.T, header http.Header, codes ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(codes[min(i, len(codes)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func send(t *testing.T, tr *Transport, ctx context.Context, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRetriesThenReturnsTheLastAnswer(t *testing.T) {
	srv, n := statusServer(t, nil, 500, 502, 200)
	tr := New(Options{RateLimit: 6000, Timeout: time.Second, MaxRetries: 3, Wait: time.Millisecond, MaxWait: time.Millisecond})
	if code, err := send(t, tr, t.Context(), srv.URL); code != 200 || err != nil || n.Load() != 3 {
		t.Fatalf("after 500, 502, 200: %d, %v after %d attempts; want 200 after 3", code, err, n.Load())
	}
	srv2, n2 := statusServer(t, nil, 503)
	tr2 := New(Options{RateLimit: 6000, Timeout: time.Second, MaxRetries: 2, Wait: time.Millisecond, MaxWait: time.Millisecond})
	if code, err := send(t, tr2, t.Context(), srv2.URL); code != 503 || err != nil || n2.Load() != 3 {
		t.Fatalf("503s: %d, %v after %d attempts; want the 503 after 3", code, err, n2.Load())
	}
	if err := tr2.Ready(errors.New("down")); err == nil {
		t.Error("Ready after 3 failed attempts = nil, want unreachable")
	}
}

// A call marked WithOutcome is not repeated after a 5xx (its outcome is
// unknown), but it is after a 429 (not processed).
func TestWithOutcomeIsNotRepeatedBlindly(t *testing.T) {
	srv, n := statusServer(t, nil, 502, 200)
	tr := New(Options{RateLimit: 6000, Timeout: time.Second, MaxRetries: 3, Wait: time.Millisecond, MaxWait: time.Millisecond})
	if code, _ := send(t, tr, WithOutcome(t.Context()), srv.URL); code != 502 || n.Load() != 1 {
		t.Fatalf("WithOutcome after a 502: %d after %d attempts; want the 502 after 1", code, n.Load())
	}
	srv2, n2 := statusServer(t, http.Header{"Retry-After": {"0"}}, 429, 200)
	if code, _ := send(t, tr, WithOutcome(t.Context()), srv2.URL); code != 200 || n2.Load() != 2 {
		t.Fatalf("WithOutcome after a 429: %d after %d attempts; want 200 after 2", code, n2.Load())
	}
}

// A 429 asking for more than MaxWait is not retried, and holds every call
// of the transport back for the wait (capped at MaxRetryAfter).
func TestLong429PausesEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		tr := New(Options{RateLimit: 6000, Timeout: time.Second, MaxRetries: 3, Wait: time.Millisecond, MaxWait: time.Second,
			ResetHeader: "Ratelimit-Reset", Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if n.Add(1) == 1 {
					return &http.Response{StatusCode: 429, Header: http.Header{"Ratelimit-Reset": {"3600"}}, Body: http.NoBody}, nil
				}
				return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
			})})
		if code, _ := send(t, tr, t.Context(), "http://pager.test/x"); code != 429 {
			t.Fatalf("first call = %d, want the 429 (wait over MaxWait)", code)
		}
		start := time.Now()
		if code, _ := send(t, tr, t.Context(), "http://pager.test/y"); code != 200 {
			t.Fatalf("second call = %d", code)
		}
		if waited := time.Since(start); waited != MaxRetryAfter {
			t.Errorf("second call held back %v, want %v (the 429's hour, capped)", waited, MaxRetryAfter)
		}
	})
}

// Once posts again only when the write is not found stored.
func TestOnceLooksBeforePostingAgain(t *testing.T) {
	tr := New(Options{Wait: time.Millisecond, MaxWait: time.Millisecond})
	lost := errors.New("answer lost")
	unknown := func(err error) bool { return errors.Is(err, lost) }
	for _, tc := range []struct {
		name      string
		stored    bool
		wantPosts int
	}{{"stored", true, 1}, {"not stored", false, 2}} {
		posts := 0
		err := tr.Once(t.Context(), 3, func(ctx context.Context) error {
			if !outcomeMatters(ctx) {
				t.Error("post runs without WithOutcome")
			}
			posts++
			if posts == 1 {
				return lost
			}
			return nil
		}, unknown, func(context.Context) (bool, error) { return tc.stored, nil })
		if err != nil || posts != tc.wantPosts {
			t.Errorf("%s: %d posts, %v; want %d, nil", tc.name, posts, err, tc.wantPosts)
		}
	}
	posts := 0
	refused := errors.New("refused")
	err := tr.Once(t.Context(), 3, func(context.Context) error { posts++; return refused }, unknown,
		func(context.Context) (bool, error) { t.Error("stored asked after a known failure"); return false, nil })
	if !errors.Is(err, refused) || posts != 1 {
		t.Errorf("known failure: %d posts, %v; want 1, refused", posts, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
