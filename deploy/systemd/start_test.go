package systemd

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
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
)

// secrets is the environment file of the tests, in the form README.md shows.
const secrets = `# pagergate secrets, read by env("...") in /etc/pagergate.hcl
PAGERDUTY_API_KEY=test-api-key
PAGERDUTY_WEBHOOK_SECRET="test-webhook-secret"
`

// writeCert writes a self-signed certificate valid for life and its key.
func (h *host) writeCert(name string, life time.Duration) (certPath, keyPath string) {
	h.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(life),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		h.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		h.t.Fatal(err)
	}
	certPath = filepath.Join(h.dir, name+".crt")
	keyPath = filepath.Join(h.dir, name+".key")
	h.write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	h.write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return certPath, keyPath
}

func (h *host) write(path string, data []byte) {
	h.t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// writeConfig writes a config like README's minimal one: Teleport
// unreachable (127.0.0.1:1 refuses; the daemon keeps dialing), secrets
// from the environment, a webhook whose certificate lives webhookLife,
// listeners on loopback port 0. extra is appended.
func (h *host) writeConfig(webhookLife time.Duration, extra string) {
	h.t.Helper()
	// Like a tctl auth sign identity with its default TTL of 12 h.
	tpCrt, tpKey := h.writeCert("teleport", 12*time.Hour)
	whCrt, whKey := h.writeCert("webhook", webhookLife)
	cfg := fmt.Sprintf(`teleport {
  addr          = "127.0.0.1:1"
  client_crt    = %[1]q
  client_key    = %[2]q
  root_cas      = %[1]q
  approval_mode = "set_state"
}

pager "pagerduty" {
  api_key                = env("PAGERDUTY_API_KEY")
  user_email             = "teleport-bot@example.com"
  default_notify_service = "Teleport Access Requests"
}

webhook {
  listen_addr     = "127.0.0.1:0"
  signing_secrets = [env("PAGERDUTY_WEBHOOK_SECRET")]
  tls {
    cert_file = %[3]q
    key_file  = %[4]q
  }
}

store "bbolt" {
  path = %[5]q
}

metrics {
  listen_addr = "127.0.0.1:0"
}

log {
  format = "json"
}
%[6]s`, tpCrt, tpKey, whCrt, whKey, filepath.Join(h.dir, "state.db"), extra)
	h.write(h.cfg, []byte(cfg))
}

// TestStartsWithCertificateExpiringSoon runs the unit's command lines the
// way systemd runs them on a host whose webhook certificate expires in two
// days: the start must go ahead (the certificate is still valid), the
// daemon must serve /healthz, and a stop (SIGTERM) must exit 0, which
// Restart=on-failure does not restart.
func TestStartsWithCertificateExpiringSoon(t *testing.T) {
	h := newHost(t)
	h.writeEnvFile(secrets)
	h.writeConfig(48*time.Hour, "")
	if code, refused := h.startPre(); refused {
		t.Fatalf("an ExecStartPre exits %d on a certificate that is still valid: systemd would not start pagergate", code)
	}
	// The check itself passes, with a warning line in the journal.
	for _, v := range h.unit.Values("Service", "ExecStartPre") {
		code, out := h.runToExit(v)
		if code != 0 || !strings.Contains(string(out), "warn  webhook cert_file") {
			t.Errorf("ExecStartPre=%s: exit %d, want 0 and a warning:\n%s", v, code, out)
		}
	}

	_, cmd := h.command(one(t, h.unit, "Service", "ExecStart"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addrs := make(chan string, 8)
	logs := &syncBuffer{}
	go func() {
		scanAddrs(io.TeeReader(stderr, logs), addrs)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	waitHealthy(t, addrs, exited, logs)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if code := exitCode(t, err); code != 0 {
			t.Fatalf("SIGTERM: exit %d, want 0\n%s", code, logs.String())
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no exit %s after SIGTERM", waitTimeout)
	}
}

// syncBuffer is a buffer one goroutine writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// scanAddrs sends the "addr" field of every JSON log line.
func scanAddrs(r io.Reader, addrs chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if a, ok := l["addr"].(string); ok {
			select {
			case addrs <- a:
			default:
			}
		}
	}
}

// waitHealthy waits until one of the logged listeners answers /healthz
// with 200; it fails if the daemon exits first or nothing answers in time.
func waitHealthy(t *testing.T, addrs <-chan string, exited <-chan error, logs *syncBuffer) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(waitTimeout)
	var seen []string
	for {
		select {
		case a := <-addrs:
			seen = append(seen, a)
		case err := <-exited:
			t.Fatalf("pagergate exited before it was healthy: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("no listener of %q answered /healthz 200 within %s\n%s", seen, waitTimeout, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		for _, a := range seen {
			resp, err := client.Get("http://" + a + "/healthz")
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("healthy: http://%s/healthz", a)
				return
			}
		}
	}
}

// TestBadConfigIsNotRestarted: a configuration mistake makes the start
// exit with a code in RestartPreventExitStatus, so systemd does not
// restart a daemon that cannot start.
func TestBadConfigIsNotRestarted(t *testing.T) {
	cases := []struct {
		name, env, extra string
	}{
		{"unknown key", secrets, "colour = \"blue\"\n"},
		{"secret missing from the environment file", "PAGERDUTY_API_KEY=k\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t)
			h.writeEnvFile(c.env)
			h.writeConfig(90*24*time.Hour, c.extra)
			// systemd applies RestartPreventExitStatus to the main
			// process only; a refusing ExecStartPre would be restarted
			// (the unit test requires the "-" prefix on every one).
			code, refused := h.startPre()
			var out []byte
			if !refused {
				code, out = h.runToExit(one(t, h.unit, "Service", "ExecStart"))
			}
			if !slices.Contains(finalExitCodes(t, h.unit), code) {
				t.Fatalf("exit %d is not in RestartPreventExitStatus %v: systemd would restart it every %s\n%s",
					code, finalExitCodes(t, h.unit), one(t, h.unit, "Service", "RestartSec"), out)
			}
			t.Logf("exit %d:\n%s", code, out)
		})
	}
}

// runToExit runs a command line of the unit and waits (bounded) for its exit.
func (h *host) runToExit(value string) (int, []byte) {
	h.t.Helper()
	_, cmd := h.command(value)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(h.t, err), []byte(buf.String())
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		<-done
		h.t.Fatalf("%s did not exit within %s\n%s", value, waitTimeout, buf.String())
		return -1, nil
	}
}

