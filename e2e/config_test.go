//go:build e2e || bench

// The daemon's configuration files: what writeConfig renders and its
// options.

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

// daemonConfig is what writeConfig renders; options change it.
type daemonConfig struct {
	ApprovalMode         string // "" = the daemon's default (auto)
	DefaultNotifyService string
	// AutoApprove, Pager, Webhook and Top are extra HCL lines added inside
	// auto_approve {}, pager "pagerduty" {}, webhook {} and at top level.
	AutoApprove []string
	Pager       []string
	Webhook     []string
	Top         []string
	NoWebhook   bool
	Workers     int
	StorePath   string
	LogPath     string // set by writeConfig
	Severity    string // default "debug"
	// RequestTimeout is pager.request_timeout (default "5s").
	RequestTimeout string
	// CertFile and KeyFile replace the env's webhook certificate.
	CertFile, KeyFile string
	// PagerBlock, when set, is written instead of the pager "pagerduty"
	// block (another kind), and WebhookAuth instead of signing_secrets.
	PagerBlock  []string
	WebhookAuth []string
}

type configOpt func(*daemonConfig)

func withApprovalMode(mode string) configOpt {
	return func(c *daemonConfig) { c.ApprovalMode = mode }
}
func withAutoApprove(lines ...string) configOpt {
	return func(c *daemonConfig) { c.AutoApprove = append(c.AutoApprove, lines...) }
}
func withPager(lines ...string) configOpt {
	return func(c *daemonConfig) { c.Pager = append(c.Pager, lines...) }
}
func withWebhook(lines ...string) configOpt {
	return func(c *daemonConfig) { c.Webhook = append(c.Webhook, lines...) }
}
func withTop(lines ...string) configOpt {
	return func(c *daemonConfig) { c.Top = append(c.Top, lines...) }
}
func withDefaultNotify(svc string) configOpt {
	return func(c *daemonConfig) { c.DefaultNotifyService = svc }
}
func withNoWebhook() configOpt         { return func(c *daemonConfig) { c.NoWebhook = true } }
func withWorkers(n int) configOpt      { return func(c *daemonConfig) { c.Workers = n } }
func withStorePath(p string) configOpt { return func(c *daemonConfig) { c.StorePath = p } }
func withWebhookCert(certFile, keyFile string) configOpt {
	return func(c *daemonConfig) { c.CertFile, c.KeyFile = certFile, keyFile }
}

// q quotes s as an HCL string.
func q(s string) string { b, _ := json.Marshal(s); return string(b) }

// writeConfig writes a new config file for this env and returns its path.
func (e *env) writeConfig(opts ...configOpt) string {
	e.t.Helper()
	e.configsMu.Lock()
	e.configs++
	n := e.configs
	e.configsMu.Unlock()
	c := &daemonConfig{
		StorePath:      e.storePath,
		LogPath:        filepath.Join(e.dir, fmt.Sprintf("pagergate-%d.log", n)),
		Severity:       "debug",
		RequestTimeout: "5s",
		CertFile:       e.certFile,
		KeyFile:        e.keyFile,
	}
	for _, o := range opts {
		o(c)
	}
	path := filepath.Join(e.dir, fmt.Sprintf("config-%d.hcl", n))
	if err := os.WriteFile(path, []byte(e.render(c)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *env) render(c *daemonConfig) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# written by the e2e harness")
	if c.Workers > 0 {
		w("workers = %d", c.Workers)
	}
	for _, l := range c.Top {
		w("%s", l)
	}
	w("teleport {")
	w("  addr     = %s", q(e.tp.Addr()))
	w("  identity = %s", q(e.identity))
	if c.ApprovalMode != "" {
		w("  approval_mode = %s", q(c.ApprovalMode))
	}
	w("  dial_timeout = \"5s\"")
	w("}")
	w("")
	if len(c.PagerBlock) > 0 {
		w("%s\n", strings.Join(c.PagerBlock, "\n"))
	} else {
		e.renderPagerDuty(c, w)
	}
	if len(c.AutoApprove) > 0 {
		w("auto_approve {\n  %s\n}\n", strings.Join(c.AutoApprove, "\n  "))
	}
	w("store \"bbolt\" {")
	w("  path = %s", q(c.StorePath))
	w("}")
	w("")
	if !c.NoWebhook {
		w("webhook {")
		w("  listen_addr     = \"127.0.0.1:0\"")
		if c.WebhookAuth != nil {
			for _, l := range c.WebhookAuth {
				w("  %s", l)
			}
		} else {
			w("  signing_secrets = [%s]", q(e.secret))
		}
		for _, l := range c.Webhook {
			w("  %s", l)
		}
		if e.opts.BasicAuth {
			w("  basic_auth {")
			w("    user     = %s", q(basicUser))
			w("    password = %s", q(basicPass))
			w("  }")
		}
		w("  tls {")
		w("    cert_file = %s", q(c.CertFile))
		w("    key_file  = %s", q(c.KeyFile))
		if e.clientCAFile != "" {
			w("    client_ca_file = %s", q(e.clientCAFile))
		}
		w("  }")
		w("}")
		w("")
	}
	w("metrics {")
	w("  listen_addr = \"127.0.0.1:0\"")
	w("}")
	w("")
	w("log {")
	w("  output   = %s", q(c.LogPath))
	w("  severity = %s", q(c.Severity))
	w("  format   = \"json\"")
	w("}")
	return b.String()
}

// renderPagerDuty writes the pager "pagerduty" block on the env's fake.
func (e *env) renderPagerDuty(c *daemonConfig, w func(string, ...any)) {
	w("pager \"pagerduty\" {")
	w("  api_key         = %s", q(fakepd.DefaultAPIKey))
	w("  user_email      = %s", q(botEmail))
	w("  api_endpoint    = %s", q(e.pdURL))
	w("  request_timeout = %s", q(c.RequestTimeout))
	w("  rate_limit      = 960")
	if c.DefaultNotifyService != "" {
		w("  default_notify_service = %s", q(c.DefaultNotifyService))
	}
	for _, l := range c.Pager {
		w("  %s", l)
	}
	w("}")
	w("")
}

// logPathOf reads log.output back from a config file written by
// writeConfig.
func logPathOf(t *testing.T, cfgPath string) string {
	t.Helper()
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		if s == "log {" {
			in = true
			continue
		}
		if in && strings.HasPrefix(s, "output") {
			_, v, _ := strings.Cut(s, "=")
			var out string
			if err := json.Unmarshal([]byte(strings.TrimSpace(v)), &out); err == nil {
				return out
			}
		}
	}
	return ""
}
