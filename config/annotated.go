package config

import (
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Annotated returns the text `pagergate configure` prints: a complete,
// valid configuration that shows every key with its default (from Defaults
// and FakeDefaults) and what it means. Secrets come from env(): set
// PAGERDUTY_API_KEY and PAGERDUTY_WEBHOOK_SECRET, or edit those lines.
func Annotated() string {
	var b strings.Builder
	d := Defaults()
	data := struct {
		Config
		PagerDuty *PagerDutySettings
		Fake      *FakeSettings
		MoreKinds []string
	}{d, d.Pager.Vendor.(*PagerDutySettings), FakeDefaults().Vendor.(*FakeSettings), nil}
	for _, kind := range PagerKinds() {
		if k := pagerKinds[kind]; k.annotated != nil {
			data.MoreKinds = append(data.MoreKinds, k.annotated())
		}
	}
	if err := annotatedTemplate.Execute(&b, data); err != nil {
		// The template and its data are fixed; a failure is a bug caught
		// by the package tests.
		panic(err)
	}
	return b.String()
}

var annotatedTemplate = template.Must(template.New("annotated").Funcs(template.FuncMap{
	"q":    hclString,
	"list": hclList,
	"dur":  formatDuration,
}).Parse(annotatedText))

// hclString quotes s as an HCL string literal.
func hclString(s any) string {
	var v string
	switch t := s.(type) {
	case string:
		v = t
	case Secret:
		v = t.Value()
	}
	return string(hclwrite.TokensForValue(cty.StringVal(v)).Bytes())
}

func hclList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = hclString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// formatDuration writes d the short way people type it: "10m", "168h",
// "1h30m", not time.Duration's "10m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return strconv.Quote(s)
}