// TestSystemdAnalyzeVerify runs `systemd-analyze verify` on the unit, the
// binary path pointed at a real pagergate binary (verify checks that
// every Exec command is executable). Any warning fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd; .ci/run does): " +
			"the verify step is skipped, the parse checks of this package still ran")
	}
	h := newHost(t)
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), installedBinary, h.bin)
	path := filepath.Join(h.dir, "pagergate.service") // verify wants the unit's own name
	h.write(path, []byte(unit))
	out, err := exec.Command(tool, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	v, _ := exec.Command(tool, "--version").Output()
	t.Logf("systemd-analyze verify: clean (%s)", strings.SplitN(string(v), "\n", 2)[0])
}

// TestExpiredCertificateFailsTheStart: only an expired webhook certificate
// fails a start (PagerDuty cannot deliver to it), with exit 1, which is
// not final: systemd restarts it every RestartSec, so a renewed
// certificate is picked up.
func TestExpiredCertificateFailsTheStart(t *testing.T) {
	h := newHost(t)
	h.writeEnvFile(secrets)
	h.writeConfig(-30*time.Minute, "")
	for _, v := range h.unit.Values("Service", "ExecStartPre") {
		code, out := h.runToExit(v)
		if code != 1 || !strings.Contains(string(out), "FAIL  webhook cert_file") {
			t.Errorf("ExecStartPre=%s: exit %d, want 1 and a FAIL line:\n%s", v, code, out)
		}
	}
	code, out := h.runToExit(one(t, h.unit, "Service", "ExecStart"))
	if code != 1 || !strings.Contains(string(out), "expired at") {
		t.Fatalf("start on an expired certificate: exit %d, want 1 naming the expiry:\n%s", code, out)
	}
	if slices.Contains(finalExitCodes(t, h.unit), code) {
		t.Errorf("exit %d is in RestartPreventExitStatus: a renewed certificate would need a manual restart", code)
	}
}
