//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
)

// lineOf returns the 1-based line of the first line of file holding sub.
func lineOf(t *testing.T, file, sub string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, sub)
	return 0
}

// Scenario 17: a bad config exits 2 and points at the file, line and text.
func TestBadConfigExitsTwo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	cases := []struct {
		name string
		opt  configOpt
		text string // the offending text, also used to find its line
	}{
		{"unknown key", withPager(`bogus_key = "x"`), "bogus_key"},
		{"bad value", withApprovalMode("sometimes"), `approval_mode = "sometimes"`},
		{"bad duration", withPager(`cache_ttl = "soon"`), `cache_ttl = "soon"`},
		{"unknown top-level key", withTop(`frobnicate = true`), "frobnicate"},
	}
	for _, c := range cases {
		cfg := e.writeConfig(c.opt)
		d := e.run("", []string{"start", "-c", cfg})
		if code := d.wait(30 * time.Second); code != 2 {
			t.Errorf("%s: exit code %d, want 2; output:\n%s", c.name, code, d.stderrText())
			continue
		}
		out := d.stderrText()
		where := fmt.Sprintf("%s:%d", filepath.Base(cfg), lineOf(t, cfg, c.text))
		if !strings.Contains(out, where) {
			t.Errorf("%s: output lacks %q:\n%s", c.name, where, out)
		}
		if !strings.Contains(out, c.text) {
			t.Errorf("%s: output lacks the offending text %q:\n%s", c.name, c.text, out)
		}
	}
}

// Scenario 17: check probes both sides and the certificates.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})

	check := func(cfg string, extraEnv ...string) (int, string) {
		t.Helper()
		d := e.run("", []string{"check", "-c", cfg}, extraEnv...)
		return d.wait(time.Minute), d.stderrText()
	}
	if code, out := check(e.writeConfig(withDefaultNotify(svcTeleport))); code != 0 {
		t.Errorf("check of a good setup: exit %d, want 0; output:\n%s", code, out)
	}

	code, out := check(e.writeConfig(withDefaultNotify("No Such Service")))
	if code == 0 {
		t.Errorf("check with an unknown default_notify_service: exit 0; output:\n%s", out)
	}
	if !strings.Contains(out, "No Such Service") {
		t.Errorf("check output does not name the unknown service:\n%s", out)
	}

	expired, err := webhooktest.NewCA("expired webhook", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(e.dir, "expired.crt"), filepath.Join(e.dir, "expired.key")
	if err := expired.Write(crt, key); err != nil {
		t.Fatal(err)
	}
	code, out = check(e.writeConfig(withWebhookCert(crt, key)))
	if code == 0 {
		t.Errorf("check with an expired webhook certificate: exit 0; output:\n%s", out)
	}
	if !strings.Contains(out, "expired") {
		t.Errorf("check output does not say the certificate expired:\n%s", out)
	}
}

// Scenario 17: the configuration "configure" prints passes check --offline
// once its environment variables are set and its files exist.
func TestConfigureOutputPassesOfflineCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.run("", []string{"configure"})
	if code := d.wait(30 * time.Second); code != 0 {
		t.Fatalf("configure: exit %d; output:\n%s", code, d.stderrText())
	}
	text := d.stderrText() // stdout and stderr are captured together
	if !strings.Contains(text, "/var/lib/pagergate/") {
		t.Fatalf("configure output has no /var/lib/pagergate/ paths to relocate:\n%s", text)
	}
	dir := filepath.Join(e.dir, "configured")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	text = strings.ReplaceAll(text, "/var/lib/pagergate/", dir+"/")
	cfg := filepath.Join(dir, "pagergate.hcl")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.tp.WriteIdentityFile(filepath.Join(dir, "identity"), "pagergate", time.Hour); err != nil {
		t.Fatal(err)
	}
	srv, err := webhooktest.NewCA("configured webhook", time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Write(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}

	c := e.run("", []string{"check", "--offline", "-c", cfg},
		"PAGERDUTY_API_KEY=key-from-env", "PAGERDUTY_WEBHOOK_SECRET=secret-from-env")
	if code := c.wait(time.Minute); code != 0 {
		t.Errorf("check --offline of the configure output: exit %d; output:\n%s", code, c.stderrText())
	}

	// Without the variables the env() calls fail: a config error.
	c = e.run("", []string{"check", "--offline", "-c", cfg}, "PAGERDUTY_API_KEY", "PAGERDUTY_WEBHOOK_SECRET")
	if code := c.wait(time.Minute); code != 2 {
		t.Errorf("check --offline without the environment variables: exit %d, want 2; output:\n%s", code, c.stderrText())
	} else if !strings.Contains(c.stderrText(), "PAGERDUTY_API_KEY") {
		t.Errorf("the error does not name the missing variable:\n%s", c.stderrText())
	}
}

