package world

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
)

const (
	basicUser     = "opsgenie"
	basicPassword = "demo-webhook-password"
	approveAction = "Approve access"
)

// opsgenie is the fake Opsgenie with schedules named like the PagerDuty
// services and the same on-call responders; its webhook integration
// delivers the alerts' custom actions to the daemon with basic auth as a
// custom header, trusting the daemon's certificate.
type opsgenie struct{ *fakeopsgenie.Server }

func startOpsgenie(cert *webhooktest.Cert) (fakePager, error) {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(basicUser+":"+basicPassword))
	og := fakeopsgenie.New(fakeopsgenie.Options{Webhook: fakeopsgenie.WebhookOptions{
		Headers: map[string]string{"Authorization": auth}, TLSConfig: cert.ClientTLS(), ForwardClose: true}})
	og.AddUser(Requester, "Alice (requester)")
	og.AddUser(OnCallCritical, "Bob (on call for "+ServiceCritical+")")
	og.AddUser(OnCallTeleport, "Carol (on call for "+ServiceTeleport+")")
	_, err := og.AddSchedule(ServiceTeleport, "")
	if err == nil {
		_, err = og.AddSchedule(ServiceCritical, "")
	}
	if err == nil {
		err = og.AddOnCall(OnCallCritical, ServiceCritical)
	}
	if err == nil {
		err = og.AddOnCall(OnCallTeleport, ServiceTeleport)
	}
	if err == nil {
		_, err = og.Start("127.0.0.1:0")
	}
	return opsgenie{og}, err
}

func (o opsgenie) Name() string            { return "Opsgenie" }
func (o opsgenie) Words() (string, string) { return "alert", "closed" }

func (o opsgenie) SetRequestForm(users []string, roles string, create CreateRequest) {
	o.Server.SetRequestForm(&fakeopsgenie.RequestForm{Users: users, Roles: roles, Create: create})
}

func (o opsgenie) SetWebhookURL(base string) { o.Server.SetWebhookURL(base + "/opsgenie/actions") }
func (o opsgenie) Close()                    { _ = o.Server.Close() }

// Annotations are Teleport's Opsgenie plugin conventions.
func (o opsgenie) Annotations(notify, approval string) map[string][]string {
	m := map[string][]string{"teleport.dev/notify-services": {notify}}
	if approval != "" {
		m["teleport.dev/schedules"] = []string{approval}
	}
	return m
}

func (o opsgenie) config() (string, string, map[string]string) {
	return `pager "opsgenie" {
  # The key the fake Opsgenie of the demo accepts.
  api_key                = file("opsgenie-api-key")
  api_url                = "` + o.URL() + `"
  default_notify_service = "` + ServiceTeleport + `"
}
`, `  basic_auth {
    user     = "` + basicUser + `"
    password = file("webhook-password")
  }
`, map[string]string{"opsgenie-api-key": fakeopsgenie.DefaultAPIKey, "webhook-password": basicPassword}
}

func (o opsgenie) Incident(ctx context.Context, reqID string, resolved bool) (Incident, error) {
	var a fakeopsgenie.Alert
	err := o.WaitFor(ctx, func(s *fakeopsgenie.Server) bool {
		s.ProcessPending()
		for _, x := range s.Alerts() {
			if x.Alias == "teleport-access-request/"+reqID && (!resolved || x.Status == fakeopsgenie.StatusClosed) {
				a = x
				return true
			}
		}
		return false
	})
	out := Incident{ID: a.ID, Title: a.Message}
	for _, n := range a.Notes {
		out.Notes = append(out.Notes, strings.SplitN(n.Text, "\n", 2)[0])
	}
	return out, err
}

// Approve executes the alert's Approve custom action as user, as its
// button on the web page does; the webhook integration delivers it.
func (o opsgenie) Approve(ctx context.Context, alertID, user string) (string, error) {
	n := len(o.Deliveries())
	if err := o.ExecuteAction(alertID, approveAction, user); err != nil {
		return "", err
	}
	if err := o.WaitDeliveries(ctx, n+1); err != nil {
		return "", err
	}
	d := o.Deliveries()[n]
	return fmt.Sprintf("the webhook integration's delivery was answered %d", d.Status), nil
}
