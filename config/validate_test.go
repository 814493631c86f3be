package config

import (
	"fmt"
	"strings"
	"testing"
)

const (
	teleportOK = `teleport {
  addr     = "teleport.example.com:443"
  identity = "/var/lib/pagergate/identity"
}
`
	pagerOK = `pager "pagerduty" {
  api_key    = "k"
  user_email = "bot@example.com"
}
`
	tlsOK = `  tls {
    cert_file = "/c"
    key_file  = "/k"
  }
`
)

// webhookWith is a valid webhook block plus extra lines.
func webhookWith(extra string) string {
	return "webhook {\n  signing_secrets = [\"s\"]\n" + extra + tlsOK + "}\n"
}

func pagerWith(extra string) string {
	return "pager \"pagerduty\" {\n  api_key    = \"k\"\n  user_email = \"bot@example.com\"\n" + extra + "}\n"
}

func teleportWith(body string) string {
	return "teleport {\n" + body + "}\n"
}

// TestInvalid has one case per class of bad input. Each asserts the first
// diagnostic's summary, that its detail names the key path, and that the
// text output locates it (file:line) and shows the offending line.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		summary string
		detail  string // substring of the detail
		at      string // substring of the offending line
	}{
		{
			name:    "unknown key",
			src:     teleportWith("  addr = \"t.example.com:443\"\n  identity = \"/id\"\n  colour = \"blue\"\n") + pagerOK,
			summary: "Unsupported argument", detail: `teleport.colour: An argument named "colour" is not expected here.`, at: "colour",
		},
		{
			name:    "unknown block",
			src:     teleportOK + pagerOK + "slack {\n  token = \"x\"\n}\n",
			summary: "Unsupported block type", detail: `Blocks of type "slack" are not expected here.`, at: "slack {",
		},
		{
			name:    "unknown key in nested block",
			src:     teleportOK + pagerOK + "auto_approve {\n  enable = true\n}\n",
			summary: "Unsupported argument", detail: `auto_approve.enable: An argument named "enable" is not expected here. Did you mean "enabled"?`, at: "enable =",
		},
		{
			name:    "missing teleport block",
			src:     pagerOK,
			summary: "Missing teleport block", detail: `A teleport block is required.`, at: `pager "pagerduty" {`,
		},
		{
			name:    "wrong value type",
			src:     teleportOK + pagerWith("  rate_limit = \"fast\"\n"),
			summary: "Unsuitable value type", detail: "pager.pagerduty.rate_limit", at: "rate_limit",
		},
		{
			name:    "no pager",
			src:     teleportOK,
			summary: "Missing pager block", detail: `pager "pagerduty"`, at: "teleport {",
		},
		{
			name:    "two pagers",
			src:     teleportOK + pagerOK + "pager \"fake\" {\n}\n",
			summary: "Duplicate pager block", detail: "the first is at test.hcl:5:1", at: `pager "fake" {`,
		},
		{
			name:    "pager kind",
			src:     teleportOK + "pager \"pagertree\" {\n  api_key = \"k\"\n}\n",
			summary: "Unsupported pager kind", detail: `pager "pagertree": the kind must be one of`, at: `pager "pagertree"`,
		},
		{
			name:    "two stores",
			src:     teleportOK + pagerOK + "store \"bbolt\" {\n}\nstore \"bbolt\" {\n  path = \"/x\"\n}\n",
			summary: "Duplicate store block", detail: "At most one store block", at: `store "bbolt" {`,
		},
		{
			name:    "store kind",
			src:     teleportOK + pagerOK + "store \"redis\" {\n}\n",
			summary: "Unsupported store kind", detail: `store "redis": the only kind is "bbolt"`, at: `store "redis"`,
		},
		{
			name:    "teleport addr without port",
			src:     teleportWith("  addr = \"teleport.example.com\"\n  identity = \"/id\"\n") + pagerOK,
			summary: "Invalid Teleport address", detail: "teleport.addr must be host:port", at: `addr = "teleport.example.com"`,
		},
		{
			name:    "teleport addr without host",
			src:     teleportWith("  addr = \":3025\"\n  identity = \"/id\"\n") + pagerOK,
			summary: "Invalid Teleport address", detail: "missing host", at: `addr = ":3025"`,
		},
		{
			name:    "identity and client files",
			src:     teleportWith("  addr = \"t.example.com:443\"\n  identity = \"/id\"\n  client_crt = \"/c\"\n  client_key = \"/k\"\n  root_cas = \"/r\"\n") + pagerOK,
			summary: "Conflicting Teleport credentials", detail: "teleport.identity and teleport.client_crt are exclusive", at: "client_crt",
		},
		{
			name:    "client files incomplete",
			src:     teleportWith("  addr = \"t.example.com:443\"\n  client_key = \"/k\"\n") + pagerOK,
			summary: "Incomplete Teleport client certificate", detail: "missing teleport.client_crt, teleport.root_cas", at: "client_key",
		},
		{
			name:    "no credentials",
			src:     teleportWith("  addr = \"t.example.com:443\"\n") + pagerOK,
			summary: "Missing Teleport credentials", detail: "teleport needs identity", at: "teleport {",
		},
		{
			name:    "refresh without identity",
			src:     teleportWith("  addr = \"t.example.com:443\"\n  client_crt = \"/c\"\n  client_key = \"/k\"\n  root_cas = \"/r\"\n  refresh_identity = true\n") + pagerOK,
			summary: "Nothing to refresh", detail: "teleport.refresh_identity needs teleport.identity", at: "refresh_identity",
		},
		{
			name:    "approval mode",
			src:     teleportWith("  addr = \"t.example.com:443\"\n  identity = \"/id\"\n  approval_mode = \"vote\"\n") + pagerOK,
			summary: "Invalid value", detail: `teleport.approval_mode must be one of "review", "set_state", "auto"; got "vote"`, at: "approval_mode",
		},
		{
			name:    "missing api key",
			src:     teleportOK + "pager \"pagerduty\" {\n  user_email = \"bot@example.com\"\n}\n",
			summary: "Missing required argument", detail: `pager.pagerduty.api_key is required`, at: `pager "pagerduty" {`,
		},
		{
			name:    "missing user email",
			src:     teleportOK + "pager \"pagerduty\" {\n  api_key = \"k\"\n}\n",
			summary: "Missing required argument", detail: `pager.pagerduty.user_email is required`, at: `pager "pagerduty" {`,
		},
		{
			name:    "user email shape",
			src:     teleportOK + "pager \"pagerduty\" {\n  api_key = \"k\"\n  user_email = \"[email protected]\"\n}\n",
			summary: "Invalid email address", detail: `pager.pagerduty.user_email must be an email address`, at: "user_email",
		},
		{
			name:    "fake key in pagerduty",
			src:     teleportOK + pagerWith("  listen_addr = \"127.0.0.1:0\"\n"),
			summary: "Unexpected argument for PagerDuty", detail: `pager.pagerduty.listen_addr belongs to pager "fake" only`, at: "listen_addr",
		},
		{
			name:    "fake block in pagerduty",
			src:     teleportOK + pagerWith("  on_call {\n    user = \"a@example.com\"\n    service = \"S\"\n  }\n"),
			summary: "Unexpected block for PagerDuty", detail: `pager.pagerduty.on_call belongs to pager "fake" only`, at: "on_call {",
		},
		{
			name:    "api endpoint plain http",
			src:     teleportOK + pagerWith("  api_endpoint = \"http://api.pagerduty.com\"\n"),
			summary: "Insecure API endpoint", detail: `pager.pagerduty.api_endpoint must use https`, at: "api_endpoint",
		},
		{
			name:    "api endpoint not a url",
			src:     teleportOK + pagerWith("  api_endpoint = \"api.pagerduty.com\"\n"),
			summary: "Invalid API endpoint", detail: `pager.pagerduty.api_endpoint must be an https URL`, at: "api_endpoint",
		},
		{
			name:    "urgency",
			src:     teleportOK + pagerWith("  urgency = \"medium\"\n"),
			summary: "Invalid value", detail: `pager.pagerduty.urgency must be one of "high", "low"; got "medium"`, at: "urgency",
		},
		{
			name:    "rate limit zero",
			src:     teleportOK + pagerWith("  rate_limit = 0\n"),
			summary: "Invalid value", detail: `pager.pagerduty.rate_limit must be between 1 and 100000`, at: "rate_limit",
		},
		{
			name:    "rate limit above PagerDuty's",
			src:     teleportOK + pagerWith("  rate_limit = 100001\n"),
			summary: "Invalid value", detail: `got 100001`, at: "rate_limit",
		},
		{
			name:    "duration syntax",
			src:     teleportOK + pagerWith("  cache_ttl = \"10 minutes\"\n"),
			summary: "Invalid duration", detail: `pager.pagerduty.cache_ttl must be a duration`, at: "cache_ttl",
		},
		{
			name:    "duration zero",
			src:     teleportWith("  addr = \"t.example.com:443\"\n  identity = \"/id\"\n  dial_timeout = \"0s\"\n") + pagerOK,
			summary: "Invalid duration", detail: `teleport.dial_timeout must be positive`, at: "dial_timeout",
		},
		{
			name:    "duration negative",
			src:     teleportOK + pagerOK + "store \"bbolt\" {\n  retention = \"-1h\"\n}\n",
			summary: "Invalid duration", detail: `store.bbolt.retention must be positive`, at: "retention",
		},
		{
			name:    "memory idle spell",
			src:     teleportOK + pagerOK + "memory {\n  idle_after = \"5\"\n}\n",
			summary: "Invalid duration", detail: `memory.idle_after must be a duration`, at: "idle_after",
		},
		{
			name:    "memory idle spell too short",
			src:     teleportOK + pagerOK + "memory {\n  idle_after = \"500ms\"\n}\n",
			summary: "Idle spell too short", detail: `memory.idle_after must be at least "1s"`, at: "idle_after",
		},
		{
			name:    "memory release switch",
			src:     teleportOK + pagerOK + "memory {\n  release_when_idle = \"sometimes\"\n}\n",
			summary: "Unsuitable value type", detail: `memory.release_when_idle: Unsuitable value: a bool is required`, at: "release_when_idle",
		},
		{
			name:    "max escalation level",
			src:     teleportOK + pagerOK + "auto_approve {\n  max_escalation_level = -1\n}\n",
			summary: "Invalid value", detail: `auto_approve.max_escalation_level must be 0 (any level) or more`, at: "max_escalation_level",
		},
		{
			name:    "overlapping roles",
			src:     teleportOK + pagerOK + "auto_approve {\n  allowed_roles = [\"dba\", \"admin\"]\n  denied_roles = [\"admin\"]\n}\n",
			summary: "Overlapping roles", detail: `Role "admin" is in both auto_approve.allowed_roles and auto_approve.denied_roles`, at: "denied_roles",
		},
		{
			name:    "bad role regex",
			src:     teleportOK + pagerOK + "auto_approve {\n  denied_roles = [\"^admin-($\"]\n}\n",
			summary: "Invalid role pattern", detail: `auto_approve.denied_roles entry "^admin-($" is not a valid regular expression`, at: "denied_roles",
		},
		{
			name:    "user_map keys differing only by case",
			src:     teleportOK + pagerOK + "auto_approve {\n  user_map = {\n    octocat = \"a@example.com\"\n    OctoCat = \"b@example.com\"\n  }\n}\n",
			summary: "Ambiguous user_map keys", detail: `auto_approve.user_map has keys "OctoCat" and "octocat"`, at: "user_map",
		},
		{
			name:    "webhook without tls",
			src:     teleportOK + pagerOK + "webhook {\n  signing_secrets = [\"s\"]\n}\n",
			summary: "Missing TLS block", detail: `webhook needs a tls block with cert_file and key_file`, at: "webhook {",
		},
		{
			name:    "webhook tls without key",
			src:     teleportOK + pagerOK + "webhook {\n  signing_secrets = [\"s\"]\n  tls {\n    cert_file = \"/c\"\n  }\n}\n",
			summary: "Missing required argument", detail: `webhook.tls.key_file: The argument "key_file" is required`, at: "tls {",
		},
		{
			name:    "webhook without auth",
			src:     teleportOK + pagerOK + "webhook {\n" + tlsOK + "}\n",
			summary: "Unauthenticated webhook", detail: `webhook needs at least one authentication`, at: "webhook {",
		},
		{
			name:    "webhook empty signing secret",
			src:     teleportOK + pagerOK + "webhook {\n  signing_secrets = [\"\"]\n" + tlsOK + "}\n",
			summary: "Empty value", detail: `webhook.signing_secrets must not hold an empty secret`, at: "signing_secrets",
		},
		{
			name:    "shared secret header alone",
			src:     teleportOK + pagerOK + webhookWith("  shared_secret_header = \"X-Secret\"\n"),
			summary: "Incomplete shared secret", detail: `webhook.shared_secret_header needs webhook.shared_secret`, at: "shared_secret_header",
		},
		{
			name:    "basic auth empty password",
			src:     teleportOK + pagerOK + webhookWith("  basic_auth {\n    user = \"pd\"\n    password = \"\"\n  }\n"),
			summary: "Empty value", detail: `webhook.basic_auth.password must not be empty`, at: "password",
		},
		{
			name:    "approvers",
			src:     teleportOK + pagerOK + webhookWith("  approvers = \"everyone\"\n"),
			summary: "Invalid value", detail: `webhook.approvers must be one of "on_call", "any"; got "everyone"`, at: "approvers",
		},
		{
			name:    "on manual resolve",
			src:     teleportOK + pagerOK + webhookWith("  on_manual_resolve = \"approve\"\n"),
			summary: "Invalid value", detail: `webhook.on_manual_resolve must be one of "ignore", "deny"; got "approve"`, at: "on_manual_resolve",
		},
		{
			name:    "webhook listen address",
			src:     teleportOK + pagerOK + webhookWith("  listen_addr = \"8443\"\n"),
			summary: "Invalid listen address", detail: `webhook.listen_addr must be [host]:port`, at: "listen_addr",
		},
		{
			name:    "public addr not https",
			src:     teleportOK + pagerOK + webhookWith("  public_addr = \"http://pagergate.example.com\"\n"),
			summary: "Invalid public address", detail: `webhook.public_addr must be the https URL`, at: "public_addr",
		},
		{
			name:    "provision without public addr",
			src:     teleportOK + pagerOK + webhookWith("  provision_actions = true\n"),
			summary: "Missing public address", detail: `webhook.provision_actions needs webhook.public_addr`, at: "provision_actions",
		},
		{
			name:    "insecure mode next to signing secrets",
			src:     teleportOK + pagerOK + webhookWith("  insecure_no_auth = true\n"),
			summary: "Insecure mode next to authentication", detail: `webhook.insecure_no_auth = true accepts unauthenticated deliveries`, at: "insecure_no_auth",
		},
		{
			name:    "insecure mode next to basic auth",
			src:     teleportOK + pagerOK + "webhook {\n  insecure_no_auth = true\n  basic_auth {\n    user = \"u\"\n    password = \"p\"\n  }\n" + tlsOK + "}\n",
			summary: "Insecure mode next to authentication", detail: `Remove insecure_no_auth`, at: "insecure_no_auth",
		},
		{
			name:    "client names without client CA",
			src:     teleportOK + pagerOK + "webhook {\n  signing_secrets = [\"s\"]\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n    allowed_client_cns = [\"x\"]\n  }\n}\n",
			summary: "Client names without mutual TLS", detail: `webhook.tls.allowed_client_cns needs webhook.tls.client_ca_file`, at: "allowed_client_cns",
		},
		{
			name:    "metrics listen address",
			src:     teleportOK + pagerOK + "metrics {\n  listen_addr = \"localhost\"\n}\n",
			summary: "Invalid listen address", detail: `metrics.listen_addr must be [host]:port`, at: "listen_addr",
		},
		{
			name:    "log severity",
			src:     teleportOK + pagerOK + "log {\n  severity = \"verbose\"\n}\n",
			summary: "Invalid value", detail: `log.severity must be one of "debug", "info", "warn", "error"; got "verbose"`, at: "severity",
		},
		{
			name:    "log format",
			src:     teleportOK + pagerOK + "log {\n  format = \"xml\"\n}\n",
			summary: "Invalid value", detail: `log.format must be one of "text", "json"; got "xml"`, at: "format",
		},
		{
			name:    "workers zero",
			src:     "workers = 0\n" + teleportOK + pagerOK,
			summary: "Invalid value", detail: `workers must be between 1 and 1024; got 0`, at: "workers",
		},
		{
			name:    "workers too many",
			src:     teleportOK + pagerOK + "workers = 1025\n",
			summary: "Invalid value", detail: `got 1025`, at: "workers",
		},
		{
			name:    "fake api endpoint",
			src:     teleportOK + "pager \"fake\" {\n  api_endpoint = \"https://api.pagerduty.com\"\n}\n",
			summary: "Unexpected argument for the fake pager", detail: `pager.fake.api_endpoint is not used`, at: "api_endpoint",
		},
		{
			name:    "fake listen address",
			src:     teleportOK + "pager \"fake\" {\n  listen_addr = \"loopback\"\n}\n",
			summary: "Invalid listen address", detail: `pager.fake.listen_addr must be [host]:port`, at: "listen_addr",
		},
		{
			name:    "fake on-call of an unknown user",
			src:     teleportOK + "pager \"fake\" {\n  service \"S\" {\n  }\n  on_call {\n    user = \"bob@example.com\"\n    service = \"S\"\n  }\n}\n",
			summary: "Unknown user", detail: `pager.fake.on_call names user "bob@example.com"`, at: "on_call {",
		},
		{
			name:    "fake user label not an email",
			src:     teleportOK + "pager \"fake\" {\n  user \"bob\" {\n  }\n}\n",
			summary: "Invalid email address", detail: `pager.fake.user "bob": the label must be the user's email address`, at: `user "bob"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "test.hcl")

			if err == nil {
				t.Fatalf("Parse succeeded, want %q\n%s", tt.summary, tt.src)
			}
			de := diagError(t, err)
			d := de.Diags[0]
			if d.Summary != tt.summary || !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("first diagnostic = %q / %q\nwant %q / containing %q\nall: %v", d.Summary, d.Detail, tt.summary, tt.detail, de)
			}
			if strings.HasPrefix(tt.detail, "A ") && d.Detail != tt.detail {
				// A missing top-level block sits at the file's start:
				// no key path may be guessed from the first block there.
				t.Errorf("detail = %q, want exactly %q", d.Detail, tt.detail)
			}
			if d.Subject == nil {
				t.Errorf("diagnostic %q has no source range", d.Summary)
			}
			assertWritten(t, de, tt.src, "test.hcl", tt.at)
		})
	}
}

// TestValid covers inputs near the edges that must pass.
func TestValid(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"http endpoint on loopback", teleportOK + pagerWith("  api_endpoint = \"http://127.0.0.1:8080\"\n")},
		{"http endpoint on localhost", teleportOK + pagerWith("  api_endpoint = \"http://localhost:8080/\"\n")},
		{"http endpoint on ipv6 loopback", teleportOK + pagerWith("  api_endpoint = \"http://[::1]:8080\"\n")},
		{"client certificate files", teleportWith("  addr = \"t.example.com:3025\"\n  client_crt = \"/c\"\n  client_key = \"/k\"\n  root_cas = \"/r\"\n") + pagerOK},
		{"rate limit bounds", teleportOK + pagerWith("  rate_limit = 1\n")},
		{"rate limit upper bound", teleportOK + pagerWith("  rate_limit = 100000\n")},
		{"opsgenie rate limit bounds", teleportOK + "pager \"opsgenie\" {\n  api_key = \"k\"\n  rate_limit = 1\n}\n"},
		{"opsgenie rate limit upper bound", teleportOK + "pager \"opsgenie\" {\n  api_key = \"k\"\n  rate_limit = 100000\n}\n"},
		{"opsgenie http url on loopback", teleportOK + "pager \"opsgenie\" {\n  api_key = \"k\"\n  api_url = \"http://127.0.0.1:8080\"\n}\n"},
		{"highest port", teleportWith("  addr = \"teleport.example.com:65535\"\n  identity = \"/id\"\n") + pagerOK},
		{"signing secret auth", teleportOK + pagerOK + webhookWith("")},
		{"mutual tls auth", teleportOK + pagerOK + "webhook {\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n    client_ca_file = \"/ca\"\n  }\n}\n"},
		{"basic auth", teleportOK + pagerOK + "webhook {\n  basic_auth {\n    user = \"u\"\n    password = \"p\"\n  }\n" + tlsOK + "}\n"},
		{"shared secret header", teleportOK + pagerOK + "webhook {\n  shared_secret_header = \"X-S\"\n  shared_secret = \"v\"\n" + tlsOK + "}\n"},
		{"insecure no auth", teleportOK + pagerOK + "webhook {\n  insecure_no_auth = true\n" + tlsOK + "}\n"},
		{"provision with public addr", teleportOK + pagerOK + webhookWith("  public_addr = \"https://pg.example.com\"\n  provision_actions = true\n")},
		{"fake with seed file names unknown users", teleportOK + "pager \"fake\" {\n  seed_file = \"seed.hcl\"\n  on_call {\n    user = \"a@example.com\"\n    service = \"S\"\n  }\n}\n"},
		{"workers bounds", teleportOK + pagerOK + "workers = 1024\n"},
		{"workers lower bound", teleportOK + pagerOK + "workers = 1\n"},
		{"log severity in capitals", teleportOK + pagerOK + "log {\n  severity = \"WARN\"\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, tt.src)
		})
	}
}

func TestAllProblemsReported(t *testing.T) {
	src := "workers = 0\n" + teleportWith("  addr = \"nope\"\n  identity = \"/id\"\n  approval_mode = \"x\"\n") + pagerWith("  urgency = \"x\"\n")
	_, err := Parse([]byte(src), "test.hcl")
	de := diagError(t, err)
	var got []string
	for _, d := range de.Diags {
		got = append(got, d.Summary)
	}
	want := "Invalid Teleport address,Invalid value,Invalid value,Invalid value"
	if strings.Join(got, ",") != want {
		t.Errorf("summaries = %v, want %s", got, want)
	}
	// The text output shows every one of them, each at its line.
	var buf strings.Builder
	if err := de.Write(&buf, false); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	for _, at := range []string{"test.hcl:1:", "test.hcl:3:", "test.hcl:5:", "test.hcl:10:"} {
		if !strings.Contains(buf.String(), at) {
			t.Errorf("output lacks the problem at %s:\n%s", at, buf.String())
		}
	}
}

func TestFileValidate(t *testing.T) {
	f := &File{Teleport: Teleport{Addr: "t.example.com:443", Identity: "/id"}}
	diags := f.Validate()
	if !diags.HasErrors() || diags[0].Summary != "Missing pager block" {
		t.Errorf("Validate() = %v, want Missing pager block", diags)
	}
}

// auto_approve written inside the pager block (the layout before the
// top-level block) is still read, with a warning naming the line; both
// layouts at once is an error.
func TestAutoApproveInsidePager(t *testing.T) {
	inside := teleportOK + pagerWith("  auto_approve {\n    max_escalation_level = 2\n    denied_roles = [\"admin\"]\n    bind_to_shift = true\n  }\n")
	cfg, err := Parse([]byte(inside), "test.hcl")
	if err != nil {
		t.Fatalf("Parse(auto_approve inside pager) = %v", err)
	}
	if a := cfg.AutoApprove; a.MaxEscalationLevel != 2 || len(a.DeniedRoles) != 1 || !a.Enabled || !a.BindToShift {
		t.Errorf("AutoApprove = %+v, want the block's values", cfg.AutoApprove)
	}
	if ws := otherWarnings(cfg.Warnings); len(ws) != 1 || !strings.HasPrefix(ws[0], "test.hcl:8:3: auto_approve moved out of the pager block") {
		t.Errorf("Warnings = %q, want one naming test.hcl:8:3", cfg.Warnings)
	}
	bad := teleportOK + pagerWith("  auto_approve {\n    max_escalation_level = -1\n  }\n")
	if d := diagError(t, mustFail(t, bad)); !strings.Contains(d.Error(), "pager.pagerduty.auto_approve.max_escalation_level must be 0") {
		t.Errorf("a bad value inside the pager block = %v, want its key path", d)
	}
	both := inside + "auto_approve {\n  enabled = false\n}\n"
	if d := diagError(t, mustFail(t, both)); !strings.Contains(d.Error(), "Duplicate auto_approve block") {
		t.Errorf("both layouts = %v, want Duplicate auto_approve block", d)
	}
}

func mustFail(t *testing.T, src string) error {
	t.Helper()
	_, err := Parse([]byte(src), "test.hcl")
	if err == nil {
		t.Fatalf("Parse succeeded:\n%s", src)
	}
	return err
}

// bind_to_shift binds only auto-approved grants: with auto-approval off
// it is read, with a warning naming the line.
func TestBindToShiftWithoutAutoApproval(t *testing.T) {
	src := teleportOK + pagerOK + "auto_approve {\n  enabled = false\n  bind_to_shift = true\n}\n"
	cfg, err := Parse([]byte(src), "test.hcl")
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	ws := otherWarnings(cfg.Warnings)
	if !cfg.AutoApprove.BindToShift || len(ws) != 1 ||
		!strings.Contains(ws[0], "bind_to_shift without auto-approval") || !strings.Contains(ws[0], "auto_approve.enabled is false") {
		t.Errorf("BindToShift %v, warnings %q; want it set and one warning", cfg.AutoApprove.BindToShift, cfg.Warnings)
	}
	line := strings.Count(teleportOK+pagerOK, "\n") + 3
	if want := fmt.Sprintf("test.hcl:%d:", line); len(ws) == 1 && !strings.HasPrefix(ws[0], want) {
		t.Errorf("warning %q does not start with %s", ws[0], want)
	}
	on, err := Parse([]byte(teleportOK+pagerOK+"auto_approve {\n  bind_to_shift = true\n}\n"), "test.hcl")
	if err != nil || len(otherWarnings(on.Warnings)) != 0 || !on.AutoApprove.BindToShift {
		t.Errorf("bind_to_shift with auto-approval: %v, warnings %q", err, on.Warnings)
	}
}
