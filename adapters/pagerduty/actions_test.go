package pagerduty

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/memstore"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func TestEnsureActions(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	other := h.fake.AddService("Other")
	hooks := []domain.ActionHook{
		{Name: "Approve access", URL: "https://pagergate.example.com/pagerduty/actions/approve", Headers: map[string]string{"X-Pagergate-Secret": "s3cret"}},
		{Name: "Deny access", URL: "https://pagergate.example.com/pagerduty/actions/deny", Headers: map[string]string{"X-Pagergate-Secret": "s3cret"}},
	}
	if err := h.client.EnsureActions(t.Context(), svc.ID, hooks); err != nil {
		t.Fatalf("EnsureActions = %v", err)
	}
	exts := h.fake.Extensions()
	if len(exts) != 2 {
		t.Fatalf("fake holds %d extensions, want 2", len(exts))
	}
	for i, e := range exts {
		if e.Name != hooks[i].Name || e.EndpointURL != hooks[i].URL || e.SchemaID != fakepd.CustomWebhookSchemaID {
			t.Errorf("extension %d = %+v, want %s at %s of schema custom_webhook", i, e, hooks[i].Name, hooks[i].URL)
		}
		if diff := cmp.Diff([]string{svc.ID}, e.ServiceIDs); diff != "" {
			t.Errorf("extension %d services (-want +got):\n%s", i, diff)
		}
		wantCfg := map[string]any{"headers": []any{map[string]any{"name": "X-Pagergate-Secret", "value": "s3cret"}}}
		if diff := cmp.Diff(wantCfg, e.Config); diff != "" {
			t.Errorf("extension %d config (-want +got):\n%s", i, diff)
		}
	}

	// Again: nothing to write, though PagerDuty reads the header values
	// back masked.
	if err := h.client.EnsureActions(t.Context(), svc.ID, hooks); err != nil {
		t.Fatalf("EnsureActions again = %v", err)
	}
	if n, m := h.calls("POST /extensions"), h.calls("PUT /extensions/{id}"); n != 2 || m != 0 {
		t.Errorf("writes after the second run: %d POST, %d PUT; want 2 and 0", n, m)
	}

	// A changed URL updates in place.
	hooks[1].URL = "https://pagergate2.example.com/pagerduty/actions/deny"
	if err := h.client.EnsureActions(t.Context(), svc.ID, hooks); err != nil {
		t.Fatalf("EnsureActions(changed) = %v", err)
	}
	if n := h.calls("PUT /extensions/{id}"); n != 1 {
		t.Errorf("PUT /extensions/{id} calls = %d, want 1", n)
	}
	if exts := h.fake.Extensions(); len(exts) != 2 || exts[1].EndpointURL != hooks[1].URL {
		t.Errorf("extensions = %+v, want the deny action at the new URL", exts)
	}

	// Another service gets its own pair.
	if err := h.client.EnsureActions(t.Context(), other.ID, hooks); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.Extensions()); n != 4 {
		t.Errorf("fake holds %d extensions, want 4", n)
	}
	// The schema lookup is cached.
	if n := h.calls("GET /extension_schemas"); n != 1 {
		t.Errorf("GET /extension_schemas calls = %d, want 1", n)
	}
}

func TestEnsureActionsUnknownService(t *testing.T) {
	h := newHarness(t, nil)
	err := h.client.EnsureActions(t.Context(), "PNOSVC1", []domain.ActionHook{{Name: "Approve access", URL: "https://x.example.com/a"}})
	if err == nil {
		t.Fatal("EnsureActions(unknown service) = nil, want an error")
	}
	if errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("EnsureActions(unknown service) = %v, want a permanent error", err)
	}
}

