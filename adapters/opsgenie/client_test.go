package opsgenie

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// seed adds alice, bob, the ops team and the ops schedule.
func (h *harness) seed(t *testing.T) {
	t.Helper()
	h.fake.AddUser("alice@example.com", "Alice")
	h.fake.AddUser("bob@example.com", "Bob")
	if _, err := h.fake.AddTeam("ops", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fake.AddSchedule("ops_schedule", "ops"); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) service(t *testing.T, ref string) domain.Service {
	t.Helper()
	svc, err := h.client.FindService(t.Context(), ref)
	if err != nil {
		t.Fatalf("FindService(%q) = %v", ref, err)
	}
	return svc
}

func testSpec(serviceID string) domain.IncidentSpec {
	return domain.IncidentSpec{ServiceID: serviceID, Key: domain.IncidentKey("3f9c0b1e-0000-4000-8000-000000000001"),
		Title: "Access request from alice@example.com for db-admin", Details: "User: alice@example.com"}
}

// The adapter reaches a fake over real TLS on loopback, through the SDK.
func TestOverTLS(t *testing.T) {
	fake := fakeopsgenie.New(fakeopsgenie.Options{})
	defer fake.Close()
	base, err := fake.StartTLS()
	if err != nil {
		t.Fatal(err)
	}
	fake.AddUser("alice@example.com", "Alice")
	if _, err := fake.AddSchedule("ops_schedule", ""); err != nil {
		t.Fatal(err)
	}
	if err := fake.AddOnCall("alice@example.com", "ops_schedule"); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{APIKey: fakeopsgenie.DefaultAPIKey, APIURL: base, HTTPClient: fake.Client()}, zaptest.NewLogger(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Client().CloseIdleConnections()
	svc, err := c.FindService(t.Context(), "ops_schedule")
	if err != nil {
		t.Fatalf("FindService over TLS = %v", err)
	}
	in, err := c.EnsureIncident(t.Context(), testSpec(svc.ID))
	if err != nil {
		t.Fatalf("EnsureIncident over TLS = %v", err)
	}
	if err := c.AddNote(t.Context(), in.ID, "hello"); err != nil {
		t.Fatalf("AddNote over TLS = %v", err)
	}
	u, _ := c.FindUserByEmail(t.Context(), "alice@example.com")
	ocs, err := c.OnCallsNow(t.Context(), u.ID, []string{svc.EscalationPolicyID})
	if err != nil || len(ocs) != 1 || ocs[0].Level != 1 {
		t.Errorf("OnCallsNow over TLS = %+v, %v", ocs, err)
	}
	if err := c.ResolveIncident(t.Context(), in.ID); err != nil {
		t.Fatalf("ResolveIncident over TLS = %v", err)
	}
	if a, _ := fake.Alert(in.ID); a.Status != "closed" || !slices.Equal(fake.Notes(in.ID), []string{"hello"}) {
		t.Errorf("alert = %+v, want closed with the note", a)
	}
}

// The SDK only takes a host name; the transport points it at any base URL:
// the EU host, another scheme and port, a path prefix (a proxy).
func TestAPIURLRewrite(t *testing.T) {
	fake := fakeopsgenie.New(fakeopsgenie.Options{})
	defer fake.Close()
	if _, err := fake.AddSchedule("ops_schedule", ""); err != nil {
		t.Fatal(err)
	}
	var seen []string
	proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/opsgenie")
		fake.Handler().ServeHTTP(w, r)
	})
	c, err := New(Config{APIKey: fakeopsgenie.DefaultAPIKey, APIURL: "http://api.eu.opsgenie.test:8080/opsgenie/",
		HTTPClient: &http.Client{Transport: handlerTransport{h: proxy}}}, zaptest.NewLogger(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindService(t.Context(), "ops_schedule"); err != nil {
		t.Fatalf("FindService = %v", err)
	}
	if want := []string{"http://api.eu.opsgenie.test:8080/opsgenie/v2/schedules"}; !slices.Equal(seen, want) {
		t.Errorf("requests went to %v, want %v", seen, want)
	}
	if cfg, _ := (Config{APIKey: "k"}).withDefaults(); cfg.APIURL != DefaultAPIURL || EUAPIURL != "https://api.eu.opsgenie.com" {
		t.Errorf("default API URL = %q", cfg.APIURL)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "api_key is empty"},
		{Config{APIKey: "k", APIURL: "ftp://x"}, "api_url"},
		{Config{APIKey: "k", APIURL: "://"}, "api_url"},
		{Config{APIKey: "k", Priority: "high"}, "priority"},
	} {
		if _, err := New(tc.cfg, nil, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", tc.cfg, err, tc.want)
		}
	}
}

// A rejected key is ErrInvalidToken, not retried; a key without the right
// access is a PermissionError.
func TestKeyErrors(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.APIKey = "wrong" })
	h.seed(t)
	_, err := h.client.FindService(t.Context(), "ops_schedule")
	if !errors.Is(err, ErrInvalidToken) || errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("wrong key: %v, want ErrInvalidToken", err)
	}
	if n := h.fake.TotalCalls(); n != 1 {
		t.Errorf("wrong key: %d requests, want 1 (no retry)", n)
	}
	forbid := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"You are not authorized to access this resource","took":0.001,"requestId":"r"}`))
	})
	c, err := New(Config{APIKey: "k", APIURL: testAPIURL, HTTPClient: &http.Client{Transport: handlerTransport{h: forbid}}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pe *ports.PermissionError
	if _, err := c.GetIncident(t.Context(), "a1"); !errors.As(err, &pe) {
		t.Errorf("403: %v, want a PermissionError", err)
	}
}

// A 429 asking for longer than MaxRetryWait is not retried: the call
// fails with ErrUnavailable at once and every call waits out the period.
func TestLongThrottleHoldsEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.seed(t)
		h.fake.SetRateLimit(1) // per minute and domain; the 429 asks for 60 s
		if _, err := h.client.FindService(t.Context(), "ops_schedule"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := h.client.FindService(t.Context(), "team:ops") // cached schedules, teams are new: one call
		_, err2 := h.client.FindService(t.Context(), "team:ops")
		if !errors.Is(err, ports.ErrUnavailable) || h.fake.Calls()["GET /v2/teams"] < 1 {
			t.Fatalf("FindService over the limit = %v, want ErrUnavailable", err)
		}
		if waited := time.Since(start); waited < time.Minute || err2 != nil {
			t.Errorf("next call after waiting %v: %v; want it held back about 60 s, then served", waited, err2)
		}
		if n := h.metrics.get("pager_calls", "GET /v2/teams", "429"); n != 1 {
			t.Errorf("pager_calls for the 429 = %d, want 1", n)
		}
	})
}

func TestEndpointOf(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/alerts":                       "GET /v2/alerts",
		"/v2/alerts/abc-123":               "GET /v2/alerts/{id}",
		"/v2/alerts/requests/r1":           "GET /v2/alerts/requests/{id}",
		"/v2/alerts/abc/notes":             "GET /v2/alerts/{id}/notes",
		"/v2/schedules/s1/on-calls":        "GET /v2/schedules/{id}/on-calls",
		"/v2/users/alice@example.com":      "GET /v2/users/{id}",
		"/v2/alerts/abc/actions/Approve x": "GET /v2/alerts/{id}/actions/{id}",
	} {
		if got := endpointOf("GET", path); got != want {
			t.Errorf("endpointOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// Readiness fails after failed attempts in a row and clears on success.
func TestReadiness(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxRetries = 2 })
	h.seed(t)
	h.fake.FailNext(3, http.StatusBadGateway)
	if _, err := h.client.FindService(t.Context(), "ops_schedule"); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("FindService on 502s = %v", err)
	}
	if err := h.client.Ready(); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Ready after 3 failures = %v, want ErrUnreachable", err)
	}
	if _, err := h.client.FindService(t.Context(), "ops_schedule"); err != nil {
		t.Fatal(err)
	}
	if err := h.client.Ready(); err != nil {
		t.Errorf("Ready after a success = %v", err)
	}
	if err := h.client.Start(); err != nil {
		t.Fatal(err)
	}
	if err := h.client.Stop(t.Context()); err != nil {
		t.Errorf("Stop = %v", err)
	}
}

func TestIDsNeverReachThePath(t *testing.T) {
	h := newHarness(t, nil)
	for _, id := range []string{"a/b", "../x", "a?b", ""} {
		if _, err := h.client.GetIncident(t.Context(), id); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("GetIncident(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := h.client.EnsureIncident(t.Context(), testSpec("bogus")); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("EnsureIncident(bogus service) = %v, want ErrNotFound", err)
	}
	if _, err := h.client.FindUserByEmail(t.Context(), "a/b@example.com"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("FindUserByEmail(a/b) = %v, want ErrNotFound", err)
	}
	if n := h.fake.TotalCalls(); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}