// Scenario 18: SIGTERM during a burst exits 0 within the drain deadline;
// the next start completes every request with exactly one incident.
func TestSigtermDuringBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// Few workers and a slow pager leave requests queued at SIGTERM.
	cfg := e.writeConfig(withWorkers(4))
	d := e.start(cfg)

	const n = 30
	e.pd.SetLatency(200 * time.Millisecond)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.createRequest(alice, []string{"editor"}, notify(svcTeleport), fmt.Sprintf("burst %d", i))
	}
	e.waitPD("the burst under way", func(pd *fakepd.Server) bool { return len(pd.Incidents()) >= 3 })
	if d.exited() {
		t.Fatalf("pagergate exited during the burst; output:\n%s", d.stderrText())
	}
	took := d.stopWithin(30 * time.Second)
	done := len(e.pd.Incidents())
	t.Logf("stopped in %s with %d of %d incidents opened", took.Round(time.Millisecond), done, n)
	if took > 25*time.Second {
		t.Errorf("stop took %s, over the 20 s drain deadline (+5 s)", took)
	}

	e.pd.SetLatency(0)
	d = e.start(cfg)
	e.waitPD("an incident for every request", func(pd *fakepd.Server) bool {
		for _, id := range ids {
			if len(incidentsIn(pd, id)) == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		e.waitFor("incident recorded for "+id, func() bool { return e.pluginData(id)["incident_id"] != "" })
	}
	for _, id := range ids {
		if got := len(e.incidentsFor(id)); got != 1 {
			t.Errorf("request %s: %d incidents, want 1", id, got)
		}
	}
	if got := len(e.pd.Incidents()); got != n {
		t.Errorf("%d incidents in all, want %d", got, n)
	}
	d.stop()
}

// The demo (its own binary, around the pagergate binary) runs the three
// main flows on its own; then a visitor plays from the fake's page: its
// form creates requests (bob, on call, is approved; alice is paged, and
// the responder preselected is the one on call), and a Ctrl-C stops it
// cleanly (exit 0) and removes its work directory.
func TestDemo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	demoBin := filepath.Join(t.TempDir(), "pagergate-demo")
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", demoBin, "./cmd/pagergate-demo")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pagergate-demo: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, demoBin, "--for", "3m", "--pagergate", binPath)
	cmd.Dir = t.TempDir()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pageURL := waitFor(t, ctx, "the demo's tour", func() (string, bool) {
		m := regexp.MustCompile(`Open (http://\S+)/ to see the incidents`).FindStringSubmatch(out.String())
		if m == nil {
			return "", false
		}
		return m[1], true
	}, &out)
	playFromThePage(t, ctx, pageURL, &out)
	checkByHand(t, ctx, out.String())

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatalf("demo did not stop after Ctrl-C:\n%s", out.String())
	}
	s := out.String()
	for _, re := range []string{
		`1\. alice@example\.com requests role editor`,
		`incident \S+ opened in "Teleport Access Requests"`,
		`2\. bob@example\.com .* requests demo-role`,
		`request APPROVED: Auto-approved by pagergate: bob@example\.com is on call for My Critical Service`,
		`3\. alice@example\.com requests editor again`,
		`carol@example\.com clicks Approve on incident \S+: webhook answered 200`,
		`request APPROVED: Approved in PagerDuty by carol@example\.com`,
		`stopping`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("demo output lacks %s:\n%s", re, s)
		}
	}
	if strings.Contains(s, "WARNING: DATA RACE") {
		t.Errorf("data race in the demo:\n%s", s)
	}
	m := regexp.MustCompile(`work dir (\S+pagergate-demo-\S+)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("the demo does not name its work dir:\n%s", s)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		_ = os.RemoveAll(m[1])
		t.Errorf("work dir %s left after a clean stop (%v)", m[1], err)
	}
	if !strings.Contains(s, "removed "+m[1]) {
		t.Errorf("the demo does not say it removed %s:\n%s", m[1], s)
	}
}

// checkByHand is README's way to try pagergate by hand against the
// demo: a copy of the daemon's pagergate.hcl from the demo's work
// directory, elsewhere, passes pagergate check, with the demo's
// pagergate user allowed what the shipped role allows (routing rules on).
func checkByHand(t *testing.T, ctx context.Context, demoOut string) {
	t.Helper()
	m := regexp.MustCompile(`work dir (\S+pagergate-demo-\S+)`).FindStringSubmatch(demoOut)
	if m == nil {
		t.Fatalf("the demo does not name its work dir:\n%s", demoOut)
	}
	src, err := os.ReadFile(filepath.Join(m[1], "pagergate.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "pagergate.hcl")
	if err := os.WriteFile(copied, src, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, binPath, "check", "-c", copied).CombinedOutput()
	if err != nil {
		t.Fatalf("pagergate check on a copy of the demo's file: %v\n%s", err, out)
	}
	for _, want := range []string{"ok    teleport routing rules 0 for pagerduty", "ok    pager default service"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check on the demo's file lacks %q:\n%s", want, out)
		}
	}
}

// playFromThePage creates two requests with the fake page's form: bob's
// (on call) is approved and its incident resolved; alice's opens an
// incident listed first, with carol (on call) as the responder selected.
func playFromThePage(t *testing.T, ctx context.Context, pageURL string, out fmt.Stringer) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	create := func(user string) string {
		resp, err := client.PostForm(pageURL+"/_ui/request", url.Values{"user": {user}, "roles": {"editor"}, "reason": {"from the page"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/?created=") {
			t.Fatalf("new request as %s = %d %q, want 303 naming it", user, resp.StatusCode, loc)
		}
		return strings.TrimSuffix(strings.TrimPrefix(loc, "/?created="), "#new-request")
	}
	page := func() string {
		resp, err := client.Get(pageURL + "/")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// block returns the page's incident of request id, and its place
	// among the incidents (0: first).
	block := func(p, id string) (string, int) {
		blocks := strings.Split(p, `<div class="inc" id="`)
		for n, b := range blocks[1:] {
			if strings.Contains(b, "Request ID: "+id) {
				return b, n
			}
		}
		return "", -1
	}
	bob := create("bob@example.com")
	waitFor(t, ctx, "bob's request approved and its incident resolved", func() (string, bool) {
		b, _ := block(page(), bob)
		return "", strings.Contains(b, `<span class="st resolved">`)
	}, out)
	alice := create("alice@example.com")
	waitFor(t, ctx, "alice's incident, first on the page, carol selected", func() (string, bool) {
		b, n := block(page(), alice)
		return "", n == 0 && strings.Contains(b, `<span class="st triggered">`) && strings.Contains(b, `<option value="carol@example.com" selected>`)
	}, out)
}

// waitFor polls cond every 100 ms until it holds or ctx ends (a failure
// naming what, with out).
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (string, bool), out fmt.Stringer) string {
	t.Helper()
	for {
		if v, ok := cond(); ok {
			return v
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not happen:\n%s", what, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
