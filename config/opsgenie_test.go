package config

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

const opsgenieOK = `pager "opsgenie" {
  api_key = "og-key"
}
`

// opsgenieWebhook is a webhook block Opsgenie can deliver to.
const opsgenieWebhookOK = `webhook {
  public_addr = "https://pagergate.example.com:8443"
  basic_auth {
    user     = "opsgenie"
    password = "pw"
  }
` + tlsOK + "}\n"

func TestOpsgenieDefaults(t *testing.T) {
	cfg := mustParse(t, teleportOK+opsgenieOK)
	want := PagerSettings{
		Kind: PagerOpsgenie, Name: "Opsgenie", PluginName: "opsgenie",
		NotifyServiceAnnotation: "teleport.dev/notify-services",
		NotifyTargetAnnotations: []TargetAnnotation{{Annotation: "teleport.dev/teams", Prefix: "team:"}},
		ServicesAnnotation:      "teleport.dev/schedules",
		Vendor: &OpsgenieSettings{APIKey: "og-key", APIURL: "https://api.opsgenie.com", AlertUser: "pagergate", Source: "pagergate",
			AliasPrefix: "teleport-access-request/", ApproveAction: "Approve access", DenyAction: "Deny access",
			RateLimit: 600, RequestTimeout: 10 * time.Second, CacheTTL: 10 * time.Minute},
	}
	if diff := cmp.Diff(want, cfg.Pager); diff != "" {
		t.Errorf("pager \"opsgenie\" defaults (-want +got):\n%s", diff)
	}
}

func TestOpsgenieEveryKey(t *testing.T) {
	cfg := mustParse(t, teleportOK+`pager "opsgenie" {
  api_key = "og-key"
  api_url = "https://api.eu.opsgenie.com/"
  web_url = "https://acme.app.opsgenie.com"
  notify_service_annotation = "notify"
  teams_annotation = "teams"
  services_annotation = "oncall"
  default_notify_service = "team:ops"
  priority = "P2"
  alert_user = "bot@example.com"
  source = "teleport"
  tags = ["access"]
  alias_prefix = "acme/"
  approve_action = "Yes"
  deny_action = "No"
  rate_limit = 100
  request_timeout = "5s"
  cache_ttl = "1m"
}
`+opsgenieWebhookOK)
	p := cfg.Pager
	og := p.Vendor.(*OpsgenieSettings)
	if p.NotifyServiceAnnotation != "notify" || p.ServicesAnnotation != "oncall" || p.DefaultNotifyService != "team:ops" || p.Priority != "P2" ||
		!cmp.Equal(p.NotifyTargetAnnotations, []TargetAnnotation{{"teams", "team:"}}) {
		t.Errorf("shared keys = %+v", p)
	}
	want := &OpsgenieSettings{APIKey: "og-key", APIURL: "https://api.eu.opsgenie.com", WebURL: "https://acme.app.opsgenie.com",
		AlertUser: "bot@example.com", Source: "teleport", Tags: []string{"access"}, AliasPrefix: "acme/",
		ApproveAction: "Yes", DenyAction: "No", RateLimit: 100, RequestTimeout: 5 * time.Second, CacheTTL: time.Minute}
	if diff := cmp.Diff(want, og); diff != "" {
		t.Errorf("opsgenie settings (-want +got):\n%s", diff)
	}
}