const annotatedText = `# pagergate configuration. Default path /etc/pagergate.hcl; -c/--config
# picks another. Every key is shown with its default value; keys left out
# take that default. Unknown keys are errors.
#
# Keep secrets out of this file with two functions:
#   env("NAME")           the environment variable NAME (an error when unset)
#   env("NAME", "dflt")   the same, with a default when unset
#   file("path")          the file's content without its trailing newline;
#                         relative paths start at this file's directory
#
# On SIGHUP pagergate re-reads this file and applies log.severity, the
# teleport identity file and the webhook secrets (signing_secrets,
# shared_secret, basic_auth); other changes need a restart.

# How many access requests are handled at once (1..1024). Events of one
# request are always handled in order.
workers = {{.Workers}}

# How pagergate reaches Teleport. Its role needs to read and watch access
# requests, and review_requests (review mode) or access_request update
# (set_state mode).
teleport {
  # Auth Service (port 3025) or Proxy Service (port 443) address, host:port.
  # Required.
  addr = "teleport.example.com:443"

  # Credentials: an identity file (tctl auth sign --format=file, or tbot)...
  identity = "/var/lib/pagergate/identity"
  # ...re-read whenever it changes (tbot renews it). Needs identity.
  refresh_identity = true
  # ...or, instead of identity, client certificate files, all three:
  # client_crt = "/var/lib/pagergate/auth.crt"
  # client_key = "/var/lib/pagergate/auth.key"
  # root_cas   = "/var/lib/pagergate/auth.cas"

  # How requests are approved: "review" submits an access review (Teleport
  # Enterprise), "set_state" sets the request state (Community Edition),
  # "auto" picks review when the cluster has Advanced Access Workflows.
  approval_mode = {{q .Teleport.ApprovalMode}}

  # How long connecting to Teleport may take.
  dial_timeout = {{dur .Teleport.DialTimeout}}
}

# The pager: exactly one block, pager "pagerduty" or pager "fake" (or a kind
# shown after them).
pager "pagerduty" {
  # REST API key (Integrations > API Access Keys). Required.
  api_key = env("PAGERDUTY_API_KEY")
  # The PagerDuty user incidents are opened as. Required.
  user_email = "teleport-bot@example.com"
  # REST API base URL; https (http only for loopback hosts).
  # EU accounts: "https://api.eu.pagerduty.com".
  api_endpoint = {{q .PagerDuty.APIEndpoint}}

  # Request annotation listing the services to open incidents in.
  notify_service_annotation = {{q .Pager.NotifyServiceAnnotation}}
  # Request annotation listing the services whose on-call responders get
  # their own requests approved.
  services_annotation = {{q .Pager.ServicesAnnotation}}
  # Service (name or ID) notified when a request has no notify annotation;
  # empty: no incident then.
  default_notify_service = {{q .Pager.DefaultNotifyService}}

  # Incident urgency, "high" or "low"; empty: the service's own rule.
  urgency = {{q .Pager.Urgency}}
  # Incident priority name; empty: none.
  priority = {{q .Pager.Priority}}

  # Client-side rate limit, requests per minute. PagerDuty allows 960 per
  # API key and answers 429 beyond it (honoured with Retry-After).
  rate_limit = {{.PagerDuty.RateLimit}}
  # Time limit of each API call.
  request_timeout = {{dur .PagerDuty.RequestTimeout}}
  # How long user and service lookups are cached (on-call status never is).
  cache_ttl = {{dur .PagerDuty.CacheTTL}}
}

# For staging, the fake PagerDuty runs in-process on loopback instead:
# pager "fake" {
#   api_key    = {{q .Fake.PagerDuty.APIKey}}
#   user_email = {{q .Fake.PagerDuty.UserEmail}}
#   # Where the fake listens; port 0 picks a free one.
#   listen_addr = {{q .Fake.ListenAddr}}
#   # Optional seed file (HCL or JSON) with more users, services, on-calls.
#   # seed_file = "fake-seed.hcl"
#   user "alice@example.com" {
#     name = "Alice"
#   }
#   service "Teleport Access Requests" {
#     id = "PTELEPO"
#   }
#   on_call {
#     user    = "alice@example.com"
#     service = "Teleport Access Requests"
#     level   = 1
#   }
# }
{{range .MoreKinds}}{{.}}{{end}}
# On-call auto-approval, whatever the pager: a request is approved when its
# roles carry the services annotation and the requester is on call for one
# of them now. (Files written before this block existed have it inside the
# pager block; it is still read there, with a warning: move it here.)
auto_approve {
  enabled = {{.AutoApprove.Enabled}}
  # Deepest escalation level that counts; 0 means any level.
  max_escalation_level = {{.AutoApprove.MaxEscalationLevel}}
  # Also require a triggered or acknowledged incident assigned to the
  # requester in one of those services.
  require_active_incident = {{.AutoApprove.RequireActiveIncident}}
  # End an auto-approved grant with the on-call shift that allowed it: at
  # the shift's end (re-checked) a Teleport lock on the request ends its
  # sessions. The plugin's role needs lock: create, update.
  bind_to_shift = {{.AutoApprove.BindToShift}}
  # When not empty, every requested role must match an entry here.
  # Entries match like Teleport role conditions: exact and
  # case-sensitive, "*" as a wildcard ("dev-*"), "^...$" as a regular
  # expression ("^db-(ro|rw)$").
  allowed_roles = []
  # Roles never approved automatically (matched the same way).
  denied_roles = []
  # Teleport user name (exact, case-sensitive) => pager user email, for
  # names that are not emails (GitHub SSO users, for example); others
  # are used as the email.
  user_map = {
    # "octocat" = "octo.cat@example.com"
  }
}

# Local state: record mirror, webhook replay keys, lookup caches. Losing
# the file loses no correctness. Without this block the defaults apply.
store {{q .Store.Kind}} {
  path = {{q .Store.Path}}
  # How long records of resolved requests are kept.
  retention = {{dur .Store.Retention}}
}

# HTTPS webhook for approve/deny actions from PagerDuty. Leave the block out
# to accept none.
webhook {
  listen_addr = {{q .Webhook.ListenAddr}}
  # The https URL PagerDuty reaches this listener at.
  public_addr = "https://pagergate.example.com:8443"

  # Authentication: at least one of signing_secrets, tls.client_ca_file,
  # basic_auth, or shared_secret_header with shared_secret.
  # v3 webhook subscription secrets; list two while rotating.
  signing_secrets = [env("PAGERDUTY_WEBHOOK_SECRET")]
  # A custom header that must carry a secret value:
  # shared_secret_header = "X-Pagergate-Secret"
  # shared_secret        = env("PAGERGATE_SHARED_SECRET")
  # Accept unauthenticated deliveries: local demos only, and an error
  # next to any other authentication.
  insecure_no_auth = false

  # Who may approve or deny from PagerDuty: "on_call" (responders on call
  # for the notify service) or "any" (anyone with PagerDuty access). The
  # requester never may.
  approvers = {{q .Webhook.Approvers}}
  # A pagergate incident resolved by hand while its request is pending:
  # "ignore" or "deny" the request.
  on_manual_resolve = {{q .Webhook.OnManualResolve}}
  # Create the "Approve access" and "Deny access" custom incident actions
  # on every notify service at start (needs public_addr).
  provision_actions = false
  # Names of manual incident workflows that approve or deny; empty: none.
  approve_workflow = ""
  deny_workflow    = ""
  # How long delivery IDs are remembered against replays.
  replay_window = {{dur .Webhook.ReplayWindow}}

  # basic_auth {
  #   user     = "pagerduty"
  #   password = env("PAGERGATE_WEBHOOK_PASSWORD")
  # }

  # Required: the webhook is served over HTTPS only (TLS 1.2 and later).
  tls {
    cert_file = "/var/lib/pagergate/server.crt"
    key_file  = "/var/lib/pagergate/server.key"
    # CA of the client certificates PagerDuty presents; set it to turn on
    # mutual TLS.
    # client_ca_file = "/var/lib/pagergate/pagerduty-ca.pem"
    # Accepted client certificate common names (with client_ca_file):
    # allowed_client_cns = {{list .Webhook.TLS.AllowedClientCNs}}
  }
}

log {
  # "stderr", "stdout" or a file path (reopened on SIGHUP).
  output = {{q .Log.Output}}
  # "debug", "info", "warn" or "error".
  severity = {{q .Log.Severity}}
  # "text" or "json".
  format = {{q .Log.Format}}
}

# Always-on listener for /metrics (Prometheus), /healthz and /readyz.
metrics {
  listen_addr = {{q .Metrics.ListenAddr}}
}

# Memory the daemon no longer uses goes back to the OS once it is ready and
# after each idle spell: the heap the collector freed, and the pages of the
# executable and of the store file that idle code does not touch (read
# back from the page cache when needed).
memory {
  release_when_idle = {{.Memory.ReleaseWhenIdle}}
  # How long without a request in hand counts as idle.
  idle_after = {{dur .Memory.IdleAfter}}
}
`
