package config

import (
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// Opsgenie's pager kinds (SPEC §16): the real service, and the fake
// Opsgenie in-process for staging and demos.
const (
	PagerOpsgenie     = "opsgenie"
	PagerOpsgenieFake = "opsgenie-fake"
)

// OpsgenieActionsPath is the webhook route that Opsgenie's webhook
// integration delivers alert actions to: the integration's URL is
// webhook.public_addr followed by this path.
const OpsgenieActionsPath = "/opsgenie/actions"

// opsgenieBuiltinActions are the action names Opsgenie's webhook
// integration posts for its own alert actions; a custom action named like
// one would be indistinguishable from it.
var opsgenieBuiltinActions = []string{"Create", "Close", "Delete", "Acknowledge", "UnAcknowledge", "AddNote",
	"TakeOwnership", "AssignOwnership", "AddRecipient", "AddTeam", "AddResponder", "AddTags", "RemoveTags",
	"AddDetails", "RemoveDetails", "UpdatePriority", "UpdateMessage", "UpdateDescription", "Escalate",
	"EscalateToNext", "Snooze", "SnoozeEnded"}

// Opsgenie's API base URLs.
const (
	OpsgenieAPIURL   = "https://api.opsgenie.com"
	OpsgenieEUAPIURL = "https://api.eu.opsgenie.com"
)

// OpsgenieSettings are the settings of `pager "opsgenie" {}` of their own,
// and of the Opsgenie client the fake Opsgenie runs.
type OpsgenieSettings struct {
	// APIKey is the key of an Opsgenie API integration with Read, Create
	// and Update access. Required.
	APIKey Secret
	// APIURL is the REST API base URL: OpsgenieAPIURL (default) or
	// OpsgenieEUAPIURL; for the fake, its address once it listens.
	APIURL string
	// WebURL, when set (https://<account>.app.opsgenie.com), links the
	// alerts in logs and answers.
	WebURL string
	// AlertUser is the "user" of alerts, notes and closes (a display
	// name, or the email of the Opsgenie user pagergate acts as). Default
	// "pagergate".
	AlertUser string
	// Source is the alerts' source. Default "pagergate".
	Source string
	// Tags are put on every alert.
	Tags []string
	// AliasPrefix starts every alert's alias, followed by the request ID.
	// Default Teleport's, "teleport-access-request/".
	AliasPrefix string
	// ApproveAction and DenyAction are the names of the alert custom
	// actions that approve and deny, put on every alert and mapped to the
	// webhook integration in Opsgenie. Defaults "Approve access" and "Deny
	// access".
	ApproveAction, DenyAction string
	// RateLimit is the client-side limit in requests per minute. Default
	// 600.
	RateLimit int
	// RequestTimeout bounds each API call. Default 10s.
	RequestTimeout time.Duration
	// CacheTTL is how long user, schedule and team lookups are cached.
	// Default 10m. On-call status is never cached.
	CacheTTL time.Duration
}

// Opsgenie is the body of `pager "opsgenie" {}` past the shared keys, as
// decoded; the fake Opsgenie's body starts with the same keys.
type Opsgenie struct {
	APIKey          string   `hcl:"api_key,optional"`
	APIURL          string   `hcl:"api_url,optional"`
	WebURL          string   `hcl:"web_url,optional"`
	AlertUser       string   `hcl:"alert_user,optional"`
	Source          string   `hcl:"source,optional"`
	Tags            []string `hcl:"tags,optional"`
	AliasPrefix     string   `hcl:"alias_prefix,optional"`
	TeamsAnnotation string   `hcl:"teams_annotation,optional"`
	ApproveAction   string   `hcl:"approve_action,optional"`
	DenyAction      string   `hcl:"deny_action,optional"`
	RateLimit       *int     `hcl:"rate_limit,optional"` // requests per minute
	RequestTimeout  string   `hcl:"request_timeout,optional"`
	CacheTTL        string   `hcl:"cache_ttl,optional"`

	// Remain is what is left for the fake Opsgenie's own keys.
	Remain hcl.Body `hcl:",remain"`
}

// opsgenieTeamsPrefix is how a team reads as a notify service: the form
// the Opsgenie adapter's FindService takes.
const opsgenieTeamsPrefix = "team:"

// OpsgenieDefaults returns the defaults of a `pager "opsgenie" {}` block:
// Teleport's Opsgenie plugin conventions for the annotations and alias,
// the API in the US region.
func OpsgenieDefaults() PagerSettings {
	return PagerSettings{
		Kind:                    PagerOpsgenie,
		Name:                    "Opsgenie",
		PluginName:              "opsgenie",
		NotifyServiceAnnotation: "teleport.dev/notify-services",
		NotifyTargetAnnotations: []TargetAnnotation{{Annotation: "teleport.dev/teams", Prefix: opsgenieTeamsPrefix}},
		ServicesAnnotation:      "teleport.dev/schedules",
		Vendor:                  opsgenieDefaults(),
	}
}

func opsgenieDefaults() *OpsgenieSettings {
	return &OpsgenieSettings{
		APIURL:         OpsgenieAPIURL,
		AlertUser:      "pagergate",
		Source:         "pagergate",
		AliasPrefix:    "teleport-access-request/",
		ApproveAction:  "Approve access",
		DenyAction:     "Deny access",
		RateLimit:      600,
		RequestTimeout: 10 * time.Second,
		CacheTTL:       10 * time.Minute,
	}
}

// opsgeniePriorities are the priorities an alert may have.
var opsgeniePriorities = []string{"P1", "P2", "P3", "P4", "P5"}

func init() {
	registerPager(PagerOpsgenie, pagerKind{
		defaults: OpsgenieDefaults,
		decode: func(c *checker, body hcl.Body, b block) any {
			var o Opsgenie
			c.decode(body, &o)
			fakeKeys, _ := gohcl.ImpliedBodySchema(OpsgenieFake{})
			rest := c.rejectKeys(o.Remain, fakeKeys, b, "Opsgenie",
				"%s belongs to pager \"opsgenie-fake\" only; an Opsgenie account holds its own users, teams and schedules.")
			c.decode(rest, &struct{}{})
			return &o
		},
		check: func(c *checker, decoded any, b block, d PagerSettings, out *PagerSettings) any {
			o := decoded.(*Opsgenie)
			c.required(b, "api_key", o.APIKey, " Keep it out of the file: api_key = env(\"OPSGENIE_API_KEY\") or file(\"/path/to/key\").")
			return c.opsgenie(o, b, d.Vendor.(*OpsgenieSettings), out)
		},
		webhook:     opsgenieWebhook,
		annotated:   opsgenieAnnotated,
		autoApprove: opsgenieAutoApprove,
	})
}

// opsgenie checks the Opsgenie keys both kinds share and applies the
// defaults d; the teams annotation and the priority go to out.
func (c *checker) opsgenie(o *Opsgenie, b block, d *OpsgenieSettings, out *PagerSettings) *OpsgenieSettings {
	s := &OpsgenieSettings{
		APIKey:         Secret(orDefault(o.APIKey, d.APIKey.Value())),
		APIURL:         c.opsgenieURL(b, "api_url", o.APIURL, d.APIURL),
		WebURL:         c.opsgenieURL(b, "web_url", o.WebURL, d.WebURL),
		AlertUser:      c.annotation(b, "alert_user", o.AlertUser, d.AlertUser),
		Source:         c.annotation(b, "source", o.Source, d.Source),
		Tags:           o.Tags,
		AliasPrefix:    c.annotation(b, "alias_prefix", o.AliasPrefix, d.AliasPrefix),
		ApproveAction:  c.annotation(b, "approve_action", o.ApproveAction, d.ApproveAction),
		DenyAction:     c.annotation(b, "deny_action", o.DenyAction, d.DenyAction),
		RateLimit:      d.RateLimit,
		RequestTimeout: c.duration(b, "request_timeout", o.RequestTimeout, d.RequestTimeout),
		CacheTTL:       c.duration(b, "cache_ttl", o.CacheTTL, d.CacheTTL),
	}
	if strings.EqualFold(s.ApproveAction, s.DenyAction) {
		c.errorf(b.value("deny_action"), "Same action twice",
			"%s and %s must differ: the custom action's name is all a delivery tells; both are %q.", b.key("approve_action"), b.key("deny_action"), s.DenyAction)
	}
	for _, k := range []string{"approve_action", "deny_action"} {
		name := map[string]string{"approve_action": s.ApproveAction, "deny_action": s.DenyAction}[k]
		if slices.ContainsFunc(opsgenieBuiltinActions, func(a string) bool { return strings.EqualFold(a, name) }) {
			c.errorf(b.value(k), "Built-in action name",
				"%s %q is the name Opsgenie's webhook integration gives one of its own alert actions: closing or acknowledging an alert would read as the click. Name the custom action otherwise, such as \"Approve access\".", b.key(k), name)
		}
	}
	if o.TeamsAnnotation != "" || has(b.body, "teams_annotation") {
		teams := c.annotation(b, "teams_annotation", o.TeamsAnnotation, "")
		out.NotifyTargetAnnotations = []TargetAnnotation{{Annotation: teams, Prefix: opsgenieTeamsPrefix}}
	}
	if out.Priority != "" && !slices.Contains(opsgeniePriorities, out.Priority) {
		c.errorf(b.value("priority"), "Invalid value", "%s must be one of %s for Opsgenie; got %q.", b.key("priority"), quoteList(opsgeniePriorities), out.Priority)
	}
	if o.RateLimit != nil {
		if r := *o.RateLimit; r < 1 || r > maxRateLimit {
			c.errorf(b.value("rate_limit"), "Invalid value",
				"%s must be between 1 and %d requests per minute; got %d.", b.key("rate_limit"), maxRateLimit, r)
		} else {
			s.RateLimit = r
		}
	}
	return s
}

// opsgenieURL checks an https URL (plain http only for loopback hosts, a
// local fake) and returns it without a trailing slash, or def when left
// out.
func (c *checker) opsgenieURL(b block, name, raw, def string) string {
	if raw == "" && !has(b.body, name) {
		return def
	}
	u, err := url.Parse(raw)
	ok := err == nil && u.Host != "" && u.Opaque == "" && u.RawQuery == "" && u.Fragment == "" &&
		(u.Scheme == "https" || u.Scheme == "http" && isLoopbackHost(u.Hostname()))
	if !ok {
		c.errorf(b.value(name), "Invalid URL",
			"%s must be an https URL such as %q (EU accounts: %q); plain http only for loopback hosts; got %q.",
			b.key(name), OpsgenieAPIURL, OpsgenieEUAPIURL, raw)
		return def
	}
	return strings.TrimRight(raw, "/")
}

// opsgenieWebhook refuses what Opsgenie's deliveries cannot carry:
// Opsgenie signs nothing and presents no client certificate, so its
// webhook integration authenticates with basic auth or a custom header;
// the custom actions and the integration are set up in Opsgenie, not
// provisioned; incident workflows are PagerDuty's.
func opsgenieWebhook(c *checker, w *Webhook, b block, _ *WebhookSettings) {
	why := map[string]string{
		"signing_secrets":   "Opsgenie signs no webhook delivery: authenticate its webhook integration with basic_auth or shared_secret_header (it sends custom headers).",
		"provision_actions": "Opsgenie puts pagergate's approve and deny custom actions on every alert itself; the webhook integration that delivers them is set up in Opsgenie (docs/opsgenie.md).",
		"approve_workflow":  "incident workflows are PagerDuty's; Opsgenie approves and denies with the alert's custom actions (pager approve_action, deny_action).",
		"deny_workflow":     "incident workflows are PagerDuty's; Opsgenie approves and denies with the alert's custom actions (pager approve_action, deny_action).",
	}
	set := map[string]bool{"signing_secrets": len(w.SigningSecrets) > 0, "provision_actions": w.ProvisionActions,
		"approve_workflow": w.ApproveWorkflow != "", "deny_workflow": w.DenyWorkflow != ""}
	for _, k := range []string{"signing_secrets", "provision_actions", "approve_workflow", "deny_workflow"} {
		if set[k] {
			c.errorf(attrRange(b.body, k, b.def), "Not used with Opsgenie", "%s: %s", b.key(k), why[k])
		}
	}
	if w.TLS != nil && w.TLS.ClientCAFile != "" {
		c.errorf(attrRange(w.TLS.Body, "client_ca_file", w.TLS.DefRange), "Not used with Opsgenie",
			"webhook.tls.client_ca_file: Opsgenie's webhook integration presents no client certificate, so every delivery would be refused; use basic_auth or shared_secret_header.")
	}
}

// opsgenieAutoApprove refuses bind_to_shift: Opsgenie's on-call answer
// names who is on call now, not until when, so a grant would never end
// with the shift while the configuration says it does.
func opsgenieAutoApprove(c *checker, a *AutoApprove, b block) {
	if a.BindToShift {
		c.errorf(b.value("bind_to_shift"), "Not used with Opsgenie",
			"%s: Opsgenie's on-call answer has no shift end, so no grant could end with its shift; remove it or set it to false (docs/opsgenie.md).", b.key("bind_to_shift"))
	}
}

// opsgenieAnnotated is the example block `pagergate configure` shows for
// Opsgenie, commented out, with its defaults.
func opsgenieAnnotated() string {
	var b strings.Builder
	d, f := OpsgenieDefaults(), OpsgenieFakeDefaults().Vendor.(*OpsgenieFakeSettings)
	data := struct {
		PagerSettings
		Opsgenie *OpsgenieSettings
		Fake     *OpsgenieFakeSettings
		Teams    string
		Path, EU string
	}{d, d.Vendor.(*OpsgenieSettings), f, d.NotifyTargetAnnotations[0].Annotation, OpsgenieActionsPath, OpsgenieEUAPIURL}
	if err := opsgenieTemplate.Execute(&b, data); err != nil {
		panic(err) // fixed template and data: a bug the package tests catch
	}
	return b.String()
}

var opsgenieTemplate = template.Must(template.New("opsgenie").Funcs(template.FuncMap{
	"q": hclString, "dur": formatDuration,
}).Parse(`
# Opsgenie instead (SPEC §16; docs/opsgenie.md). Teleport's Opsgenie plugin
# conventions are the defaults, so its roles' annotations keep working.
# pager "opsgenie" {
#   # Key of an API integration with Read, Create and Update access.
#   api_key = env("OPSGENIE_API_KEY")
#   # REST API base URL; EU accounts: {{q .EU}}.
#   api_url = {{q .Opsgenie.APIURL}}
#   # Account URL for alert links, such as "https://acme.app.opsgenie.com".
#   # web_url = ""
#   # Notify targets: schedules (names or IDs) from this annotation...
#   notify_service_annotation = {{q .NotifyServiceAnnotation}}
#   # ...and teams from this one.
#   teams_annotation = {{q .Teams}}
#   # Schedules whose on-call responders get their own requests approved.
#   services_annotation = {{q .ServicesAnnotation}}
#   # Target when a request names none: a schedule, or "team:<name>".
#   default_notify_service = ""
#   # Alert priority, P1 to P5; empty: Opsgenie's default (P3).
#   priority = ""
#   # The alerts' user and source, tags, and alias prefix (followed by
#   # the request ID; Opsgenie dedups open alerts by alias).
#   alert_user   = {{q .Opsgenie.AlertUser}}
#   source       = {{q .Opsgenie.Source}}
#   tags         = []
#   alias_prefix = {{q .Opsgenie.AliasPrefix}}
#   # Custom actions put on every alert. Opsgenie's webhook integration
#   # delivers them to webhook.public_addr + "{{.Path}}" (with basic_auth
#   # or the shared secret header as custom headers).
#   approve_action = {{q .Opsgenie.ApproveAction}}
#   deny_action    = {{q .Opsgenie.DenyAction}}
#   # Client-side rate limit (requests per minute; 429s are honoured),
#   # the time limit of each call, and how long lookups are cached.
#   rate_limit      = {{.Opsgenie.RateLimit}}
#   request_timeout = {{dur .Opsgenie.RequestTimeout}}
#   cache_ttl       = {{dur .Opsgenie.CacheTTL}}
# }
# With Opsgenie, auto_approve.max_escalation_level counts the steps of an
# escalation taking part in a schedule's rotation: 1 is on call in the
# schedule itself. Approvals from alerts need the approver on call for the
# alert's schedule (webhook approvers = "on_call"): a team has none.
# auto_approve.bind_to_shift is refused: Opsgenie reports no shift ends.
#
# The fake Opsgenie in-process, for staging (same keys but api_url):
# pager "opsgenie-fake" {
#   api_key     = {{q .Fake.Opsgenie.APIKey}}
#   listen_addr = {{q .Fake.ListenAddr}}
#   # seed_file = "fake-opsgenie-seed.hcl"
#   user "alice@example.com" {
#     full_name = "Alice"
#   }
#   team "ops" {
#     members = ["alice@example.com"]
#   }
#   schedule "ops_schedule" {
#     owner_team = "ops"
#   }
#   on_call {
#     schedule = "ops_schedule"
#     user     = "alice@example.com"
#     # team   = "ops" (a team on call instead of a user)
#   }
# }
`))
