//go:build e2e || bench

// Harness of the end-to-end suite: the real pagergate binary runs as a
// separate process against loopback fakes of both sides.
//
// TestMain builds ./cmd/pagergate once with -race into a temporary
// directory (binPath). Each test then builds its own world:
//
//	e := newEnv(t, envOpts{})           // Teleport test server, fake PagerDuty, certificates, ports
//	d := e.start(e.writeConfig())       // run "pagergate start -c FILE", wait for /readyz = 200
//	id := e.createRequest("alice@example.com", []string{"editor"}, notify(svcTeleport), "why")
//	inc := e.waitIncident(id)           // the fake PagerDuty got it
//	d.stop()                            // SIGTERM, require exit code 0 within 30 s
//
// The environment (env) holds:
//   - tp: an in-process Teleport Auth server (teleporttest; Community
//     Edition unless envOpts.Enterprise) with the plugin user "pagergate"
//     (all plugin permissions, ReviewRoles "*") and its identity file;
//   - pd: a fake PagerDuty (fakepd) serving on loopback, seeded with users
//     alice (requester), bob (on call for svcCritical, level 1), carol (on
//     call for svcTeleport, level 1), dave (on call for svcCritical, level
//     2) and the bot user botEmail; its webhook deliveries go to the
//     daemon's webhook port (v3 signed with e.secret by default; Custom
//     Incident Actions with envOpts.WebhookMode = fakepd.ModeCustomAction;
//     basic auth with envOpts.BasicAuth; a client certificate with CN
//     pdClientCN with envOpts.MTLS), trusting the daemon's webhook
//     certificate, TLS 1.2 at most like PagerDuty;
//   - a self-signed webhook server certificate (certFile, keyFile) and,
//     with envOpts.MTLS, a client CA (clientCAFile) and a client
//     certificate (clientCert);
//   - fixed free loopback ports for the webhook and metrics listeners, so a
//     restarted daemon is reachable at the same addresses.
//
// writeConfig(opts...) writes a new HCL file (config-N.hcl) each call; the
// state file (state.db) is shared by every config of one env, so a restart
// with another config keeps the records. The log of each config goes to
// its own JSON file; a daemon reads only what it wrote itself (from the
// file offset at its start). Config options: withApprovalMode,
// withAutoApprove, withPager, withWebhook, withTop, withDefaultNotify,
// withNoWebhook, withWorkers, withStorePath, withWebhookCert, or any
// func(*daemonConfig).
//
// e.run(cfgPath, args, env...) runs any subcommand without waiting for
// readiness (cfgPath "" when the command writes no log); d.wait(timeout)
// returns its exit code.
//
// Waiting never sleeps: every wait polls a condition every 15 ms (or wakes
// on fakepd changes) until waitTimeout passes, then fails the test.
//
// Helpers: createRequest, waitIncident, waitIncidentIn, waitResolved,
// waitState, waitFor, waitPD, incidentsFor, pluginData, pdUserID, and for
// raw webhook deliveries httpsClient, postWebhook, postV3, signV3,
// v3Annotated, customAction. Daemon: stop, stopWithin, kill, signal,
// exited, wait, logContains, waitLog, waitLogEntry, logEntries, metrics
// (with metricValue), stderrText.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/types"
	"go.uber.org/goleak"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// Seeded names of the fake PagerDuty.
const (
	svcTeleport = "Teleport Access Requests"
	svcCritical = "My Critical Service"
	botEmail    = "pagergate@example.com"
	alice       = "alice@example.com" // requester, on call nowhere
	bob         = "bob@example.com"   // on call for svcCritical, level 1
	carol       = "carol@example.com" // on call for svcTeleport, level 1
	dave        = "dave@example.com"  // on call for svcCritical, level 2
	proxyAddr   = "teleport.example.com:443"
	pdClientCN  = "webhooks.pagerduty.com"
	basicUser   = "pagerduty"
	basicPass   = "e2e-basic-password"
)

// waitTimeout bounds every wait of the harness.
const waitTimeout = 45 * time.Second

