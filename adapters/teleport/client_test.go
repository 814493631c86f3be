package teleport

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func TestPingReportsCluster(t *testing.T) {
	srv := newServer(t, teleporttest.Options{Enterprise: true, ClusterName: "prod", ProxyAddr: "teleport.example.com:443", Version: "16.4.2"})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	got, err := c.Ping(ctxT(t))
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	want := domain.Cluster{Name: "prod", Version: "16.4.2", ProxyAddr: "teleport.example.com:443", AdvancedWorkflows: true}
	if got != want {
		t.Errorf("Ping = %+v, want %+v", got, want)
	}
	if c.Cluster() != want {
		t.Errorf("Cluster() = %+v, want %+v", c.Cluster(), want)
	}
}

func TestTLSFilesCredentials(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("pagergate", teleporttest.AllPerms)
	crt, key, ca, err := srv.WriteTLSFiles(t.TempDir(), "pagergate", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: srv.Addr(), ClientCrt: crt, ClientKey: key, RootCAs: ca, DialTimeout: 5 * time.Second}
	c := connect(t, cfg)
	id := mustCreate(t, srv, "alice", []string{"dev"})
	if _, err := c.GetRequest(ctxT(t), id); err != nil {
		t.Errorf("GetRequest over TLS file credentials: %v", err)
	}

	crt, key, ca, err = srv.WriteTLSFiles(t.TempDir(), "pagergate", -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientCrt, cfg.ClientKey, cfg.RootCAs = crt, key, ca
	_, err = Dial(ctxT(t), cfg, zaptest.NewLogger(t))
	if err == nil || !strings.Contains(err.Error(), crt) || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("New(expired certificate) = %v, want an error naming %s and its expiry", err, crt)
	}
}

func TestExpiredIdentityRefused(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	path := filepath.Join(t.TempDir(), "identity")
	if err := srv.WriteIdentityFile(path, "pagergate", -2*time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(ctxT(t), testConfig(srv, path), zaptest.NewLogger(t))
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("New(expired identity) = %v, want an error naming %s and its expiry", err, path)
	}
}

