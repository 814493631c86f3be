package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// DefaultPath is where the daemon looks for its configuration file when no
// -c/--config flag is given (SPEC §9).
const DefaultPath = "/etc/pagergate.hcl"

// Config is the validated configuration with every default applied:
// durations are parsed, the single pager block and the store are picked.
// Load and Parse return it; Defaults lists the values used for absent keys.
type Config struct {
	// Source is the file name the configuration was read from.
	Source string

	Teleport TeleportSettings
	Pager    PagerSettings
	Store    StoreSettings
	// Webhook is nil when the file has no webhook block: no actions from
	// the pager are accepted then.
	Webhook *WebhookSettings
	Log     LogSettings
	Metrics MetricsSettings
	// Workers bounds how many requests are handled at once. Default 32.
	Workers int
}

// TeleportSettings is how pagergate reaches Teleport (`teleport {}`).
type TeleportSettings struct {
	// Addr is the Auth or Proxy service address, host:port. Required.
	Addr string
	// Identity is an identity file path; exclusive with the three client
	// files below.
	Identity string
	// RefreshIdentity re-reads Identity when it changes (tbot renews it).
	RefreshIdentity bool
	// ClientCrt, ClientKey and RootCAs are client certificate files, all
	// three together, used when Identity is empty.
	ClientCrt string
	ClientKey string
	RootCAs   string
	// ApprovalMode is "review", "set_state" or "auto" (SPEC §4). Default
	// "auto".
	ApprovalMode string
	// DialTimeout bounds connecting to Teleport. Default 30s.
	DialTimeout time.Duration
}

// Approval modes of TeleportSettings.ApprovalMode (SPEC §4).
const (
	ApprovalReview   = "review"
	ApprovalSetState = "set_state"
	ApprovalAuto     = "auto"
)

// Pager kinds of PagerSettings.Kind.
const (
	PagerPagerDuty = "pagerduty"
	PagerFake      = "fake"
)

// PagerSettings is the one `pager "<kind>" {}` block.
type PagerSettings struct {
	// Kind is PagerPagerDuty or PagerFake.
	Kind string
	// APIKey is the REST API token. Required for PagerDuty; default
	// "fake-api-key" for the fake.
	APIKey Secret
	// UserEmail is the bot user incidents are opened as (the From header).
	// Required for PagerDuty; default "pagergate@example.com" for the fake.
	UserEmail string
	// APIEndpoint is the REST API base URL. Default
	// "https://api.pagerduty.com"; empty for the fake, whose address is
	// only known once it listens.
	APIEndpoint string
	// NotifyServiceAnnotation names the request annotation listing the
	// services to notify. Default "pagerduty_notify_service".
	NotifyServiceAnnotation string
	// ServicesAnnotation names the request annotation listing the
	// approval services. Default "pagerduty_services".
	ServicesAnnotation string
	// DefaultNotifyService (a service name or ID) is notified when a
	// request has no notify annotation; empty means no incident then.
	DefaultNotifyService string
	// Urgency is "high", "low" or empty (the service's own rule).
	Urgency string
	// Priority is a priority name set on new incidents; empty for none.
	Priority string
	// RateLimit is the client-side limit in requests per minute. Default
	// 900.
	RateLimit int
	// RequestTimeout bounds each API call. Default 10s.
	RequestTimeout time.Duration
	// CacheTTL is how long user and service lookups are cached. Default
	// 10m. On-call status is never cached.
	CacheTTL time.Duration
	// AutoApprove holds the on-call auto-approval rules (SPEC §4).
	AutoApprove AutoApproveSettings
	// Fake is set when Kind is PagerFake and nil otherwise.
	Fake *FakeSettings
}

// AutoApproveSettings is the `auto_approve {}` block (SPEC §4).
type AutoApproveSettings struct {
	// Enabled turns on-call auto-approval on. Default true.
	Enabled bool
	// MaxEscalationLevel is the deepest escalation level that counts;
	// 0 (the default) means any level.
	MaxEscalationLevel int
	// RequireActiveIncident also requires a triggered or acknowledged
	// incident assigned to the requester. Default false.
	RequireActiveIncident bool
	// BindToShift ends an auto-approved grant with the on-call shift that
	// allowed it: a Teleport lock on the request at the shift's end
	// (SPEC §17). Default false.
	BindToShift bool
	// AllowedRoles, when not empty, must match every requested role.
	// Entries match like Teleport role conditions: exact and
	// case-sensitive, "*" as a wildcard, "^...$" as a regular expression.
	AllowedRoles []string
	// DeniedRoles are never auto-approved (matched like AllowedRoles).
	DeniedRoles []string
	// UserMap maps Teleport user names (exact, case-sensitive) to pager
	// user emails; users not in it are looked up by their name as an
	// email.
	UserMap map[string]string
}

// FakeSettings describes the in-process fake PagerDuty (SPEC §11).
type FakeSettings struct {
	// ListenAddr is where the fake listens. Default "127.0.0.1:0".
	ListenAddr string
	// SeedFile is an optional HCL/JSON seed file read by the fake.
	SeedFile string
	// Users, Services and OnCalls seed the fake; an on-call level of 0 in
	// the file becomes 1.
	Users    []FakeUser
	Services []FakeService
	OnCalls  []FakeOnCall
}

// StoreSettings is the local store (`store "bbolt" {}`); always set.
type StoreSettings struct {
	// Kind is "bbolt".
	Kind string
	// Path is the database file. Default "/var/lib/pagergate/state.db".
	Path string
	// Retention is how long resolved records are kept. Default 168h.
	Retention time.Duration
}

