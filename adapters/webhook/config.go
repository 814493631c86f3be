package webhook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pagergate/pagergate/ports"
)

// Defaults applied by New when the matching Config field is zero.
const (
	DefaultListenAddr     = ":8443"
	DefaultBodyLimit      = 256 << 10
	DefaultHandlerTimeout = 4 * time.Second
)

// DefaultClientCNs are the certificate common names PagerDuty's webhook
// client certificates carry (US and EU service regions).
var DefaultClientCNs = []string{"webhooks.pagerduty.com", "webhooks.eu.pagerduty.com"}

// Config configures the webhook server.
type Config struct {
	// ListenAddr is the TCP address to listen on (default ":8443").
	ListenAddr string
	// CertFile and KeyFile hold the server certificate and key (PEM);
	// both are required, the server speaks HTTPS only.
	CertFile, KeyFile string
	// ClientCAFile, when set, turns on mutual TLS: client certificates must
	// chain to a CA in this PEM file and carry a common name listed in
	// AllowedClientCNs (default DefaultClientCNs).
	ClientCAFile     string
	AllowedClientCNs []string
	// SigningSecrets verify the X-PagerDuty-Signature header of v3
	// deliveries; any one of them may match (secret rotation).
	SigningSecrets []string
	// BasicUser and BasicPassword, when BasicUser is set, require HTTP
	// basic authentication on every action route.
	BasicUser, BasicPassword string
	// SharedSecretHeader and SharedSecret, when the header is set, require
	// that header to carry the secret on every action route.
	SharedSecretHeader, SharedSecret string
	// InsecureNoAuth accepts every delivery unauthenticated. For local demos
	// only; a warning is logged at each start. Together with any other
	// method it is an error: it would silently leave the routes that method
	// does not cover open.
	InsecureNoAuth bool
	// ApproveWorkflow and DenyWorkflow name the manual Incident Workflows
	// whose start approves or denies (v3 incident.workflow.started).
	ApproveWorkflow, DenyWorkflow string
	// BodyLimit caps request bodies in bytes (default 256 KiB).
	BodyLimit int64
	// HandlerTimeout bounds the handling of one delivery (default 4s, under
	// PagerDuty's 5 s deadline for v3 webhooks).
	HandlerTimeout time.Duration
	// Metrics, optional, counts webhook_requests by route and status.
	Metrics ports.Metrics
}

// withDefaults returns cfg with documented defaults applied.
func (cfg Config) withDefaults() Config {
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = DefaultListenAddr
	}
	if cfg.ClientCAFile != "" && len(cfg.AllowedClientCNs) == 0 {
		cfg.AllowedClientCNs = append([]string(nil), DefaultClientCNs...)
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = DefaultHandlerTimeout
	}
	return cfg
}

// validate checks what New can check without touching files.
func (cfg Config) validate() error {
	var errs []error
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		errs = append(errs, errors.New("webhook: cert_file and key_file are required (HTTPS only)"))
	}
	errs = append(errs, validateCredentials(cfg.SigningSecrets, cfg.BasicUser, cfg.BasicPassword, cfg.SharedSecretHeader, cfg.SharedSecret)...)
	if cfg.InsecureNoAuth && cfg.hasAuth() {
		errs = append(errs, errors.New("webhook: insecure_no_auth next to another authentication method would leave the routes that method does not cover open; remove insecure_no_auth"))
	}
	if !cfg.InsecureNoAuth && !cfg.hasAuth() {
		errs = append(errs, errors.New("webhook: no authentication configured: set signing_secrets, tls.client_ca_file, basic_auth or shared_secret_header/shared_secret (or insecure_no_auth = true for local demos)"))
	}
	for _, cn := range cfg.AllowedClientCNs {
		if strings.TrimSpace(cn) == "" {
			errs = append(errs, errors.New("webhook: allowed_client_cns has an empty name"))
			break
		}
	}
	return errors.Join(errs...)
}

func (cfg Config) hasAuth() bool {
	return cfg.ClientCAFile != "" || len(cfg.SigningSecrets) > 0 || cfg.BasicUser != "" || cfg.SharedSecretHeader != ""
}

// validateCredentials checks the parts of the configuration Reload can
// change too.
func validateCredentials(secrets []string, basicUser, basicPassword, header, shared string) []error {
	var errs []error
	for i, s := range secrets {
		if s == "" {
			errs = append(errs, fmt.Errorf("webhook: signing_secrets[%d] is empty", i))
		}
	}
	if basicUser != "" && basicPassword == "" {
		errs = append(errs, errors.New("webhook: basic_auth needs a password"))
	}
	if basicUser == "" && basicPassword != "" {
		errs = append(errs, errors.New("webhook: basic_auth needs a user"))
	}
	if header != "" && shared == "" {
		errs = append(errs, errors.New("webhook: shared_secret_header needs shared_secret"))
	}
	if header == "" && shared != "" {
		errs = append(errs, errors.New("webhook: shared_secret needs shared_secret_header"))
	}
	return errs
}
