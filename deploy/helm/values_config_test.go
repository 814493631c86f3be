package helm_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pagergate/pagergate/config"
)

var cmpConfig = cmp.Options{cmpopts.IgnoreFields(config.Config{}, "Source"), cmpopts.EquateEmpty()}

// TestDefaultValuesKeepPagergateDefaults: with the least values an install
// needs, the rendered configuration is pagergate's own defaults (SPEC §9)
// plus those values, except where the chart differs on purpose for a pod:
// JSON logs and a metrics listener on all interfaces (probes, Prometheus).
func TestDefaultValuesKeepPagergateDefaults(t *testing.T) {
	m := mustRender(t, readValues(t, "pagergate/ci/default-values.yaml"))
	got := parseWithEnv(t, m.hcl(t), containerEnv(t, m.container(t)))

	want := config.Defaults()
	want.Teleport.Addr = "teleport.example.com:443"
	want.Teleport.Identity = "/var/run/pagergate/teleport/identity"
	want.Teleport.RefreshIdentity = true
	pd := want.Pager.Vendor.(*config.PagerDutySettings)
	pd.APIKey = "secret:pagergate-pagerduty/api-key"
	pd.UserEmail = "teleport-bot@example.com"
	want.Pager.DefaultNotifyService = "Teleport Access Requests"
	want.Webhook.PublicAddr = "https://pagergate.example.com"
	want.Webhook.SigningSecrets = []config.Secret{"secret:pagergate-pagerduty/webhook-secret"}
	want.Webhook.TLS.CertFile = "/var/run/pagergate/webhook-tls/tls.crt"
	want.Webhook.TLS.KeyFile = "/var/run/pagergate/webhook-tls/tls.key"
	// On purpose:
	want.Log.Format = "json"
	want.Metrics.ListenAddr = ":9464"
	if d := cmp.Diff(want, *got, cmpConfig); d != "" {
		t.Errorf("configuration from the default values differs from pagergate's defaults (-want +got):\n%s", d)
	}
}

// TestValuesReachConfig: every value of the three-replicas file, including
// strings HCL would otherwise interpolate ("${", "%{") or choke on (quotes,
// backslashes), arrives in pagergate's configuration as written, and every
// secret arrives through the environment from its Secret.
func TestValuesReachConfig(t *testing.T) {
	m := mustRender(t, readValues(t, "pagergate/ci/three-replicas-values.yaml"))
	got := parseWithEnv(t, m.hcl(t), containerEnv(t, m.container(t)))

	want := config.Config{
		Workers: 64,
		Teleport: config.TeleportSettings{
			Addr: "teleport.example.com:443", Identity: "/var/run/pagergate/teleport/identity",
			RefreshIdentity: true, ApprovalMode: "auto", DialTimeout: 45 * time.Second,
		},
		Pager: config.PagerSettings{
			Kind: "pagerduty", Name: "PagerDuty", PluginName: "pagerduty",
			NotifyServiceAnnotation: "oncall_notify", ServicesAnnotation: "oncall_services",
			DefaultNotifyService: `Access "requests" \ ${team} %{ if x } <&>`,
			Urgency:              "high", Priority: "P2",
			Vendor: &config.PagerDutySettings{
				APIKey: "secret:pagergate-pagerduty/api-key", UserEmail: "teleport-bot@example.com",
				APIEndpoint: config.Defaults().Pager.Vendor.(*config.PagerDutySettings).APIEndpoint,
				RateLimit:   600, RequestTimeout: 15 * time.Second, CacheTTL: 5 * time.Minute,
			},
		},
		AutoApprove: config.AutoApproveSettings{
			Enabled: true, MaxEscalationLevel: 2, RequireActiveIncident: true, BindToShift: true,
			AllowedRoles: []string{"dba", "ops-${env}"}, DeniedRoles: []string{"admin"},
			UserMap: map[string]string{"octocat": "octo.cat@example.com", `name with "quotes"`: "quoted@example.com"},
		},
		Store: config.StoreSettings{Kind: "bbolt", Path: "/var/lib/pagergate/state.db", Retention: 336 * time.Hour},
		Webhook: &config.WebhookSettings{
			ListenAddr: ":9443", PublicAddr: "https://pagergate.example.com",
			SigningSecrets: []config.Secret{
				"secret:pagergate-pagerduty/webhook-secret", "secret:pagergate-pagerduty/webhook-secret-next",
			},
			SharedSecretHeader: "X-Pagergate-Secret", SharedSecret: "secret:pagergate-webhook/shared-secret",
			BasicAuth: &config.BasicAuthSettings{User: "pagerduty", Password: "secret:pagergate-webhook/password"},
			TLS: config.TLSSettings{
				CertFile: "/var/run/pagergate/webhook-tls/tls.crt", KeyFile: "/var/run/pagergate/webhook-tls/tls.key",
				AllowedClientCNs: config.Defaults().Webhook.TLS.AllowedClientCNs,
			},
			Approvers: "any", OnManualResolve: "ignore", ApproveWorkflow: "Approve access", DenyWorkflow: "Deny access",
			ReplayWindow: 96 * time.Hour,
		},
		Log:     config.LogSettings{Output: "stderr", Severity: "debug", Format: "text"},
		Metrics: config.MetricsSettings{ListenAddr: ":9100"},
		Memory:  config.MemorySettings{ReleaseWhenIdle: false, IdleAfter: 30 * time.Second},
	}
	if d := cmp.Diff(want, *got, cmpConfig); d != "" {
		t.Errorf("configuration differs from the values (-want +got):\n%s", d)
	}
}

