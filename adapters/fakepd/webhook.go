package fakepd

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors of SendAction and Send.
var (
	ErrUnknownIncident = errors.New("unknown incident")
	ErrBadVerb         = errors.New("verb must be approve or deny (or resolve for FormatV3Resolve)")
	ErrBadFormat       = errors.New("unknown delivery format")
	ErrNoWebhookURL    = errors.New("no webhook URL configured")
)

// Delivery formats the fake sends: every format pagergate accepts (SPEC
// §6a).
const (
	// FormatV3Note: the actor adds the note "/approve <note>" (or "/deny")
	// and a signed v3 incident.annotated event goes to WebhookURL + V3Path.
	FormatV3Note = "v3_note"
	// FormatV3Workflow: the actor starts the manual Incident Workflow named
	// Options.ApproveWorkflow (or DenyWorkflow); a signed v3
	// incident.workflow.started event goes to WebhookURL + V3Path.
	FormatV3Workflow = "v3_workflow"
	// FormatV3Resolve: the actor resolves the incident and a signed v3
	// incident.resolved event goes to WebhookURL + V3Path (verb "resolve").
	FormatV3Resolve = "v3_resolve"
	// FormatCustomV2: the actor clicks the Custom Incident Action; an
	// incident.custom message in the v2 envelope goes to the action's URL.
	FormatCustomV2 = "custom_v2"
	// FormatCustomV3: the same click delivered in the v3 envelope.
	FormatCustomV3 = "custom_v3"
)

// Formats lists the delivery formats, for the web page.
var Formats = []string{FormatV3Note, FormatV3Workflow, FormatV3Resolve, FormatCustomV2, FormatCustomV3}

// Default workflow names of FormatV3Workflow.
const (
	DefaultApproveWorkflow = "Approve access"
	DefaultDenyWorkflow    = "Deny access"
)

// Sign returns the X-PagerDuty-Signature value of a v3 delivery body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Action is one responder action the fake turns into a delivery.
type Action struct {
	IncidentID string
	// Actor is the acting user's email; "" sends the event with no agent
	// (automation), for the v3 formats.
	Actor string
	// Verb is "approve" or "deny" ("resolve" for FormatV3Resolve).
	Verb string
	// Note is the reason of a FormatV3Note command; other formats carry none.
	Note string
	// Format is one of Formats; "" picks the one of Options.WebhookMode.
	Format string
}

// SendAction makes the user with actorEmail approve or deny an incident in
// the format of Options.WebhookMode (FormatV3Note or FormatCustomV2); see
// Send.
func (s *Server) SendAction(ctx context.Context, incidentID, actorEmail, verb, note string) (int, error) {
	return s.Send(ctx, Action{IncidentID: incidentID, Actor: actorEmail, Verb: verb, Note: note})
}

// Send delivers an action the way PagerDuty does and returns the status of
// the first attempt. The delivery then lives by PagerDuty's rules (see
// deliveries.go): retried in the background on a timeout, 5xx or 429 with
// the same X-Webhook-Id; dropped on any other 4xx; its destination
// disabled after 3 dropped deliveries in a row. A disabled destination
// sends nothing (ErrDisabled); one busy retrying queues the delivery
// (ErrQueued). The result is remembered on the incident
// (Incident.LastDelivery) and in Deliveries.
func (s *Server) Send(ctx context.Context, a Action) (int, error) {
	a.Verb = lower(a.Verb)
	if a.Format == "" {
		a.Format = FormatV3Note
		if s.opts.WebhookMode == ModeCustomAction {
			a.Format = FormatCustomV2
		}
	}
	if !validVerb(a) {
		return 0, ErrBadVerb
	}
	d, err := s.prepareDelivery(a)
	if err != nil {
		return 0, err
	}
	status, err := s.dispatch(ctx, d)
	who := a.Actor
	if who == "" {
		who = "automation"
	}
	result := fmt.Sprintf("%s by %s (%s): HTTP %d", a.Verb, who, a.Format, status)
	if err != nil {
		result = fmt.Sprintf("%s by %s (%s): %v", a.Verb, who, a.Format, err)
	}
	s.mu.Lock()
	if inc := s.byID[a.IncidentID]; inc != nil {
		inc.deliveryCount++
		inc.lastDelivery = result
		s.notify()
	}
	s.mu.Unlock()
	return status, err
}

