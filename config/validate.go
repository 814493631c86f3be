package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checker collects the problems found while a File becomes a Config.
type checker struct {
	diags hcl.Diagnostics
	// root is the file's body and eval its functions, for the block
	// bodies decoded late (a pager kind's).
	root hcl.Body
	eval *hcl.EvalContext
}

func (c *checker) errorf(subject hcl.Range, summary, format string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

// attr returns the attribute name of body when body is native HCL syntax.
func attr(body hcl.Body, name string) *hclsyntax.Attribute {
	b, ok := body.(*hclsyntax.Body)
	if !ok || b == nil {
		return nil
	}
	return b.Attributes[name]
}

// valueRange is the range of the value of attribute name in body, or
// fallback when the attribute is absent.
func valueRange(body hcl.Body, name string, fallback hcl.Range) hcl.Range {
	if a := attr(body, name); a != nil {
		return a.Expr.Range()
	}
	return fallback
}

// attrRange is the range of the whole attribute name in body, or fallback.
func attrRange(body hcl.Body, name string, fallback hcl.Range) hcl.Range {
	if a := attr(body, name); a != nil {
		return a.SrcRange
	}
	return fallback
}

// has reports whether body sets attribute name.
func has(body hcl.Body, name string) bool { return attr(body, name) != nil }

// block is one decoded block: its body, where it starts and its key path
// for messages (like "pager.pagerduty").
type block struct {
	body hcl.Body
	def  hcl.Range
	path string
}

func (b block) key(name string) string { return b.path + "." + name }

func (b block) value(name string) hcl.Range { return valueRange(b.body, name, b.def) }

func (c *checker) duration(b block, name, raw string, def time.Duration) time.Duration {
	if raw == "" && !has(b.body, name) {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		c.errorf(b.value(name), "Invalid duration",
			"%s must be a duration such as \"30s\", \"10m\" or \"72h\"; got %q.", b.key(name), raw)
		return def
	}
	if d <= 0 {
		c.errorf(b.value(name), "Invalid duration", "%s must be positive; got %q.", b.key(name), raw)
		return def
	}
	return d
}

func (c *checker) oneOf(b block, name, raw, def string, allowed ...string) string {
	if raw == "" && !has(b.body, name) {
		return def
	}
	for _, a := range allowed {
		if raw == a {
			return raw
		}
	}
	c.errorf(b.value(name), "Invalid value", "%s must be one of %s; got %q.", b.key(name), quoteList(allowed), raw)
	return def
}

func (c *checker) listenAddr(b block, name, raw, def string) string {
	if raw == "" && !has(b.body, name) {
		return def
	}
	if err := checkHostPort(raw, true); err != nil {
		c.errorf(b.value(name), "Invalid listen address",
			"%s must be [host]:port, such as \":8443\" or \"127.0.0.1:9464\"; %q: %v.", b.key(name), raw, err)
		return def
	}
	return raw
}

func (c *checker) required(b block, name, raw, hint string) bool {
	if raw != "" {
		return true
	}
	if has(b.body, name) {
		c.errorf(b.value(name), "Empty value", "%s must not be empty.%s", b.key(name), hint)
	} else {
		c.errorf(b.def, "Missing required argument", "%s is required.%s", b.key(name), hint)
	}
	return false
}

func (c *checker) email(b block, name, raw string) {
	if raw != "" && !isEmail(raw) {
		c.errorf(b.value(name), "Invalid email address",
			"%s must be an email address such as \"teleport-bot@example.com\"; got %q.", b.key(name), raw)
	}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// checkHostPort checks an address is host:port with a numeric port; the
// host may be empty only when emptyHost (listen addresses).
func checkHostPort(addr string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" && !emptyHost {
		return fmt.Errorf("missing host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !emptyHost) {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t")
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolve applies the defaults to f and validates it; eval holds the
// file's functions.
func (f *File) resolve(eval *hcl.EvalContext) (*Config, hcl.Diagnostics) {
	c := &checker{root: f.Body, eval: eval}
	d := Defaults()
	top := block{body: f.Body, def: missingRange(f.Body), path: ""}
	cfg := &Config{
		Teleport: c.teleport(&f.Teleport, d.Teleport),
		Pager:    c.pager(f, top),
		Store:    c.store(f.Stores, d.Store),
		Log:      c.log(f.Log, d.Log),
		Metrics:  c.metrics(f.Metrics, d.Metrics),
		Memory:   c.memory(f.Memory, d.Memory),
		Workers:  c.workers(f, top, d.Workers),
	}
	path := "auto_approve"
	if f.AutoApprove == nil && len(f.Pagers) > 0 {
		path = "pager." + f.Pagers[0].Kind + ".auto_approve"
	}
	aa := c.legacyAutoApprove(f)
	cfg.AutoApprove = c.autoApprove(aa, path, d.AutoApprove)
	if k, ok := pagerKinds[cfg.Pager.Kind]; ok && k.autoApprove != nil && aa != nil {
		k.autoApprove(c, aa, block{body: aa.Body, def: aa.DefRange, path: path})
	}
	if f.Webhook != nil {
		cfg.Webhook = c.webhook(f.Webhook, d.Webhook)
		if k, ok := pagerKinds[cfg.Pager.Kind]; ok && k.webhook != nil {
			k.webhook(c, f.Webhook, block{body: f.Webhook.Body, def: f.Webhook.DefRange, path: "webhook"}, cfg.Webhook)
		}
	}
	return cfg, c.diags
}

func (c *checker) workers(f *File, top block, def int) int {
	if f.Workers == nil {
		return def
	}
	if w := *f.Workers; w < 1 || w > 1024 {
		c.errorf(valueRange(f.Body, "workers", top.def), "Invalid value", "workers must be between 1 and 1024; got %d.", w)
		return def
	}
	return *f.Workers
}

func missingRange(body hcl.Body) hcl.Range {
	if body == nil {
		return hcl.Range{}
	}
	return body.MissingItemRange()
}

func (c *checker) teleport(t *Teleport, d TeleportSettings) TeleportSettings {
	b := block{body: t.Body, def: t.DefRange, path: "teleport"}
	out := TeleportSettings{
		Addr:            t.Addr,
		Identity:        t.Identity,
		RefreshIdentity: t.RefreshIdentity,
		ClientCrt:       t.ClientCrt,
		ClientKey:       t.ClientKey,
		RootCAs:         t.RootCAs,
	}
	if c.required(b, "addr", t.Addr, "") {
		if err := checkHostPort(t.Addr, false); err != nil {
			c.errorf(b.value("addr"), "Invalid Teleport address",
				"teleport.addr must be host:port, such as \"teleport.example.com:443\"; %q: %v.", t.Addr, err)
		}
	}

	type file struct{ name, val string }
	trio := []file{{"client_crt", t.ClientCrt}, {"client_key", t.ClientKey}, {"root_cas", t.RootCAs}}
	var set, missing []string
	for _, f := range trio {
		if f.val != "" {
			set = append(set, f.name)
		} else {
			missing = append(missing, "teleport."+f.name)
		}
	}
	switch {
	case t.Identity != "" && len(set) > 0:
		c.errorf(attrRange(b.body, set[0], b.def), "Conflicting Teleport credentials",
			"teleport.identity and teleport.%s are exclusive: use an identity file, or client_crt, client_key and root_cas.", set[0])
	case t.Identity == "" && len(set) == 0:
		c.errorf(b.def, "Missing Teleport credentials",
			"teleport needs identity (an identity file), or client_crt, client_key and root_cas together.")
	case t.Identity == "" && len(missing) > 0:
		c.errorf(attrRange(b.body, set[0], b.def), "Incomplete Teleport client certificate",
			"teleport.client_crt, teleport.client_key and teleport.root_cas go together; missing %s.", strings.Join(missing, ", "))
	}
	if t.RefreshIdentity && t.Identity == "" {
		c.errorf(attrRange(b.body, "refresh_identity", b.def), "Nothing to refresh",
			"teleport.refresh_identity needs teleport.identity: only an identity file is re-read.")
	}
	out.ApprovalMode = c.oneOf(b, "approval_mode", t.ApprovalMode, d.ApprovalMode, ApprovalReview, ApprovalSetState, ApprovalAuto)
	out.DialTimeout = c.duration(b, "dial_timeout", t.DialTimeout, d.DialTimeout)
	return out
}

func (c *checker) store(stores []Store, d StoreSettings) StoreSettings {
	if len(stores) == 0 {
		return d
	}
	for _, s := range stores[1:] {
		c.errorf(s.DefRange, "Duplicate store block",
			"At most one store block is allowed; the first is at %s.", rangePos(stores[0].DefRange))
	}
	s := stores[0]
	if s.Kind != StoreBolt {
		c.errorf(s.DefRange, "Unsupported store kind", "store %q: the only kind is \"bbolt\".", s.Kind)
		return d
	}
	b := block{body: s.Body, def: s.DefRange, path: "store.bbolt"}
	out := StoreSettings{Kind: s.Kind, Path: d.Path}
	if s.Path != "" {
		out.Path = s.Path
	} else if has(b.body, "path") {
		c.errorf(b.value("path"), "Empty value", "store.bbolt.path must not be empty; leave it out for the default %q.", d.Path)
	}
	out.Retention = c.duration(b, "retention", s.Retention, d.Retention)
	return out
}

func (c *checker) webhook(w *Webhook, d *WebhookSettings) *WebhookSettings {
	b := block{body: w.Body, def: w.DefRange, path: "webhook"}
	out := &WebhookSettings{
		ListenAddr:         c.listenAddr(b, "listen_addr", w.ListenAddr, d.ListenAddr),
		PublicAddr:         w.PublicAddr,
		InsecureNoAuth:     w.InsecureNoAuth,
		SharedSecretHeader: w.SharedSecretHeader,
		SharedSecret:       Secret(w.SharedSecret),
		Approvers:          c.oneOf(b, "approvers", w.Approvers, d.Approvers, ApproversOnCall, ApproversAny),
		OnManualResolve:    c.oneOf(b, "on_manual_resolve", w.OnManualResolve, d.OnManualResolve, ManualResolveIgnore, ManualResolveDeny),
		ProvisionActions:   w.ProvisionActions,
		ApproveWorkflow:    w.ApproveWorkflow,
		DenyWorkflow:       w.DenyWorkflow,
		ReplayWindow:       c.duration(b, "replay_window", w.ReplayWindow, d.ReplayWindow),
	}
	c.publicAddr(w, b)
	auth := c.webhookCredentials(w, b, out)
	if w.TLS == nil {
		c.errorf(w.DefRange, "Missing TLS block",
			"webhook needs a tls block with cert_file and key_file: the webhook is served over HTTPS only.")
	} else {
		out.TLS = c.webhookTLS(w.TLS, d.TLS)
		auth = auth || w.TLS.ClientCAFile != ""
	}
	c.webhookAuth(b, auth, w.InsecureNoAuth)
	return out
}

// publicAddr checks public_addr and that provision_actions has one.
func (c *checker) publicAddr(w *Webhook, b block) {
	if w.PublicAddr != "" {
		u, err := url.Parse(w.PublicAddr)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			c.errorf(b.value("public_addr"), "Invalid public address",
				"webhook.public_addr must be the https URL PagerDuty reaches pagergate at, such as \"https://pagergate.example.com:8443\"; got %q.", w.PublicAddr)
		}
	}
	if w.ProvisionActions && w.PublicAddr == "" {
		c.errorf(attrRange(b.body, "provision_actions", b.def), "Missing public address",
			"webhook.provision_actions needs webhook.public_addr: the custom actions point PagerDuty at it.")
	}
}

// webhookCredentials checks the signing secrets, the shared secret and
// basic auth, sets the complete ones in out and reports whether any is.
func (c *checker) webhookCredentials(w *Webhook, b block, out *WebhookSettings) bool {
	auth := false
	for _, s := range w.SigningSecrets {
		if s == "" {
			c.errorf(b.value("signing_secrets"), "Empty value", "webhook.signing_secrets must not hold an empty secret.")
			break
		}
		out.SigningSecrets = append(out.SigningSecrets, Secret(s))
		auth = true
	}
	switch {
	case w.SharedSecretHeader != "" && w.SharedSecret != "":
		auth = true
	case w.SharedSecretHeader != "":
		c.errorf(attrRange(b.body, "shared_secret_header", b.def), "Incomplete shared secret",
			"webhook.shared_secret_header needs webhook.shared_secret, the value the header must carry.")
	case w.SharedSecret != "" || has(b.body, "shared_secret"):
		c.errorf(attrRange(b.body, "shared_secret", b.def), "Incomplete shared secret",
			"webhook.shared_secret needs webhook.shared_secret_header (and a non-empty secret).")
	}
	if ba := w.BasicAuth; ba != nil {
		bb := block{body: ba.Body, def: ba.DefRange, path: "webhook.basic_auth"}
		ok := c.required(bb, "user", ba.User, "")
		ok = c.required(bb, "password", ba.Password, " Keep it out of the file: password = env(\"PAGERGATE_WEBHOOK_PASSWORD\").") && ok
		if ok {
			out.BasicAuth = &BasicAuthSettings{User: ba.User, Password: Secret(ba.Password)}
			auth = true
		}
	}
	return auth
}

// webhookTLS checks the tls block; d holds the default client names.
func (c *checker) webhookTLS(t *TLS, d TLSSettings) TLSSettings {
	tb := block{body: t.Body, def: t.DefRange, path: "webhook.tls"}
	c.required(tb, "cert_file", t.CertFile, "")
	c.required(tb, "key_file", t.KeyFile, "")
	out := TLSSettings{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, AllowedClientCNs: d.AllowedClientCNs}
	if !has(tb.body, "allowed_client_cns") {
		return out
	}
	switch {
	case t.ClientCAFile == "":
		c.errorf(attrRange(tb.body, "allowed_client_cns", tb.def), "Client names without mutual TLS",
			"webhook.tls.allowed_client_cns needs webhook.tls.client_ca_file: without it no client certificate is checked.")
	case len(t.AllowedClientCNs) == 0:
		c.errorf(tb.value("allowed_client_cns"), "Empty value",
			"webhook.tls.allowed_client_cns must name at least one common name; leave it out for the PagerDuty defaults.")
	default:
		out.AllowedClientCNs = t.AllowedClientCNs
	}
	for _, cn := range t.AllowedClientCNs {
		if cn == "" {
			c.errorf(tb.value("allowed_client_cns"), "Empty value", "webhook.tls.allowed_client_cns must not hold an empty name.")
			break
		}
	}
	return out
}

// webhookAuth is the one rule on the webhook's authentication (the adapter
// checks only that no credential it compares is empty): at least one
// method, and the demo switch insecure_no_auth never next to one.
func (c *checker) webhookAuth(b block, auth, insecure bool) {
	if auth && insecure {
		c.errorf(attrRange(b.body, "insecure_no_auth", b.def), "Insecure mode next to authentication",
			"webhook.insecure_no_auth = true accepts unauthenticated deliveries on every route no configured method covers: next to signing_secrets, tls.client_ca_file, basic_auth or shared_secret_header it would leave routes open without saying so (signing_secrets cover /pagerduty/v3 only). Remove insecure_no_auth, or the other methods for a local demo.")
	}
	if !auth && !insecure {
		c.errorf(b.def, "Unauthenticated webhook",
			"webhook needs at least one authentication: signing_secrets (PagerDuty v3 signatures), tls.client_ca_file (mutual TLS), a basic_auth block, or shared_secret_header with shared_secret. insecure_no_auth = true turns this off for local demos only.")
	}
}

func (c *checker) log(l *Log, d LogSettings) LogSettings {
	if l == nil {
		return d
	}
	b := block{body: l.Body, def: l.DefRange, path: "log"}
	out := LogSettings{Output: d.Output}
	if l.Output != "" {
		out.Output = l.Output
	} else if has(b.body, "output") {
		c.errorf(b.value("output"), "Empty value", "log.output must be \"stderr\", \"stdout\" or a file path.")
	}
	out.Severity = c.oneOf(b, "severity", strings.ToLower(l.Severity), d.Severity, "debug", "info", "warn", "error")
	out.Format = c.oneOf(b, "format", strings.ToLower(l.Format), d.Format, "text", "json")
	return out
}

func (c *checker) memory(m *Memory, d MemorySettings) MemorySettings {
	if m == nil {
		return d
	}
	b := block{body: m.Body, def: m.DefRange, path: "memory"}
	out := d
	if m.ReleaseWhenIdle != nil {
		out.ReleaseWhenIdle = *m.ReleaseWhenIdle
	}
	out.IdleAfter = c.duration(b, "idle_after", m.IdleAfter, d.IdleAfter)
	if out.IdleAfter < time.Second {
		c.errorf(b.value("idle_after"), "Idle spell too short",
			"memory.idle_after must be at least \"1s\" (each release runs a full collection); got %q.", m.IdleAfter)
		out.IdleAfter = d.IdleAfter
	}
	return out
}

func (c *checker) metrics(m *Metrics, d MetricsSettings) MetricsSettings {
	if m == nil {
		return d
	}
	b := block{body: m.Body, def: m.DefRange, path: "metrics"}
	return MetricsSettings{ListenAddr: c.listenAddr(b, "listen_addr", m.ListenAddr, d.ListenAddr)}
}
