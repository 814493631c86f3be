package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Environment variables the HCL written by Migrate reads secrets from.
const (
	MigrateAPIKeyEnv   = "PAGERDUTY_API_KEY"
	MigratePasswordEnv = "PAGERGATE_WEBHOOK_PASSWORD"
	MigrateSecretEnv   = "PAGERDUTY_WEBHOOK_SECRET"
)

// BehaviourChange starts each warning of Migrate that says where
// pagergate, with the HCL written, behaves differently from the reference
// plugin with its TOML.
const BehaviourChange = "behaviour change: "

// referenceFile is every generation of the reference plugin's
// teleport-pagerduty.toml.
type referenceFile struct {
	Teleport struct {
		Addr            string `toml:"addr"`
		AuthServer      string `toml:"auth_server"`
		Identity        string `toml:"identity"`
		RefreshIdentity *bool  `toml:"refresh_identity"`
		ClientCrt       string `toml:"client_crt"`
		ClientKey       string `toml:"client_key"`
		RootCAs         string `toml:"root_cas"`
	} `toml:"teleport"`
	PagerDuty struct {
		APIKey             string `toml:"api_key"`
		UserEmail          string `toml:"user_email"`
		ServiceID          string `toml:"service_id"`
		AutoApprove        *bool  `toml:"auto_approve"`
		NotifyService      string `toml:"notify_service"`
		Services           string `toml:"services"`
		RequestAnnotations struct {
			NotifyService string `toml:"NotifyService"`
			Services      string `toml:"Services"`
		} `toml:"RequestAnnotations"`
	} `toml:"pagerduty"`
	HTTP struct {
		ListenAddr    string `toml:"listen_addr"`
		PublicAddr    string `toml:"public_addr"`
		HTTPSKeyFile  string `toml:"https_key_file"`
		HTTPSCertFile string `toml:"https_cert_file"`
		Insecure      bool   `toml:"insecure"`
		TLS           struct {
			CertFile         string `toml:"cert_file"`
			KeyFile          string `toml:"key_file"`
			ClientCAFile     string `toml:"client_ca_file"`
			VerifyClientCert bool   `toml:"verify_client_cert"`
		} `toml:"tls"`
		BasicAuth struct {
			User     string `toml:"user"`
			Password string `toml:"password"`
		} `toml:"basic_auth"`
	} `toml:"http"`
	Log struct {
		Output   string `toml:"output"`
		Severity string `toml:"severity"`
		Format   string `toml:"format"`
	} `toml:"log"`
}

// generation names the generation of the reference plugin a file is of:
// the first set one PagerDuty service (service_id) and auto_approve; the
// later ones take the services from request annotations.
func (ref *referenceFile) generation() string {
	if ref.PagerDuty.AutoApprove != nil || ref.PagerDuty.ServiceID != "" {
		return "first generation (service_id, auto_approve)"
	}
	return "annotation generation (pagerduty_notify_service, pagerduty_services)"
}

// referenceListenAddr is where the reference plugin's callback server
// listened when [http] had no listen_addr.
const referenceListenAddr = ":8081"

// Migrate turns the reference plugin's teleport-pagerduty.toml (any
// generation) into pagergate HCL. Secrets are never copied: a literal API
// key or basic auth password becomes env("..."), with a warning to export
// it. Each key that cannot be carried over is named in a warning. err is
// set only when src is not TOML of the expected shape.
func Migrate(src []byte, filename string) (hcl []byte, warnings []string, err error) {
	var ref referenceFile
	md, err := toml.Decode(string(src), &ref)
	if err != nil {
		return nil, nil, tomlDiag(src, filename, err)
	}
	m := &migration{}
	for _, k := range md.Undecoded() {
		m.warnf("%s: not a key of teleport-pagerduty.toml; not carried over", k)
	}

	f := hclwrite.NewEmptyFile()
	root := f.Body()
	root.AppendUnstructuredTokens(comment(fmt.Sprintf(
		"pagergate configuration migrated from %s,\na file of the reference plugin's %s.\n`pagergate configure` shows every key with its default.",
		filename, ref.generation())))
	root.AppendNewline()
	m.teleport(root, &ref)
	root.AppendNewline()
	m.pager(root, &ref)
	m.autoApprove(root, &ref)
	if md.IsDefined("http") {
		m.webhook(root, &ref)
	}
	if md.IsDefined("log") {
		root.AppendNewline()
		m.log(root, &ref)
	}
	return hclwrite.Format(f.Bytes()), m.warnings, nil
}

type migration struct {
	warnings []string
}

