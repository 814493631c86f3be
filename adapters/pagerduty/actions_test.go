package pagerduty

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pagergate/pagergate/adapters/fakepd"
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

	// Again: nothing to write.
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
