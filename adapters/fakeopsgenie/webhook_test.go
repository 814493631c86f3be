package fakeopsgenie

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is the daemon's webhook route: it records deliveries and
// answers the scripted statuses in turn (then 200).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	script  []int
	bodies  []map[string]any
	headers []http.Header
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, _ := io.ReadAll(req.Body)
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.headers = append(r.headers, req.Header.Clone())
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"outcome":"recorded"}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) options(actions ...string) WebhookOptions {
	return WebhookOptions{
		URL:            r.srv.URL + "/opsgenie/actions",
		Headers:        map[string]string{"X-Pagergate-Secret": "s3cret", "Authorization": "Basic dXNlcjpwYXNz"},
		Actions:        actions,
		TLSConfig:      r.srv.Client().Transport.(*http.Transport).TLSClientConfig,
		RetryDelays:    []time.Duration{time.Millisecond, time.Millisecond},
		Timeout:        time.Second,
		AddDescription: true,
	}
}

func waitDeliveries(t *testing.T, s *Server, n int) []Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.WaitDeliveries(ctx, n); err != nil {
		t.Fatalf("waiting for %d deliveries: %v (have %+v)", n, err, s.Deliveries())
	}
	return s.Deliveries()
}

func seededAlert(t *testing.T, s *Server) Alert {
	t.Helper()
	a, err := s.AddAlert(AlertSeed{Message: "Access request from alice", Alias: "teleport-access-request/r1",
		Description: strings.Repeat("x", 1500), Responders: []string{"team:ops", "schedule:ops_schedule"},
		Actions: []string{"Approve access", "Deny access"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A custom action executed through the API is delivered with Opsgenie's
// alert action payload and the integration's custom headers.
func TestCustomActionDelivery(t *testing.T) {
	rcv := newReceiver(t)
	s := newFake(t, Options{Webhook: rcv.options()})
	al := seededAlert(t, s)
	a := call(t, s, "POST", "/v2/alerts/"+al.ID+"/actions/Approve%20access?identifierType=id", map[string]string{"user": "bob@example.com"})
	if a.status != http.StatusAccepted {
		t.Fatalf("execute action = %d %v", a.status, a.body)
	}
	d := waitDeliveries(t, s, 1)[0]
	if !d.Done || d.Attempts != 1 || d.Actor != "bob@example.com" {
		t.Fatalf("delivery = %+v, want done at once by bob", d)
	}
	body, h := rcv.bodies[0], rcv.headers[0]
	alert, _ := body["alert"].(map[string]any)
	bob := s.Users()[1]
	switch {
	case body["action"] != "Approve access", body["integrationName"] != "Webhook", body["integrationId"] == "":
		t.Errorf("payload = %v, want action and integration", body)
	case alert["alertId"] != al.ID, alert["alias"] != al.Alias, alert["username"] != "bob@example.com", alert["userId"] != bob.ID:
		t.Errorf("payload alert = %v, want the alert and bob", alert)
	case len(alert["description"].(string)) != 1000:
		t.Errorf("description of %d characters, want it cut to 1000", len(alert["description"].(string)))
	case h.Get("X-Pagergate-Secret") != "s3cret" || h.Get("Authorization") != "Basic dXNlcjpwYXNz":
		t.Errorf("headers = %v, want the custom headers", h)
	}
	if teams, _ := alert["teams"].([]any); len(teams) != 1 {
		t.Errorf("teams = %v, want the team responder's ID", alert["teams"])
	}
	if a := call(t, s, "POST", "/v2/alerts/"+al.ID+"/actions/Escalate", nil); status(t, s, a.body["requestId"].(string))["isSuccess"] != false {
		t.Error("an action the alert does not have succeeded")
	}
}

// Deliveries are retried on 5xx and 429 and dropped on other 4xx, or when
// out of retries.
func TestDeliveryRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		script   []int
		attempts int
		done     bool
	}{
		{"retried until 200", []int{503, 429, 200}, 3, true},
		{"dropped on 400", []int{400}, 1, false},
		{"out of retries", []int{500, 502, 504}, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, tc.script...)
			s := newFake(t, Options{Webhook: rcv.options()})
			al := seededAlert(t, s)
			mustOK(t, s.ExecuteAction(al.ID, "Deny access", "alice@example.com"))
			d := waitDeliveries(t, s, 1)[0]
			if d.Attempts != tc.attempts || d.Done != tc.done || d.Dropped == tc.done {
				t.Errorf("delivery = %+v, want %d attempts, done %v", d, tc.attempts, tc.done)
			}
		})
	}
}

func TestDeliveryFilterAndNoIntegration(t *testing.T) {
	rcv := newReceiver(t)
	s := newFake(t, Options{Webhook: rcv.options("Approve access")})
	al := seededAlert(t, s)
	mustOK(t, s.ExecuteAction(al.ID, "Deny access", "alice@example.com"))
	mustOK(t, s.ExecuteAction(al.ID, "Approve access", "alice@example.com"))
	if got := waitDeliveries(t, s, 1); len(got) != 1 || got[0].Action != "Approve access" {
		t.Errorf("deliveries = %+v, want only the mapped action", got)
	}
	quiet := newFake(t, Options{})
	al = seededAlert(t, quiet)
	mustOK(t, quiet.ExecuteAction(al.ID, "Approve access", ""))
	if got := quiet.Deliveries(); len(got) != 0 {
		t.Errorf("deliveries without an integration = %+v", got)
	}
	if err := quiet.ExecuteAction(al.ID, "Nope", ""); err == nil {
		t.Error("ExecuteAction of an unknown action succeeded")
	}
}

// The web page lists alerts with their actions as buttons; a button
// executes the action as the chosen user and the page shows the delivery.
func TestPageButtons(t *testing.T) {
	rcv := newReceiver(t)
	s := newFake(t, Options{Webhook: rcv.options()})
	al := seededAlert(t, s)
	page := httptest.NewRecorder()
	s.Handler().ServeHTTP(page, httptest.NewRequest("GET", "/", nil))
	html := page.Body.String()
	for _, want := range []string{"Access request from alice", `value="Approve access"`, `value="Deny access"`, "bob@example.com"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	form := url.Values{"alert": {al.ID}, "action": {"Deny access"}, "user": {"bob@example.com"}}
	post := httptest.NewRequest("POST", "/_ui/action", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, post)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("button = %d %v, want a redirect to the page", rec.Code, rec.Header())
	}
	if d := waitDeliveries(t, s, 1)[0]; d.Action != "Deny access" || d.Actor != "bob@example.com" {
		t.Errorf("delivery = %+v, want bob's Deny access", d)
	}
	page = httptest.NewRecorder()
	s.Handler().ServeHTTP(page, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(page.Body.String(), "delivered after 1 attempt") {
		t.Errorf("page does not show the delivery: %s", page.Body)
	}
}

// The fake serves over TLS on loopback for clients that dial it.
func TestStartTLS(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	base, err := s.StartTLS()
	if err != nil || !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("StartTLS = %q, %v", base, err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/v2/teams", nil)
	req.Header.Set("Authorization", "GenieKey "+DefaultAPIKey)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET over TLS = %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if _, err := s.StartTLS(); err == nil {
		t.Error("second start succeeded")
	}
	s.Client().CloseIdleConnections()
}