// TestFakePagerValues: the fake kind carries its users, services and
// on-call entries and needs no API key Secret.
func TestFakePagerValues(t *testing.T) {
	m := mustRender(t, readValues(t, "pagergate/ci/fake-values.yaml"))
	env := containerEnv(t, m.container(t))
	if _, ok := env["PAGERDUTY_API_KEY"]; ok {
		t.Error("the fake pager reads no API key Secret")
	}
	got := parseWithEnv(t, m.hcl(t), env)
	want := &config.FakeSettings{
		PagerDuty:  config.FakeDefaults().Vendor.(*config.FakeSettings).PagerDuty,
		ListenAddr: "127.0.0.1:8090",
		Users:      []config.FakeUser{{Email: "alice@example.com", Name: "Alice"}},
		Services:   []config.FakeService{{Name: "Teleport Access Requests"}, {Name: "My Critical Service", ID: "PCRIT01"}},
		OnCalls:    []config.FakeOnCall{{User: "alice@example.com", Service: "My Critical Service", Level: 1}},
	}
	if got.Pager.Kind != "fake" {
		t.Fatalf("pager kind = %q, want fake", got.Pager.Kind)
	}
	if d := cmp.Diff(want, got.Pager.Vendor, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("fake pager differs from the values (-want +got):\n%s", d)
	}
}

// TestOpsgenieValues: kind opsgenie reads its key from its Secret, keeps
// Teleport's Opsgenie conventions and lets its webhook integration in
// with basic auth.
func TestOpsgenieValues(t *testing.T) {
	m := mustRender(t, readValues(t, "pagergate/ci/opsgenie-values.yaml"))
	env := containerEnv(t, m.container(t))
	if _, ok := env["PAGERDUTY_API_KEY"]; ok {
		t.Error("the opsgenie kind reads no PagerDuty key")
	}
	got := parseWithEnv(t, m.hcl(t), env)
	want := config.OpsgenieDefaults()
	want.DefaultNotifyService, want.Priority = "team:ops", "P2"
	og := *want.Vendor.(*config.OpsgenieSettings)
	og.APIKey, og.APIURL, og.WebURL, og.Tags = "secret:pagergate-opsgenie/api-key", "https://api.eu.opsgenie.com", "https://acme.app.opsgenie.com", []string{"teleport", "access"}
	want.Vendor = &og
	if d := cmp.Diff(want, got.Pager); d != "" {
		t.Errorf("opsgenie pager differs from the values (-want +got):\n%s", d)
	}
	if w := got.Webhook; w == nil || w.BasicAuth == nil || w.BasicAuth.Password != "secret:pagergate-webhook/password" || w.OnManualResolve != "deny" {
		t.Errorf("webhook = %+v, want basic auth from its Secret and on_manual_resolve deny", w)
	}
}

// TestConfigChangeRollsPods: the pod template carries a checksum of the
// configuration, so `helm upgrade` with new values restarts the pods.
func TestConfigChangeRollsPods(t *testing.T) {
	vals := readValues(t, "pagergate/ci/default-values.yaml")
	a := mustRender(t, vals).deployment.Spec.Template.Annotations["checksum/config"]
	setValue(vals, "log.severity", "debug")
	b := mustRender(t, vals).deployment.Spec.Template.Annotations["checksum/config"]
	if a == "" || a == b {
		t.Errorf("checksum/config = %q before and %q after a configuration change", a, b)
	}
}
