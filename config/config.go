package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	// AutoApprove is the on-call approval policy.
	AutoApprove AutoApproveSettings
	Store       StoreSettings
	// Webhook is nil when the file has no webhook block: no actions from
	// the pager are accepted then.
	Webhook *WebhookSettings
	Log     LogSettings
	Metrics MetricsSettings
	Memory  MemorySettings
	// Workers bounds how many requests are handled at once. Default 32.
	Workers int
	// Warnings are the problems that do not stop the file from loading
	// (an outdated layout), one line each with file:line.
	Warnings []string
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

// MemorySettings is the `memory {}` block: giving memory the daemon no
// longer uses back to the OS.
type MemorySettings struct {
	// ReleaseWhenIdle gives back, once ready and after each idle spell,
	// the heap the collector freed and the pages of the executable and of
	// the store's map that idle code no longer touches. Default true.
	ReleaseWhenIdle bool
	// IdleAfter is how long without a request in hand is an idle spell.
	// Default 5s.
	IdleAfter time.Duration
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
		detail := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			detail += fmt.Sprintf(". `pagergate configure > %s` writes an annotated file to start from; -c FILE reads another.", path)
		}
		return nil, &DiagError{
			Diags: hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   detail,
			}},
			Err: err,
		}
	}
	return Parse(src, path)
}

// inFileOrder sorts decoding diagnostics by file, line and column (those
// without a place first), so a file with several mistakes reads from top
// to bottom although the pager block is decoded after the others.
// Validation diagnostics keep their order: most specific first.
func inFileOrder(diags hcl.Diagnostics) hcl.Diagnostics {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil || b.Subject == nil:
			return boolCmp(a.Subject != nil, b.Subject != nil)
		case a.Subject.Filename != b.Subject.Filename:
			return strings.Compare(a.Subject.Filename, b.Subject.Filename)
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return diags
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
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
	eval := evalContext(filepath.Dir(filename))
	diags = append(diags, explainDecodeDiags(f.Body, gohcl.DecodeBody(f.Body, eval, &raw))...)
	if diags.HasErrors() {
		diags = append(diags, raw.decodePager(eval)...)
		return nil, &DiagError{Diags: inFileOrder(diags), Files: p.Files()}
	}
	cfg, vdiags := raw.resolve(eval)
	diags = append(diags, vdiags...)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: p.Files()}
	}
	cfg.Source = filename
	cfg.Warnings = warnings(append(diags, literalSecrets(f)...))
	return cfg, nil
}

// Validate applies defaults to a decoded file and reports every problem.
// Functions in the pager block's kind-specific keys are evaluated
// relative to the working directory.
func (f *File) Validate() hcl.Diagnostics {
	_, diags := f.resolve(evalContext("."))
	return diags
}

// IsDiagError reports whether err is (or wraps) a *DiagError, the mark of a
// bad configuration (exit code 2, SPEC §8).
func IsDiagError(err error) bool {
	var de *DiagError
	return errors.As(err, &de)
}
