//go:build e2e || bench

// Raw webhook deliveries, sent the way PagerDuty sends them.

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

// httpsClient returns a client that trusts the daemon's webhook
// certificate, speaks TLS 1.2 at most and, when withClientCert, presents
// the env's client certificate.
func (e *env) httpsClient(withClientCert bool) *http.Client {
	conf := &tls.Config{RootCAs: e.serverCAs, MaxVersion: tls.VersionTLS12}
	if withClientCert && e.opts.MTLS {
		conf.Certificates = []tls.Certificate{e.clientCert}
	}
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true},
	}
}

// postWebhook POSTs body to the daemon's webhook path with headers (a
// missing Content-Type defaults to application/json; basic auth and the
// client certificate are added as the env configures them). It returns the
// status and body, or the transport error.
func (e *env) postWebhook(path string, body []byte, headers map[string]string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, e.webhookURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.opts.BasicAuth {
		req.SetBasicAuth(basicUser, basicPass)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.httpsClient(true).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// signV3 returns the X-PagerDuty-Signature of body with the env's secret.
func (e *env) signV3(body []byte) string { return fakepd.Sign(e.secret, body) }

// v3Annotated returns a v3 incident.annotated delivery body: the user with
// actorEmail added note content to the incident.
func (e *env) v3Annotated(incidentID, actorEmail, content string) []byte {
	e.t.Helper()
	return e.v3AnnotatedEvent(incidentID, actorEmail, content, "01"+strings.ToUpper(randHex(12)))
}

// v3AnnotatedEvent is v3Annotated with a given event ID.
func (e *env) v3AnnotatedEvent(incidentID, actorEmail, content, eventID string) []byte {
	e.t.Helper()
	inc, ok := e.pd.Incident(incidentID)
	if !ok {
		e.t.Fatalf("no incident %s", incidentID)
	}
	uid := e.pdUserID(actorEmail)
	ev := map[string]any{"event": map[string]any{
		"id":            eventID,
		"event_type":    "incident.annotated",
		"resource_type": "incident",
		"occurred_at":   time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"agent": map[string]any{"id": uid, "type": "user_reference", "summary": actorEmail,
			"html_url": e.pdURL + "/users/" + uid, "self": e.pdURL + "/users/" + uid},
		"client": nil,
		"data": map[string]any{
			"incident": map[string]any{"id": inc.ID, "type": "incident_reference", "html_url": inc.HTMLURL,
				"self": e.pdURL + "/incidents/" + inc.ID},
			"id": "PN" + strings.ToUpper(randHex(5)), "content": content, "trimmed": false, "type": "incident_note",
		},
	}}
	b, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// postV3 signs and POSTs a v3 body with a fresh X-Webhook-Id (or the given
// one) and returns the status; transport errors fail the test.
func (e *env) postV3(body []byte, deliveryID string) int {
	e.t.Helper()
	if deliveryID == "" {
		deliveryID = newDeliveryID()
	}
	code, resp, err := e.postWebhook("/pagerduty/v3", body, map[string]string{
		"X-PagerDuty-Signature": e.signV3(body), "X-Webhook-Id": deliveryID,
	})
	if err != nil {
		e.t.Fatalf("post v3 delivery: %v", err)
	}
	e.t.Logf("v3 delivery %s: %d %s", deliveryID, code, strings.TrimSpace(resp))
	return code
}

// customAction returns a Custom Incident Action delivery body (v2
// envelope) in which the user with actorEmail clicked an action on the
// incident.
func (e *env) customAction(incidentID, actorEmail string) []byte {
	e.t.Helper()
	inc, ok := e.pd.Incident(incidentID)
	if !ok {
		e.t.Fatalf("no incident %s", incidentID)
	}
	uid := e.pdUserID(actorEmail)
	msg := map[string]any{
		"id": newDeliveryID(), "event": "incident.custom", "created_on": time.Now().UTC().Format(time.RFC3339),
		"incident": map[string]any{"id": inc.ID, "type": "incident", "incident_key": inc.Key,
			"status": inc.Status, "html_url": inc.HTMLURL, "incident_number": inc.Number},
		"log_entries": []any{map[string]any{
			"id": "R" + strings.ToUpper(randHex(6)), "type": "custom_log_entry",
			"agent": map[string]any{"id": uid, "type": "user_reference", "summary": actorEmail},
		}},
	}
	b, err := json.Marshal(map[string]any{"messages": []any{msg}})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func newDeliveryID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:] + randHex(6)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
