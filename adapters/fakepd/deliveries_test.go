package fakepd

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// script is a webhook receiver answering each delivery attempt with the
// next scripted status (the last one repeats); a negative status makes it
// hang past the delivery timeout.
type script struct {
	mu       sync.Mutex
	statuses []int
	got      []delivered
	srv      *httptest.Server
}

func scripted(t *testing.T, statuses ...int) *script {
	t.Helper()
	sc := &script{statuses: statuses}
	sc.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sc.mu.Lock()
		sc.got = append(sc.got, delivered{path: r.URL.Path, header: r.Header.Clone(), body: b})
		status := sc.statuses[min(len(sc.got), len(sc.statuses))-1]
		sc.mu.Unlock()
		if status < 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(status)
	}))
	sc.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	sc.srv.StartTLS()
	t.Cleanup(sc.srv.Close)
	return sc
}

func (sc *script) received() []delivered {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]delivered(nil), sc.got...)
}

// fastOptions deliver to sc with short retry delays and deadline.
func fastOptions(sc *script, mode string) Options {
	return Options{WebhookURL: sc.srv.URL, WebhookMode: mode, WebhookSecret: "whsec", WebhookTLSConfig: trust(sc.srv),
		RetryDelays: []time.Duration{5 * time.Millisecond}, DeliveryTimeout: 200 * time.Millisecond}
}

// waitDelivery waits until the fake's last delivery is no longer pending.
func waitDelivery(t *testing.T, f *Server) Delivery {
	t.Helper()
	err := f.WaitFor(ctxT(t), func(s *Server) bool {
		d := s.Deliveries()
		return len(d) > 0 && d[len(d)-1].State != DeliveryPending
	})
	if err != nil {
		t.Fatalf("delivery still pending: %+v", f.Deliveries())
	}
	d := f.Deliveries()
	return d[len(d)-1]
}

// Retried on 5xx, 429 and timeouts, with the same X-Webhook-Id and body
// on every attempt, until a 2xx.
func TestDeliveryRetries(t *testing.T) {
	sc := scripted(t, http.StatusServiceUnavailable, http.StatusTooManyRequests, -1, http.StatusInternalServerError, http.StatusOK)
	e := newEnv(t, fastOptions(sc, ModeV3))
	id := e.mustOpen("k", "t")
	status, err := e.fake.SendAction(ctxT(t), id, alice, "approve", "")
	if err != nil || status != http.StatusServiceUnavailable {
		t.Fatalf("SendAction = %d, %v; want the first attempt's 503", status, err)
	}
	d := waitDelivery(t, e.fake)
	if d.State != DeliveryDelivered || len(d.Attempts) != 5 {
		t.Fatalf("delivery = %+v, want delivered at the 5th attempt", d)
	}
	got := sc.received()
	for i, r := range got[1:] {
		if r.header.Get("X-Webhook-Id") != got[0].header.Get("X-Webhook-Id") || !bytes.Equal(r.body, got[0].body) ||
			r.header.Get("X-PagerDuty-Signature") != got[0].header.Get("X-PagerDuty-Signature") {
			t.Errorf("attempt %d differs from the first: %v", i+2, r.header)
		}
	}
	if got[0].header.Get("X-Webhook-Id") != d.ID {
		t.Errorf("X-Webhook-Id %q, want %q", got[0].header.Get("X-Webhook-Id"), d.ID)
	}
	st := e.fake.Stats()
	if st.Delivered != 1 || st.Retried != 4 || st.Dropped != 0 || len(st.Destinations) != 1 || st.Destinations[0].Key != v3SubscriptionID {
		t.Errorf("stats = %+v", st)
	}
}

// Five failed attempts drop the webhook.
func TestDeliveryGivesUpAfterFiveAttempts(t *testing.T) {
	sc := scripted(t, http.StatusBadGateway)
	e := newEnv(t, fastOptions(sc, ModeV3))
	id := e.mustOpen("k", "t")
	if _, err := e.fake.SendAction(ctxT(t), id, alice, "deny", ""); err != nil {
		t.Fatal(err)
	}
	if d := waitDelivery(t, e.fake); d.State != DeliveryDropped || len(d.Attempts) != 5 || !strings.Contains(d.Reason, "gave up") {
		t.Errorf("delivery = %+v, want dropped after 5 attempts", d)
	}
	if n := len(sc.received()); n != 5 {
		t.Errorf("receiver saw %d attempts, want 5", n)
	}
}

