package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pagergate/pagergate/ports"
)

// Defaults New applies to the zero limits of a Config; the settings users
// write come from the webhook block, whose defaults are config.Defaults'.
const (
	DefaultBodyLimit      = 256 << 10
	DefaultHandlerTimeout = 4 * time.Second
)

// Config configures the webhook server. Which combinations of
// authentication methods are acceptable is the configuration's rule
// (config.Load checks it, with diagnostics); New and Reload check only
// what the server needs to be safe: no credential it compares is empty.
type Config struct {
	// ListenAddr is the TCP address to listen on. Required.
	ListenAddr string
	// CertFile and KeyFile hold the server certificate and key (PEM);
	// both are required, the server speaks HTTPS only.
	CertFile, KeyFile string
	// ClientCAFile, when set, turns on mutual TLS: client certificates must
	// chain to a CA in this PEM file and carry a common name listed in
	// AllowedClientCNs (at least one).
	ClientCAFile     string
	AllowedClientCNs []string
	// Credentials are the secrets deliveries are checked against; Reload
	// swaps them.
	Credentials
	// SharedSecretHeader, when set, names the header that must carry
	// Credentials.SharedSecret on every action route.
	SharedSecretHeader string
	// InsecureNoAuth accepts every delivery unauthenticated, on the routes
	// no other method covers. For local demos only; a warning is logged at
	// each start.
	InsecureNoAuth bool
	// ApproveWorkflow and DenyWorkflow name the manual Incident Workflows
	// whose start approves or denies (v3 incident.workflow.started).
	ApproveWorkflow, DenyWorkflow string
	// BodyLimit caps request bodies in bytes (default 256 KiB).
	BodyLimit int64
	// HandlerTimeout bounds the handling of one delivery (default 4s, under
	// PagerDuty's 5 s deadline for v3 webhooks).
	HandlerTimeout time.Duration
	// Health, optional, serves GET /healthz and /readyz (the metrics
	// adapter's handler, shared by both listeners); without it those
	// routes are not found.
	Health http.Handler
	// Metrics, optional, counts webhook_requests by route and status.
	Metrics ports.Metrics
	// Routes are the pager's own delivery routes (a vendor other than
	// PagerDuty), served behind the same authentication in place of
	// PagerDuty's routes.
	Routes []ports.DeliveryRoute
}

// Credentials are the webhook secrets a reload (SIGHUP) can change.
type Credentials struct {
	// SigningSecrets verify the X-PagerDuty-Signature header of v3
	// deliveries; any one of them may match (secret rotation).
	SigningSecrets []string
	// BasicUser and BasicPassword, when BasicUser is set, require HTTP
	// basic authentication on every action route.
	BasicUser, BasicPassword string
	// SharedSecret is the value Config.SharedSecretHeader must carry.
	SharedSecret string
}

// withDefaults returns cfg with documented defaults applied.
func (cfg Config) withDefaults() Config {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = DefaultHandlerTimeout
	}
	return cfg
}

// validate checks what New needs: an address, a certificate, client
// names to accept under mutual TLS, and no empty value among the
// credentials it compares.
func (cfg Config) validate() error {
	var errs []error
	if cfg.ListenAddr == "" {
		errs = append(errs, errors.New("webhook: listen_addr is required"))
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		errs = append(errs, errors.New("webhook: cert_file and key_file are required (HTTPS only)"))
	}
	if cfg.ClientCAFile != "" && len(cfg.AllowedClientCNs) == 0 {
		errs = append(errs, errors.New("webhook: client_ca_file needs allowed_client_cns"))
	}
	errs = append(errs, cfg.Credentials.check(cfg.SharedSecretHeader))
	for _, rt := range cfg.Routes {
		if !strings.HasPrefix(rt.Path, "/") || rt.Parse == nil || rt.Path == PathHealthz || rt.Path == PathReadyz {
			errs = append(errs, fmt.Errorf("webhook: delivery route %q needs a path of its own and a parser", rt.Path))
		}
	}
	for _, cn := range cfg.AllowedClientCNs {
		if strings.TrimSpace(cn) == "" {
			errs = append(errs, errors.New("webhook: allowed_client_cns has an empty name"))
			break
		}
	}
	return errors.Join(errs...)
}

// check refuses an empty value the server would compare a delivery
// against: an empty secret would match an empty header.
func (c Credentials) check(sharedHeader string) error {
	var errs []error
	for i, s := range c.SigningSecrets {
		if s == "" {
			errs = append(errs, fmt.Errorf("webhook: signing_secrets[%d] is empty", i))
		}
	}
	if c.BasicUser != "" && c.BasicPassword == "" {
		errs = append(errs, errors.New("webhook: basic_auth needs a password"))
	}
	if sharedHeader != "" && c.SharedSecret == "" {
		errs = append(errs, errors.New("webhook: shared_secret_header needs shared_secret"))
	}
	return errors.Join(errs...)
}
