//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

// Scenario 9: an on-call responder approves or denies from PagerDuty, as a
// signed v3 note or as a Custom Incident Action (basic auth, or mutual TLS).
func TestResponderActionsFromPagerDuty(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts envOpts
		verb string
		note string
	}{
		{"v3 approve", envOpts{}, "approve", "looks fine"},
		{"v3 deny", envOpts{}, "deny", "not now"},
		{"custom action approve with basic auth", envOpts{WebhookMode: fakepd.ModeCustomAction, BasicAuth: true}, "approve", ""},
		{"custom action deny with basic auth", envOpts{WebhookMode: fakepd.ModeCustomAction, BasicAuth: true}, "deny", ""},
		{"custom action approve with mutual TLS", envOpts{WebhookMode: fakepd.ModeCustomAction, MTLS: true}, "approve", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, c.opts)
			d := e.start(e.writeConfig())

			id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "debug prod")
			inc := e.waitIncident(id)
			e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })

			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			code, err := e.pd.SendAction(ctx, inc.ID, carol, c.verb, c.note)
			if err != nil || code != http.StatusOK {
				t.Fatalf("SendAction(%s by carol) = %d, %v; want 200", c.verb, code, err)
			}
			want, word := types.RequestState_APPROVED, "Approved"
			if c.verb == "deny" {
				want, word = types.RequestState_DENIED, "Denied"
			}
			r := e.waitState(id, want)
			reason := word + " in PagerDuty by " + carol
			if c.note != "" {
				reason += ": " + c.note
			}
			if r.GetResolveReason() != reason {
				t.Errorf("resolve reason %q, want %q", r.GetResolveReason(), reason)
			}
			if got := e.tp.Delegator(id); got != "pagerduty:"+carol {
				t.Errorf("delegator %q, want pagerduty:%s", got, carol)
			}
			res := e.waitResolved(id)
			notes := strings.Join(e.pd.Notes(res.ID), "\n")
			if !strings.Contains(notes, "Access request has been "+strings.ToLower(word)) {
				t.Errorf("no resolution note:\n%s", notes)
			}
			d.stop()
		})
	}
}