// Any 4xx but 429 drops the webhook at once; 3 dropped in a row disable the
// destination for a day: new webhooks are dropped unsent until it is
// re-enabled, on the page or through the API.
func TestThreeDropsDisableTheExtension(t *testing.T) {
	sc := scripted(t, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusOK)
	e := newEnv(t, fastOptions(sc, ModeCustomAction))
	ext := e.do("POST", "/extensions", map[string]any{"extension": map[string]any{
		"name": "Approve access", "endpoint_url": sc.srv.URL + "/pagerduty/actions/approve",
		"extension_schema":  map[string]any{"id": CustomWebhookSchemaID, "type": "extension_schema_reference"},
		"extension_objects": []any{map[string]any{"id": e.svc, "type": "service_reference"}},
	}})
	extID := str(ext.body, "extension", "id")
	id := e.mustOpen("k", "t")
	for i, want := range []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict} {
		status, err := e.fake.SendAction(ctxT(t), id, bob, "approve", "")
		if err != nil || status != want {
			t.Fatalf("click %d = %d, %v; want %d", i+1, status, err, want)
		}
		if d := waitDelivery(t, e.fake); d.State != DeliveryDropped || len(d.Attempts) != 1 {
			t.Fatalf("click %d delivery = %+v, want dropped without retry", i+1, d)
		}
	}
	if _, err := e.fake.SendAction(ctxT(t), id, alice, "approve", ""); !errors.Is(err, ErrDisabled) {
		t.Fatalf("4th click = %v, want ErrDisabled", err)
	}
	if n := len(sc.received()); n != 3 {
		t.Errorf("receiver saw %d deliveries, want 3 (nothing while disabled)", n)
	}
	if a := e.do("GET", "/extensions/"+extID, nil); a.body["extension"].(map[string]any)["temporarily_disabled"] != true {
		t.Errorf("GET /extensions/{id} = %s, want temporarily_disabled", a.raw)
	}
	page := e.doRaw("GET", "/", nil)
	if !strings.Contains(page.raw, "disabled") || !strings.Contains(page.raw, `action="/_ui/enable"`) || !strings.Contains(page.raw, extID) {
		t.Errorf("page does not show the disabled extension with a re-enable button")
	}
	var st DeliveryStats
	if err := json.Unmarshal([]byte(e.doRaw("GET", "/_ui/stats", nil).raw), &st); err != nil || len(st.Destinations) != 1 ||
		!st.Destinations[0].Disabled || st.Dropped != 4 {
		t.Errorf("stats = %+v, %v; want the extension disabled and 4 dropped", st, err)
	}

	// The page's button re-enables it.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.srv.URL+"/_ui/enable", url.Values{"destination": {extID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("re-enable = %d", resp.StatusCode)
	}
	if status, err := e.fake.SendAction(ctxT(t), id, alice, "approve", ""); err != nil || status != http.StatusOK {
		t.Fatalf("click after re-enabling = %d, %v", status, err)
	}
	if a := e.do("POST", "/extensions/"+extID+"/enable", nil); a.status != http.StatusOK || a.body["extension"].(map[string]any)["temporarily_disabled"] != false {
		t.Errorf("POST /extensions/{id}/enable = %d %s", a.status, a.raw)
	}
	wantError(t, e.do("POST", "/extensions/PNOPE/enable", nil), http.StatusNotFound, CodeNotFound, "")
}

// A delivery succeeding between drops resets the count.
func TestADeliveryResetsTheDropCount(t *testing.T) {
	sc := scripted(t, http.StatusForbidden, http.StatusForbidden, http.StatusOK, http.StatusForbidden, http.StatusForbidden)
	e := newEnv(t, fastOptions(sc, ModeV3))
	id := e.mustOpen("k", "t")
	for range 5 {
		if _, err := e.fake.SendAction(ctxT(t), id, alice, "deny", ""); err != nil {
			t.Fatal(err)
		}
	}
	st := e.fake.Stats()
	if d := st.Destinations[0]; d.Disabled || d.ConsecutiveDrops != 2 {
		t.Errorf("destination = %+v, want enabled with 2 drops in a row", d)
	}
}

