package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gravitational/teleport/api/types"
	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/logsink"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/app"
	"github.com/pagergate/pagergate/config"
)

// demoConfig is the daemon configuration the demo writes and loads like a
// user's file. %[1]s is the work directory, the rest are loopback ports.
const demoConfig = `# written by "pagergate demo"
teleport {
  addr     = "%[2]s"
  identity = "%[1]s/identity"
}

pager "fake" {
  listen_addr            = "127.0.0.1:%[3]d"
  default_notify_service = "Teleport Access Requests"

  service "Teleport Access Requests" {}
  service "My Critical Service" {}
  user "alice@example.com" {
    name = "Alice (requester)"
  }
  user "bob@example.com" {
    name = "Bob (on call for My Critical Service)"
  }
  user "carol@example.com" {
    name = "Carol (on call for Teleport Access Requests)"
  }
  on_call {
    user    = "bob@example.com"
    service = "My Critical Service"
  }
  on_call {
    user    = "carol@example.com"
    service = "Teleport Access Requests"
  }
}

store "bbolt" {
  path = "%[1]s/state.db"
}

webhook {
  listen_addr     = "127.0.0.1:%[4]d"
  signing_secrets = ["demo-signing-secret"]
  tls {
    cert_file = "%[1]s/webhook.crt"
    key_file  = "%[1]s/webhook.key"
  }
}

metrics {
  listen_addr = "127.0.0.1:%[5]d"
}

log {
  output   = "%[1]s/pagergate.log"
  severity = "debug"
}
`

func cmdDemo(args []string, stdout, _ io.Writer) error {
	fs := flags("demo")
	runFor := fs.Duration("for", 0, "stop after this long (default: until Ctrl-C)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	say := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%5.2fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, a...))
	}

	dir, err := os.MkdirTemp("", "pagergate-demo-")
	if err != nil {
		return err
	}
	tsrv, err := teleporttest.New(teleporttest.Options{ClusterName: "demo.example.com", ProxyAddr: "teleport.example.com:443"})
	if err != nil {
		return fmt.Errorf("teleport test server: %w", err)
	}
	defer tsrv.Close()
	tsrv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true})
	if err := tsrv.WriteIdentityFile(filepath.Join(dir, "identity"), "pagergate", 24*time.Hour); err != nil {
		return err
	}
	if err := writeSelfSigned(dir, "webhook"); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "pagergate.hcl")
	if err := os.WriteFile(path, fmt.Appendf(nil, demoConfig, dir, tsrv.Addr(), ports[0], ports[1], ports[2]), 0o600); err != nil {
		return err
	}
	say("Teleport Auth test server (Community Edition) on %s; work dir %s", tsrv.Addr(), dir)
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	lg, err := logsink.New(cfg.Log, false)
	if err != nil {
		return err
	}
	defer lg.Sync()

	var (
		proc *app.Processor
		pd   *fakepd.Server
	)
	fxApp := fx.New(modules(cfg, lg.Log), fx.Populate(&proc, &pd))
	if err := fxApp.Err(); err != nil {
		return dig.RootCause(err)
	}
	if err := fxApp.Start(ctx); err != nil {
		return dig.RootCause(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		_ = fxApp.Stop(sctx)
	}()
	say("pagergate running (config %s, log %s)", path, cfg.Log.Output)
	say("fake PagerDuty web page: %s/", pd.URL())
	if err := poll(ctx, func() bool { return proc.Ready() == nil }); err != nil {
		return fmt.Errorf("daemon not ready: %w", err)
	}
	say("ready: watcher connected, backlog reconciled")

	// 1. A request that opens an incident.
	id1, err := tsrv.CreateRequest("alice@example.com", []string{"editor"}, teleporttest.WithReason("deploy hotfix"),
		teleporttest.WithAnnotations(map[string][]string{"pagerduty_notify_service": {"Teleport Access Requests"}}))
	if err != nil {
		return err
	}
	say("1. alice@example.com requests role editor (%s)", id1)
	inc1, err := waitIncident(ctx, pd, id1)
	if err != nil {
		return err
	}
	say("   incident %s opened in %q: %s", inc1.ID, "Teleport Access Requests", inc1.Title)

	// 2. An on-call requester is auto-approved.
	id2, err := tsrv.CreateRequest("bob@example.com", []string{"demo-role"}, teleporttest.WithReason("fix the outage"),
		teleporttest.WithAnnotations(map[string][]string{
			"pagerduty_notify_service": {"Teleport Access Requests"}, "pagerduty_services": {"My Critical Service"}}))
	if err != nil {
		return err
	}
	say("2. bob@example.com (on call for My Critical Service) requests demo-role (%s)", id2)
	r2, err := waitState(ctx, tsrv, id2)
	if err != nil {
		return err
	}
	say("   request %s: %s", r2.GetState(), r2.GetResolveReason())
	if inc2, err := waitResolved(ctx, pd, id2); err == nil {
		say("   incident %s resolved; notes: %s", inc2.ID, noteSummary(inc2))
	}

	// 3. A responder approves from the fake's web page (the same delivery
	// its Approve button sends: a signed v3 webhook to pagergate).
	id3, err := tsrv.CreateRequest("alice@example.com", []string{"editor"}, teleporttest.WithReason("debug prod"))
	if err != nil {
		return err
	}
	say("3. alice@example.com requests editor again (%s), default notify service", id3)
	inc3, err := waitIncident(ctx, pd, id3)
	if err != nil {
		return err
	}
	code, err := pd.SendAction(ctx, inc3.ID, "carol@example.com", "approve", "looks fine")
	if err != nil {
		return fmt.Errorf("approve from the web page: %w", err)
	}
	say("   carol@example.com clicks Approve on incident %s: webhook answered %d", inc3.ID, code)
	r3, err := waitState(ctx, tsrv, id3)
	if err != nil {
		return err
	}
	say("   request %s: %s", r3.GetState(), r3.GetResolveReason())
	if inc, err := waitResolved(ctx, pd, id3); err == nil {
		say("   incident %s resolved; notes: %s", inc.ID, noteSummary(inc))
	}
	say("done. Open %s/ to see the incidents and click Approve / Deny on new ones.", pd.URL())
	say("create more requests by hand with the Go API of adapters/teleport/teleporttest; Ctrl-C to stop")
	if *runFor > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(*runFor):
		}
	} else {
		<-ctx.Done()
	}
	say("stopping")
	return nil
}

