package fakepd

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors of SendAction.
var (
	ErrUnknownIncident = errors.New("unknown incident")
	ErrBadVerb         = errors.New("verb must be approve or deny")
	ErrNoWebhookURL    = errors.New("no webhook URL configured")
)

// Sign returns the X-PagerDuty-Signature value of a v3 delivery body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// delivery is one prepared webhook request.
type delivery struct {
	url     string
	body    []byte
	headers map[string]string
	timeout time.Duration
}

// SendAction makes the user with actorEmail approve or deny an incident the
// way PagerDuty reports it, and returns the daemon's HTTP status:
//   - ModeV3: the fake adds the note "/approve <note>" (or "/deny") to the
//     incident by that user and POSTs a signed incident.annotated event to
//     WebhookURL + V3Path;
//   - ModeCustomAction: it POSTs an incident.custom message (v2 envelope,
//     the user as log entry agent) to the incident's provisioned action URL
//     or WebhookURL + ActionPathPrefix + verb; note is not sent (Custom
//     Incident Actions carry none).
//
// The result is remembered on the incident (Incident.LastDelivery).
func (s *Server) SendAction(ctx context.Context, incidentID, actorEmail, verb, note string) (int, error) {
	verb = lower(verb)
	if verb != "approve" && verb != "deny" {
		return 0, ErrBadVerb
	}
	d, err := s.prepareDelivery(incidentID, actorEmail, verb, note)
	if err != nil {
		return 0, err
	}
	status, err := s.deliver(ctx, d)
	result := fmt.Sprintf("%s by %s: HTTP %d", verb, actorEmail, status)
	if err != nil {
		result = fmt.Sprintf("%s by %s: %v", verb, actorEmail, err)
	}
	s.mu.Lock()
	if inc := s.byID[incidentID]; inc != nil {
		inc.deliveryCount++
		inc.lastDelivery = result
		s.notify()
	}
	s.mu.Unlock()
	return status, err
}

func (s *Server) prepareDelivery(incidentID, actorEmail, verb, note string) (delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc := s.byID[incidentID]
	if inc == nil {
		return delivery{}, fmt.Errorf("%w: %s", ErrUnknownIncident, incidentID)
	}
	actor := s.userByEmailLocked(actorEmail)
	if actor == nil {
		return delivery{}, fmt.Errorf("%w: %s", ErrUnknownUser, actorEmail)
	}
	s.events++
	deliveryID := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.events)
	now := s.now().UTC()
	headers := map[string]string{"Content-Type": "application/json", "X-Webhook-Id": deliveryID}
	if s.opts.WebhookHeader != "" {
		headers[s.opts.WebhookHeader] = s.opts.WebhookHeaderValue
	}
	if s.opts.WebhookBasicUser != "" {
		headers["Authorization"] = basicAuth(s.opts.WebhookBasicUser, s.opts.WebhookBasicPassword)
	}

	if s.opts.WebhookMode == ModeCustomAction {
		target, extHeaders, name := s.actionTargetLocked(inc, verb)
		if target == "" {
			return delivery{}, ErrNoWebhookURL
		}
		for k, v := range extHeaders {
			headers[k] = v
		}
		headers["User-Agent"] = "PagerDuty-Webhook/V2.0"
		msg := map[string]any{
			"id": deliveryID, "event": "incident.custom", "created_on": now.Format(time.RFC3339),
			"incident": s.incidentJSONLocked(inc, false),
			"webhook":  map[string]any{"endpoint_url": target, "name": name, "type": "webhook_reference"},
			"log_entries": []any{map[string]any{
				"id": s.ids.make(kindEvent), "type": "custom_log_entry",
				"summary":    name + " was triggered by " + actor.name,
				"created_at": now.Format(time.RFC3339),
				"agent":      s.userRefLocked(actor.id),
				"channel":    map[string]any{"type": "web_trigger", "summary": name},
				"incident":   s.incidentRefLocked(inc),
				"service":    s.agentRefLocked("", inc),
			}},
		}
		body, err := json.Marshal(map[string]any{"messages": []any{msg}})
		if err != nil {
			return delivery{}, fmt.Errorf("encode message: %w", err)
		}
		return delivery{url: target, body: body, headers: headers, timeout: customActionTimeout}, nil
	}

	if s.opts.WebhookURL == "" {
		return delivery{}, ErrNoWebhookURL
	}
	content := "/" + verb
	if n := strings.TrimSpace(note); n != "" {
		content += " " + n
	}
	n := s.addNoteLocked(inc, actor.id, content)
	event := map[string]any{"event": map[string]any{
		"id": s.ids.make(kindEvent), "event_type": "incident.annotated", "resource_type": "incident",
		"occurred_at": now.Format("2006-01-02T15:04:05.000Z"),
		"agent":       s.userRefLocked(actor.id),
		"client":      nil,
		"data": map[string]any{
			"incident": s.incidentRefLocked(inc),
			"id":       n.id, "content": content, "trimmed": false, "type": "incident_note",
		},
	}}
	body, err := json.Marshal(event)
	if err != nil {
		return delivery{}, fmt.Errorf("encode event: %w", err)
	}
	headers["User-Agent"] = "PagerDuty-Webhook/V3.0"
	headers["X-Webhook-Subscription"] = "PSUB001"
	if s.opts.WebhookSecret != "" {
		headers["X-PagerDuty-Signature"] = Sign(s.opts.WebhookSecret, body)
	}
	return delivery{url: joinURL(s.opts.WebhookURL, V3Path), body: body, headers: headers, timeout: v3DeliveryTimeout}, nil
}

// actionTargetLocked picks the Custom Incident Action of the incident's
// service for the verb: a provisioned custom_webhook extension whose
// endpoint ends in "/<verb>" (with its configured headers), else the
// default path under Options.WebhookURL.
func (s *Server) actionTargetLocked(inc *incident, verb string) (target string, headers map[string]string, name string) {
	name = "Approve access"
	if verb == "deny" {
		name = "Deny access"
	}
	for _, e := range s.exts {
		if e.schemaID != CustomWebhookSchemaID || !has(e.serviceIDs, inc.serviceID) {
			continue
		}
		u, err := url.Parse(e.endpointURL)
		if err != nil || !strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/"+verb) {
			continue
		}
		return e.endpointURL, extensionHeaders(e.config), e.name
	}
	if s.opts.WebhookURL == "" {
		return "", nil, name
	}
	return joinURL(s.opts.WebhookURL, ActionPathPrefix+verb), nil, name
}

// extensionHeaders reads config.headers ([{"name","value"}]) of an
// extension.
func extensionHeaders(cfg map[string]any) map[string]string {
	list, _ := cfg["headers"].([]any)
	out := map[string]string{}
	for _, h := range list {
		m, _ := h.(map[string]any)
		name, _ := m["name"].(string)
		value, _ := m["value"].(string)
		if name != "" {
			out[name] = value
		}
	}
	return out
}

func joinURL(base, path string) string { return strings.TrimRight(base, "/") + path }

func basicAuth(user, password string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

func (s *Server) deliver(ctx context.Context, d delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook delivery: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
