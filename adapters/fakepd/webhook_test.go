package fakepd

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// delivered is one request a test webhook receiver got.
type delivered struct {
	path    string
	header  http.Header
	body    []byte
	tlsVers uint16
}

// receiver is an httptest TLS server recording deliveries.
func receiver(t *testing.T, status int) (*httptest.Server, chan delivered) {
	t.Helper()
	got := make(chan delivered, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivered{path: r.URL.Path, header: r.Header.Clone(), body: b, tlsVers: r.TLS.Version}
		w.WriteHeader(status)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected in one test
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, got
}

// nextDelivery returns the next delivery the receiver got; the test fails
// when none comes within 10 s.
func nextDelivery(t *testing.T, got <-chan delivered) delivered {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery reached the receiver within 10s")
		return delivered{}
	}
}

// trust returns a client TLS config trusting srv's certificate.
func trust(srv *httptest.Server) *tls.Config {
	return srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
}

func TestWebPageAndSignedV3Delivery(t *testing.T) {
	rcv, got := receiver(t, http.StatusOK)
	const secret = "whsec"
	e := newEnv(t, Options{WebhookURL: rcv.URL + "/", WebhookSecret: secret, WebhookTLSConfig: trust(rcv)})
	id := e.mustOpen("teleport-access-request/r1", "Access request from carol")
	resolved := e.mustOpen("k2", "Old <b>request</b>")
	e.do("PUT", "/incidents/"+resolved, map[string]any{"incident": map[string]any{"type": "incident", "status": "resolved"}}, "From", bot)

	page := e.doRaw("GET", "/", nil)
	if page.status != http.StatusOK || !isHTML(page) {
		t.Fatalf("GET / = %d %q", page.status, page.header.Get("Content-Type"))
	}
	for _, want := range []string{"Access request from carol", "details of Access request from carol", `value="approve"`, `value="deny"`,
		`<option value="bob@example.com">`, "Old &lt;b&gt;request&lt;/b&gt;", "resolved"} {
		if !strings.Contains(page.raw, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The responder defaults to the one the incident pages (its assignee,
	// on call at level 1), not the bot listed first.
	if !strings.Contains(page.raw, `<option value="alice@example.com" selected>`) || strings.Contains(page.raw, `<option value="`+bot+`" selected>`) {
		t.Error("the responder dropdown does not default to the incident's assignee")
	}
	// The open incident comes first, above the newer resolved one.
	if strings.Index(page.raw, "Old &lt;b&gt;") < strings.Index(page.raw, "Access request from carol") {
		t.Error("a resolved incident is listed above an open one")
	}
	if strings.Contains(page.raw, `action="/_ui/request"`) {
		t.Error("the page has a new-request form without SetRequestForm")
	}
	if n := strings.Count(page.raw, `action="/_ui/action"`); n != 1 {
		t.Errorf("page has %d action forms, want 1 (only the open incident)", n)
	}

	// Click Approve as alice with a note; the form post is not redirected
	// by the client so the 303 is visible.
	form := url.Values{"incident": {id}, "responder": {alice}, "verb": {"approve"}, "note": {"looks good"}}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.srv.URL+"/_ui/action", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/#"+id {
		t.Fatalf("click = %d Location %q, want 303 to /#%s", resp.StatusCode, resp.Header.Get("Location"), id)
	}
	d := nextDelivery(t, got)
	if d.path != V3Path {
		t.Errorf("delivered to %q, want %q", d.path, V3Path)
	}
	if d.tlsVers != tls.VersionTLS12 {
		t.Errorf("delivery TLS version = %x, want TLS 1.2", d.tlsVers)
	}
	if sig := d.header.Get("X-PagerDuty-Signature"); sig != Sign(secret, d.body) || !strings.HasPrefix(sig, "v1=") {
		t.Errorf("signature %q does not match the body", sig)
	}
	if d.header.Get("X-Webhook-Id") == "" || d.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", d.header)
	}
	var ev map[string]any
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"event.event_type":         "incident.annotated",
		"event.resource_type":      "incident",
		"event.agent.id":           e.alID,
		"event.agent.type":         "user_reference",
		"event.data.incident.id":   id,
		"event.data.incident.type": "incident_reference",
		"event.data.content":       "/approve looks good",
		"event.data.type":          "incident_note",
	}
	for path, want := range checks {
		if got := str(ev, strings.Split(path, ".")...); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if str(ev, "event", "id") == "" || str(ev, "event", "occurred_at") == "" {
		t.Errorf("event lacks id or occurred_at: %s", d.body)
	}
	inc, _ := e.fake.Incident(id)
	if len(inc.Notes) != 1 || inc.Notes[0].Content != "/approve looks good" || inc.Notes[0].Author != alice {
		t.Errorf("notes after click = %+v", inc.Notes)
	}
	if !strings.Contains(inc.LastDelivery, "HTTP 200") {
		t.Errorf("LastDelivery = %q", inc.LastDelivery)
	}
	if page := e.doRaw("GET", "/", nil); !strings.Contains(page.raw, "approve by alice@example.com (v3_note): HTTP 200") {
		t.Error("page does not show the delivery result")
	}

	// Unknown incident or responder: 400, nothing sent.
	for _, f := range []url.Values{
		{"incident": {"PNOPE"}, "responder": {alice}, "verb": {"deny"}},
		{"incident": {id}, "responder": {"x@example.com"}, "verb": {"deny"}},
		{"incident": {id}, "responder": {alice}, "verb": {"maybe"}},
	} {
		resp, err := client.PostForm(e.srv.URL+"/_ui/action", f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("form %v = %d, want 400", f, resp.StatusCode)
		}
	}
	select {
	case d := <-got:
		t.Errorf("unexpected delivery %s", d.body)
	default:
	}
	// The web page is not an API call.
	total := 0
	for _, n := range e.fake.Calls() {
		total += n
	}
	if total != 3 {
		t.Errorf("Calls() = %v, want only the 3 API calls", e.fake.Calls())
	}
}

func isHTML(a answer) bool {
	return strings.HasPrefix(a.header.Get("Content-Type"), "text/html")
}

func TestSendActionReportsStatusAndErrors(t *testing.T) {
	rcv, got := receiver(t, http.StatusForbidden)
	e := newEnv(t, Options{WebhookURL: rcv.URL, WebhookTLSConfig: trust(rcv),
		WebhookBasicUser: "pd", WebhookBasicPassword: "pw", WebhookHeader: "X-Shared", WebhookHeaderValue: "s3"})
	id := e.mustOpen("k", "t")
	status, err := e.fake.SendAction(ctxT(t), id, bob, "deny", "")
	if err != nil || status != http.StatusForbidden {
		t.Fatalf("SendAction = %d, %v; want 403, nil", status, err)
	}
	d := nextDelivery(t, got)
	if d.header.Get("X-PagerDuty-Signature") != "" {
		t.Error("unsigned mode sent a signature")
	}
	if d.header.Get("X-Shared") != "s3" {
		t.Errorf("X-Shared = %q", d.header.Get("X-Shared"))
	}
	r := http.Request{Header: d.header}
	if u, p, ok := r.BasicAuth(); !ok || u != "pd" || p != "pw" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
	if !strings.Contains(string(d.body), `"content":"/deny"`) {
		t.Errorf("body = %s", d.body)
	}
	// Without trusting the receiver's certificate the delivery fails.
	f := New(Options{WebhookURL: rcv.URL})
	defer f.Close()
	f.AddUser(bob, "Bob")
	f.AddService("S")
	inc, err := f.AddIncident(IncidentSeed{Service: "S", Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SendAction(ctxT(t), inc.ID, bob, "approve", ""); err == nil {
		t.Error("delivery to an untrusted certificate succeeded")
	}
	if got, _ := f.Incident(inc.ID); !strings.Contains(got.LastDelivery, "approve by bob@example.com (v3_note): webhook delivery") || strings.Contains(got.LastDelivery, "HTTP") {
		t.Errorf("LastDelivery = %q", got.LastDelivery)
	}
	// A TLS error is dropped without retry, like the 403.
	if d := f.Deliveries(); len(d) != 1 || d[0].State != DeliveryDropped || len(d[0].Attempts) != 1 {
		t.Errorf("deliveries = %+v, want one dropped after one attempt", d)
	}
}

func TestCustomActionDelivery(t *testing.T) {
	rcv, got := receiver(t, http.StatusOK)
	e := newEnv(t, Options{WebhookURL: rcv.URL, WebhookMode: ModeCustomAction, WebhookTLSConfig: trust(rcv),
		WebhookBasicUser: "pd", WebhookBasicPassword: "pw"})
	id := e.mustOpen("teleport-access-request/r9", "t")
	if status, err := e.fake.SendAction(ctxT(t), id, alice, "deny", "ignored"); err != nil || status != http.StatusOK {
		t.Fatalf("SendAction = %d, %v", status, err)
	}
	d := nextDelivery(t, got)
	if d.path != ActionPathPrefix+"deny" {
		t.Errorf("path = %q, want %q", d.path, ActionPathPrefix+"deny")
	}
	r := http.Request{Header: d.header}
	if u, _, ok := r.BasicAuth(); !ok || u != "pd" {
		t.Errorf("basic auth missing: %v", d.header)
	}
	var env struct {
		Messages []struct {
			ID         string         `json:"id"`
			Event      string         `json:"event"`
			CreatedOn  string         `json:"created_on"`
			Incident   map[string]any `json:"incident"`
			LogEntries []struct {
				Type  string         `json:"type"`
				Agent map[string]any `json:"agent"`
			} `json:"log_entries"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(d.body, &env); err != nil {
		t.Fatal(err)
	}
	if len(env.Messages) != 1 {
		t.Fatalf("messages = %s", d.body)
	}
	m := env.Messages[0]
	if m.Event != "incident.custom" || m.ID == "" || m.CreatedOn == "" || str(m.Incident, "id") != id ||
		str(m.Incident, "incident_key") != "teleport-access-request/r9" || str(m.Incident, "service", "id") != e.svc {
		t.Errorf("message = %s", d.body)
	}
	if len(m.LogEntries) != 1 || m.LogEntries[0].Type != "custom_log_entry" || str(m.LogEntries[0].Agent, "id") != e.alID {
		t.Errorf("log_entries = %+v", m.LogEntries)
	}
	if notes := e.fake.Notes(id); len(notes) != 0 {
		t.Errorf("custom action added notes %v", notes)
	}

	// A provisioned Custom Incident Action wins, with its headers.
	ext := map[string]any{"extension": map[string]any{
		"name": "Approve access", "endpoint_url": rcv.URL + "/hooks/approve",
		"extension_schema":  map[string]any{"id": CustomWebhookSchemaID, "type": "extension_schema_reference"},
		"extension_objects": []any{map[string]any{"id": e.svc, "type": "service_reference"}},
		"config":            map[string]any{"headers": []any{map[string]any{"name": "X-Token", "value": "tok"}}},
	}}
	if a := e.do("POST", "/extensions", ext); a.status != http.StatusCreated {
		t.Fatalf("POST /extensions = %d %s", a.status, a.raw)
	}
	if _, err := e.fake.SendAction(ctxT(t), id, alice, "approve", ""); err != nil {
		t.Fatal(err)
	}
	d = nextDelivery(t, got)
	if d.path != "/hooks/approve" || d.header.Get("X-Token") != "tok" {
		t.Errorf("provisioned action delivery: path %q headers %v", d.path, d.header)
	}
}