// Scenario 10: refused deliveries change nothing. A refused click answers
// 200 with the refusal in the body and leaves a note; only deliveries that
// cannot be authenticated or read answer 4xx.
func TestRefusedDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "refusals")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	// The requester approving their own request, and a responder not on
	// call for the notify service (approvers = "on_call" by default).
	for _, actor := range []string{alice, bob} {
		code, err := e.pd.SendAction(ctx, inc.ID, actor, "approve", "let me in")
		if err != nil || code != http.StatusOK {
			t.Errorf("approve by %s = %d, %v; want 200 (refused in the body)", actor, code, err)
		}
	}
	e.waitPD("two refusal notes", func(pd *fakepd.Server) bool {
		return countPrefix(pd.Notes(inc.ID), "pagergate refused to approve") == 2
	})
	notes := strings.Join(e.pd.Notes(inc.ID), "\n")
	for _, s := range []string{"cannot approve their own request", "not on call"} {
		if !strings.Contains(notes, s) {
			t.Errorf("refusal notes lack %q:\n%s", s, notes)
		}
	}

	body := e.v3Annotated(inc.ID, carol, "/approve forged")
	post := func(name string, body []byte, headers map[string]string, want int) {
		t.Helper()
		code, resp, err := e.postWebhook("/pagerduty/v3", body, headers)
		if err != nil || code != want {
			t.Errorf("%s: %d %q, %v; want %d", name, code, strings.TrimSpace(resp), err, want)
		}
	}
	post("bad signature", body, map[string]string{"X-PagerDuty-Signature": e.signV3([]byte("other body")), "X-Webhook-Id": newDeliveryID()}, http.StatusUnauthorized)
	post("no signature", body, map[string]string{"X-Webhook-Id": newDeliveryID()}, http.StatusUnauthorized)
	bad := []byte(`{"event": {"event_type": "incident.annotated", `)
	post("malformed JSON", bad, map[string]string{"X-PagerDuty-Signature": e.signV3(bad), "X-Webhook-Id": newDeliveryID()}, http.StatusBadRequest)
	// Just over the 256 KiB limit: Go's server drains up to 256 KiB of an
	// unread body, so the client reads the 413 instead of a reset.
	big := append(append([]byte(`{"event":{"id":"`), bytes.Repeat([]byte("x"), 257<<10)...), `"}}`...)
	post("oversized body", big, map[string]string{"X-PagerDuty-Signature": e.signV3(big), "X-Webhook-Id": newDeliveryID()}, http.StatusRequestEntityTooLarge)
	post("wrong content type", body, map[string]string{"Content-Type": "text/plain", "X-PagerDuty-Signature": e.signV3(body), "X-Webhook-Id": newDeliveryID()}, http.StatusUnsupportedMediaType)

	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("state after refused deliveries %s, want PENDING", got)
	}
	if n := countPrefix(e.pd.Notes(inc.ID), "pagergate refused"); n != 2 {
		t.Errorf("%d refusal notes, want 2 (deliveries not authenticated or not readable leave none)", n)
	}

	// A replayed delivery answers 200 and changes nothing: deny a second
	// request, then deliver the same event again.
	id2 := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "replay")
	inc2 := e.waitIncident(id2)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id2)["incident_id"] == inc2.ID })
	deny := e.v3Annotated(inc2.ID, carol, "/deny replay me")
	delivery := newDeliveryID()
	if code := e.postV3(deny, delivery); code != http.StatusOK {
		t.Fatalf("first delivery %d, want 200", code)
	}
	e.waitState(id2, types.RequestState_DENIED)
	e.waitResolved(id2)
	before := e.pd.Notes(inc2.ID)
	if code := e.postV3(deny, delivery); code != http.StatusOK {
		t.Errorf("replayed delivery %d, want 200", code)
	}
	d.waitLogEntry("delivery replayed", func(l logEntry) bool { return l.str("msg") == "delivery replayed; ignored" })
	if after := e.pd.Notes(inc2.ID); len(after) != len(before) {
		t.Errorf("notes after the replay %q, before %q", after, before)
	}
	if r := e.waitState(id2, types.RequestState_DENIED); r.GetResolveReason() != "Denied in PagerDuty by "+carol+": replay me" {
		t.Errorf("reason %q changed", r.GetResolveReason())
	}
	d.stop()
}

// Scenario 10, mutual TLS: a delivery without a client certificate is
// refused (401 or a failed handshake) and changes nothing.
func TestDeliveryWithoutClientCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{MTLS: true})
	d := e.start(e.writeConfig())

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "mtls")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })

	body := e.v3Annotated(inc.ID, carol, "/approve no cert")
	req, err := http.NewRequest(http.MethodPost, e.webhookURL+"/pagerduty/v3", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-PagerDuty-Signature", e.signV3(body))
	req.Header.Set("X-Webhook-Id", newDeliveryID())
	resp, err := e.httpsClient(false).Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("delivery without client certificate: %d, want 401 or a handshake failure", resp.StatusCode)
		}
	}

	// A certificate from the right CA with another common name is refused
	// too.
	other := e.issueClientCert("intruder.example.com")
	client := e.httpsClient(false)
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = append(
		client.Transport.(*http.Transport).TLSClientConfig.Certificates, other)
	req, _ = http.NewRequest(http.MethodPost, e.webhookURL+"/pagerduty/v3", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-PagerDuty-Signature", e.signV3(body))
	req.Header.Set("X-Webhook-Id", newDeliveryID())
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("delivery with CN intruder.example.com: %d, want 401", resp.StatusCode)
		}
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Errorf("state %s, want PENDING", got)
	}

	// The same delivery with the client certificate is accepted.
	if code := e.postV3(body, ""); code != http.StatusOK {
		t.Fatalf("delivery with client certificate: %d, want 200", code)
	}
	e.waitState(id, types.RequestState_APPROVED)
	d.stop()
}

