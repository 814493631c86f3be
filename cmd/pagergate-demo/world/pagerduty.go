package world

import (
	"context"
	"fmt"
	"strings"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
)

// contextT keeps the interface's lines short.
type contextT = context.Context

const (
	botEmail      = "pagergate@example.com"
	signingSecret = "demo-signing-secret"
)

// pagerDuty is the fake PagerDuty with its on-call schedule; its web
// page's buttons deliver signed v3 webhooks to the daemon, trusting the
// daemon's certificate.
type pagerDuty struct{ *fakepd.Server }

func startPagerDuty(cert *webhooktest.Cert) (fakePager, error) {
	pd := fakepd.New(fakepd.Options{WebhookSecret: signingSecret, WebhookTLSConfig: cert.ClientTLS()})
	pd.AddUser(botEmail, "pagergate bot")
	pd.AddUser(Requester, "Alice (requester)")
	pd.AddUser(OnCallCritical, "Bob (on call for "+ServiceCritical+")")
	pd.AddUser(OnCallTeleport, "Carol (on call for "+ServiceTeleport+")")
	pd.AddService(ServiceTeleport)
	pd.AddService(ServiceCritical)
	err := pd.AddOnCall(OnCallCritical, ServiceCritical, 1)
	if err == nil {
		err = pd.AddOnCall(OnCallTeleport, ServiceTeleport, 1)
	}
	if err == nil {
		_, err = pd.Start("127.0.0.1:0")
	}
	return pagerDuty{pd}, err
}

func (p pagerDuty) Name() string            { return "PagerDuty" }
func (p pagerDuty) Words() (string, string) { return "incident", "resolved" }

func (p pagerDuty) SetRequestForm(users []string, roles string, create CreateRequest) {
	p.Server.SetRequestForm(&fakepd.RequestForm{Users: users, Roles: roles, Create: create})
}

func (p pagerDuty) SetWebhookURL(base string) { p.Server.SetWebhookURL(base) }
func (p pagerDuty) Close()                    { _ = p.Server.Close() }
func (p pagerDuty) Annotations(notify, approval string) map[string][]string {
	m := map[string][]string{"pagerduty_notify_service": {notify}}
	if approval != "" {
		m["pagerduty_services"] = []string{approval}
	}
	return m
}

func (p pagerDuty) config() (string, string, map[string]string) {
	return `pager "pagerduty" {
  # The token the fake PagerDuty of the demo accepts.
  api_key                = file("pagerduty-api-key")
  user_email             = "` + botEmail + `"
  api_endpoint           = "` + p.URL() + `"
  default_notify_service = "` + ServiceTeleport + `"
}
`, `  signing_secrets = [file("webhook-signing-secret")]
`, map[string]string{"pagerduty-api-key": fakepd.DefaultAPIKey, "webhook-signing-secret": signingSecret}
}

func (p pagerDuty) Incident(ctx context.Context, reqID string, resolved bool) (Incident, error) {
	var inc fakepd.Incident
	err := p.WaitFor(ctx, func(s *fakepd.Server) bool {
		for _, i := range s.Incidents() {
			if i.Key == "teleport-access-request/"+reqID && (!resolved || i.Status == "resolved") {
				inc = i
				return true
			}
		}
		return false
	})
	out := Incident{ID: inc.ID, Title: inc.Title}
	for _, n := range inc.Notes {
		out.Notes = append(out.Notes, strings.SplitN(n.Content, "\n", 2)[0])
	}
	return out, err
}

// Approve sends the delivery the web page's Approve button sends: a
// signed v3 webhook.
func (p pagerDuty) Approve(ctx context.Context, incidentID, user string) (string, error) {
	code, err := p.SendAction(ctx, incidentID, user, "approve", "looks fine")
	return fmt.Sprintf("webhook answered %d", code), err
}
