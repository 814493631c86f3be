package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checker collects the problems found while a File becomes a Config.
type checker struct {
	diags hcl.Diagnostics
}

// maxRateLimit bounds pager.rate_limit (requests per minute).
const maxRateLimit = 100000

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

// resolve applies the defaults to f and validates it.
func (f *File) resolve() (*Config, hcl.Diagnostics) {
	c := &checker{}
	d := Defaults()
	top := block{body: f.Body, def: missingRange(f.Body), path: ""}
	cfg := &Config{
		Teleport: c.teleport(&f.Teleport, d.Teleport),
		Pager:    c.pager(f, top),
		Store:    c.store(f.Stores, d.Store),
		Log:      c.log(f.Log, d.Log),
		Metrics:  c.metrics(f.Metrics, d.Metrics),
		Workers:  d.Workers,
	}
	if f.Webhook != nil {
		cfg.Webhook = c.webhook(f.Webhook, d.Webhook)
	}
	if f.Workers != nil {
		if w := *f.Workers; w < 1 || w > 1024 {
			c.errorf(valueRange(f.Body, "workers", top.def), "Invalid value", "workers must be between 1 and 1024; got %d.", w)
		} else {
			cfg.Workers = w
		}
	}
	return cfg, c.diags
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

func (c *checker) pager(f *File, top block) PagerSettings {
	if len(f.Pagers) == 0 {
		c.errorf(top.def, "Missing pager block",
			"Exactly one pager block is required: pager \"pagerduty\" { ... } or, for staging, pager \"fake\" { ... }.")
		return Defaults().Pager
	}
	for _, p := range f.Pagers[1:] {
		c.errorf(p.DefRange, "Duplicate pager block",
			"Exactly one pager block is allowed; the first is at %s.", rangePos(f.Pagers[0].DefRange))
	}
	p := &f.Pagers[0]
	var d PagerSettings
	switch p.Kind {
	case PagerPagerDuty:
		d = Defaults().Pager
	case PagerFake:
		d = FakeDefaults()
	default:
		c.errorf(p.DefRange, "Unsupported pager kind",
			"pager %q: the kind must be \"pagerduty\" or \"fake\".", p.Kind)
		return Defaults().Pager
	}
	b := block{body: p.Body, def: p.DefRange, path: "pager." + p.Kind}
	out := PagerSettings{
		Kind:                    p.Kind,
		APIKey:                  Secret(p.APIKey),
		UserEmail:               p.UserEmail,
		APIEndpoint:             p.APIEndpoint,
		NotifyServiceAnnotation: orDefault(p.NotifyServiceAnnotation, d.NotifyServiceAnnotation),
		ServicesAnnotation:      orDefault(p.ServicesAnnotation, d.ServicesAnnotation),
		DefaultNotifyService:    p.DefaultNotifyService,
		Priority:                p.Priority,
		RateLimit:               d.RateLimit,
	}

	if p.Kind == PagerPagerDuty {
		c.required(b, "api_key", p.APIKey, " Keep it out of the file: api_key = env(\"PAGERDUTY_API_KEY\") or file(\"/path/to/key\").")
		if c.required(b, "user_email", p.UserEmail, " It is the PagerDuty user incidents are opened as.") {
			c.email(b, "user_email", p.UserEmail)
		}
		c.pagerdutyOnly(p, b)
		if out.APIEndpoint == "" {
			out.APIEndpoint = d.APIEndpoint
		} else {
			c.apiEndpoint(b, p.APIEndpoint)
		}
	} else {
		out.APIKey = Secret(orDefault(p.APIKey, d.APIKey.Value()))
		out.UserEmail = orDefault(p.UserEmail, d.UserEmail)
		c.email(b, "user_email", p.UserEmail)
		if has(b.body, "api_endpoint") {
			c.errorf(attrRange(b.body, "api_endpoint", b.def), "Unexpected argument for the fake pager",
				"pager.fake.api_endpoint is not used: the fake runs in-process and pagergate talks to its listen_addr.")
		}
		out.Fake = c.fake(p, b, d.Fake)
	}

	for _, a := range []struct{ name, val, def string }{
		{"notify_service_annotation", p.NotifyServiceAnnotation, d.NotifyServiceAnnotation},
		{"services_annotation", p.ServicesAnnotation, d.ServicesAnnotation},
	} {
		if a.val == "" && has(b.body, a.name) {
			c.errorf(b.value(a.name), "Empty value", "%s must not be empty; leave it out for the default %q.", b.key(a.name), a.def)
		}
	}
	if p.Urgency != "" {
		out.Urgency = c.oneOf(b, "urgency", p.Urgency, "", "high", "low")
	}
	if p.RateLimit != nil {
		// PagerDuty allows 960 requests per minute per key and answers 429
		// beyond, which the client honours; higher limits serve the fake
		// and API proxies.
		if r := *p.RateLimit; r < 1 || r > maxRateLimit {
			c.errorf(b.value("rate_limit"), "Invalid value",
				"%s must be between 1 and %d requests per minute (PagerDuty's own limit is 960 per API key); got %d.", b.key("rate_limit"), maxRateLimit, r)
		} else {
			out.RateLimit = r
		}
	}
	out.RequestTimeout = c.duration(b, "request_timeout", p.RequestTimeout, d.RequestTimeout)
	out.CacheTTL = c.duration(b, "cache_ttl", p.CacheTTL, d.CacheTTL)
	out.AutoApprove = c.autoApprove(p.AutoApprove, b, d.AutoApprove)
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// pagerdutyOnly rejects the fake's keys in a pager "pagerduty" block.
func (c *checker) pagerdutyOnly(p *Pager, b block) {
	const detail = "%s belongs to pager \"fake\" only; a PagerDuty account holds its own users, services and on-call schedules."
	for _, name := range []string{"listen_addr", "seed_file"} {
		if has(b.body, name) {
			c.errorf(attrRange(b.body, name, b.def), "Unexpected argument for PagerDuty", detail, b.key(name))
		}
	}
	for _, u := range p.Users {
		c.errorf(u.DefRange, "Unexpected block for PagerDuty", detail, b.key("user"))
	}
	for _, s := range p.Services {
		c.errorf(s.DefRange, "Unexpected block for PagerDuty", detail, b.key("service"))
	}
	for _, o := range p.OnCalls {
		c.errorf(o.DefRange, "Unexpected block for PagerDuty", detail, b.key("on_call"))
	}
}

func (c *checker) apiEndpoint(b block, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		c.errorf(b.value("api_endpoint"), "Invalid API endpoint",
			"%s must be an https URL such as \"https://api.eu.pagerduty.com\"; got %q.", b.key("api_endpoint"), raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		c.errorf(b.value("api_endpoint"), "Insecure API endpoint",
			"%s must use https; plain http is allowed only for loopback hosts (a local fake); got %q.", b.key("api_endpoint"), raw)
	default:
		c.errorf(b.value("api_endpoint"), "Invalid API endpoint",
			"%s must be an https URL such as \"https://api.eu.pagerduty.com\"; got %q.", b.key("api_endpoint"), raw)
	}
}

func (c *checker) fake(p *Pager, b block, d *FakeSettings) *FakeSettings {
	out := &FakeSettings{
		ListenAddr: c.listenAddr(b, "listen_addr", p.ListenAddr, d.ListenAddr),
		SeedFile:   p.SeedFile,
	}
	users := map[string]bool{}
	for _, u := range p.Users {
		key := strings.ToLower(u.Email)
		switch {
		case !isEmail(u.Email):
			c.errorf(u.DefRange, "Invalid email address", "%s %q: the label must be the user's email address.", b.key("user"), u.Email)
		case users[key]:
			c.errorf(u.DefRange, "Duplicate user", "%s %q is declared twice.", b.key("user"), u.Email)
		}
		users[key] = true
		u.DefRange = hcl.Range{}
		out.Users = append(out.Users, u)
	}
	services := map[string]bool{}
	for _, s := range p.Services {
		key := strings.ToLower(s.Name)
		if s.Name == "" || services[key] {
			c.errorf(s.DefRange, "Duplicate service", "%s %q is empty or declared twice (names are case-insensitive).", b.key("service"), s.Name)
		}
		services[key] = true
		if s.ID != "" {
			services[strings.ToLower(s.ID)] = true
		}
		s.DefRange = hcl.Range{}
		out.Services = append(out.Services, s)
	}
	for _, o := range p.OnCalls {
		if o.Level < 0 {
			c.errorf(o.DefRange, "Invalid value", "%s level must be 1 or more; got %d.", b.key("on_call"), o.Level)
		}
		if o.Level == 0 {
			o.Level = fakeLevel
		}
		if p.SeedFile == "" {
			if !users[strings.ToLower(o.User)] {
				c.errorf(o.DefRange, "Unknown user", "%s names user %q, which no user block declares.", b.key("on_call"), o.User)
			}
			if !services[strings.ToLower(o.Service)] {
				c.errorf(o.DefRange, "Unknown service", "%s names service %q, which no service block declares.", b.key("on_call"), o.Service)
			}
		}
		o.DefRange = hcl.Range{}
		out.OnCalls = append(out.OnCalls, o)
	}
	return out
}

func (c *checker) autoApprove(a *AutoApprove, pb block, d AutoApproveSettings) AutoApproveSettings {
	if a == nil {
		return d
	}
	b := block{body: a.Body, def: a.DefRange, path: pb.key("auto_approve")}
	out := AutoApproveSettings{
		Enabled:               d.Enabled,
		MaxEscalationLevel:    a.MaxEscalationLevel,
		RequireActiveIncident: a.RequireActiveIncident,
		BindToShift:           a.BindToShift,
		AllowedRoles:          a.AllowedRoles,
		DeniedRoles:           a.DeniedRoles,
		UserMap:               a.UserMap,
	}
	if a.Enabled != nil {
		out.Enabled = *a.Enabled
	}
	if a.MaxEscalationLevel < 0 {
		c.errorf(b.value("max_escalation_level"), "Invalid value",
			"%s must be 0 (any level) or more; got %d.", b.key("max_escalation_level"), a.MaxEscalationLevel)
		out.MaxEscalationLevel = d.MaxEscalationLevel
	}
	c.roleLists(a, b)
	c.userMap(a.UserMap, b)
	return out
}

// roleLists checks allowed_roles and denied_roles: no empty entry, no role
// in both, and every "^...$" entry a valid regular expression (entries
// match role names as Teleport role conditions do, SPEC §4 rule 5).
func (c *checker) roleLists(a *AutoApprove, b block) {
	allowed := map[string]bool{}
	for _, r := range a.AllowedRoles {
		allowed[r] = true
	}
	for _, r := range a.DeniedRoles {
		if allowed[r] {
			c.errorf(b.value("denied_roles"), "Overlapping roles",
				"Role %q is in both %s and %s.", r, b.key("allowed_roles"), b.key("denied_roles"))
		}
	}
	for _, name := range []string{"allowed_roles", "denied_roles"} {
		list := a.AllowedRoles
		if name == "denied_roles" {
			list = a.DeniedRoles
		}
		for _, r := range list {
			if strings.TrimSpace(r) == "" {
				c.errorf(b.value(name), "Empty value", "%s must not hold an empty role name.", b.key(name))
				break
			}
			if len(r) >= 2 && strings.HasPrefix(r, "^") && strings.HasSuffix(r, "$") {
				if _, err := regexp.Compile(r); err != nil {
					c.errorf(b.value(name), "Invalid role pattern",
						"%s entry %q is not a valid regular expression: %v. Entries match role names like Teleport role conditions: exact, \"*\" as a wildcard, or \"^...$\" as a regular expression.",
						b.key(name), r, err)
				}
			}
		}
	}
}

// userMap checks user_map: no empty names, and no two keys that differ
// only by case (keys are exact Teleport user names; two such keys would
// look like one entry to a reader but map two users).
func (c *checker) userMap(m map[string]string, b block) {
	keys := make([]string, 0, len(m))
	for from, to := range m {
		if from == "" || to == "" {
			c.errorf(b.value("user_map"), "Empty value", "%s must not hold empty names.", b.key("user_map"))
			return
		}
		keys = append(keys, from)
	}
	sort.Strings(keys)
	seen := map[string]string{}
	for _, k := range keys {
		fold := strings.ToLower(k)
		if prev, ok := seen[fold]; ok {
			c.errorf(b.value("user_map"), "Ambiguous user_map keys",
				"%s has keys %q and %q, which differ only by case. Keys are exact Teleport user names; keep the one that is the user's name.",
				b.key("user_map"), prev, k)
			continue
		}
		seen[fold] = k
	}
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

	if w.TLS == nil {
		c.errorf(w.DefRange, "Missing TLS block",
			"webhook needs a tls block with cert_file and key_file: the webhook is served over HTTPS only.")
	} else {
		t := w.TLS
		tb := block{body: t.Body, def: t.DefRange, path: "webhook.tls"}
		c.required(tb, "cert_file", t.CertFile, "")
		c.required(tb, "key_file", t.KeyFile, "")
		out.TLS = TLSSettings{
			CertFile:         t.CertFile,
			KeyFile:          t.KeyFile,
			ClientCAFile:     t.ClientCAFile,
			AllowedClientCNs: d.TLS.AllowedClientCNs,
		}
		if t.ClientCAFile != "" {
			auth = true
		}
		if has(tb.body, "allowed_client_cns") {
			switch {
			case t.ClientCAFile == "":
				c.errorf(attrRange(tb.body, "allowed_client_cns", tb.def), "Client names without mutual TLS",
					"webhook.tls.allowed_client_cns needs webhook.tls.client_ca_file: without it no client certificate is checked.")
			case len(t.AllowedClientCNs) == 0:
				c.errorf(tb.value("allowed_client_cns"), "Empty value",
					"webhook.tls.allowed_client_cns must name at least one common name; leave it out for the PagerDuty defaults.")
			default:
				out.TLS.AllowedClientCNs = t.AllowedClientCNs
			}
			for _, cn := range t.AllowedClientCNs {
				if cn == "" {
					c.errorf(tb.value("allowed_client_cns"), "Empty value", "webhook.tls.allowed_client_cns must not hold an empty name.")
					break
				}
			}
		}
	}

	c.webhookAuth(b, auth, w.InsecureNoAuth)
	return out
}

// webhookAuth checks that the webhook has authentication, and that the demo
// switch insecure_no_auth is not set next to it.
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

func (c *checker) metrics(m *Metrics, d MetricsSettings) MetricsSettings {
	if m == nil {
		return d
	}
	b := block{body: m.Body, def: m.DefRange, path: "metrics"}
	return MetricsSettings{ListenAddr: c.listenAddr(b, "listen_addr", m.ListenAddr, d.ListenAddr)}
}