func countPrefix(notes []string, prefix string) int {
	n := 0
	for _, s := range notes {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// Scenario 9, approvers = "any": a responder who is not on call may act,
// the requester still may not.
func TestApproversAny(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig(withWebhook(`approvers = "any"`)))

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "anyone may approve")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if code, err := e.pd.SendAction(ctx, inc.ID, alice, "approve", "me"); err != nil || code != http.StatusOK {
		t.Errorf("approve by the requester = %d, %v; want 200 (refused in the body)", code, err)
	}
	e.waitPD("self-approval refusal note", func(pd *fakepd.Server) bool {
		return countPrefix(pd.Notes(inc.ID), "pagergate refused to approve") == 1
	})
	if code, err := e.pd.SendAction(ctx, inc.ID, bob, "approve", "covering for carol"); err != nil || code != http.StatusOK {
		t.Fatalf("approve by bob (not on call) = %d, %v; want 200", code, err)
	}
	r := e.waitState(id, types.RequestState_APPROVED)
	if want := "Approved in PagerDuty by " + bob + ": covering for carol"; r.GetResolveReason() != want {
		t.Errorf("reason %q, want %q", r.GetResolveReason(), want)
	}
	e.waitResolved(id)
	d.stop()
}

// Scenario 10, Custom Incident Actions: deliveries without the configured
// basic auth are refused (401) and change nothing; the right one acts.
func TestCustomActionBasicAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{WebhookMode: fakepd.ModeCustomAction, BasicAuth: true})
	d := e.start(e.writeConfig())

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "custom actions")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })

	body := e.customAction(inc.ID, carol)
	wrong := "Basic " + base64.StdEncoding.EncodeToString([]byte(basicUser+":wrong"))
	for name, h := range map[string]map[string]string{
		"wrong password": {"Authorization": wrong, "X-Webhook-Id": newDeliveryID()},
		"no credentials": {"Authorization": "", "X-Webhook-Id": newDeliveryID()},
	} {
		code, resp, err := e.postWebhook("/pagerduty/actions/approve", body, h)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s: %d %q, %v; want 401", name, code, strings.TrimSpace(resp), err)
		}
	}
	if _, err := d.waitLog(ctx(t), "webhook delivery not authenticated"); err != nil {
		t.Error(err)
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("state %s after refused deliveries, want PENDING", got)
	}

	code, resp, err := e.postWebhook("/pagerduty/actions/deny", body, map[string]string{"X-Webhook-Id": newDeliveryID()})
	if err != nil || code != http.StatusOK {
		t.Fatalf("deny with basic auth: %d %q, %v; want 200", code, strings.TrimSpace(resp), err)
	}
	r := e.waitState(id, types.RequestState_DENIED)
	if want := "Denied in PagerDuty by " + carol; r.GetResolveReason() != want {
		t.Errorf("reason %q, want %q", r.GetResolveReason(), want)
	}
	e.waitResolved(id)
	if !d.logContains(`"decision":"deny"`) {
		t.Errorf("no log line with decision deny")
	}
	d.stop()
}

// ctx returns a context ending after waitTimeout or with the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

// answerOf posts a delivery and returns the status and the JSON answer.
func (e *env) answerOf(path string, body []byte, headers map[string]string) (int, map[string]string) {
	e.t.Helper()
	code, resp, err := e.postWebhook(path, body, headers)
	if err != nil {
		e.t.Fatalf("post %s: %v", path, err)
	}
	var ans map[string]string
	_ = json.Unmarshal([]byte(resp), &ans)
	return code, ans
}