func (m *migration) warnf(format string, args ...any) {
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

// changef notes where pagergate behaves differently from the reference
// with the settings written: a warning that starts with BehaviourChange.
func (m *migration) changef(text string) {
	m.warnings = append(m.warnings, BehaviourChange+text)
}

func comment(text string) hclwrite.Tokens {
	var toks hclwrite.Tokens
	for _, line := range strings.Split(text, "\n") {
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComment, Bytes: []byte("# " + line + "\n")})
	}
	return toks
}

func setString(b *hclwrite.Body, name, value string) {
	b.SetAttributeValue(name, cty.StringVal(value))
}

func setCall(b *hclwrite.Body, name, fn, arg string) {
	b.SetAttributeRaw(name, hclwrite.TokensForFunctionCall(fn, hclwrite.TokensForValue(cty.StringVal(arg))))
}

func (m *migration) teleport(root *hclwrite.Body, ref *referenceFile) {
	t := ref.Teleport
	b := root.AppendNewBlock("teleport", nil).Body()
	addr := t.Addr
	switch {
	case addr != "" && t.AuthServer != "":
		m.warnf("teleport.auth_server: not carried over; teleport.addr %q is used", addr)
	case addr == "":
		addr = t.AuthServer
	}
	if addr == "" {
		m.warnf("teleport.addr: missing; set teleport.addr to the Auth or Proxy address (host:port)")
	}
	setString(b, "addr", addr)
	if t.Identity != "" {
		setString(b, "identity", t.Identity)
	}
	if t.RefreshIdentity != nil {
		if t.Identity == "" && *t.RefreshIdentity {
			m.warnf("teleport.refresh_identity: not carried over; pagergate refreshes identity files only")
		} else if t.Identity != "" {
			b.SetAttributeValue("refresh_identity", cty.BoolVal(*t.RefreshIdentity))
		}
	}
	for _, kv := range [][2]string{{"client_crt", t.ClientCrt}, {"client_key", t.ClientKey}, {"root_cas", t.RootCAs}} {
		if kv[1] != "" {
			setString(b, kv[0], kv[1])
		}
	}
	if t.Identity == "" && (t.ClientCrt == "" || t.ClientKey == "" || t.RootCAs == "") {
		m.warnf("teleport: credentials incomplete; set identity, or client_crt, client_key and root_cas")
	}
}

func (m *migration) pager(root *hclwrite.Body, ref *referenceFile) {
	p := ref.PagerDuty
	b := root.AppendNewBlock("pager", []string{PagerPagerDuty}).Body()
	switch {
	case strings.HasPrefix(p.APIKey, "/"):
		setCall(b, "api_key", "file", p.APIKey)
	case p.APIKey != "":
		setCall(b, "api_key", "env", MigrateAPIKeyEnv)
		m.warnf("pagerduty.api_key: the key is not copied into the HCL file; export %s with its value before starting pagergate", MigrateAPIKeyEnv)
	default:
		setCall(b, "api_key", "env", MigrateAPIKeyEnv)
		m.warnf("pagerduty.api_key: missing; export %s with the PagerDuty API key", MigrateAPIKeyEnv)
	}
	setString(b, "user_email", p.UserEmail)
	switch {
	case p.UserEmail == "":
		m.warnf("pagerduty.user_email: missing; set pager.pagerduty.user_email to the PagerDuty bot user's email")
	case !isEmail(p.UserEmail):
		m.warnf("pagerduty.user_email: %q is not an email address; fix pager.pagerduty.user_email", p.UserEmail)
	}

	d := Defaults().Pager
	notify := firstSet(m, "pagerduty.notify_service", p.NotifyService, "pagerduty.RequestAnnotations.NotifyService", p.RequestAnnotations.NotifyService)
	services := firstSet(m, "pagerduty.services", p.Services, "pagerduty.RequestAnnotations.Services", p.RequestAnnotations.Services)
	if notify != "" && notify != d.NotifyServiceAnnotation {
		setString(b, "notify_service_annotation", notify)
	}
	if services != "" && services != d.ServicesAnnotation {
		setString(b, "services_annotation", services)
	}
	if p.ServiceID != "" {
		setString(b, "default_notify_service", p.ServiceID)
	}
}

