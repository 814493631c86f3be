//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
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

// Scenario 10: refused deliveries change nothing; the 403s leave a note.
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
		if err != nil || code != http.StatusForbidden {
			t.Errorf("approve by %s = %d, %v; want 403", actor, code, err)
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
		t.Errorf("%d refusal notes, want 2 (only the 403s leave one)", n)
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
	// The replay of an approving delivery ID for the still pending first
	// request must not act either.
	if code := e.postV3(e.v3Annotated(inc.ID, carol, "/approve replayed id"), delivery); code != http.StatusOK {
		t.Errorf("replayed delivery ID with another body %d, want 200", code)
	}
	d.waitLogEntry("delivery replayed", func(l logEntry) bool { return l.str("msg") == "delivery replayed; ignored" })
	if after := e.pd.Notes(inc2.ID); len(after) != len(before) {
		t.Errorf("notes after the replay %q, before %q", after, before)
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Errorf("first request %s after a replayed delivery ID, want PENDING", got)
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
	if code, err := e.pd.SendAction(ctx, inc.ID, alice, "approve", "me"); err != nil || code != http.StatusForbidden {
		t.Errorf("approve by the requester = %d, %v; want 403", code, err)
	}
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
