package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/logsink"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
	"github.com/pagergate/pagergate/config"
)

// servers starts the Teleport test server and a fake PagerDuty, and writes
// a configuration for them; mutate edits the HCL text.
func servers(t *testing.T, mutate func(string) string) (string, *teleporttest.Server, *fakepd.Server) {
	t.Helper()
	dir := t.TempDir()
	tsrv, err := teleporttest.New(teleporttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tsrv.Close)
	tsrv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true})
	if err := tsrv.WriteIdentityFile(filepath.Join(dir, "identity"), "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	pd := fakepd.New(fakepd.Options{})
	pd.AddUser("bot@example.com", "bot")
	pd.AddService("Teleport Access Requests")
	url, err := pd.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pd.Close() })
	cert, err := webhooktest.NewCA("pagergate webhook", time.Now().Add(-time.Minute), time.Now().Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.Write(filepath.Join(dir, "webhook.crt"), filepath.Join(dir, "webhook.key")); err != nil {
		t.Fatal(err)
	}
	hcl := fmt.Sprintf(`teleport {
  addr     = %q
  identity = "%[2]s/identity"
}
pager "pagerduty" {
  api_key                = %q
  user_email             = "bot@example.com"
  api_endpoint           = %q
  default_notify_service = "Teleport Access Requests"
}
store "bbolt" {
  path = "%[2]s/state.db"
}
webhook {
  listen_addr     = "127.0.0.1:0"
  signing_secrets = ["s3cret"]
  tls {
    cert_file = "%[2]s/webhook.crt"
    key_file  = "%[2]s/webhook.key"
  }
}
metrics {
  listen_addr = "127.0.0.1:0"
}
`, tsrv.Addr(), dir, fakepd.DefaultAPIKey, url)
	if mutate != nil {
		hcl = mutate(hcl)
	}
	path := filepath.Join(dir, "pagergate.hcl")
	if err := os.WriteFile(path, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, tsrv, pd
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestGraphIsValidForEveryPagerKind(t *testing.T) {
	path, _, _ := servers(t, nil)
	pdCfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fakeCfg, err := config.Parse([]byte(`teleport {
  addr     = "127.0.0.1:3025"
  identity = "/nonexistent"
}
pager "fake" {}
`), "fake.hcl")
	if err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]*config.Config{"pagerduty": pdCfg, "fake": fakeCfg}
	for _, kind := range []string{`opsgenie" {
  api_key = "k"`, `opsgenie-fake" {`} {
		cfg, err := config.Parse([]byte("teleport {\n  addr     = \"127.0.0.1:3025\"\n  identity = \"/nonexistent\"\n}\npager \""+kind+"\n}\n"+
			"webhook {\n  shared_secret_header = \"X-S\"\n  shared_secret = \"s\"\n  tls {\n    cert_file = \"/c\"\n    key_file = \"/k\"\n  }\n}\n"), "og.hcl")
		if err != nil {
			t.Fatal(err)
		}
		cfgs[cfg.Pager.Kind] = cfg
	}
	for name, cfg := range cfgs {
		if err := fx.ValidateApp(modules(cfg, zap.NewNop())); err != nil {
			t.Errorf("%s: fx.ValidateApp() = %v", name, err)
		}
	}
	for kind, k := range pagerKinds {
		if k.module == nil || k.check == nil {
			t.Errorf("kind table entry %q lacks its module or its check", kind)
		}
	}
	for _, kind := range config.PagerKinds() {
		if _, ok := pagerKinds[kind]; !ok {
			t.Errorf("config knows pager %q, the kind table has no line for it", kind)
		}
	}
}

// TestExitCodes is the exit-code table of the command line (SPEC §8,
// §10): 0 clean or help, 1 a runtime failure, 2 a bad configuration or
// usage; an unexpected argument is never ignored.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("teleport {\n  addr = \"x:1\"\n  colour = \"blue\"\n}\n"), 0o600)
	brokenTOML := filepath.Join(dir, "broken.toml")
	os.WriteFile(brokenTOML, []byte("[teleport]\naddr = \"x:1\"\n[pagerduty\n"), 0o600)
	existing := filepath.Join(dir, "existing.hcl")
	os.WriteFile(existing, []byte("# mine\n"), 0o600)
	good, _, _ := servers(t, nil)
	toml := "../../config/testdata/migrate/http-no-auth.toml"
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"no command", nil, exitConfig, "Usage:"},
		{"unknown command", []string{"frobnicate"}, exitConfig, `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "Usage:"},
		{"--help", []string{"--help"}, exitOK, "Usage:"},
		{"help of an unknown command", []string{"help", "frobnicate"}, exitConfig, `unknown command "frobnicate"`},
		{"version", []string{"version"}, exitOK, "pagergate "},
		{"configure", []string{"configure"}, exitOK, "auto_approve {"},
		{"bad config", []string{"start", "-c", bad}, exitConfig, "bad.hcl:3"},
		{"bad config as the argument", []string{"start", bad}, exitConfig, "bad.hcl:3"},
		{"check reads its argument", []string{"check", "--offline", bad}, exitConfig, "bad.hcl:3"},
		{"check argument before a flag", []string{"check", bad, "--offline"}, exitConfig, "bad.hcl:3"},
		{"check FILE is check -c FILE", []string{"check", "--offline", good}, exitOK, good + " is valid"},
		{"check warns of a literal secret", []string{"check", "--offline", good}, exitOK,
			"warn  config                 " + good + ":6:28: pager.pagerduty.api_key is a literal secret"},
		{"the same file twice", []string{"check", "--offline", "-c", good, good}, exitOK, good + " is valid"},
		{"two configuration files", []string{"check", "-c", good, bad}, exitConfig, "two configuration files"},
		{"missing config", []string{"check", "-c", "/nonexistent/pagergate.hcl"}, exitConfig, "/nonexistent/pagergate.hcl"},
		{"check needs a duration", []string{"check", "--timeout", "soon", good}, exitConfig, "invalid value"},
		{"migrate needs a file", []string{"migrate"}, exitConfig, "one teleport-pagerduty.toml"},
		{"migrate", []string{"migrate", toml}, exitOK, `pager "pagerduty"`},
		{"migrate a missing file", []string{"migrate", "/nonexistent/teleport-pagerduty.toml"}, exitConfig, "/nonexistent/teleport-pagerduty.toml"},
		{"migrate bad TOML", []string{"migrate", brokenTOML}, exitConfig, "broken.toml:3:11"},
		{"migrate keeps an existing file", []string{"migrate", toml, "-o", existing}, exitRuntime, "not replaced without --force"},
		{"migrate --force", []string{"migrate", "-o", existing, "--force", toml}, exitOK, "wrote " + existing},
		{"migrate names what changes", []string{"migrate", "../../config/testdata/migrate/v9-cloud-identity.toml"}, exitOK,
			"\nbehaviour change: auto_approve: pagergate auto-approves by default"},
	}
	for _, cmd := range []string{"start", "configure", "check", "migrate", "fake-pagerduty", "version", "help"} {
		tests = append(tests, struct {
			name string
			args []string
			code int
			want string
		}{cmd + " bad flag", []string{cmd, "--nope"}, exitConfig, "flag provided but not defined: -nope"})
		extra := []string{cmd, "extra"}
		switch cmd {
		case "start", "check":
			extra = []string{cmd, good, "extra"}
		case "migrate":
			extra = []string{cmd, toml, "extra"}
		case "help":
			extra = []string{cmd, "check", "extra"}
		}
		tests = append(tests, struct {
			name string
			args []string
			code int
			want string
		}{cmd + " unexpected argument", extra, exitConfig, `unexpected argument "extra"`})
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%s: run(%q) = %d, output %q; want %d and %q", tt.name, tt.args, code, out+errOut, tt.code, tt.want)
		}
	}
	if b, _ := os.ReadFile(existing); !strings.Contains(string(b), `pager "pagerduty"`) {
		t.Errorf("migrate --force did not replace the file: %q", b)
	}
	// A refused write prints its reason alone, no warnings about the
	// file it did not write.
	kept := filepath.Join(dir, "kept.hcl")
	os.WriteFile(kept, []byte("# mine\n"), 0o600)
	if code, _, errOut := runCLI("migrate", toml, "-o", kept); code != exitRuntime || strings.Contains(errOut, "warning:") {
		t.Errorf("migrate onto an existing file = %d, stderr %q; want 1 and no warnings", code, errOut)
	}
	if _, _, errOut := runCLI("migrate", toml, "-o", filepath.Join(dir, "fresh.hcl")); !strings.Contains(errOut, "warning:") {
		t.Errorf("migrate to a new file printed no warnings (the test needs a TOML with some): %q", errOut)
	}
}

func TestCheckAgainstTheTestServers(t *testing.T) {
	path, _, _ := servers(t, nil)
	code, out, _ := runCLI("check", "-c", path)
	if code != exitOK {
		t.Fatalf("check = %d:\n%s", code, out)
	}
	for _, want := range []string{"ok    teleport ", "ok    pager token, bot user ", `"Teleport Access Requests" is PS`, "ok    webhook cert_file"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// Every line's detail starts in one column: a label longer than the
	// column pushes its detail out of line.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if len(line) < 30 || line[28] != ' ' || line[29] == ' ' {
			t.Errorf("check line out of the columns: %q", line)
		}
	}

	unknown, _, _ := servers(t, func(s string) string {
		return strings.Replace(s, `default_notify_service = "Teleport Access Requests"`, `default_notify_service = "No Such Service"`, 1)
	})
	code, out, _ = runCLI("check", "-c", unknown)
	if code != exitRuntime || !strings.Contains(out, "FAIL  pager default service") {
		t.Errorf("check with an unknown service = %d:\n%s", code, out)
	}
	code, out, _ = runCLI("check", "--offline", "-c", unknown)
	if code != exitOK || strings.Contains(out, "ok    teleport  ") || strings.Contains(out, "ok    pager") {
		t.Errorf("check --offline must not probe = %d:\n%s", code, out)
	}
}

// The recipients of the routing rules that teleport.Check lists reach the
// pager kind's check, which looks each up (the listing itself is tested
// with teleport.Check).
func TestCheckLooksUpTheRuleServices(t *testing.T) {
	path, tsrv, pd := servers(t, nil)
	pd.AddService("Databases")
	// Without access_monitoring_rule: list, the rules are off, which is
	// no failure.
	code, out, _ := runCLI("check", "-c", path)
	if code != exitOK || !strings.Contains(out, "ok    teleport routing rules off: listing them is denied") || strings.Contains(out, "pager rule service") {
		t.Fatalf("check without the rule permission = %d:\n%s", code, out)
	}

	tsrv.AddUser("pagergate", teleporttest.AllPerms)
	for _, r := range []teleporttest.Rule{
		{Name: "db", Condition: `access_request.spec.roles.contains("db")`, Plugin: "pagerduty", Recipients: []string{"Databases"}},
		{Name: "slack", Condition: "true", Plugin: "slack", Recipients: []string{"#ops"}},
	} {
		if err := tsrv.UpsertRule(r); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runCLI("check", "-c", path)
	for _, want := range []string{"ok    teleport routing rules 1 for pagerduty (0 never route)",
		`ok    rule db                access_request.spec.roles.contains("db") → Databases`,
		`ok    pager rule service     "Databases" is PS`} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("check = %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "slack") || strings.Contains(out, "#ops") {
		t.Errorf("check lists or looks up another plugin's rule:\n%s", out)
	}

	if err := tsrv.UpsertRule(teleporttest.Rule{Name: "unknown-service", Condition: "true", Plugin: "pagerduty", Recipients: []string{"No Such Service"}}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("check", "-c", path)
	for _, want := range []string{`ok    pager rule service     "Databases" is PS`,
		`FAIL  pager rule service     service "No Such Service": not found`} {
		if code != exitRuntime || !strings.Contains(out, want) {
			t.Errorf("check = %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

// bind_to_shift (top-level auto_approve) turns teleport.Check's lock
// probe on; the probe itself is tested with teleport.Check.
func TestCheckProbesLocksWhenBoundToShifts(t *testing.T) {
	bound := func(s string) string { return s + "\nauto_approve {\n  bind_to_shift = true\n}\n" }
	path, tsrv, _ := servers(t, bound)
	code, out, _ := runCLI("check", "-c", path)
	if code != exitRuntime || !strings.Contains(out, "FAIL  teleport locks") || !strings.Contains(out, "lock: create, update") {
		t.Errorf("check without the lock rule = %d:\n%s", code, out)
	}
	tsrv.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true, Locks: true})
	if code, out, _ = runCLI("check", "-c", path); code != exitOK || !strings.Contains(out, "ok    teleport locks") {
		t.Errorf("check with the lock rule = %d:\n%s", code, out)
	}
	path, _, _ = servers(t, nil)
	if code, out, _ = runCLI("check", "-c", path); code != exitOK || strings.Contains(out, "teleport locks") {
		t.Errorf("check without bind_to_shift = %d:\n%s", code, out)
	}
}

func TestReloadChangesTheLogLevel(t *testing.T) {
	path, tsrv, _ := servers(t, nil)
	_ = tsrv
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := logsink.New(config.LogSettings{Output: filepath.Join(t.TempDir(), "log"), Severity: "info"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if lg.Level() == "debug" {
		t.Fatal("debug enabled before reload")
	}
	src, _ := os.ReadFile(path)
	os.WriteFile(path, append(src, []byte("log {\n  severity = \"debug\"\n}\n")...), 0o600)
	reload(path, cfg, lg, reloadable{}, zap.NewNop())
	if lg.Level() != "debug" {
		t.Error("reload did not switch to debug")
	}
	os.WriteFile(path, []byte("not hcl {"), 0o600)
	reload(path, cfg, lg, reloadable{}, zap.NewNop())
	if lg.Level() != "debug" {
		t.Error("a broken file changed the running level")
	}
}

func TestDaemonStartsAndStops(t *testing.T) {
	path, tsrv, pd := servers(t, nil)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	app := fx.New(modules(cfg, zap.New(core)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// fx's own lines are debug, short (no stack traces, no line per
	// constructor) and few: -d shows pagergate's own lines first.
	fxLines := logs.Filter(func(e observer.LoggedEntry) bool { return e.LoggerName == "fx" }).AllUntimed()
	if len(fxLines) == 0 || len(fxLines) > 20 {
		t.Errorf("fx logged %d lines at start, want a few", len(fxLines))
	}
	for _, e := range fxLines {
		if e.Level != zapcore.DebugLevel || e.Stack != "" || len(e.Context) > 2 || strings.Contains(fmt.Sprint(e.ContextMap()), "stacktrace") {
			t.Errorf("fx line %s %q %v: want debug, short, without a stack trace", e.Level, e.Message, e.ContextMap())
		}
	}
	id, err := tsrv.CreateRequest("alice@example.com", []string{"editor"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pd.WaitFor(ctx, func(s *fakepd.Server) bool {
		for _, inc := range s.Incidents() {
			if inc.Key == "teleport-access-request/"+id {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no incident for the default service: %v", err)
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A constructor's failure reaches the user as the adapter's own message,
// without fx's dependency-graph wording around it.
func TestStartReportsTheRootCause(t *testing.T) {
	path, _, _ := servers(t, func(s string) string {
		return strings.Replace(s, "/identity\"", "/no-such-identity\"", 1)
	})
	code, out, errOut := runCLI("start", "-c", path)
	if code != exitRuntime {
		t.Fatalf("start with a missing identity file = %d, want %d:\n%s%s", code, exitRuntime, out, errOut)
	}
	if !strings.Contains(errOut, "pagergate: start: read identity file") || strings.Contains(errOut, "could not build") {
		t.Errorf("start error = %q, want the adapter's message alone", errOut)
	}
}

// refusedAddr returns the address of a TCP socket bound on loopback that
// does not listen: connections to it are refused. It stays bound, so the
// port stays taken, until the test ends.
func refusedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// blackHole returns the address of a listener that accepts connections
// and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestCheckUnreachable: check against endpoints that refuse or never
// answer ends within its bound (it took 56 s, silent, before), announces
// each probe as it starts, and fails fast on a refused connection.
func TestCheckUnreachable(t *testing.T) {
	pointAt := func(teleportAddr, pagerURL string) func(string) string {
		return func(s string) string {
			s = regexp.MustCompile(`addr     = "[^"]*"`).ReplaceAllString(s, fmt.Sprintf("addr     = %q", teleportAddr))
			return regexp.MustCompile(`api_endpoint           = "[^"]*"`).ReplaceAllString(s, fmt.Sprintf("api_endpoint           = %q", pagerURL))
		}
	}
	tests := []struct {
		name            string
		teleport, pager string
		args            []string
		bound           time.Duration // generous: the old check took 56 s
		want            []string
	}{
		{"both refuse", refusedAddr(t), "http://" + refusedAddr(t), nil, 10 * time.Second,
			[]string{"...   teleport               dialing ", "FAIL  teleport               connect to teleport at", "connection refused",
				"...   pager                  PagerDuty at http://", "FAIL  pager token, bot user "}},
		{"both never answer", blackHole(t), "http://" + blackHole(t), []string{"--timeout", "3s"}, 15 * time.Second,
			[]string{"FAIL  teleport               ", "accepts connections but did not answer within 1.5s (the check's time)",
				"FAIL  pager token, bot user ", "deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, _ := servers(t, pointAt(tt.teleport, tt.pager))
			start := time.Now()
			code, out, errOut := runCLI(append([]string{"check", "-c", path}, tt.args...)...)
			took := time.Since(start)
			if code != exitRuntime || took > tt.bound {
				t.Errorf("check = %d after %s, want 1 within %s:\n%s%s", code, took, tt.bound, out, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if i, j := strings.Index(out, "...   teleport"), strings.Index(out, "FAIL  teleport "); i < 0 || j < i {
				t.Errorf("the Teleport probe is not announced before its result:\n%s", out)
			}
		})
	}
}
