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
//   - a front door (frontdoor_test.go): a loopback listener the harness
//     keeps for the whole test and forwards to the webhook of the daemon
//     started last, as a load balancer would, so the fake PagerDuty and
//     provisioned actions reach a restarted daemon at the same address
//     (webhookURL). The daemon's own listeners take free ports (":0"); the
//     harness reads them from its log.
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
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
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
	args, cgo := []string{"build", "-race", "-o", binPath, "./cmd/pagergate"}, "CGO_ENABLED=1"
	if !raceBuild { // benchmarks measure the binary `make build` ships
		args, cgo = []string{"build", "-trimpath", "-ldflags=-s -w", "-o", binPath, "./cmd/pagergate"}, "CGO_ENABLED=0"
	}
	build := exec.Command(goBin, args...)
	build.Dir = ".."
	build.Env = append(os.Environ(), cgo)
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
	door         *frontDoor
	webhookURL   string // https://<the front door>
	certFile     string // webhook server certificate (self-signed)
	keyFile      string
	serverCAs    *x509.CertPool    // trusts certFile
	clientCAFile string            // with MTLS
	clientCA     *webhooktest.Cert // with MTLS
	clientCert   tls.Certificate
	storePath    string
	configs      int
	configsMu    sync.Mutex // guards configs and latest
	latest       *daemon    // the "start" process run last: the front door's backend
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

	e.openFrontDoor()

	srv, err := webhooktest.NewCA("pagergate e2e webhook", time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.certFile, e.keyFile = filepath.Join(e.dir, "webhook.crt"), filepath.Join(e.dir, "webhook.key")
	if err := srv.Write(e.certFile, e.keyFile); err != nil {
		t.Fatal(err)
	}
	e.serverCAs = srv.Pool()
	e.pdTLSConfig = &tls.Config{RootCAs: e.serverCAs, MaxVersion: tls.VersionTLS12}
	if o.MTLS {
		ca, err := webhooktest.NewCA("pagergate e2e client CA", time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		e.clientCA = ca
		e.clientCAFile = filepath.Join(e.dir, "client-ca.pem")
		if err := os.WriteFile(e.clientCAFile, ca.CertPEM(), 0o600); err != nil {
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

// openFrontDoor opens the env's front door, forwarding to the webhook of
// the daemon started last, and sets webhookURL to it.
func (e *env) openFrontDoor() {
	e.door = newFrontDoor(e.t, func() string {
		e.configsMu.Lock()
		d := e.latest
		e.configsMu.Unlock()
		if d == nil {
			return ""
		}
		return d.listenAddr("webhook listening")
	})
	e.webhookURL = "https://" + e.door.addr()
}

// directWebhookURL is the webhook of the daemon started last, without the
// front door: benchmarks measure the daemon alone.
func (e *env) directWebhookURL() string {
	e.configsMu.Lock()
	defer e.configsMu.Unlock()
	if e.latest == nil {
		e.t.Fatal("no daemon started")
	}
	return e.latest.webhookURL()
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
	c, err := e.clientCA.Issue(pkix.Name{CommonName: cn, Organization: []string{"PagerDuty Inc"}},
		webhooktest.Client, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return c.TLS()
}
