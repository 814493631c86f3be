package pagerduty

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// customWebhookKey is the key of the extension schema behind Custom
// Incident Actions.
const customWebhookKey = "custom_webhook"

// extension is the body of POST /extensions and PUT /extensions/{id}.
// go-pagerduty v1.8.0 sends these without the "extension" wrapper the API
// requires, so the adapter writes them itself.
type extension struct {
	Type             string       `json:"type"`
	Name             string       `json:"name"`
	EndpointURL      string       `json:"endpoint_url"`
	ExtensionSchema  reference    `json:"extension_schema"`
	ExtensionObjects []reference  `json:"extension_objects"`
	Config           actionConfig `json:"config"`
}

type reference struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type actionConfig struct {
	Headers []actionHeader `json:"headers"`
}

type actionHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// EnsureActions creates or updates, by name, the Custom Incident Actions
// (extensions of schema custom_webhook) on a service. Actions already as
// wanted are left alone, so calling it again changes nothing.
func (c *Client) EnsureActions(ctx context.Context, serviceID string, hooks []domain.ActionHook) error {
	if !validID(serviceID) {
		return idError("service", serviceID)
	}
	if len(hooks) == 0 {
		return nil
	}
	schemaID, err := c.customWebhookSchema(ctx)
	if err != nil {
		return err
	}
	existing, err := allPages(func(offset uint) ([]pd.Extension, bool, error) {
		resp, err := c.pd.ListExtensionsWithContext(ctx, pd.ListExtensionOptions{
			ExtensionObjectID: serviceID,
			ExtensionSchemaID: schemaID,
			Limit:             c.limit,
			Offset:            offset,
		})
		if err != nil {
			return nil, false, c.fail(ctx, err)
		}
		return resp.Extensions, resp.More, nil
	})
	if err != nil {
		return fmt.Errorf("list extensions of service %s: %w", serviceID, err)
	}

	for _, h := range hooks {
		want := extension{
			Type:             "extension",
			Name:             h.Name,
			EndpointURL:      h.URL,
			ExtensionSchema:  reference{ID: schemaID, Type: "extension_schema_reference"},
			ExtensionObjects: []reference{{ID: serviceID, Type: "service_reference"}},
			Config:           actionConfig{Headers: headerList(h.Headers)},
		}
		body := map[string]extension{"extension": want}
		cur := findExtension(existing, h.Name, serviceID, schemaID)
		switch {
		case cur == nil:
			if err := c.doJSON(ctx, http.MethodPost, "/extensions", body, nil); err != nil {
				return fmt.Errorf("create action %q on service %s: %w", h.Name, serviceID, err)
			}
			c.log.Info("incident action created", zap.String("pd_service", serviceID), zap.String("action", h.Name))
		case !sameAction(*cur, want):
			if !validID(cur.ID) {
				return idError("extension", cur.ID)
			}
			if err := c.doJSON(ctx, http.MethodPut, "/extensions/"+cur.ID, body, nil); err != nil {
				return fmt.Errorf("update action %q on service %s: %w", h.Name, serviceID, err)
			}
			c.log.Info("incident action updated", zap.String("pd_service", serviceID), zap.String("action", h.Name))
		}
	}
	return nil
}

// customWebhookSchema finds the ID of the custom_webhook extension schema
// (cached).
func (c *Client) customWebhookSchema(ctx context.Context) (string, error) {
	if id, ok := cacheGet[string](ctx, c, keySchema); ok {
		return id, nil
	}
	all, err := allPages(func(offset uint) ([]pd.ExtensionSchema, bool, error) {
		resp, err := c.pd.ListExtensionSchemasWithContext(ctx, pd.ListExtensionSchemaOptions{Limit: c.limit, Offset: offset})
		if err != nil {
			return nil, false, c.fail(ctx, err)
		}
		return resp.ExtensionSchemas, resp.More, nil
	})
	if err != nil {
		return "", fmt.Errorf("list extension schemas: %w", err)
	}
	for _, s := range all {
		if s.Key == customWebhookKey {
			cachePut(ctx, c, keySchema, s.ID)
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("extension schema %s (Custom Incident Actions): %w", customWebhookKey, ports.ErrNotFound)
}

// findExtension returns the extension of the schema on the service with
// the name.
func findExtension(list []pd.Extension, name, serviceID, schemaID string) *pd.Extension {
	for i, e := range list {
		if e.Name != name || (e.ExtensionSchema.ID != "" && e.ExtensionSchema.ID != schemaID) {
			continue
		}
		if slices.ContainsFunc(e.ExtensionObjects, func(o pd.APIObject) bool { return o.ID == serviceID }) {
			return &list[i]
		}
	}
	return nil
}

// sameAction reports whether an existing extension already is what we
// want: same URL and same headers.
func sameAction(cur pd.Extension, want extension) bool {
	if cur.EndpointURL != want.EndpointURL {
		return false
	}
	var have []actionHeader
	if cfg, ok := cur.Config.(map[string]any); ok {
		if list, ok := cfg["headers"].([]any); ok {
			for _, item := range list {
				m, _ := item.(map[string]any)
				name, _ := m["name"].(string)
				value, _ := m["value"].(string)
				have = append(have, actionHeader{Name: name, Value: value})
			}
		}
	}
	slices.SortFunc(have, func(a, b actionHeader) int { return cmp.Compare(a.Name, b.Name) })
	return slices.Equal(have, want.Config.Headers)
}

// headerList returns headers sorted by name, never nil.
func headerList(h map[string]string) []actionHeader {
	out := make([]actionHeader, 0, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		out = append(out, actionHeader{Name: k, Value: h[k]})
	}
	return out
}