// binPath is the pagergate binary TestMain built.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pagergate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "pagergate")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	args := []string{"build", "-race", "-o", binPath, "./cmd/pagergate"}
	if !raceBuild { // benchmarks measure a normal build
		args = []string{"build", "-o", binPath, "./cmd/pagergate"}
	}
	build := exec.Command(goBin, args...)
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build pagergate: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goroutines leaked:", err)
			return 1
		}
	}
	return code
}

// envOpts choose the world a test runs in.
type envOpts struct {
	// Enterprise makes the Teleport server report Advanced Access
	// Workflows and accept reviews.
	Enterprise bool
	// WebhookMode is fakepd.ModeV3 (default) or fakepd.ModeCustomAction.
	WebhookMode string
	// BasicAuth makes the fake send basic auth (basicUser, basicPass) and
	// writeConfig add the matching basic_auth block.
	BasicAuth bool
	// MTLS creates a client CA and a client certificate (CN pdClientCN)
	// the fake presents; writeConfig sets tls.client_ca_file.
	MTLS bool
	// NoWebhookSecret leaves the fake's v3 deliveries unsigned (the config
	// still lists e.secret).
	NoWebhookSecret bool
	// ProxyAddr is what Ping reports (default proxyAddr).
	ProxyAddr string
	// Fake changes the fake PagerDuty's options before it starts.
	Fake func(*fakepd.Options)
}

// env is one test's world; see the file comment.
type env struct {
	t    *testing.T
	opts envOpts
	dir  string

	tp    *teleporttest.Server
	pd    *fakepd.Server
	pdURL string

	identity     string
	secret       string
	webhookPort  int
	metricsPort  int
	webhookURL   string // https://127.0.0.1:<webhookPort>
	certFile     string // webhook server certificate (self-signed)
	keyFile      string
	serverCAs    *x509.CertPool // trusts certFile
	clientCAFile string         // with MTLS
	clientCA     *issuer        // with MTLS
	clientCert   tls.Certificate
	storePath    string
	configs      int
	configsMu    sync.Mutex
	pdTLSConfig  *tls.Config
}

// newEnv builds the world for one test; everything stops at cleanup.
func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.ProxyAddr == "" {
		o.ProxyAddr = proxyAddr
	}
	e := &env{t: t, opts: o, dir: t.TempDir(), secret: "e2e-signing-secret"}
	e.storePath = filepath.Join(e.dir, "state.db")

	tp, err := teleporttest.New(teleporttest.Options{Enterprise: o.Enterprise, ProxyAddr: o.ProxyAddr})
	if err != nil {
		t.Fatalf("teleport test server: %v", err)
	}
	t.Cleanup(tp.Close)
	tp.AddUser("pagergate", teleporttest.AllPerms)
	e.tp = tp
	e.identity = filepath.Join(e.dir, "identity")
	if err := tp.WriteIdentityFile(e.identity, "pagergate", 24*time.Hour); err != nil {
		t.Fatalf("identity file: %v", err)
	}

	ports := freePorts(t, 2)
	e.webhookPort, e.metricsPort = ports[0], ports[1]
	e.webhookURL = fmt.Sprintf("https://127.0.0.1:%d", e.webhookPort)

	srv, err := newIssuer("pagergate e2e webhook", time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.certFile, e.keyFile = filepath.Join(e.dir, "webhook.crt"), filepath.Join(e.dir, "webhook.key")
	if err := srv.write(e.certFile, e.keyFile); err != nil {
		t.Fatal(err)
	}
	e.serverCAs = x509.NewCertPool()
	e.serverCAs.AddCert(srv.cert)
	e.pdTLSConfig = &tls.Config{RootCAs: e.serverCAs, MaxVersion: tls.VersionTLS12}
	if o.MTLS {
		ca, err := newIssuer("pagergate e2e client CA", time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		e.clientCA = ca
		e.clientCAFile = filepath.Join(e.dir, "client-ca.pem")
		if err := os.WriteFile(e.clientCAFile, ca.certPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		e.clientCert = e.issueClientCert(pdClientCN)
		e.pdTLSConfig.Certificates = []tls.Certificate{e.clientCert}
	}

	popts := fakepd.Options{
		WebhookURL:       e.webhookURL,
		WebhookMode:      o.WebhookMode,
		WebhookSecret:    e.secret,
		WebhookTLSConfig: e.pdTLSConfig,
		// PagerDuty's retry schedule, compressed from 20 minutes.
		RetryDelays: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond},
	}
	if o.NoWebhookSecret {
		popts.WebhookSecret = ""
	}
	if o.BasicAuth {
		popts.WebhookBasicUser, popts.WebhookBasicPassword = basicUser, basicPass
	}
	if o.Fake != nil {
		o.Fake(&popts)
	}
	pd := fakepd.New(popts)
	e.pd = pd
	seedPD(t, pd)
	url, err := pd.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake pagerduty: %v", err)
	}
	e.pdURL = url
	t.Cleanup(func() { _ = pd.Close() })
	return e
}