// WebhookSettings is the HTTPS webhook receiving pager actions (SPEC §6).
type WebhookSettings struct {
	// ListenAddr is the HTTPS listen address. Default ":8443".
	ListenAddr string
	// PublicAddr is the https URL PagerDuty reaches pagergate at; needed
	// by ProvisionActions.
	PublicAddr string
	// SigningSecrets verify v3 webhook signatures; several during
	// rotation.
	SigningSecrets []Secret
	// InsecureNoAuth accepts unauthenticated deliveries (local demos).
	InsecureNoAuth bool
	// SharedSecretHeader and SharedSecret: a custom header that must carry
	// the secret.
	SharedSecretHeader string
	SharedSecret       Secret
	// BasicAuth is nil when not configured.
	BasicAuth *BasicAuthSettings
	// TLS is the server certificate and the optional client CA.
	TLS TLSSettings
	// Approvers is "on_call" (default) or "any".
	Approvers string
	// OnManualResolve is "ignore" (default) or "deny".
	OnManualResolve string
	// ProvisionActions creates the approve/deny custom actions on each
	// notify service at start.
	ProvisionActions bool
	// ApproveWorkflow and DenyWorkflow name manual incident workflows.
	ApproveWorkflow string
	DenyWorkflow    string
	// ReplayWindow is how long delivery IDs are remembered. Default 72h.
	ReplayWindow time.Duration
}

// BasicAuthSettings is the webhook's `basic_auth {}` block.
type BasicAuthSettings struct {
	User     string
	Password Secret
}

// TLSSettings is the webhook's `tls {}` block.
type TLSSettings struct {
	CertFile string
	KeyFile  string
	// ClientCAFile turns on mutual TLS when set.
	ClientCAFile string
	// AllowedClientCNs are the accepted client certificate common names.
	// Default webhooks.pagerduty.com and webhooks.eu.pagerduty.com.
	AllowedClientCNs []string
}

// Webhook approvers and manual-resolve policies (SPEC §6).
const (
	ApproversOnCall     = "on_call"
	ApproversAny        = "any"
	ManualResolveIgnore = "ignore"
	ManualResolveDeny   = "deny"
)

// LogSettings is the `log {}` block.
type LogSettings struct {
	// Output is "stderr" (default), "stdout" or a file path.
	Output string
	// Severity is "debug", "info" (default), "warn" or "error".
	Severity string
	// Format is "text" (default) or "json".
	Format string
}

// MetricsSettings is the `metrics {}` block.
type MetricsSettings struct {
	// ListenAddr serves /metrics, /healthz and /readyz. Default
	// "127.0.0.1:9464".
	ListenAddr string
}

// Secret is a configuration value that must not be printed: fmt and text
// encoders see "[redacted]". Value returns the secret itself.
type Secret string

// Value returns the secret.
func (s Secret) Value() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// MarshalText keeps JSON, YAML and zap reflection from printing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// DiagError is the error Load and Parse return for a configuration with
// problems. It holds the diagnostics and the parsed files so Write can show
// the offending source lines.
type DiagError struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
	// Err is an underlying cause, such as the error reading the file.
	Err error
}

// Error returns the diagnostics on one line each, prefixed by file:line:col.
func (e *DiagError) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(diagLine(d))
	}
	return b.String()
}

// Unwrap returns the diagnostics and the underlying cause, if any.
func (e *DiagError) Unwrap() []error {
	errs := []error{e.Diags}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Write prints every diagnostic as "file:line:col: " followed by HCL's
// diagnostic text (summary, the offending source lines, detail). With color
// it uses terminal escape codes.
func (e *DiagError) Write(w io.Writer, color bool) error {
	tw := hcl.NewDiagnosticTextWriter(w, e.Files, 0, color)
	for _, d := range e.Diags {
		if d.Subject != nil {
			if _, err := fmt.Fprintf(w, "%s: ", rangePos(*d.Subject)); err != nil {
				return err
			}
		}
		if err := tw.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	return nil
}

func rangePos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func diagLine(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		b.WriteString(rangePos(*d.Subject))
		b.WriteString(": ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString("; ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// Load reads the file at path, decodes it, applies defaults and validates
// it. Any problem, including an unreadable file, is a *DiagError.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &DiagError{
			Diags: hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   err.Error(),
			}},
			Err: err,
		}
	}
	return Parse(src, path)
}

// Parse is Load for a file already in memory; filename names it in
// diagnostics and anchors relative file() paths.
func Parse(src []byte, filename string) (*Config, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: p.Files()}
	}
	var raw File
	diags = append(diags, explainDecodeDiags(f.Body, gohcl.DecodeBody(f.Body, evalContext(filepath.Dir(filename)), &raw))...)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: p.Files()}
	}
	cfg, vdiags := raw.resolve()
	diags = append(diags, vdiags...)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: p.Files()}
	}
	cfg.Source = filename
	return cfg, nil
}

// Validate applies defaults to a decoded file and reports every problem.
func (f *File) Validate() hcl.Diagnostics {
	_, diags := f.resolve()
	return diags
}

// IsDiagError reports whether err is (or wraps) a *DiagError, the mark of a
// bad configuration (exit code 2, SPEC §8).
func IsDiagError(err error) bool {
	var de *DiagError
	return errors.As(err, &de)
}
