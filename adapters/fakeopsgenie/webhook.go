package fakeopsgenie

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Defaults of the webhook integration. Opsgenie documents no retry
// schedule or timeout for webhook deliveries: the fake retries timeouts,
// transport errors, 429 and 5xx answers on DefaultRetryDelays and drops a
// delivery answered with any other status below 200 or above 299.
var DefaultRetryDelays = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute}

const (
	defaultDeliveryTimeout = 10 * time.Second
	// maxPayloadText is where Opsgenie cuts the description and details
	// values of webhook payloads.
	maxPayloadText = 1000
)

// WebhookOptions is the fake's outgoing webhook integration (Opsgenie's
// "Webhook" integration with "a custom action is executed on alert"
// mappings).
type WebhookOptions struct {
	// URL receives the deliveries; "" disables the integration.
	URL string
	// Headers are the integration's custom headers, sent with every
	// delivery (basic authentication, a shared secret…).
	Headers map[string]string
	// IntegrationName and IntegrationID name the integration in payloads
	// (default "Webhook" and a fixed ID).
	IntegrationName, IntegrationID string
	// Actions are the custom actions the integration forwards; empty
	// forwards every custom action.
	Actions []string
	// ForwardClose also forwards closes ("alert is closed" mapping: action
	// "Close"), by hand or through the API.
	ForwardClose bool
	// AddDescription and AddDetails put the alert's description and
	// details in payloads (cut to 1,000 characters, as Opsgenie).
	AddDescription, AddDetails bool
	// TLSConfig is the client TLS configuration of deliveries.
	TLSConfig *tls.Config
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// RetryDelays are the waits before attempts 2, 3…  (default
	// DefaultRetryDelays; an empty non-nil slice: no retry).
	RetryDelays []time.Duration
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.IntegrationName == "" {
		o.IntegrationName = "Webhook"
	}
	if o.IntegrationID == "" {
		o.IntegrationID = "0f5d7e3c-2b41-4a8e-9c6d-5e4f3a2b1c0d"
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultDeliveryTimeout
	}
	if o.RetryDelays == nil {
		o.RetryDelays = DefaultRetryDelays
	}
	return o
}

func webhookClient(o WebhookOptions) *http.Client {
	tr := &http.Transport{TLSClientConfig: o.TLSConfig}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Delivery is one custom action handed to the webhook integration.
type Delivery struct {
	ID       string
	Action   string
	AlertID  string
	Actor    string // username, "" when none
	Attempts int
	// Status is the HTTP status of the last answer (0: none).
	Status int
	// Err is the last transport error.
	Err string
	// Done: answered 2xx. Dropped: answered another status that is not
	// retried, or out of retries.
	Done, Dropped bool
	// Answer is the body of the last answer (at most 4 KiB).
	Answer string
	Body   []byte
}

// Deliveries returns the deliveries so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.deliveries))
	for _, d := range s.deliveries {
		out = append(out, *d)
	}
	return out
}

// WaitDeliveries blocks until n deliveries are finished (done or dropped).
func (s *Server) WaitDeliveries(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func(s *Server) bool {
		done := 0
		for _, d := range s.Deliveries() {
			if d.Done || d.Dropped {
				done++
			}
		}
		return done >= n
	})
}

// actionClose is the action of a close in webhook payloads.
const actionClose = "Close"

// deliverLocked sends a custom action (or a close) to the webhook
// integration in the background, with Opsgenie's alert action payload.
func (s *Server) deliverLocked(a *alert, action string, actor *User, now time.Time) {
	o := s.opts.Webhook
	switch {
	case o.URL == "":
		return
	case action == actionClose:
		if !o.ForwardClose {
			return
		}
	case len(o.Actions) > 0 && !slices.Contains(o.Actions, action):
		return
	}
	select {
	case <-s.closed:
		return // closing: no new background work (Close holds no lock while it waits)
	default:
	}
	body, err := json.Marshal(s.payloadLocked(a, action, actor, now))
	if err != nil {
		return
	}
	d := &Delivery{ID: newUUID(), Action: action, AlertID: a.ID, Actor: usernameOf(actor), Body: body}
	s.deliveries = append(s.deliveries, d)
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		s.send(d, body, o)
	}()
}

func (s *Server) payloadLocked(a *alert, action string, actor *User, now time.Time) map[string]any {
	var teams, recipients []string
	for _, r := range a.Responders {
		if r.Type == KindTeam {
			teams = append(teams, r.ID)
		}
		recipients = append(recipients, s.responderNameLocked(r))
	}
	al := map[string]any{
		"alertId": a.ID, "message": a.Message, "tags": nonNil(a.Tags), "tinyId": a.TinyID, "entity": a.Entity,
		"alias": a.Alias, "createdAt": a.CreatedAt.UnixMilli(), "updatedAt": now.UnixNano(),
		"username": usernameOf(actor), "userId": "", "source": a.Source,
		"teams": nonNil(teams), "recipients": nonNil(recipients),
	}
	if actor != nil {
		al["userId"] = actor.ID
	}
	if s.opts.Webhook.AddDescription {
		al["description"] = truncate(a.Description, maxPayloadText)
	}
	if s.opts.Webhook.AddDetails {
		details := map[string]string{}
		for k, v := range a.Details {
			details[k] = truncate(v, maxPayloadText)
		}
		al["details"] = details
	}
	return map[string]any{
		"action": action, "alert": al, "source": map[string]string{"name": "", "type": "web"},
		"integrationId": s.opts.Webhook.IntegrationID, "integrationName": s.opts.Webhook.IntegrationName,
	}
}

// SetWebhookURL points the webhook integration at u from now on (a
// daemon whose address is known once it listens); "" turns it off.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Webhook.URL = u
}

// webhookURL returns the webhook integration's URL as last set.
func (s *Server) webhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Webhook.URL
}

// send runs the attempts of one delivery with the integration's options
// of when it was handed over.
func (s *Server) send(d *Delivery, body []byte, o WebhookOptions) {
	for attempt := 0; ; attempt++ {
		status, answer, err := s.attempt(o, body)
		retry := err != nil || status == http.StatusTooManyRequests || status >= 500
		s.mu.Lock()
		d.Attempts++
		d.Status, d.Answer, d.Err = status, answer, ""
		if err != nil {
			d.Err = err.Error()
		}
		d.Done = !retry && status >= 200 && status < 300
		d.Dropped = !retry && !d.Done || retry && attempt >= len(o.RetryDelays)
		finished := d.Done || d.Dropped
		s.notify()
		s.mu.Unlock()
		if finished || !s.sleep(context.Background(), o.RetryDelays[attempt]) {
			return
		}
	}
}

func (s *Server) attempt(o WebhookOptions, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Opsgenie-Webhook")
	for k, v := range o.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("deliver: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(answer), nil
}