// An incident opened in another service with a pagergate request's
// incident_key (PagerDuty dedups the key per service only) is foreign:
// every action route, even under approvers = "any", answers 2xx and
// changes nothing.
func TestForeignIncidentWithTheRequestKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{BasicAuth: true})
	d := e.start(e.writeConfig(withWebhook(`approvers = "any"`, `on_manual_resolve = "deny"`, `approve_workflow = "Approve access"`)))

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "foreign")
	ours := e.waitIncidentIn(id, svcTeleport)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == ours.ID })
	foreign, err := e.pd.AddIncident(fakepd.IncidentSeed{Service: svcCritical, Key: incidentKey(id), Title: "looks like an access request"})
	if err != nil {
		t.Fatal(err)
	}
	formats := []string{fakepd.FormatV3Note, fakepd.FormatV3Workflow, fakepd.FormatCustomV2, fakepd.FormatCustomV3}
	for _, f := range formats {
		code, err := e.pd.Send(ctx(t), fakepd.Action{IncidentID: foreign.ID, Actor: bob, Verb: "approve", Note: "mine now", Format: f})
		if err != nil || code != http.StatusOK {
			t.Errorf("%s on the foreign incident = %d, %v; want 200", f, code, err)
		}
	}
	if code, err := e.pd.Send(ctx(t), fakepd.Action{IncidentID: foreign.ID, Actor: bob, Verb: "resolve", Format: fakepd.FormatV3Resolve}); err != nil || code != http.StatusOK {
		t.Errorf("resolving the foreign incident = %d, %v; want 200", code, err)
	}
	// One note per refusal (the same approval by bob is noted once), one
	// log line and one count per delivery.
	e.waitPD("a note per refusal on the foreign incident", func(pd *fakepd.Server) bool {
		return countPrefix(pd.Notes(foreign.ID), "pagergate refused") == 2
	})
	if notes := strings.Join(e.pd.Notes(foreign.ID), "\n"); !strings.Contains(notes, "not opened by pagergate") {
		t.Errorf("notes on the foreign incident:\n%s", notes)
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("request %s after actions on a foreign incident, want PENDING", got)
	}
	if v, ok := metricSum(d.metrics(), "pagergate_actions_total", `outcome="foreign_incident"`); !ok || v != float64(len(formats)+1) {
		t.Errorf("foreign_incident actions counted %v, %v; want %d", v, ok, len(formats)+1)
	}

	// A workflow started by automation on pagergate's own incident names no
	// actor: 2xx, nothing changes.
	if code, err := e.pd.Send(ctx(t), fakepd.Action{IncidentID: ours.ID, Verb: "approve", Format: fakepd.FormatV3Workflow}); err != nil || code != http.StatusOK {
		t.Errorf("workflow without actor = %d, %v; want 200", code, err)
	}
	d.waitLogEntry("no actor", func(l logEntry) bool { return l.str("outcome") == "no_actor" })
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("request %s after a workflow without actor, want PENDING", got)
	}
	// The real incident still works.
	if code, err := e.pd.Send(ctx(t), fakepd.Action{IncidentID: ours.ID, Actor: bob, Verb: "approve", Format: fakepd.FormatCustomV3}); err != nil || code != http.StatusOK {
		t.Fatalf("approve on pagergate's incident = %d, %v", code, err)
	}
	e.waitState(id, types.RequestState_APPROVED)
	d.stop()
}

// Refused clicks answer 2xx: three in a row do not get the action disabled
// by PagerDuty (which drops a delivery answered with another 4xx and
// disables the extension after 3 drops), so the next legitimate click
// still approves.
func TestRefusedClicksKeepTheButtonsOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{WebhookMode: fakepd.ModeCustomAction, BasicAuth: true})
	d := e.start(e.writeConfig(withWebhook(fmt.Sprintf("public_addr = %q", e.webhookURL), "provision_actions = true")))

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "three refusals")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	if n := len(e.pd.Extensions()); n != 2 {
		t.Fatalf("%d extensions provisioned, want 2", n)
	}
	for i, actor := range []string{alice, bob, alice} { // the requester, not on call, the requester
		code, err := e.pd.SendAction(ctx(t), inc.ID, actor, "approve", "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("refused click %d by %s = %d, %v; want 200", i+1, actor, code, err)
		}
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("request %s after refused clicks, want PENDING", got)
	}
	code, err := e.pd.SendAction(ctx(t), inc.ID, carol, "approve", "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("legitimate click = %d, %v; want 200", code, err)
	}
	e.waitState(id, types.RequestState_APPROVED)
	for _, dst := range e.pd.Stats().Destinations {
		if dst.Disabled || dst.Dropped != 0 {
			t.Errorf("destination %s: disabled %v, %d dropped; want enabled, none dropped", dst.Name, dst.Disabled, dst.Dropped)
		}
	}
	if v, ok := metricSum(d.metrics(), "pagergate_actions_total", `outcome="refused"`); !ok || v != 3 {
		t.Errorf("refused actions metric = %v, %v; want 3", v, ok)
	}
	d.stop()
}

