package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// minimal is the smallest valid file: everything else takes its default.
const minimal = `teleport {
  addr     = "teleport.example.com:443"
  identity = "/var/lib/pagergate/identity"
}

pager "pagerduty" {
  api_key    = "k"
  user_email = "bot@example.com"
}
`

// otherWarnings drops the warnings about literal secrets, which the
// test files write for brevity (TestLiteralSecrets covers them).
func otherWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if !strings.Contains(w, "is a literal secret") {
			out = append(out, w)
		}
	}
	return out
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.hcl")
	if err != nil {
		var buf bytes.Buffer
		if de := (*DiagError)(nil); errors.As(err, &de) {
			_ = de.Write(&buf, false)
		}
		t.Fatalf("Parse: %v\n%s", err, buf.String())
	}
	return cfg
}

func TestLoadSpecSketch(t *testing.T) {
	t.Setenv("PAGERDUTY_API_KEY", "pd-key")
	t.Setenv("PAGERDUTY_WEBHOOK_SECRET", "wh-secret")

	got, err := Load(filepath.Join("testdata", "spec-sketch.hcl"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Source: filepath.Join("testdata", "spec-sketch.hcl"),
		Teleport: TeleportSettings{
			Addr:            "teleport.example.com:443",
			Identity:        "/var/lib/pagergate/identity",
			RefreshIdentity: true,
			ApprovalMode:    "auto",
			DialTimeout:     30 * time.Second,
		},
		Pager: PagerSettings{
			Kind:                    "pagerduty",
			Name:                    "PagerDuty",
			PluginName:              "pagerduty",
			NotifyServiceAnnotation: "pagerduty_notify_service",
			ServicesAnnotation:      "pagerduty_services",
			Vendor: &PagerDutySettings{
				APIKey:         "pd-key",
				UserEmail:      "teleport-bot@example.com",
				APIEndpoint:    "https://api.pagerduty.com",
				RateLimit:      900,
				RequestTimeout: 10 * time.Second,
				CacheTTL:       10 * time.Minute,
			},
		},
		// The sketch still writes auto_approve inside the pager block.
		AutoApprove: AutoApproveSettings{Enabled: true},
		Warnings: []string{filepath.Join("testdata", "spec-sketch.hcl") + ":17:3: auto_approve moved out of the pager block; " +
			"auto_approve inside pager \"pagerduty\" is still read, but it is the approval policy of every pager: " +
			"move the block, unchanged, to the top level of the file (pagergate configure and pagergate migrate write it there)."},
		Store: StoreSettings{Kind: "bbolt", Path: "/var/lib/pagergate/state.db", Retention: 168 * time.Hour},
		Webhook: &WebhookSettings{
			ListenAddr:      ":8443",
			PublicAddr:      "https://pagergate.example.com:8443",
			SigningSecrets:  []Secret{"wh-secret"},
			Approvers:       "on_call",
			OnManualResolve: "ignore",
			ReplayWindow:    72 * time.Hour,
			TLS: TLSSettings{
				CertFile:         "/var/lib/pagergate/server.crt",
				KeyFile:          "/var/lib/pagergate/server.key",
				ClientCAFile:     "/var/lib/pagergate/pagerduty-ca.pem",
				AllowedClientCNs: []string{"webhooks.pagerduty.com", "webhooks.eu.pagerduty.com"},
			},
		},
		Log:     LogSettings{Output: "stderr", Severity: "info", Format: "text"},
		Metrics: MetricsSettings{ListenAddr: "127.0.0.1:9464"},
		Memory:  MemorySettings{ReleaseWhenIdle: true, IdleAfter: 5 * time.Second},
		Workers: 32,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(spec sketch) mismatch (-want +got):\n%s", diff)
	}
}

func TestDefaultsApplied(t *testing.T) {
	got := mustParse(t, minimal)
	d := Defaults()

	if got.Webhook != nil {
		t.Errorf("Webhook = %+v, want nil without a webhook block", got.Webhook)
	}
	want := d
	want.Source = "test.hcl"
	want.Teleport.Addr = "teleport.example.com:443"
	want.Teleport.Identity = "/var/lib/pagergate/identity"
	pdOf(&want).APIKey = "k"
	pdOf(&want).UserEmail = "bot@example.com"
	want.Webhook = nil
	want.Warnings = []string{`test.hcl:7:16: pager.pagerduty.api_key is a literal secret; whoever reads this file reads it: ` +
		`write api_key = env("PAGERDUTY_API_KEY") or file("/etc/pagergate/api_key") (the systemd unit reads /etc/pagergate.env)`}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Parse(minimal) mismatch (-want +got):\n%s", diff)
	}

	// The documented defaults, spelled out once more so a changed default
	// is a conscious change.
	checks := []struct {
		name      string
		got, want any
	}{
		{"teleport.approval_mode", got.Teleport.ApprovalMode, "auto"},
		{"teleport.dial_timeout", got.Teleport.DialTimeout, 30 * time.Second},
		{"pager.notify_service_annotation", got.Pager.NotifyServiceAnnotation, "pagerduty_notify_service"},
		{"pager.services_annotation", got.Pager.ServicesAnnotation, "pagerduty_services"},
		{"pager.rate_limit", pdOf(got).RateLimit, 900},
		{"pager.request_timeout", pdOf(got).RequestTimeout, 10 * time.Second},
		{"pager.cache_ttl", pdOf(got).CacheTTL, 10 * time.Minute},
		{"auto_approve.enabled", got.AutoApprove.Enabled, true},
		{"auto_approve.max_escalation_level", got.AutoApprove.MaxEscalationLevel, 0},
		{"store.kind", got.Store.Kind, "bbolt"},
		{"store.path", got.Store.Path, "/var/lib/pagergate/state.db"},
		{"store.retention", got.Store.Retention, 168 * time.Hour},
		{"log.output", got.Log.Output, "stderr"},
		{"log.severity", got.Log.Severity, "info"},
		{"log.format", got.Log.Format, "text"},
		{"metrics.listen_addr", got.Metrics.ListenAddr, "127.0.0.1:9464"},
		{"memory.release_when_idle", got.Memory.ReleaseWhenIdle, true},
		{"memory.idle_after", got.Memory.IdleAfter, 5 * time.Second},
		{"workers", got.Workers, 32},
		{"webhook.listen_addr", d.Webhook.ListenAddr, ":8443"},
		{"webhook.approvers", d.Webhook.Approvers, "on_call"},
		{"webhook.on_manual_resolve", d.Webhook.OnManualResolve, "ignore"},
		{"webhook.replay_window", d.Webhook.ReplayWindow, 72 * time.Hour},
		{"webhook.tls.allowed_client_cns", fmt.Sprint(d.Webhook.TLS.AllowedClientCNs), "[webhooks.pagerduty.com webhooks.eu.pagerduty.com]"},
		{"fake listen_addr", FakeDefaults().Vendor.(*FakeSettings).ListenAddr, "127.0.0.1:0"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultsAreFreshCopies(t *testing.T) {
	d := Defaults()
	d.Webhook.TLS.AllowedClientCNs[0] = "changed"
	if got := Defaults().Webhook.TLS.AllowedClientCNs[0]; got != "webhooks.pagerduty.com" {
		t.Errorf("Defaults() shares state between calls: got %q", got)
	}
}

func TestWebhookDefaultsInsideBlock(t *testing.T) {
	got := mustParse(t, minimal+`
webhook {
  signing_secrets = ["s1", "s2"]
  tls {
    cert_file = "/c"
    key_file  = "/k"
  }
}
`)
	want := Defaults().Webhook
	want.SigningSecrets = []Secret{"s1", "s2"}
	want.TLS.CertFile, want.TLS.KeyFile = "/c", "/k"
	if diff := cmp.Diff(want, got.Webhook); diff != "" {
		t.Errorf("webhook mismatch (-want +got):\n%s", diff)
	}
}

func TestFullValues(t *testing.T) {
	got := mustParse(t, `
workers = 8
teleport {
  addr          = "auth.example.com:3025"
  client_crt    = "/c.crt"
  client_key    = "/c.key"
  root_cas      = "/c.cas"
  approval_mode = "set_state"
  dial_timeout  = "5s"
}
pager "pagerduty" {
  api_key                = "k"
  user_email             = "bot@example.com"
  api_endpoint           = "http://127.0.0.1:8080"
  default_notify_service = "Teleport Access Requests"
  urgency                = "low"
  priority               = "P2"
  rate_limit             = 960
  request_timeout        = "2s"
  cache_ttl              = "1h30m"
}
auto_approve {
  enabled                 = false
  max_escalation_level    = 2
  require_active_incident = true
  bind_to_shift           = true
  allowed_roles           = ["dba"]
  denied_roles            = ["admin"]
  user_map                = { octocat = "octo@example.com" }
}
store "bbolt" {
  path      = "/tmp/state.db"
  retention = "24h"
}
webhook {
  listen_addr          = "127.0.0.1:9443"
  approvers            = "any"
  on_manual_resolve    = "deny"
  approve_workflow     = "Approve"
  deny_workflow        = "Deny"
  replay_window        = "48h"
  shared_secret_header = "X-Secret"
  shared_secret        = "hs"
  basic_auth {
    user     = "pd"
    password = "pw"
  }
  tls {
    cert_file          = "/c"
    key_file           = "/k"
    client_ca_file     = "/ca"
    allowed_client_cns = ["hooks.example.com"]
  }
}
log {
  output   = "/var/log/pagergate.log"
  severity = "DEBUG"
  format   = "json"
}
metrics {
  listen_addr = ":9100"
}
memory {
  release_when_idle = false
  idle_after        = "1m"
}
`)
	if got.Workers != 8 || got.Teleport.ApprovalMode != "set_state" || got.Teleport.DialTimeout != 5*time.Second {
		t.Errorf("workers/teleport = %d %q %v", got.Workers, got.Teleport.ApprovalMode, got.Teleport.DialTimeout)
	}
	wantAuto := AutoApproveSettings{
		Enabled: false, MaxEscalationLevel: 2, RequireActiveIncident: true, BindToShift: true,
		AllowedRoles: []string{"dba"}, DeniedRoles: []string{"admin"},
		UserMap: map[string]string{"octocat": "octo@example.com"},
	}
	if diff := cmp.Diff(wantAuto, got.AutoApprove); diff != "" {
		t.Errorf("auto_approve (-want +got):\n%s", diff)
	}
	// The one warning: bind_to_shift binds nothing with enabled = false.
	if ws := otherWarnings(got.Warnings); len(ws) != 1 || !strings.Contains(ws[0], "bind_to_shift without auto-approval") {
		t.Errorf("warnings = %q, want only bind_to_shift's (past the literal secrets)", got.Warnings)
	}
	if pd := pdOf(got); pd.APIEndpoint != "http://127.0.0.1:8080" || pd.RateLimit != 960 || pd.CacheTTL != 90*time.Minute ||
		got.Pager.Urgency != "low" || got.Pager.Priority != "P2" || got.Pager.DefaultNotifyService != "Teleport Access Requests" {
		t.Errorf("pager = %+v, %+v", got.Pager, pd)
	}
	if got.Store.Retention != 24*time.Hour || got.Store.Path != "/tmp/state.db" {
		t.Errorf("store = %+v", got.Store)
	}
	w := got.Webhook
	if w.Approvers != "any" || w.OnManualResolve != "deny" || w.ReplayWindow != 48*time.Hour ||
		w.BasicAuth == nil || w.BasicAuth.Password.Value() != "pw" || w.SharedSecret.Value() != "hs" ||
		fmt.Sprint(w.TLS.AllowedClientCNs) != "[hooks.example.com]" {
		t.Errorf("webhook = %+v", w)
	}
	if got.Log != (LogSettings{Output: "/var/log/pagergate.log", Severity: "debug", Format: "json"}) {
		t.Errorf("log = %+v", got.Log)
	}
	if got.Metrics.ListenAddr != ":9100" {
		t.Errorf("metrics = %+v", got.Metrics)
	}
	if got.Memory != (MemorySettings{ReleaseWhenIdle: false, IdleAfter: time.Minute}) {
		t.Errorf("memory = %+v", got.Memory)
	}
}

func TestFakePager(t *testing.T) {
	got := mustParse(t, `
teleport {
  addr     = "localhost:3025"
  identity = "/id"
}
pager "fake" {
  user "alice@example.com" {
    name = "Alice"
  }
  service "Teleport Access Requests" {
    id = "PTELEPO"
  }
  on_call {
    user    = "alice@example.com"
    service = "PTELEPO"
  }
  on_call {
    user    = "ALICE@example.com"
    service = "teleport access requests"
    level   = 2
  }
}
`)
	want := FakeDefaults()
	fake := want.Vendor.(*FakeSettings)
	fake.Users = []FakeUser{{Email: "alice@example.com", Name: "Alice"}}
	fake.Services = []FakeService{{Name: "Teleport Access Requests", ID: "PTELEPO"}}
	fake.OnCalls = []FakeOnCall{
		{User: "alice@example.com", Service: "PTELEPO", Level: 1},
		{User: "ALICE@example.com", Service: "teleport access requests", Level: 2},
	}
	if diff := cmp.Diff(want, got.Pager); diff != "" {
		t.Errorf("fake pager mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.hcl")
	_, err := Load(path)
	var de *DiagError
	if !errors.As(err, &de) {
		t.Fatalf("Load(missing) error = %T %v, want *DiagError", err, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error does not wrap fs.ErrNotExist: %v", err)
	}
	if !IsDiagError(err) {
		t.Errorf("IsDiagError(%v) = false", err)
	}
	var buf bytes.Buffer
	if err := de.Write(&buf, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Cannot read configuration file") || !strings.Contains(buf.String(), "nope.hcl") {
		t.Errorf("Write() = %q", buf.String())
	}
	if want := "`pagergate configure > " + path + "` writes"; !strings.Contains(buf.String(), want) {
		t.Errorf("Write() = %q, want the way to write a file (%q)", buf.String(), want)
	}
	// A file that exists but cannot be read gets no such advice.
	_, err = Load(t.TempDir())
	if err == nil || strings.Contains(err.Error(), "pagergate configure") {
		t.Errorf("Load(directory) = %v, want an error without the configure advice", err)
	}
}

// Several mistakes are reported from the top of the file down, whichever
// block is decoded first (the webhook's used to come before the pager's).
func TestDiagnosticsInFileOrder(t *testing.T) {
	src := strings.Replace(minimal, `api_key    = "k"`, `api_key    = env("PAGERGATE_TEST_UNSET_A")`, 1) + `
webhook {
  listen_addr     = "127.0.0.1:8443"
  signing_secrets = [env("PAGERGATE_TEST_UNSET_B")]
  tls {
    cert_file = "a.crt"
    key_file  = "a.key"
  }
}
`
	_, err := Parse([]byte(src), "order.hcl")
	de := diagError(t, err)
	var lines []int
	for _, d := range de.Diags {
		if d.Subject != nil {
			lines = append(lines, d.Subject.Start.Line)
		}
	}
	if len(lines) < 2 || !slices.IsSorted(lines) {
		t.Errorf("diagnostics at lines %v, want two or more in file order:\n%v", lines, err)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse([]byte("teleport {\n  addr = \n}\n"), "bad.hcl")
	de := diagError(t, err)
	var buf bytes.Buffer
	_ = de.Write(&buf, false)
	if !strings.Contains(buf.String(), "bad.hcl:") || !strings.Contains(buf.String(), "Error:") {
		t.Errorf("Write() = %q, want a located error", buf.String())
	}
}

func TestWriteColor(t *testing.T) {
	_, err := Parse([]byte(minimal+"workers = 0\n"), "bad.hcl")
	de := diagError(t, err)
	var plain, color bytes.Buffer
	_ = de.Write(&plain, false)
	_ = de.Write(&color, true)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("Write(color=false) has escape codes: %q", plain.String())
	}
	if !strings.Contains(color.String(), "\x1b[31m") {
		t.Errorf("Write(color=true) has no red: %q", color.String())
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse([]byte(minimal+"workers = 0\n"), "bad.hcl")
	if got, want := err.Error(), "bad.hcl:10:11: Invalid value; workers must be between 1 and 1024; got 0."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSecretRedacted(t *testing.T) {
	cfg := mustParse(t, strings.Replace(minimal, `api_key    = "k"`, `api_key    = "very-secret-token"`, 1))
	for _, s := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", *pdOf(cfg)), fmt.Sprintf("%#v", *pdOf(cfg)), fmt.Sprint(pdOf(cfg).APIKey),
	} {
		if strings.Contains(s, "very-secret-token") {
			t.Errorf("formatted config shows the secret: %s", s)
		}
	}
	if b, _ := pdOf(cfg).APIKey.MarshalText(); string(b) != "[redacted]" {
		t.Errorf("MarshalText = %q", b)
	}
	if pdOf(cfg).APIKey.Value() != "very-secret-token" {
		t.Errorf("Value() = %q", pdOf(cfg).APIKey.Value())
	}
	if Secret("").String() != "" {
		t.Errorf("empty secret prints %q", Secret("").String())
	}
}

func TestRestartNeeded(t *testing.T) {
	base := minimal + `
webhook {
  signing_secrets = ["one"]
  tls {
    cert_file = "/c"
    key_file  = "/k"
  }
}
log {
  severity = "info"
}
`
	old := mustParse(t, base)
	reload := mustParse(t, strings.NewReplacer(
		`"one"`, `"one", "two"`,
		`severity = "info"`, `severity = "debug"`,
		`identity = "/var/lib/pagergate/identity"`, `identity = "/var/lib/pagergate/identity2"`,
	).Replace(base))
	if got := old.RestartNeeded(reload); len(got) != 0 {
		t.Errorf("RestartNeeded(reloadable changes) = %v, want none", got)
	}
	restart := mustParse(t, strings.NewReplacer(
		`addr     = "teleport.example.com:443"`, `addr     = "teleport2.example.com:443"`,
		`cert_file = "/c"`, `cert_file = "/c2"`,
	).Replace(base)+"workers = 4\nmemory {\n  idle_after = \"1m\"\n}\n")
	if diff := cmp.Diff([]string{"workers", "teleport", "webhook", "memory"}, old.RestartNeeded(restart)); diff != "" {
		t.Errorf("RestartNeeded (-want +got):\n%s", diff)
	}
}

func diagError(t *testing.T, err error) *DiagError {
	t.Helper()
	var de *DiagError
	if !errors.As(err, &de) {
		t.Fatalf("error = %T %v, want *DiagError", err, err)
	}
	return de
}

func TestMain(m *testing.M) {
	// Tests set the variables they need; keep the ones Annotated and the
	// migrations refer to from leaking in from the environment.
	for _, k := range []string{"PAGERDUTY_API_KEY", "PAGERDUTY_WEBHOOK_SECRET", "PAGERGATE_WEBHOOK_PASSWORD", "PAGERGATE_TEST_UNSET"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// pdOf returns the PagerDuty settings of a pager "pagerduty" config.
func pdOf(c *Config) *PagerDutySettings { return c.Pager.Vendor.(*PagerDutySettings) }
