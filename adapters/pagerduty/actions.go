package pagerduty

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

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
// wanted are left alone, so calling it again with the same hooks writes
// nothing, even though PagerDuty reads header values back masked. An action
// PagerDuty has temporarily disabled is re-enabled.
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
		if err := c.ensureAction(ctx, serviceID, schemaID, existing, h); err != nil {
			return err
		}
	}
	return nil
}

// ensureAction creates, updates or leaves alone one action, and re-enables
// it when PagerDuty has disabled it.
func (c *Client) ensureAction(ctx context.Context, serviceID, schemaID string, existing []pd.Extension, h domain.ActionHook) error {
	want := extension{
		Type:             "extension",
		Name:             h.Name,
		EndpointURL:      h.URL,
		ExtensionSchema:  reference{ID: schemaID, Type: "extension_schema_reference"},
		ExtensionObjects: []reference{{ID: serviceID, Type: "service_reference"}},
		Config:           actionConfig{Headers: headerList(h.Headers)},
	}
	body := map[string]extension{"extension": want}
	var out struct {
		Extension pd.Extension `json:"extension"`
	}
	cur := findExtension(existing, h.Name, serviceID, schemaID)
	switch {
	case cur == nil:
		if err := c.doJSON(ctx, http.MethodPost, "/extensions", body, &out); err != nil {
			return fmt.Errorf("create action %q on service %s: %w", h.Name, serviceID, err)
		}
		c.rememberAction(ctx, out.Extension.ID, want)
		c.log.Info("incident action created", zap.String("pd_service", serviceID), zap.String("action", h.Name))
		return nil
	case !validID(cur.ID):
		return idError("extension", cur.ID)
	case !c.sameAction(ctx, *cur, want):
		if cur.EndpointURL != want.EndpointURL && len(want.Config.Headers) > 0 {
			// Whoever pointed the action elsewhere received the header
			// credentials with every click since.
			c.log.Warn("incident action pointed at another URL; its header credentials may have leaked: rotate them",
				zap.String("pd_service", serviceID), zap.String("action", h.Name), zap.String("url", cur.EndpointURL))
		}
		if err := c.doJSON(ctx, http.MethodPut, "/extensions/"+cur.ID, body, nil); err != nil {
			return fmt.Errorf("update action %q on service %s: %w", h.Name, serviceID, err)
		}
		c.rememberAction(ctx, cur.ID, want)
		c.log.Info("incident action updated", zap.String("pd_service", serviceID), zap.String("action", h.Name))
	}
	if cur.TemporarilyDisabled {
		// PagerDuty disables an extension for 24 hours after 3 dropped
		// deliveries in a row; a start is when an operator would switch it
		// back on after fixing what made them fail.
		if err := c.doJSON(ctx, http.MethodPost, "/extensions/"+cur.ID+"/enable", nil, nil); err != nil {
			return fmt.Errorf("re-enable action %q on service %s: %w", h.Name, serviceID, err)
		}
		c.log.Warn("incident action was disabled by PagerDuty after failed deliveries; re-enabled",
			zap.String("pd_service", serviceID), zap.String("action", h.Name))
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
// want: same URL and same headers. PagerDuty hides custom header values on
// read, so a value read back masked is no difference by itself; what tells
// a changed value (a rotated secret) is the fingerprint of what this
// replica last wrote, when it still has it.
func (c *Client) sameAction(ctx context.Context, cur pd.Extension, want extension) bool {
	if cur.EndpointURL != want.EndpointURL {
		return false
	}
	have := readHeaders(cur.Config)
	if len(have) != len(want.Config.Headers) {
		return false
	}
	masked := false
	for i, h := range have {
		w := want.Config.Headers[i]
		if h.Name != w.Name {
			return false
		}
		switch hidden, visible := maskedValue(h.Value, w.Value); {
		case h.Value == w.Value:
		case hidden && visible:
			masked = true
		default:
			return false
		}
	}
	if !masked {
		return true
	}
	fp, ok := cacheGet[string](ctx, c, keyActionFingerprint+cur.ID)
	return !ok || fp == c.fingerprint(want)
}

// readHeaders reads config.headers ([{"name","value"}]) sorted by name.
func readHeaders(config any) []actionHeader {
	var have []actionHeader
	if cfg, ok := config.(map[string]any); ok {
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
	return have
}

// maskRunes are what a hidden header value is written with.
const maskRunes = "*•●"

// maskedValue reports whether got is a masked header value (mask characters,
// maybe followed by the value's last characters, or a "redacted" marker)
// and whether what it still shows agrees with want.
func maskedValue(got, want string) (hidden, agrees bool) {
	if strings.Contains(strings.ToLower(got), "redacted") {
		return true, true
	}
	rest := strings.TrimLeft(got, maskRunes)
	if rest == got {
		return false, false
	}
	return true, strings.HasSuffix(want, rest)
}

// fingerprint is a keyed digest of an action as written: the API key keys
// it, so the local store never holds a plain digest of a header secret.
func (c *Client) fingerprint(e extension) string {
	m := hmac.New(sha256.New, []byte(c.cfg.APIKey))
	b, _ := json.Marshal(e)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// rememberAction keeps the fingerprint of an action just written.
func (c *Client) rememberAction(ctx context.Context, id string, e extension) {
	if id == "" {
		return
	}
	b, _ := json.Marshal(c.fingerprint(e))
	if err := c.cache.PutCache(ctx, keyActionFingerprint+id, b, actionFingerprintTTL); err != nil {
		c.log.Debug("action fingerprint not kept", zap.Error(err))
	}
}

// actionFingerprintTTL keeps a fingerprint across restarts for as long as
// a configuration plausibly lives unchanged.
const actionFingerprintTTL = 400 * 24 * time.Hour

// headerList returns headers sorted by name, never nil.
func headerList(h map[string]string) []actionHeader {
	out := make([]actionHeader, 0, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		out = append(out, actionHeader{Name: k, Value: h[k]})
	}
	return out
}
