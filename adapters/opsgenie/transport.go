package opsgenie

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pagergate/pagergate/adapters/opsgenie/httpretry"
)

// Every Opsgenie call goes through one httpretry.Transport (rate limit,
// per-attempt timeout, retries of 429, 408, 5xx and timeouts, metrics,
// reachability), behind rewrite. Opsgenie answers a 429 with
// X-RateLimit-State: THROTTLED and the window in X-RateLimit-Period-In-Sec,
// which is the wait when Retry-After is absent.
const resetHeader = "X-RateLimit-Period-In-Sec"

// rewrite points the SDK's requests (https://<sdkHost>/v2/…) at the
// configured base URL, which may name any scheme, port and path prefix,
// and buffers bodies so every attempt can send them.
type rewrite struct {
	target *url.URL
	next   *httpretry.Transport
}

var _ http.RoundTripper = rewrite{}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = r.target.Scheme, r.target.Host, ""
	out.URL.Path = r.target.Path + req.URL.Path
	out.URL.RawPath = ""
	if req.URL.RawPath != "" {
		out.URL.RawPath = r.target.EscapedPath() + req.URL.RawPath
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	return r.next.RoundTrip(out)
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