func noteSummary(inc fakepd.Incident) string {
	var out []string
	for _, n := range inc.Notes {
		out = append(out, strings.SplitN(n.Content, "\n", 2)[0])
	}
	return strings.Join(out, " | ")
}

// poll checks cond every 20 ms until it holds, ctx ends, or 60 s pass.
func poll(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
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

func findIncident(pd *fakepd.Server, requestID string, resolved bool) (fakepd.Incident, bool) {
	for _, inc := range pd.Incidents() {
		if inc.Key == "teleport-access-request/"+requestID && (!resolved || inc.Status == "resolved") {
			return inc, true
		}
	}
	return fakepd.Incident{}, false
}

func waitIncident(ctx context.Context, pd *fakepd.Server, id string) (fakepd.Incident, error) {
	var inc fakepd.Incident
	err := poll(ctx, func() bool { var ok bool; inc, ok = findIncident(pd, id, false); return ok })
	if err != nil {
		return inc, fmt.Errorf("no incident for %s: %w", id, err)
	}
	return inc, nil
}

func waitResolved(ctx context.Context, pd *fakepd.Server, id string) (fakepd.Incident, error) {
	var inc fakepd.Incident
	err := poll(ctx, func() bool { var ok bool; inc, ok = findIncident(pd, id, true); return ok })
	return inc, err
}

func waitState(ctx context.Context, tsrv *teleporttest.Server, id string) (*types.AccessRequestV3, error) {
	var r *types.AccessRequestV3
	err := poll(ctx, func() bool {
		var err error
		r, err = tsrv.Get(id)
		return err == nil && r.GetState() != types.RequestState_PENDING
	})
	if err != nil {
		return nil, fmt.Errorf("request %s still pending: %w", id, err)
	}
	return r, nil
}

func freePorts(n int) ([]int, error) {
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
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// writeSelfSigned writes NAME.crt and NAME.key for 127.0.0.1 and localhost.
func writeSelfSigned(dir, name string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "pagergate demo webhook"},
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600),
		os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600),
	)
}