func TestMissingCredentials(t *testing.T) {
	for _, cfg := range []Config{
		{Addr: "127.0.0.1:1"},
		{Addr: "127.0.0.1:1", ClientCrt: "a.crt"},
		{IdentityFile: "x"},
	} {
		if _, err := New(cfg, zap.NewNop()); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestIdentityRotation rotates the cluster CA while the plugin runs: only a
// client that re-read its identity file can connect again.
func TestIdentityRotation(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("pagergate", teleporttest.AllPerms)
	dir := t.TempDir()
	path := filepath.Join(dir, "identity")
	if err := srv.WriteIdentityFile(path, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, path)
	cfg.RefreshIdentity = true
	cfg.ReloadInterval = 5 * time.Millisecond
	c := connect(t, cfg)
	events := watching(t, c)
	nextKind(t, events, domain.EventSynced)

	staticPath := filepath.Join(dir, "static")
	if err := srv.WriteIdentityFile(staticPath, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	static := connect(t, testConfig(srv, staticPath))

	oldExpiry, _ := c.dyn.Expiry()
	srv.Stop()
	nextKind(t, events, domain.EventDisconnected)
	if err := srv.RotateCA(); err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteIdentityFile(path, "pagergate", 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	// The file watcher picks the new identity up.
	deadline := time.Now().Add(waitFor)
	for exp, _ := c.dyn.Expiry(); exp.Equal(oldExpiry); exp, _ = c.dyn.Expiry() {
		if time.Now().After(deadline) {
			t.Fatal("identity file change was not reloaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	id := mustCreate(t, srv, "alice", []string{"dev"})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(nextKind(t, events, domain.EventSynced)); !got[id] {
		t.Errorf("sync after rotation = %v, want %s", got, id)
	}
	if _, err := c.GetRequest(ctxT(t), id); err != nil {
		t.Errorf("GetRequest after rotation: %v", err)
	}

	// The client that kept the old identity is locked out.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := static.GetRequest(ctx, id); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("GetRequest with the old identity = %v, want ErrUnavailable", err)
	}

	// An expired file is refused and the working identity kept.
	if err := srv.WriteIdentityFile(path, "pagergate", -time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("Reload(expired) = %v, want an expiry error", err)
	}
	if exp, _ := c.dyn.Expiry(); exp.Before(time.Now()) {
		t.Errorf("identity expiry = %v after refused reload, want the valid one", exp)
	}
}

func TestReloadWithoutRefreshIsNoop(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	if err := c.Reload(); err != nil {
		t.Errorf("Reload() = %v, want nil", err)
	}
}

func TestCheckVersion(t *testing.T) {
	ok := []struct {
		version string
		warn    bool
	}{
		{"13.0.0", true},
		{"14.2.3", false}, // a real Auth Service of this release: make e2e-teleport
		{"14.3.1", false},
		{"15.0.0", true},
		{"17.1.5", true},
		{"18.0.0-dev", false}, // the api module's protocol: the in-process server
		{"18.2.0", false},
		{"19.2.0", true},
	}
	for _, tc := range ok {
		core, logs := observer.New(zapcore.WarnLevel)
		c := &Client{log: zap.New(core)}
		if err := c.CheckVersion(domain.Cluster{Version: tc.version}); err != nil {
			t.Errorf("CheckVersion(%s) = %v, want nil", tc.version, err)
		}
		if warned := logs.Len() > 0; warned != tc.warn {
			t.Errorf("CheckVersion(%s) warned = %v, want %v", tc.version, warned, tc.warn)
		}
		for _, l := range logs.All() {
			if !strings.Contains(l.Message, "14.2.3") || !strings.Contains(l.Message, "18.0.0-dev") {
				t.Errorf("CheckVersion(%s) warning %q does not say what is tested", tc.version, l.Message)
			}
		}
	}
	for _, v := range []string{"12.4.9", "9.0.0", "", "seventeen"} {
		c := &Client{log: zap.NewNop()}
		if err := c.CheckVersion(domain.Cluster{Version: v}); err == nil {
			t.Errorf("CheckVersion(%q) = nil, want an error", v)
		}
	}
}

func TestNewRefusesOldCluster(t *testing.T) {
	srv := newServer(t, teleporttest.Options{Version: "12.1.0"})
	srv.AddUser("pagergate", teleporttest.AllPerms)
	path := filepath.Join(t.TempDir(), "identity")
	if err := srv.WriteIdentityFile(path, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(ctxT(t), testConfig(srv, path), zaptest.NewLogger(t))
	if err == nil || !strings.Contains(err.Error(), "13.0.0") {
		t.Errorf("New against 12.1.0 = %v, want a too-old error", err)
	}
}

// TestIdentityFileFullDiscovery connects the way a Proxy address needs
// (DirectAuth off): the api client tries every method and the direct one
// wins.
func TestIdentityFileFullDiscovery(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("pagergate", teleporttest.AllPerms)
	path := filepath.Join(t.TempDir(), "identity")
	if err := srv.WriteIdentityFile(path, "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, path)
	cfg.DirectAuth = false
	c := connect(t, cfg)
	if _, err := c.ListPending(ctxT(t)); err != nil {
		t.Errorf("ListPending: %v", err)
	}
}

func TestCertificateExpiry(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	srv.AddUser("pagergate", teleporttest.AllPerms)
	dir := t.TempDir()
	identity := filepath.Join(dir, "identity")
	if err := srv.WriteIdentityFile(identity, "pagergate", 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	crt, _, _, err := srv.WriteTLSFiles(dir, "pagergate", -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		cfg      Config
		from, to time.Duration // the expiry lies in [now+from, now+to]
	}{
		{"identity", Config{IdentityFile: identity}, 2 * time.Hour, 4 * time.Hour},
		{"expired client_crt", Config{ClientCrt: crt}, -2 * time.Hour, 0},
	} {
		got, err := CertificateExpiry(tt.cfg)
		if err != nil {
			t.Errorf("%s: CertificateExpiry() = %v", tt.name, err)
			continue
		}
		if now := time.Now(); got.Before(now.Add(tt.from)) || got.After(now.Add(tt.to)) {
			t.Errorf("%s: CertificateExpiry() = %v, want within [now%+v, now%+v]", tt.name, got, tt.from, tt.to)
		}
	}
	if _, err := CertificateExpiry(Config{IdentityFile: filepath.Join(dir, "missing")}); err == nil {
		t.Error("CertificateExpiry(missing identity) = nil error")
	}
}