// A captured signed v3 delivery re-sent with a fresh X-Webhook-Id (the
// header is not signed) is a replay: a refusal must not turn into an
// approval once the responder is on call.
func TestSignedDeliveryReplayedWithANewWebhookID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "replay")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	body := e.v3Annotated(inc.ID, bob, "/approve please")
	code, ans := e.answerOf("/pagerduty/v3", body, map[string]string{"X-PagerDuty-Signature": e.signV3(body), "X-Webhook-Id": newDeliveryID()})
	if code != http.StatusOK || ans["status"] != "refused" {
		t.Fatalf("first delivery = %d %v; want 200 refused (bob is not on call)", code, ans)
	}
	if err := e.pd.AddOnCall(bob, svcTeleport, 1); err != nil {
		t.Fatal(err)
	}
	code, ans = e.answerOf("/pagerduty/v3", body, map[string]string{"X-PagerDuty-Signature": e.signV3(body), "X-Webhook-Id": newDeliveryID()})
	if code != http.StatusOK || ans["status"] != "replayed" {
		t.Fatalf("replay with a new X-Webhook-Id = %d %v; want 200 replayed", code, ans)
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("request %s after the replay, want PENDING", got)
	}
	d.stop()
}

// A Teleport user with a non-email name and no user_map entry resolves to
// no PagerDuty user: on call, clicking Approve on their own request is
// refused with a note, answered 2xx.
func TestRequesterWithoutPagerUserCannotApproveFromPagerDuty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())

	id := e.createRequest("carol", []string{"editor"}, notify(svcTeleport), "GitHub SSO user") // carol@example.com is on call
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	code, err := e.pd.SendAction(ctx(t), inc.ID, carol, "approve", "it's me")
	if err != nil || code != http.StatusOK {
		t.Fatalf("approve = %d, %v; want 200", code, err)
	}
	e.waitPD("refusal note", func(pd *fakepd.Server) bool {
		return countPrefix(pd.Notes(inc.ID), "pagergate refused to approve") == 1
	})
	if notes := strings.Join(e.pd.Notes(inc.ID), "\n"); !strings.Contains(notes, "has no PagerDuty user") {
		t.Errorf("refusal note does not say why:\n%s", notes)
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Fatalf("request %s, want PENDING", got)
	}
	d.stop()
}

// A restart with an unchanged provision_actions configuration writes no
// extension, though PagerDuty reads the header values back masked.
func TestRestartWithUnchangedProvisioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{WebhookMode: fakepd.ModeCustomAction, BasicAuth: true})
	cfg := e.writeConfig(withWebhook(fmt.Sprintf("public_addr = %q", e.webhookURL), "provision_actions = true",
		`shared_secret_header = "X-Pagergate-Secret"`, `shared_secret = "e2e-shared"`))
	writes := func() int {
		c := e.pd.Calls()
		return c["POST /extensions"] + c["PUT /extensions/{id}"]
	}
	d := e.start(cfg)
	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "first")
	e.waitIncident(id)
	if got := writes(); got != 2 {
		t.Fatalf("first start wrote %d extensions, want 2", got)
	}
	d.stop()

	for i := range 2 {
		d = e.start(cfg)
		id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), fmt.Sprint("restart ", i))
		e.waitIncident(id) // provisioning runs before the incident is opened
		if got := writes(); got != 2 {
			t.Errorf("restart %d: %d extension writes in all, want 2", i+1, got)
		}
		d.stop()
	}
	if n := e.pd.Calls()["GET /extensions"]; n < 3 {
		t.Errorf("GET /extensions calls = %d, want one per start", n)
	}
}