// autoApprove writes the top-level auto_approve block with both settings
// spelled out, and says where pagergate's defaults change what the
// reference did. Its first generation (service_id, auto_approve) approved
// only with auto_approve = true and whoever was on call; its annotation
// generation (pagerduty_services) approved whenever its role could review
// requests, and its README also asked for an incident assigned to the
// requester, which Teleport's current guide no longer does.
func (m *migration) autoApprove(root *hclwrite.Body, ref *referenceFile) {
	p := &ref.PagerDuty
	firstGeneration := strings.HasPrefix(ref.generation(), "first")
	on := !firstGeneration || (p.AutoApprove != nil && *p.AutoApprove)
	root.AppendNewline()
	a := root.AppendNewBlock("auto_approve", nil).Body()
	if !on {
		a.AppendUnstructuredTokens(comment("Off, as the reference was without auto_approve = true; pagergate's default is on."))
		a.SetAttributeValue("enabled", cty.False)
		m.changef("auto_approve: pagergate auto-approves by default; the reference's first generation (service_id, auto_approve) " +
			"did not without auto_approve = true, so enabled = false is written to keep it off")
		return
	}
	a.SetAttributeValue("enabled", cty.True)
	if firstGeneration {
		m.warnf("pagerduty.auto_approve: pagergate auto-approves only requests whose roles carry the %q annotation listing the services whose on-call responders get access; add it to the requester roles", Defaults().Pager.ServicesAnnotation)
	} else {
		a.AppendUnstructuredTokens(comment("true: also require an incident assigned to the requester, as the reference's README generation did."))
		m.changef("auto_approve.require_active_incident: the reference's README generation (pagerduty_services annotations) " +
			"also required an active incident assigned to the requester, Teleport's current guide does not; pagergate does not " +
			"(false, written here): set it to true to keep the requirement. pagergate then ignores the incidents it opened itself, " +
			"so a service in both pagerduty_notify_service and pagerduty_services no longer approves every request")
	}
	a.SetAttributeValue("require_active_incident", cty.False)
}

// firstSet returns the first of two spellings of one setting, warning when
// both are set and differ.
func firstSet(m *migration, keyA, a, keyB, b string) string {
	if a != "" && b != "" && a != b {
		m.warnf("%s: not carried over; %s %q is used", keyB, keyA, a)
	}
	if a != "" {
		return a
	}
	return b
}

func (m *migration) webhook(root *hclwrite.Body, ref *referenceFile) {
	h := &ref.HTTP
	cert := firstSet(m, "http.tls.cert_file", h.TLS.CertFile, "http.https_cert_file", h.HTTPSCertFile)
	key := firstSet(m, "http.tls.key_file", h.TLS.KeyFile, "http.https_key_file", h.HTTPSKeyFile)
	if h.Insecure {
		m.warnf("http.insecure: not carried over; the pagergate webhook is HTTPS only")
	}
	if cert == "" || key == "" {
		m.warnf("http: no webhook written; it needs a TLS certificate and key (http.tls.cert_file and key_file). Add a webhook block by hand, see `pagergate configure`")
		return
	}
	root.AppendNewline()
	b := root.AppendNewBlock("webhook", nil).Body()
	m.webhookAddrs(b, ref)
	m.webhookAuth(b, ref)
	t := b.AppendNewBlock("tls", nil).Body()
	setString(t, "cert_file", cert)
	setString(t, "key_file", key)
	if h.TLS.ClientCAFile != "" {
		setString(t, "client_ca_file", h.TLS.ClientCAFile)
	} else if h.TLS.VerifyClientCert {
		m.warnf("http.tls.verify_client_cert: not carried over; for mutual TLS set webhook.tls.client_ca_file to the CA bundle that signs PagerDuty's webhook client certificates")
	}
}

// webhookAddrs writes the listen and public addresses.
func (m *migration) webhookAddrs(b *hclwrite.Body, ref *referenceFile) {
	h := &ref.HTTP
	listen := h.ListenAddr
	if listen == "" {
		listen = referenceListenAddr
	}
	setString(b, "listen_addr", listen)
	public := h.PublicAddr
	if public != "" && !strings.Contains(public, "://") {
		public = "https://" + public
	}
	if public == "" {
		m.warnf("http.public_addr: missing; set webhook.public_addr and provision_actions = true to have pagergate create the approve/deny actions")
		return
	}
	if strings.HasPrefix(public, "http://") {
		m.warnf("http.public_addr: %q uses http; changed to https, the webhook is HTTPS only", h.PublicAddr)
		public = "https://" + strings.TrimPrefix(public, "http://")
	}
	setString(b, "public_addr", public)
	// The reference creates the approve/deny custom actions at start.
	b.SetAttributeValue("provision_actions", cty.BoolVal(true))
}