func validVerb(a Action) bool {
	switch a.Format {
	case FormatV3Resolve:
		return a.Verb == "resolve"
	case FormatV3Note, FormatV3Workflow, FormatCustomV2, FormatCustomV3:
		return a.Verb == "approve" || a.Verb == "deny"
	}
	return true // the format is checked where the payload is built
}

// prepareDelivery builds the delivery of an action: payload, headers,
// destination.
func (s *Server) prepareDelivery(a Action) (*delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc := s.byID[a.IncidentID]
	if inc == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownIncident, a.IncidentID)
	}
	var actor *user
	if a.Actor != "" {
		if actor = s.userByEmailLocked(a.Actor); actor == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknownUser, a.Actor)
		}
	}
	s.events++
	d := &delivery{
		id:     fmt.Sprintf("00000000-0000-4000-8000-%012d", s.events),
		format: a.Format, incidentID: inc.id,
		headers: map[string]string{"Content-Type": "application/json"},
	}
	d.headers["X-Webhook-Id"] = d.id
	if s.opts.WebhookHeader != "" {
		d.headers[s.opts.WebhookHeader] = s.opts.WebhookHeaderValue
	}
	if s.opts.WebhookBasicUser != "" {
		d.headers["Authorization"] = basicAuth(s.opts.WebhookBasicUser, s.opts.WebhookBasicPassword)
	}
	var err error
	switch a.Format {
	case FormatCustomV2, FormatCustomV3:
		err = s.customActionLocked(d, inc, actor, a)
	case FormatV3Note, FormatV3Workflow, FormatV3Resolve:
		err = s.v3EventLocked(d, inc, actor, a)
	default:
		err = fmt.Errorf("%w: %q", ErrBadFormat, a.Format)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// customActionLocked fills a Custom Incident Action delivery: to the
// action's URL (a provisioned extension, else the default path), with its
// headers, in the v2 or v3 envelope; PagerDuty does not sign these.
func (s *Server) customActionLocked(d *delivery, inc *incident, actor *user, a Action) error {
	target, extID, extHeaders, name := s.actionTargetLocked(inc, a.Verb)
	if target == "" {
		return ErrNoWebhookURL
	}
	for k, v := range extHeaders {
		d.headers[k] = v
	}
	d.url, d.timeout = target, cmp.Or(s.opts.DeliveryTimeout, customActionTimeout)
	d.dest = destKey{id: extID, url: target, name: name}
	now := s.now().UTC()
	var agent any
	if actor != nil {
		agent = s.userRefLocked(actor.id)
	}
	var body any
	if a.Format == FormatCustomV3 {
		d.headers["User-Agent"] = "PagerDuty-Webhook/V3.0"
		body = map[string]any{"event": map[string]any{
			"id": s.ids.make(kindEvent), "event_type": "incident.custom", "resource_type": "incident",
			"occurred_at": now.Format("2006-01-02T15:04:05.000Z"), "agent": agent, "client": nil,
			"data": s.incidentJSONLocked(inc, false),
		}}
	} else {
		d.headers["User-Agent"] = "PagerDuty-Webhook/V2.0"
		entry := map[string]any{
			"id": s.ids.make(kindEvent), "type": "custom_log_entry", "summary": name + " was triggered",
			"created_at": now.Format(time.RFC3339), "agent": agent,
			"channel":  map[string]any{"type": "web_trigger", "summary": name},
			"incident": s.incidentRefLocked(inc), "service": s.agentRefLocked("", inc),
		}
		body = map[string]any{"messages": []any{map[string]any{
			"id": s.ids.make(kindEvent), "event": "incident.custom", "created_on": now.Format(time.RFC3339),
			"incident":    s.incidentJSONLocked(inc, false),
			"webhook":     map[string]any{"endpoint_url": target, "name": name, "type": "webhook_reference"},
			"log_entries": []any{entry},
		}}}
	}
	var err error
	if d.body, err = json.Marshal(body); err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	return nil
}

// v3EventLocked fills a signed v3 webhook delivery (the webhook
// subscription), doing in the fake what the event reports.
func (s *Server) v3EventLocked(d *delivery, inc *incident, actor *user, a Action) error {
	if s.opts.WebhookURL == "" {
		return ErrNoWebhookURL
	}
	actorID := ""
	var agent any
	if actor != nil {
		actorID, agent = actor.id, s.userRefLocked(actor.id)
	}
	ev := map[string]any{
		"id": s.ids.make(kindEvent), "resource_type": "incident",
		"occurred_at": s.now().UTC().Format("2006-01-02T15:04:05.000Z"), "agent": agent, "client": nil,
	}
	switch a.Format {
	case FormatV3Note:
		content := "/" + a.Verb
		if n := strings.TrimSpace(a.Note); n != "" {
			content += " " + n
		}
		n := s.addNoteLocked(inc, actorID, content)
		ev["event_type"] = "incident.annotated"
		ev["data"] = map[string]any{"incident": s.incidentRefLocked(inc), "id": n.id, "content": content,
			"trimmed": false, "type": "incident_note"}
	case FormatV3Workflow:
		name := s.workflowName(a.Verb)
		ev["event_type"] = "incident.workflow.started"
		ev["data"] = map[string]any{
			"id": s.ids.make(kindEvent), "type": "incident_workflow_instance", "summary": name,
			"incident":          s.incidentRefLocked(inc),
			"incident_workflow": map[string]any{"id": "PWFL" + strings.ToUpper(a.Verb[:1]), "type": "incident_workflow_reference", "summary": name},
		}
	case FormatV3Resolve:
		if aerr := s.setStatusLocked(inc, "resolved", actor); aerr != nil {
			return fmt.Errorf("resolve %s: %w", inc.id, aerr)
		}
		ev["event_type"] = "incident.resolved"
		ev["data"] = s.incidentJSONLocked(inc, false)
	}
	var err error
	if d.body, err = json.Marshal(map[string]any{"event": ev}); err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	d.headers["User-Agent"] = "PagerDuty-Webhook/V3.0"
	d.headers["X-Webhook-Subscription"] = v3SubscriptionID
	if s.opts.WebhookSecret != "" {
		d.headers["X-PagerDuty-Signature"] = Sign(s.opts.WebhookSecret, d.body)
	}
	d.url, d.timeout = joinURL(s.opts.WebhookURL, V3Path), cmp.Or(s.opts.DeliveryTimeout, v3DeliveryTimeout)
	d.dest = destKey{id: v3SubscriptionID, url: d.url, name: "Generic Webhooks (v3) subscription " + v3SubscriptionID}
	return nil
}

// v3SubscriptionID names the fake's one v3 webhook subscription.
const v3SubscriptionID = "PSUB001"

func (s *Server) workflowName(verb string) string {
	if verb == "deny" {
		return cmp.Or(s.opts.DenyWorkflow, DefaultDenyWorkflow)
	}
	return cmp.Or(s.opts.ApproveWorkflow, DefaultApproveWorkflow)
}

// actionTargetLocked picks the Custom Incident Action of the incident's
// service for the verb: a provisioned custom_webhook extension whose
// endpoint ends in "/<verb>" (with its configured headers), else the
// default path under Options.WebhookURL (extID "").
func (s *Server) actionTargetLocked(inc *incident, verb string) (target, extID string, headers map[string]string, name string) {
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
		return e.endpointURL, e.id, extensionHeaders(e.config), e.name
	}
	if s.opts.WebhookURL == "" {
		return "", "", nil, name
	}
	return joinURL(s.opts.WebhookURL, ActionPathPrefix+verb), "", nil, name
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