// seedPD adds the users, services and on-calls the file comment lists.
func seedPD(t *testing.T, pd *fakepd.Server) {
	t.Helper()
	pd.AddUser(botEmail, "pagergate bot")
	pd.AddUser(alice, "Alice")
	pd.AddUser(bob, "Bob")
	pd.AddUser(carol, "Carol")
	pd.AddUser(dave, "Dave")
	pd.AddService(svcTeleport)
	pd.AddService(svcCritical)
	for _, oc := range []struct {
		user, svc string
		level     int
	}{{bob, svcCritical, 1}, {carol, svcTeleport, 1}, {dave, svcCritical, 2}} {
		if err := pd.AddOnCall(oc.user, oc.svc, oc.level); err != nil {
			t.Fatalf("seed on-call: %v", err)
		}
	}
}

// issueClientCert issues a client certificate with common name cn from the
// env's client CA (envOpts.MTLS only).
func (e *env) issueClientCert(cn string) tls.Certificate {
	e.t.Helper()
	if e.clientCA == nil {
		e.t.Fatal("issueClientCert needs envOpts.MTLS")
	}
	c, err := e.clientCA.issueClient(cn)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// ---- configuration ----

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
	if len(c.AutoApprove) > 0 {
		w("auto_approve {")
		for _, l := range c.AutoApprove {
			w("  %s", l)
		}
		w("}")
		w("")
	}
	w("store \"bbolt\" {")
	w("  path = %s", q(c.StorePath))
	w("}")
	w("")
	if !c.NoWebhook {
		w("webhook {")
		w("  listen_addr     = %s", q(fmt.Sprintf("127.0.0.1:%d", e.webhookPort)))
		w("  signing_secrets = [%s]", q(e.secret))
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
	w("  listen_addr = %s", q(fmt.Sprintf("127.0.0.1:%d", e.metricsPort)))
	w("}")
	w("")
	w("log {")
	w("  output   = %s", q(c.LogPath))
	w("  severity = %s", q(c.Severity))
	w("  format   = \"json\"")
	w("}")
	return b.String()
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

// ---- the daemon process ----

// daemon is one running "pagergate start" process.
type daemon struct {
	t          *testing.T
	cmd        *exec.Cmd
	cfgPath    string
	logPath    string
	logOffset  int64
	metricsURL string
	stderr     *lockedBuffer
	done       chan struct{}
	exitCode   int // valid once done is closed
	waitErr    error
}

// lockedBuffer is a bytes.Buffer safe for the exec copier and readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run starts the binary with args and returns the process without waiting
// for readiness; extraEnv entries NAME=value set a variable, a bare NAME
// removes it.
func (e *env) run(cfgPath string, args []string, extraEnv ...string) *daemon {
	e.t.Helper()
	d := &daemon{
		t:          e.t,
		cfgPath:    cfgPath,
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d", e.metricsPort),
		stderr:     &lockedBuffer{},
		done:       make(chan struct{}),
	}
	if cfgPath != "" {
		d.logPath = logPathOf(e.t, cfgPath)
		if fi, err := os.Stat(d.logPath); err == nil {
			d.logOffset = fi.Size()
		}
	}
	d.cmd = exec.Command(binPath, args...)
	d.cmd.Dir = e.dir
	d.cmd.Env = os.Environ()
	for _, kv := range extraEnv {
		name, _, set := strings.Cut(kv, "=")
		d.cmd.Env = slices.DeleteFunc(d.cmd.Env, func(x string) bool { return strings.HasPrefix(x, name+"=") })
		if set {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	d.cmd.Stdout = d.stderr
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		e.t.Fatalf("start pagergate: %v", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		d.exitCode = d.cmd.ProcessState.ExitCode()
		close(d.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if e.t.Failed() {
			d.dump()
		}
	})
	return d
}

// start runs "pagergate start -c cfgPath" and waits until /readyz on the
// metrics address answers 200.
func (e *env) start(cfgPath string) *daemon {
	e.t.Helper()
	d := e.run(cfgPath, []string{"start", "-c", cfgPath})
	d.waitReady()
	return d
}

// waitReady polls /readyz until it answers 200; it fails the test if the
// process exits first or waitTimeout passes.
func (d *daemon) waitReady() {
	d.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(d.metricsURL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-d.done:
			d.t.Fatalf("pagergate exited with code %d before ready; output:\n%s", d.exitCode, d.stderr.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("pagergate not ready after %s; output:\n%s", waitTimeout, d.stderr.String())
		}
	}
}

// signal sends sig to the process.
func (d *daemon) signal(sig os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// exited reports whether the process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end and returns its exit
// code; it fails the test on timeout.
func (d *daemon) wait(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.done:
		return d.exitCode
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.t.Fatalf("pagergate did not exit within %s; output:\n%s", timeout, d.stderr.String())
		return -1
	}
}

// stop sends SIGTERM and requires exit code 0 within 30 s and no race
// report.
func (d *daemon) stop() { d.t.Helper(); d.stopWithin(30 * time.Second) }

// stopWithin is stop with another deadline; it returns how long the exit
// took.
func (d *daemon) stopWithin(timeout time.Duration) time.Duration {
	d.t.Helper()
	began := time.Now()
	d.signal(syscall.SIGTERM)
	code := d.wait(timeout)
	took := time.Since(began)
	if code != 0 {
		d.t.Fatalf("pagergate exited with code %d after SIGTERM; output:\n%s", code, d.stderr.String())
	}
	d.checkNoRace()
	return took
}

// kill ends the process with SIGKILL and waits for it.
func (d *daemon) kill() {
	d.t.Helper()
	d.signal(syscall.SIGKILL)
	d.wait(30 * time.Second)
	d.checkNoRace()
}

func (d *daemon) checkNoRace() {
	d.t.Helper()
	if s := d.stderr.String(); strings.Contains(s, "WARNING: DATA RACE") {
		d.t.Errorf("data race in pagergate:\n%s", s)
	}
}

// stderrText returns everything the process wrote to stdout and stderr.
func (d *daemon) stderrText() string { return d.stderr.String() }

// logText returns what this process wrote to its log file.
func (d *daemon) logText() string {
	if d.logPath == "" {
		return ""
	}
	f, err := os.Open(d.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(d.logOffset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// logEntry is one JSON log line.
type logEntry map[string]any

// str returns a string field ("" when absent).
func (l logEntry) str(key string) string {
	s, _ := l[key].(string)
	return s
}

// logEntries parses every JSON line this process logged so far (a trailing
// partial line is skipped).
func (d *daemon) logEntries() []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(strings.NewReader(d.logText()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var m logEntry
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// logContains reports whether this process's log holds sub.
func (d *daemon) logContains(sub string) bool { return strings.Contains(d.logText(), sub) }

// waitLog waits until the log holds sub and returns the first line that
// does.
func (d *daemon) waitLog(ctx context.Context, sub string) (string, error) {
	var line string
	err := pollCtx(ctx, func() bool {
		for _, l := range strings.Split(d.logText(), "\n") {
			if strings.Contains(l, sub) {
				line = l
				return true
			}
		}
		return false
	})
	if err != nil {
		return "", fmt.Errorf("log line with %q: %w", sub, err)
	}
	return line, nil
}

// waitLogEntry waits for a JSON log line matching match (waitTimeout) and
// fails the test if none comes.
func (d *daemon) waitLogEntry(what string, match func(logEntry) bool) logEntry {
	d.t.Helper()
	var found logEntry
	err := poll(func() bool {
		for _, l := range d.logEntries() {
			if match(l) {
				found = l
				return true
			}
		}
		return false
	})
	if err != nil {
		d.t.Fatalf("no log line %s: %v\nlog:\n%s", what, err, tail(d.logText(), 40))
	}
	return found
}

// metrics returns the /metrics text of the metrics listener.
func (d *daemon) metrics() string {
	d.t.Helper()
	resp, err := http.Get(d.metricsURL + "/metrics")
	if err != nil {
		d.t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("metrics: %v", err)
	}
	return string(b)
}

// metricValue returns the value of the sample whose name and labels are
// written exactly as series (e.g. `pagergate_incidents_total{outcome="opened"}`)
// in a /metrics text.
func metricValue(text, series string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(l, series+" ")
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(rest, &v); err == nil {
			return v, true
		}
	}
	return 0, false
}

func (d *daemon) dump() {
	d.t.Logf("pagergate %v: exit %d\noutput:\n%s\nlog %s (tail):\n%s", d.cmd.Args[1:], d.exitCode,
		tail(d.stderr.String(), 40), d.logPath, tail(withoutFx(d.logText()), 60))
}

// withoutFx drops fx's own lines from a JSON log.
func withoutFx(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `"logger":"fx"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// ---- waiting ----

// poll checks cond every 15 ms until it holds or waitTimeout passes.
func poll(cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return pollCtx(ctx, cond)
}

func pollCtx(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(15 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// waitFor polls cond until it holds; it fails the test naming what after
// waitTimeout.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	if err := poll(cond); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitPD waits until cond holds on the fake PagerDuty (woken by its
// changes); it fails the test naming what after waitTimeout.
func (e *env) waitPD(what string, cond func(*fakepd.Server) bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.pd.WaitFor(ctx, cond); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// ---- requests and incidents ----

// notify returns the system annotations naming notify services.
func notify(svcs ...string) map[string][]string {
	return map[string][]string{"pagerduty_notify_service": svcs}
}

// annotations merges annotation maps.
func annotations(ms ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// approvalServices returns the annotations naming approval services.
func approvalServices(svcs ...string) map[string][]string {
	return map[string][]string{"pagerduty_services": svcs}
}

// createRequest creates a pending request and returns its ID.
func (e *env) createRequest(user string, roles []string, ann map[string][]string, reason string) string {
	e.t.Helper()
	var opts []teleporttest.ReqOpt
	if ann != nil {
		opts = append(opts, teleporttest.WithAnnotations(ann))
	}
	if reason != "" {
		opts = append(opts, teleporttest.WithReason(reason))
	}
	id, err := e.tp.CreateRequest(user, roles, opts...)
	if err != nil {
		e.t.Fatalf("create request: %v", err)
	}
	return id
}

// incidentKey is the incident_key pagergate gives a request's incidents.
func incidentKey(reqID string) string { return "teleport-access-request/" + reqID }

// incidentsFor returns the incidents with the request's incident_key.
func (e *env) incidentsFor(reqID string) []fakepd.Incident {
	return incidentsIn(e.pd, reqID)
}

func incidentsIn(pd *fakepd.Server, reqID string) []fakepd.Incident {
	var out []fakepd.Incident
	for _, inc := range pd.Incidents() {
		if inc.Key == incidentKey(reqID) {
			out = append(out, inc)
		}
	}
	return out
}

// waitIncident waits for the request's first incident.
func (e *env) waitIncident(reqID string) fakepd.Incident {
	e.t.Helper()
	var inc fakepd.Incident
	e.waitPD("incident of "+reqID, func(pd *fakepd.Server) bool {
		l := incidentsIn(pd, reqID)
		if len(l) > 0 {
			inc = l[0]
		}
		return len(l) > 0
	})
	return inc
}

// waitIncidentIn waits for the request's incident in a service (by name).
func (e *env) waitIncidentIn(reqID, service string) fakepd.Incident {
	e.t.Helper()
	id := e.serviceID(service)
	var inc fakepd.Incident
	e.waitPD("incident of "+reqID+" in "+service, func(pd *fakepd.Server) bool {
		for _, i := range incidentsIn(pd, reqID) {
			if i.ServiceID == id {
				inc = i
				return true
			}
		}
		return false
	})
	return inc
}

// waitResolved waits until every incident of the request (at least one)
// is resolved and returns the first.
func (e *env) waitResolved(reqID string) fakepd.Incident {
	e.t.Helper()
	var inc fakepd.Incident
	e.waitPD("resolved incident of "+reqID, func(pd *fakepd.Server) bool {
		l := incidentsIn(pd, reqID)
		if len(l) == 0 {
			return false
		}
		for _, i := range l {
			if i.Status != "resolved" {
				return false
			}
		}
		inc = l[0]
		return true
	})
	return inc
}

// waitNotes waits until the incident has at least n notes and returns
// their contents.
func (e *env) waitNotes(incidentID string, n int) []string {
	e.t.Helper()
	var notes []string
	e.waitPD(fmt.Sprintf("%d notes on %s", n, incidentID), func(pd *fakepd.Server) bool {
		notes = pd.Notes(incidentID)
		return len(notes) >= n
	})
	return notes
}

// waitState polls the Teleport server until the request is in state.
func (e *env) waitState(reqID string, state types.RequestState) *types.AccessRequestV3 {
	e.t.Helper()
	var r *types.AccessRequestV3
	err := poll(func() bool {
		var err error
		r, err = e.tp.Get(reqID)
		return err == nil && r.GetState() == state
	})
	if err != nil {
		got := "unknown"
		if r != nil {
			got = r.GetState().String()
		}
		e.t.Fatalf("request %s: state %s, want %s", reqID, got, state)
	}
	return r
}

// requestState returns the request's current state.
func (e *env) requestState(reqID string) types.RequestState {
	e.t.Helper()
	r, err := e.tp.Get(reqID)
	if err != nil {
		e.t.Fatalf("get request %s: %v", reqID, err)
	}
	return r.GetState()
}

// pluginData returns pagergate's plugin data on the request.
func (e *env) pluginData(reqID string) map[string]string { return e.tp.PluginData(reqID) }

// pdUserID returns the fake PagerDuty ID of a user.
func (e *env) pdUserID(email string) string {
	e.t.Helper()
	for _, u := range e.pd.Users() {
		if strings.EqualFold(u.Email, email) {
			return u.ID
		}
	}
	e.t.Fatalf("no pager user %s", email)
	return ""
}

// serviceID returns the fake PagerDuty ID of a service.
func (e *env) serviceID(name string) string {
	e.t.Helper()
	for _, s := range e.pd.Services() {
		if strings.EqualFold(s.Name, name) {
			return s.ID
		}
	}
	e.t.Fatalf("no pager service %s", name)
	return ""
}

// ---- raw webhook deliveries ----

// httpsClient returns a client that trusts the daemon's webhook
// certificate, speaks TLS 1.2 at most and, when withClientCert, presents
// the env's client certificate.
func (e *env) httpsClient(withClientCert bool) *http.Client {
	conf := &tls.Config{RootCAs: e.serverCAs, MaxVersion: tls.VersionTLS12}
	if withClientCert && e.opts.MTLS {
		conf.Certificates = []tls.Certificate{e.clientCert}
	}
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true},
	}
}

// postWebhook POSTs body to the daemon's webhook path with headers (a
// missing Content-Type defaults to application/json; basic auth and the
// client certificate are added as the env configures them). It returns the
// status and body, or the transport error.
func (e *env) postWebhook(path string, body []byte, headers map[string]string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, e.webhookURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.opts.BasicAuth {
		req.SetBasicAuth(basicUser, basicPass)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.httpsClient(true).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// signV3 returns the X-PagerDuty-Signature of body with the env's secret.
func (e *env) signV3(body []byte) string { return fakepd.Sign(e.secret, body) }

// v3Annotated returns a v3 incident.annotated delivery body: the user with
// actorEmail added note content to the incident.
func (e *env) v3Annotated(incidentID, actorEmail, content string) []byte {
	e.t.Helper()
	return e.v3AnnotatedEvent(incidentID, actorEmail, content, "01"+strings.ToUpper(randHex(12)))
}

// v3AnnotatedEvent is v3Annotated with a given event ID.
func (e *env) v3AnnotatedEvent(incidentID, actorEmail, content, eventID string) []byte {
	e.t.Helper()
	inc, ok := e.pd.Incident(incidentID)
	if !ok {
		e.t.Fatalf("no incident %s", incidentID)
	}
	uid := e.pdUserID(actorEmail)
	ev := map[string]any{"event": map[string]any{
		"id":            eventID,
		"event_type":    "incident.annotated",
		"resource_type": "incident",
		"occurred_at":   time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"agent": map[string]any{"id": uid, "type": "user_reference", "summary": actorEmail,
			"html_url": e.pdURL + "/users/" + uid, "self": e.pdURL + "/users/" + uid},
		"client": nil,
		"data": map[string]any{
			"incident": map[string]any{"id": inc.ID, "type": "incident_reference", "html_url": inc.HTMLURL,
				"self": e.pdURL + "/incidents/" + inc.ID},
			"id": "PN" + strings.ToUpper(randHex(5)), "content": content, "trimmed": false, "type": "incident_note",
		},
	}}
	b, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// postV3 signs and POSTs a v3 body with a fresh X-Webhook-Id (or the given
// one) and returns the status; transport errors fail the test.
func (e *env) postV3(body []byte, deliveryID string) int {
	e.t.Helper()
	if deliveryID == "" {
		deliveryID = newDeliveryID()
	}
	code, resp, err := e.postWebhook("/pagerduty/v3", body, map[string]string{
		"X-PagerDuty-Signature": e.signV3(body), "X-Webhook-Id": deliveryID,
	})
	if err != nil {
		e.t.Fatalf("post v3 delivery: %v", err)
	}
	e.t.Logf("v3 delivery %s: %d %s", deliveryID, code, strings.TrimSpace(resp))
	return code
}

// customAction returns a Custom Incident Action delivery body (v2
// envelope) in which the user with actorEmail clicked an action on the
// incident.
func (e *env) customAction(incidentID, actorEmail string) []byte {
	e.t.Helper()
	inc, ok := e.pd.Incident(incidentID)
	if !ok {
		e.t.Fatalf("no incident %s", incidentID)
	}
	uid := e.pdUserID(actorEmail)
	msg := map[string]any{
		"id": newDeliveryID(), "event": "incident.custom", "created_on": time.Now().UTC().Format(time.RFC3339),
		"incident": map[string]any{"id": inc.ID, "type": "incident", "incident_key": inc.Key,
			"status": inc.Status, "html_url": inc.HTMLURL, "incident_number": inc.Number},
		"log_entries": []any{map[string]any{
			"id": "R" + strings.ToUpper(randHex(6)), "type": "custom_log_entry",
			"agent": map[string]any{"id": uid, "type": "user_reference", "summary": actorEmail},
		}},
	}
	b, err := json.Marshal(map[string]any{"messages": []any{msg}})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func newDeliveryID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:] + randHex(6)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// ---- certificates and ports ----

// issuer is a self-signed certificate that can also sign others.
type issuer struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

// newIssuer returns a self-signed CA certificate for 127.0.0.1 and
// localhost, valid in [notBefore, notAfter), usable as a server
// certificate too.
func newIssuer(cn string, notBefore, notAfter time.Time) (*issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issuer{cert: cert, der: der, key: key}, nil
}

func (i *issuer) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.der})
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// write writes the certificate and key as PEM files.
func (i *issuer) write(certFile, keyFile string) error {
	k, err := keyPEM(i.key)
	if err != nil {
		return err
	}
	return errors.Join(os.WriteFile(certFile, i.certPEM(), 0o600), os.WriteFile(keyFile, k, 0o600))
}

// issueClient issues a client certificate with common name cn.
func (i *issuer) issueClient(cn string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"PagerDuty Inc"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, i.cert, &key.PublicKey, i.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}