// webhookAuth writes the authentication: basic auth when the reference had
// it, else signing secrets unless mutual TLS is set.
func (m *migration) webhookAuth(b *hclwrite.Body, ref *referenceFile) {
	h := &ref.HTTP
	basic := h.BasicAuth.User != "" || h.BasicAuth.Password != ""
	if !basic && h.TLS.ClientCAFile == "" {
		b.SetAttributeRaw("signing_secrets", hclwrite.TokensForTuple([]hclwrite.Tokens{
			hclwrite.TokensForFunctionCall("env", hclwrite.TokensForValue(cty.StringVal(MigrateSecretEnv))),
		}))
		m.warnf("http: no webhook authentication to carry over and pagergate requires one; signing_secrets reads %s: create a v3 webhook subscription and export its secret, or set tls.client_ca_file or basic_auth instead", MigrateSecretEnv)
	}
	if !basic {
		return
	}
	ba := b.AppendNewBlock("basic_auth", nil).Body()
	setString(ba, "user", h.BasicAuth.User)
	setCall(ba, "password", "env", MigratePasswordEnv)
	if h.BasicAuth.User == "" {
		m.warnf("http.basic_auth.user: missing; set webhook.basic_auth.user")
	}
	m.warnf("http.basic_auth.password: the password is not copied into the HCL file; export %s with its value before starting pagergate", MigratePasswordEnv)
}

func (m *migration) log(root *hclwrite.Body, ref *referenceFile) {
	l := ref.Log
	b := root.AppendNewBlock("log", nil).Body()
	if l.Output != "" {
		setString(b, "output", l.Output)
	}
	if l.Severity != "" {
		sev := strings.ToLower(l.Severity)
		if sev == "warning" {
			sev = "warn"
		}
		switch sev {
		case "debug", "info", "warn", "error":
			setString(b, "severity", sev)
		default:
			m.warnf("log.severity: %q is not debug, info, warn or error; not carried over (default %q)", l.Severity, Defaults().Log.Severity)
		}
	}
	if l.Format != "" {
		switch f := strings.ToLower(l.Format); f {
		case "text", "json":
			setString(b, "format", f)
		default:
			m.warnf("log.format: %q is not text or json; not carried over", l.Format)
		}
	}
}

// MigrateFile is Migrate for the file at path. Like Load, it returns any
// problem with the input, an unreadable file included, as a *DiagError.
func MigrateFile(path string) (out []byte, warnings []string, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &DiagError{Diags: hcl.Diagnostics{{Severity: hcl.DiagError,
			Summary: "Cannot read teleport-pagerduty.toml", Detail: err.Error()}}, Err: err}
	}
	return Migrate(src, path)
}

// tomlLine finds the line of a TOML type error: "toml: line 2 (last key
// "teleport.addr"): incompatible types...".
var tomlLine = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: (.*)$`)

// tomlDiag turns a TOML decoding error into a *DiagError at file:line:col,
// which shows the offending line like a configuration mistake.
func tomlDiag(src []byte, filename string, err error) error {
	line, col, msg := 0, 1, err.Error()
	var pe toml.ParseError
	if errors.As(err, &pe) {
		// Position.Line counts a newline that is itself the error as the
		// next line: take line and column from the offset.
		start := min(pe.Position.Start, len(src))
		line, msg = 1+strings.Count(string(src[:start]), "\n"), pe.Message
		col = start - lineStart(src, line) + 1
	} else if m := tomlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		key := m[2][strings.LastIndex(m[2], ".")+1:]
		start := lineStart(src, line)
		end := start + strings.IndexByte(string(src[start:])+"\n", '\n')
		if i := strings.Index(string(src[start:end]), key); key != "" && i >= 0 {
			col = i + 1
		}
		msg = m[3]
		if m[2] != "" {
			msg = m[2] + ": " + msg
		}
	}
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid teleport-pagerduty.toml", Detail: msg}
	if line > 0 {
		pos := hcl.Pos{Line: line, Column: max(col, 1), Byte: lineStart(src, line) + max(col, 1) - 1}
		d.Subject = &hcl.Range{Filename: filename, Start: pos, End: hcl.Pos{Line: line, Column: pos.Column + 1, Byte: pos.Byte + 1}}
	}
	return &DiagError{Diags: hcl.Diagnostics{d}, Files: map[string]*hcl.File{filename: {Bytes: src}}, Err: err}
}

// lineStart returns the byte offset of line n (1-based) in src.
func lineStart(src []byte, n int) int {
	off := 0
	for i := 1; i < n && off < len(src); i++ {
		j := strings.IndexByte(string(src[off:]), '\n')
		if j < 0 {
			return len(src)
		}
		off += j + 1
	}
	return off
}

// WriteNew writes data to a new file at path (mode 0600); an existing file
// is replaced only with force.
func WriteNew(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; not replaced without --force", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