func TestOpsgenieInvalid(t *testing.T) {
	ogWith := func(extra string) string { return "pager \"opsgenie\" {\n  api_key = \"k\"\n" + extra + "}\n" }
	tests := []struct {
		name, src, summary, detail, at string
	}{
		{"no key", teleportOK + "pager \"opsgenie\" {\n}\n", "Missing required argument", "pager.opsgenie.api_key is required", `pager "opsgenie"`},
		{"plain http", teleportOK + ogWith("  api_url = \"http://api.opsgenie.com\"\n"), "Invalid URL", "pager.opsgenie.api_url must be an https URL", "api_url"},
		{"priority", teleportOK + ogWith("  priority = \"high\"\n"), "Invalid value", `pager.opsgenie.priority must be one of "P1"`, "priority"},
		{"same actions", teleportOK + ogWith("  approve_action = \"Go\"\n  deny_action = \"go\"\n"), "Same action twice", "must differ", "deny_action"},
		{"built-in approve", teleportOK + ogWith("  approve_action = \"close\"\n"), "Built-in action name", `pager.opsgenie.approve_action "close" is the name`, "approve_action"},
		{"built-in deny", teleportOK + ogWith("  deny_action = \"Acknowledge\"\n"), "Built-in action name", `pager.opsgenie.deny_action "Acknowledge"`, "deny_action"},
		{"empty action", teleportOK + ogWith("  deny_action = \"\"\n"), "Empty value", "pager.opsgenie.deny_action must not be empty", "deny_action"},
		{"fake key", teleportOK + ogWith("  listen_addr = \"127.0.0.1:0\"\n"), "Unexpected argument for Opsgenie", `belongs to pager "opsgenie-fake" only`, "listen_addr"},
		{"pagerduty key", teleportOK + ogWith("  user_email = \"a@b.c\"\n"), "Unsupported argument", `"user_email" is not expected here`, "user_email"},
		{"rate limit", teleportOK + ogWith("  rate_limit = 0\n"), "Invalid value", "pager.opsgenie.rate_limit must be between 1", "rate_limit"},
		{"signing secrets", teleportOK + opsgenieOK + webhookWith(""), "Not used with Opsgenie", "Opsgenie signs no webhook delivery", "signing_secrets"},
		{"provision", teleportOK + opsgenieOK + strings.Replace(opsgenieWebhookOK, "  basic_auth", "  provision_actions = true\n  basic_auth", 1),
			"Not used with Opsgenie", "webhook.provision_actions", "provision_actions"},
		{"workflow", teleportOK + opsgenieOK + strings.Replace(opsgenieWebhookOK, "  basic_auth", "  approve_workflow = \"Approve\"\n  basic_auth", 1),
			"Not used with Opsgenie", "webhook.approve_workflow: incident workflows are PagerDuty's", "approve_workflow"},
		{"mutual TLS", teleportOK + opsgenieOK + strings.Replace(opsgenieWebhookOK, "    key_file  = \"/k\"\n", "    key_file  = \"/k\"\n    client_ca_file = \"/ca\"\n", 1),
			"Not used with Opsgenie", "presents no client certificate", "client_ca_file"},
		{"bind to shift", teleportOK + opsgenieOK + "auto_approve {\n  bind_to_shift = true\n}\n",
			"Not used with Opsgenie", "auto_approve.bind_to_shift: Opsgenie's on-call answer has no shift end", "bind_to_shift"},
		{"fake bind to shift", teleportOK + "pager \"opsgenie-fake\" {\n}\nauto_approve {\n  enabled = true\n  bind_to_shift = true\n}\n",
			"Not used with Opsgenie", "auto_approve.bind_to_shift", "bind_to_shift"},
		{"fake api url", teleportOK + "pager \"opsgenie-fake\" {\n  api_url = \"https://api.opsgenie.com\"\n}\n",
			"Unexpected argument for the fake Opsgenie", "pager.opsgenie-fake.api_url is not used", "api_url"},
		{"fake unknown schedule", teleportOK + "pager \"opsgenie-fake\" {\n  user \"a@example.com\" {\n  }\n  on_call {\n    schedule = \"nope\"\n    user = \"a@example.com\"\n  }\n}\n",
			"Unknown schedule", `names schedule "nope"`, "on_call {"},
		{"fake on_call both", teleportOK + "pager \"opsgenie-fake\" {\n  on_call {\n    schedule = \"s\"\n    user = \"a@example.com\"\n    team = \"t\"\n  }\n}\n",
			"Invalid on_call block", "exactly one of user or team", "on_call {"},
		{"fake user not an email", teleportOK + "pager \"opsgenie-fake\" {\n  user \"alice\" {\n  }\n}\n",
			"Invalid email address", `pager.opsgenie-fake.user "alice"`, `user "alice"`},
		{"fake duplicate team", teleportOK + "pager \"opsgenie-fake\" {\n  team \"ops\" {\n  }\n  team \"OPS\" {\n  }\n}\n",
			"Duplicate team", `pager.opsgenie-fake.team "OPS" is empty or declared twice`, `team "OPS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			de := diagError(t, mustFail(t, tt.src))
			d := de.Diags[0]
			if d.Summary != tt.summary || !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("first diagnostic = %q / %q\nwant %q / containing %q\nall: %v", d.Summary, d.Detail, tt.summary, tt.detail, de)
			}
			assertWritten(t, de, tt.src, "test.hcl", tt.at)
		})
	}
}

func TestOpsgenieFake(t *testing.T) {
	cfg := mustParse(t, teleportOK+`pager "opsgenie-fake" {
  default_notify_service = "ops_schedule"
  user "alice@example.com" {
    full_name = "Alice"
  }
  team "ops" {
    members = ["alice@example.com"]
  }
  schedule "ops_schedule" {
    owner_team = "ops"
  }
  on_call {
    schedule = "ops_schedule"
    team     = "ops"
  }
}
`+opsgenieWebhookOK)
	f := cfg.Pager.Vendor.(*OpsgenieFakeSettings)
	want := &OpsgenieFakeSettings{
		Opsgenie: OpsgenieSettings{APIKey: "fake-genie-key", AlertUser: "pagergate", Source: "pagergate", AliasPrefix: "teleport-access-request/",
			ApproveAction: "Approve access", DenyAction: "Deny access", RateLimit: 600, RequestTimeout: 10 * time.Second, CacheTTL: 10 * time.Minute},
		ListenAddr: "127.0.0.1:0",
		Users:      []OpsgenieFakeUser{{Username: "alice@example.com", FullName: "Alice"}},
		Teams:      []OpsgenieFakeTeam{{Name: "ops", Members: []string{"alice@example.com"}}},
		Schedules:  []OpsgenieFakeSchedule{{Name: "ops_schedule", OwnerTeam: "ops"}},
		OnCalls:    []OpsgenieFakeOnCall{{Schedule: "ops_schedule", Team: "ops"}},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("opsgenie-fake settings (-want +got):\n%s", diff)
	}
	if cfg.Pager.Name != "Opsgenie" || cfg.Pager.PluginName != "opsgenie" || cfg.Pager.NotifyServiceAnnotation != "teleport.dev/notify-services" {
		t.Errorf("the fake is not named as Opsgenie: %+v", cfg.Pager)
	}
}

// The commented Opsgenie blocks of `pagergate configure` parse once
// uncommented, and show every key of both kinds.
func TestAnnotatedOpsgenieBlocks(t *testing.T) {
	text := Annotated()
	for _, kind := range []string{PagerOpsgenie, PagerOpsgenieFake} {
		start := strings.Index(text, "# pager \""+kind+"\" {")
		if start < 0 {
			t.Fatalf("configure text has no %s example", kind)
		}
		end := start + strings.Index(text[start:], "\n# }\n") + len("\n# }\n")
		block := regexp.MustCompile(`(?m)^# ?`).ReplaceAllString(text[start:end], "")
		t.Setenv("OPSGENIE_API_KEY", "og-key")
		cfg, err := Parse([]byte(teleportOK+block+opsgenieWebhookOK), "annotated.hcl")
		if err != nil {
			t.Fatalf("%s example does not parse: %v\n%s", kind, err, block)
		}
		if cfg.Pager.Kind != kind {
			t.Errorf("example kind %q, want %q", cfg.Pager.Kind, kind)
		}
	}
}

// bind_to_shift is refused with Opsgenie in the pager block too (the
// layout before the top-level auto_approve), and false is accepted.
func TestOpsgenieBindToShift(t *testing.T) {
	inside := teleportOK + "pager \"opsgenie\" {\n  api_key = \"k\"\n  auto_approve {\n    bind_to_shift = true\n  }\n}\n"
	de := diagError(t, mustFail(t, inside))
	found := false
	for _, d := range de.Diags {
		found = found || d.Severity == hcl.DiagError && strings.Contains(d.Detail, "pager.opsgenie.auto_approve.bind_to_shift: Opsgenie's on-call answer has no shift end")
	}
	if !found {
		t.Errorf("diagnostics = %v, want bind_to_shift refused inside the pager block", de)
	}
	cfg := mustParse(t, teleportOK+opsgenieOK+"auto_approve {\n  bind_to_shift = false\n}\n")
	if cfg.AutoApprove.BindToShift || !cfg.AutoApprove.Enabled {
		t.Errorf("auto_approve = %+v, want enabled and not bound", cfg.AutoApprove)
	}
}
