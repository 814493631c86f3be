package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// vendorRoute is a pager's own delivery route: "approve <incident>" or
// "ignore"; anything else is malformed. A header picks the replay key.
var vendorRoute = ports.DeliveryRoute{Path: "/vendor/actions", Parse: func(h http.Header, body []byte) ([]domain.Action, error) {
	s := string(body)
	switch {
	case s == `"ignore"`:
		return nil, nil
	case strings.HasPrefix(s, `"approve `):
		a := domain.Action{Verb: domain.VerbApprove, IncidentID: strings.Trim(strings.TrimPrefix(s, `"approve `), `"`), ActorID: "U1"}
		if k := h.Get("X-Key"); k != "" {
			a.ReplayKeys = []string{"vendor:" + k}
		}
		return []domain.Action{a}, nil
	}
	return nil, errors.New("unknown body")
}}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// A pager's own route goes through the same checks as PagerDuty's routes,
// in their place: authentication, content type, body limit, then its
// parser; its actions reach the use case with the same answers.
func TestVendorRouteBehindTheSameChecks(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Routes = []ports.DeliveryRoute{vendorRoute}
	cfg.Credentials = Credentials{BasicUser: "og", BasicPassword: "pw"}
	cfg.SharedSecretHeader, cfg.SharedSecret = "X-Secret", "s3cret"
	e.srv = e.start(cfg)
	c := e.client()
	good := map[string]string{"Authorization": basic("og", "pw"), "X-Secret": "s3cret", "X-Key": "k1"}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for kk, vv := range good {
			h[kk] = vv
		}
		h[k] = v
		return h
	}
	for _, tc := range []struct {
		name    string
		path    string
		body    string
		headers map[string]string
		status  int
		want    string
	}{
		{"no basic auth", vendorRoute.Path, `"approve A1"`, with("Authorization", ""), 401, "basic authentication required"},
		{"bad password", vendorRoute.Path, `"approve A1"`, with("Authorization", basic("og", "nope")), 401, "bad basic authentication"},
		{"bad shared secret", vendorRoute.Path, `"approve A1"`, with("X-Secret", "guess"), 401, "X-Secret"},
		{"not JSON", vendorRoute.Path, `"approve A1"`, with("Content-Type", "text/plain"), 415, "application/json"},
		{"too large", vendorRoute.Path, `"` + strings.Repeat("x", DefaultBodyLimit) + `"`, good, 413, "larger"},
		{"unreadable", vendorRoute.Path, `{}`, good, 400, "malformed delivery: unknown body"},
		{"no replay key", vendorRoute.Path, `"approve A1"`, with("X-Key", ""), 400, "nothing to remember"},
		{"nothing for us", vendorRoute.Path, `"ignore"`, good, 200, "ignored"},
		{"PagerDuty's routes are not served", PathApprove, `{}`, good, 404, ""},
		{"approve", vendorRoute.Path, `"approve A1"`, good, 200, "done"},
	} {
		a := e.post(c, tc.path, []byte(tc.body), tc.headers)
		if a.status != tc.status || !strings.Contains(a.raw, tc.want) {
			t.Errorf("%s: %d %q; want %d containing %q", tc.name, a.status, a.raw, tc.status, tc.want)
		}
	}
	got := e.actions.calls()
	if len(got) != 1 || got[0].IncidentID != "A1" || got[0].ReplayKeys[0] != "vendor:k1" || time.Since(got[0].OccurredAt) > time.Minute {
		t.Fatalf("actions = %+v, want the one approval with its key and a time", got)
	}
	if n := e.metrics.get("webhook_requests|" + vendorRoute.Path + "|200"); n != 2 {
		t.Errorf("webhook_requests for the route, 200 = %d, want 2", n)
	}
	e.actions.setErr(ports.ErrUnavailable)
	if a := e.post(c, vendorRoute.Path, []byte(`"approve A2"`), good); a.status != 503 || a.header.Get("Retry-After") == "" {
		t.Errorf("transient failure: %d %v, want 503 with Retry-After", a.status, a.header)
	}
	e.actions.setErr(domain.ErrActorNotOnCall)
	if a := e.post(c, vendorRoute.Path, []byte(`"approve A3"`), good); a.status != 200 || a.body["status"] != "refused" {
		t.Errorf("refusal: %d %q, want 200 refused", a.status, a.raw)
	}
}

func TestVendorRouteNeedsAPathAndAParser(t *testing.T) {
	e := newEnv(t)
	for _, rt := range []ports.DeliveryRoute{{Path: "", Parse: vendorRoute.Parse}, {Path: "/x"}, {Path: PathHealthz, Parse: vendorRoute.Parse}} {
		cfg := e.config()
		cfg.InsecureNoAuth = true
		cfg.Routes = []ports.DeliveryRoute{rt}
		if _, err := New(cfg, e.actions, nil); err == nil {
			t.Errorf("New with route %+v succeeded", rt)
		}
	}
}

func (f *fakeActions) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}