// An unchanged configuration makes no write at a restart, though PagerDuty
// masks header values on read; a changed header value (a rotated secret)
// is written, told by the fingerprint of what was written last.
func TestEnsureActionsAcrossRestarts(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	hooks := func(secret string) []domain.ActionHook {
		hs := map[string]string{"X-Pagergate-Secret": secret, "Authorization": "Basic cGQ6cHc="}
		return []domain.ActionHook{
			{Name: "Approve access", URL: "https://pg.example.com/pagerduty/actions/approve", Headers: hs},
			{Name: "Deny access", URL: "https://pg.example.com/pagerduty/actions/deny", Headers: hs},
		}
	}
	store := memstore.New() // the local store, kept across restarts
	start := func() *Client {
		c, err := New(h.client.cfg, zaptest.NewLogger(t), store, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	writes := func() int { return h.calls("POST /extensions") + h.calls("PUT /extensions/{id}") }
	if err := start().EnsureActions(t.Context(), svc.ID, hooks("one")); err != nil {
		t.Fatal(err)
	}
	if got := writes(); got != 2 {
		t.Fatalf("first start wrote %d times, want 2", got)
	}
	for i := range 3 {
		if err := start().EnsureActions(t.Context(), svc.ID, hooks("one")); err != nil {
			t.Fatal(err)
		}
		if got := writes(); got != 2 {
			t.Fatalf("restart %d with the same configuration wrote %d times in all, want 2", i+1, got)
		}
	}
	// A rotated secret is written once, then left alone.
	for range 2 {
		if err := start().EnsureActions(t.Context(), svc.ID, hooks("two")); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.calls("PUT /extensions/{id}"); got != 2 {
		t.Errorf("rotated secret: %d PUT, want 2 (one per action, once)", got)
	}
	for _, e := range h.fake.Extensions() {
		if v := e.Config["headers"].([]any)[1].(map[string]any)["value"]; v != "two" {
			t.Errorf("%s sends %v, want the rotated secret", e.Name, v)
		}
	}
	// A replica without the fingerprint trusts what it cannot read.
	fresh, err := New(h.client.cfg, zaptest.NewLogger(t), memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.EnsureActions(t.Context(), svc.ID, hooks("two")); err != nil {
		t.Fatal(err)
	}
	if got := writes(); got != 4 {
		t.Errorf("a new replica wrote: %d writes in all, want 4", got)
	}
	// Someone points an action at their own server: it is pointed back,
	// with a warning that the header credentials went there.
	ext := h.fake.Extensions()[0]
	req, _ := http.NewRequest(http.MethodPut, testEndpoint+"/extensions/"+ext.ID,
		strings.NewReader(`{"extension":{"endpoint_url":"https://attacker.example.com/collect"}}`))
	req.Header.Set("Authorization", "Token token="+fakepd.DefaultAPIKey)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.fake.Handler().ServeHTTP(rec, req) // straight to the fake: this is not the adapter's call
	if rec.Code != http.StatusOK {
		t.Fatalf("redirect the action: %d %s", rec.Code, rec.Body)
	}
	core, logs := observer.New(zap.WarnLevel)
	watched, err := New(h.client.cfg, zap.New(core), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := watched.EnsureActions(t.Context(), svc.ID, hooks("two")); err != nil {
		t.Fatal(err)
	}
	if got := h.fake.Extensions()[0].EndpointURL; got != hooks("two")[0].URL {
		t.Errorf("redirected action left at %s", got)
	}
	if logs.FilterMessageSnippet("may have leaked").Len() != 1 {
		t.Errorf("no warning about leaked credentials: %v", logs.All())
	}
	// A header added or renamed is a difference that shows.
	more := hooks("two")
	more[0].Headers = map[string]string{"X-Other": "x"}
	if err := fresh.EnsureActions(t.Context(), svc.ID, more); err != nil {
		t.Fatal(err)
	}
	if got := h.calls("PUT /extensions/{id}"); got != 5 { // 2 rotated, 1 redirect, 1 pointed back, 1 renamed
		t.Errorf("renamed header: %d PUT in all, want 5", got)
	}
}

func TestMaskedValue(t *testing.T) {
	tests := []struct {
		got, want      string
		hidden, agrees bool
	}{
		{"********", "s3cret", true, true},
		{"****cret", "s3cret", true, true},
		{"****abcd", "s3cret", true, false},
		{"[REDACTED]", "s3cret", true, true},
		{"s3cret", "s3cret", false, false},
		{"other", "s3cret", false, false},
		{"", "s3cret", false, false},
	}
	for _, tt := range tests {
		hidden, agrees := maskedValue(tt.got, tt.want)
		if hidden != tt.hidden || agrees != tt.agrees {
			t.Errorf("maskedValue(%q, %q) = %v, %v; want %v, %v", tt.got, tt.want, hidden, agrees, tt.hidden, tt.agrees)
		}
	}
}

// An action PagerDuty disabled after 3 dropped deliveries is re-enabled.
func TestEnsureActionsReEnablesADisabledAction(t *testing.T) {
	h := newHarness(t, nil)
	svc := h.fake.AddService("Access")
	// The fake does not trust this server's certificate: a TLS error, which
	// PagerDuty drops without retry.
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	hooks := []domain.ActionHook{{Name: "Approve access", URL: untrusted.URL + "/pagerduty/actions/approve"}}
	if err := h.client.EnsureActions(t.Context(), svc.ID, hooks); err != nil {
		t.Fatal(err)
	}
	h.fake.AddUser("alice@example.com", "Alice")
	inc, err := h.fake.AddIncident(fakepd.IncidentSeed{Service: "Access", Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for range 3 {
		_, _ = h.fake.Send(ctx, fakepd.Action{IncidentID: inc.ID, Actor: "alice@example.com", Verb: "approve", Format: fakepd.FormatCustomV2})
	}
	if st := h.fake.Stats(); len(st.Destinations) != 1 || !st.Destinations[0].Disabled {
		t.Fatalf("3 dropped deliveries did not disable the action: %+v", st)
	}
	if err := h.client.EnsureActions(t.Context(), svc.ID, hooks); err != nil {
		t.Fatal(err)
	}
	if n := h.calls("POST /extensions/{id}/enable"); n != 1 {
		t.Errorf("POST /extensions/{id}/enable calls = %d, want 1", n)
	}
	if st := h.fake.Stats(); st.Destinations[0].Disabled {
		t.Error("the action is still disabled")
	}
	if err := h.client.EnsureActions(t.Context(), svc.ID, hooks); err != nil {
		t.Fatal(err)
	}
	if n := h.calls("POST /extensions/{id}/enable"); n != 1 {
		t.Errorf("an enabled action was enabled again: %d calls", n)
	}
}