// While a webhook is being retried, later ones of the destination wait in
// its queue and go out in order once it ends.
func TestQueueBehindARetry(t *testing.T) {
	sc := scripted(t, http.StatusServiceUnavailable, http.StatusOK)
	opts := fastOptions(sc, ModeV3)
	opts.RetryDelays = []time.Duration{300 * time.Millisecond}
	e := newEnv(t, opts)
	id := e.mustOpen("k", "t")
	if _, err := e.fake.SendAction(ctxT(t), id, alice, "approve", "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.SendAction(ctxT(t), id, alice, "approve", "second"); !errors.Is(err, ErrQueued) {
		t.Fatalf("second webhook = %v, want ErrQueued", err)
	}
	if st := e.fake.Stats(); st.Destinations[0].Queued != 1 || st.Pending != 2 {
		t.Errorf("stats = %+v, want 1 queued and 2 pending", st)
	}
	if err := e.fake.WaitFor(ctxT(t), func(s *Server) bool {
		d := s.Deliveries()
		return len(d) == 2 && d[0].State == DeliveryDelivered && d[1].State == DeliveryDelivered
	}); err != nil {
		t.Fatalf("deliveries = %+v", e.fake.Deliveries())
	}
	got := sc.received()
	last := got[len(got)-1]
	if !strings.Contains(string(last.body), "/approve second") {
		t.Errorf("last delivery %s, want the second webhook after the first", last.body)
	}
}

// The page and Send speak every format pagergate accepts.
func TestDeliveryFormats(t *testing.T) {
	sc := scripted(t, http.StatusOK)
	opts := fastOptions(sc, ModeV3)
	opts.ApproveWorkflow = "Grant"
	e := newEnv(t, opts)
	cases := []struct {
		format, verb, path string
		want               map[string]string
	}{
		{FormatV3Note, "deny", V3Path, map[string]string{"event.event_type": "incident.annotated", "event.data.content": "/deny why"}},
		{FormatV3Workflow, "approve", V3Path, map[string]string{"event.event_type": "incident.workflow.started", "event.data.incident_workflow.summary": "Grant"}},
		{FormatV3Resolve, "resolve", V3Path, map[string]string{"event.event_type": "incident.resolved", "event.data.type": "incident", "event.data.status": "resolved"}},
		{FormatCustomV2, "approve", ActionPathPrefix + "approve", map[string]string{"messages.0.event": "incident.custom", "messages.0.log_entries.0.agent.id": e.alID}},
		{FormatCustomV3, "deny", ActionPathPrefix + "deny", map[string]string{"event.event_type": "incident.custom", "event.data.type": "incident", "event.agent.id": e.alID}},
	}
	for i, c := range cases {
		id := e.mustOpen("k"+c.format, "t")
		if status, err := e.fake.Send(ctxT(t), Action{IncidentID: id, Actor: alice, Verb: c.verb, Note: "why", Format: c.format}); err != nil || status != 200 {
			t.Fatalf("%s: %d, %v", c.format, status, err)
		}
		r := sc.received()[i]
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if r.path != c.path {
			t.Errorf("%s went to %s, want %s", c.format, r.path, c.path)
		}
		for path, want := range c.want {
			if got := str(body, strings.Split(path, ".")...); got != want {
				t.Errorf("%s: %s = %q, want %q", c.format, path, got, want)
			}
		}
		signed := r.header.Get("X-PagerDuty-Signature") != ""
		if signed != strings.HasPrefix(c.format, "v3_") {
			t.Errorf("%s signed = %v", c.format, signed)
		}
	}
	// Automation: no agent.
	id := e.mustOpen("kauto", "t")
	if _, err := e.fake.Send(ctxT(t), Action{IncidentID: id, Verb: "approve", Format: FormatV3Workflow}); err != nil {
		t.Fatal(err)
	}
	if r := sc.received(); !strings.Contains(string(r[len(r)-1].body), `"agent":null`) {
		t.Errorf("workflow by automation carries an agent: %s", r[len(r)-1].body)
	}
	for _, bad := range []Action{{IncidentID: id, Actor: alice, Verb: "approve", Format: "v4"}, {IncidentID: id, Actor: alice, Verb: "approve", Format: FormatV3Resolve}} {
		if _, err := e.fake.Send(ctxT(t), bad); !errors.Is(err, ErrBadFormat) && !errors.Is(err, ErrBadVerb) {
			t.Errorf("Send(%+v) = %v, want a format or verb error", bad, err)
		}
	}
}

// Close ends retries waiting for their next attempt.
func TestCloseEndsRetries(t *testing.T) {
	sc := scripted(t, http.StatusServiceUnavailable)
	opts := fastOptions(sc, ModeV3)
	opts.RetryDelays = []time.Duration{time.Hour}
	f := New(opts)
	f.AddUser(alice, "Alice")
	f.AddService("S")
	inc, err := f.AddIncident(IncidentSeed{Service: "S", Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SendAction(ctxT(t), inc.ID, alice, "approve", ""); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for an hour-long retry")
	}
	if d := f.Deliveries(); d[0].State != DeliveryDropped {
		t.Errorf("delivery after Close = %+v", d[0])
	}
}
