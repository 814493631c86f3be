//go:build e2e && realteleport

// The realteleport suite runs the real pagergate binary against a real
// Teleport Auth Service (Community Edition, v14.2.3, built from source by
// teleportbin/build.sh and cached by version) and the fake PagerDuty.
//
// Run it with:
//
//	go test -race -count=1 -timeout 30m -tags 'e2e realteleport' -run '^TestRealTeleport' ./e2e/
//
// PAGERGATE_TELEPORT_BIN may name a directory that already holds the
// `teleport` and `tctl` binaries; otherwise the test runs build.sh (a cold
// build takes several minutes and needs the Go module proxy).
package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/teleport"
)

// pluginUser is the Teleport user pagergate runs as against the real
// Auth Service: the one deploy/teleport-roles-community.yaml creates.
const pluginUser = "pagergate"

// communityRoles is the file users create with `tctl create -f` on
// Teleport Community Edition; the suite creates it exactly as shipped.
const communityRoles = "../deploy/teleport-roles-community.yaml"

// The services the shipped requester roles name (those of the official
// guide). seedGuide adds them to the fake PagerDuty.
const (
	guideNotify   = "Teleport Access Request Notifications"
	guideServices = "My Critical Service" // = svcCritical
)

// operator holds the shipped impersonator role, as README.md tells the
// person who signs the plugin's identity from their own machine. The
// suite cannot sign that way: an identity signed for the operator by the
// Auth Service is itself impersonated, and Teleport refuses to impersonate
// from one ("impersonated user can not impersonate anyone else"); a real
// login needs a Proxy Service and tsh. It checks that the role is created.
const operator = "ops@example.com"

// realUsers are the users of the suite: two requesters with the shipped
// requester roles, and the operator with the shipped impersonator role
// (Teleport refuses a user whose role does not exist).
var realUsers = fmt.Sprintf(`kind: user
version: v2
metadata:
  name: %[1]s
spec:
  roles: ['editor-requester', 'demo-role-requester']
---
kind: user
version: v2
metadata:
  name: %[2]s
spec:
  roles: ['editor-requester', 'demo-role-requester']
---
kind: user
version: v2
metadata:
  name: %[3]s
spec:
  roles: ['%[4]s-impersonator']
`, alice, bob, operator, pluginUser)

// seedGuide adds the guide's notify service to the fake PagerDuty, with
// carol on call for it (svcCritical is already seeded, bob on call).
func seedGuide(t *testing.T, e *env) {
	t.Helper()
	e.pd.AddService(guideNotify)
	if err := e.pd.AddOnCall(carol, guideNotify, 1); err != nil {
		t.Fatal(err)
	}
	if guideServices != svcCritical {
		t.Fatalf("the guide's service %q is not the seeded %q", guideServices, svcCritical)
	}
}

// setUpCluster creates the shipped Community roles and the suite's users,
// and signs the plugin's identity into path.
func setUpCluster(t *testing.T, tp *realTeleport, path string) {
	t.Helper()
	tp.tctl("create", "-f", communityRoles)
	tp.create(realUsers)
	tp.signIdentity(pluginUser, path)
}

// TestRealTeleport runs the scenarios of the e2e suite that matter most
// against a real Auth Service, in one world: one Teleport process, one
// fake PagerDuty, one pagergate state file. Scenario numbers are those of
// the e2e suite.
func TestRealTeleport(t *testing.T) {
	bins := teleportBinaries(t)
	e := newEnv(t, envOpts{})
	seedGuide(t, e)
	tp := startRealTeleport(t, bins)
	setUpCluster(t, tp, e.identity)
	cfg := tp.config(e)
	d := e.start(cfg)
	checkPing(t, d)
	// Teleport v14.2.3 has no access monitoring rules: the partial-success
	// watch leaves the kind out and pagergate says rules are off.
	d.waitLogEntry("rules off", func(l logEntry) bool {
		return strings.HasPrefix(l.str("msg"), "access monitoring rules are off") &&
			strings.Contains(l.str("reason"), "the watch did not confirm access_monitoring_rule")
	})

	// 1: a pending request opens one incident in its notify service; the
	// annotations come from the requester's role.
	pendingID := tp.createRequest(alice, "editor", "deploy hotfix 42")
	inc := e.waitIncidentIn(pendingID, guideNotify)
	for _, want := range []string{alice, "editor", "deploy hotfix 42", pendingID} {
		if !strings.Contains(inc.Title+"\n"+inc.Details, want) {
			t.Errorf("scenario 1: incident lacks %q:\n%s\n%s", want, inc.Title, inc.Details)
		}
	}
	if r := tp.request(pendingID); r.stateName() != "PENDING" {
		t.Errorf("scenario 1: request state %s, want PENDING", r.stateName())
	} else {
		// Teleport gathers request.annotations from every role of the
		// requester (duplicates kept); one incident per service anyway.
		t.Logf("scenario 1: system annotations %v", r.Spec.SystemAnnotations)
	}

	// 2: an admin approves; the incident gets the resolution note and is
	// resolved.
	approveID := tp.createRequest(alice, "editor", "read the logs")
	inc = e.waitIncident(approveID)
	tp.tctl("request", "approve", approveID, "--reason=approved by the admin")
	e.waitResolved(approveID)
	wantNote(t, "scenario 2", e.waitNotes(inc.ID, 1), "APPROVED", "approved by the admin")

	// 3: an admin denies.
	denyID := tp.createRequest(alice, "editor", "write the logs")
	inc = e.waitIncident(denyID)
	tp.tctl("request", "deny", denyID, "--reason=not today")
	e.waitResolved(denyID)
	wantNote(t, "scenario 3", e.waitNotes(inc.ID, 1), "DENIED", "not today")

	// 4: a deleted request counts as expired.
	expireID := tp.createRequest(alice, "editor", "expires")
	inc = e.waitIncident(expireID)
	tp.tctl("request", "rm", expireID)
	e.waitResolved(expireID)
	wantNote(t, "scenario 4", e.waitNotes(inc.ID, 1), "EXPIRED")

	// 6: an on-call requester is approved at once by set_state.
	autoID := tp.createRequest(bob, "demo-role", "on call, investigating")
	tp.waitState(autoID, "APPROVED")
	if r := tp.request(autoID); !strings.Contains(r.Spec.ResolveReason, bob) {
		t.Errorf("scenario 6: resolve reason %q does not name %s", r.Spec.ResolveReason, bob)
	}
	tp.wantDelegator(autoID, "pagerduty:"+bob)
	inc = e.waitResolved(autoID)
	wantNote(t, "scenario 6", e.waitNotes(inc.ID, 1), bob)

	// 7: the same request by someone not on call stays pending.
	notOnCallID := tp.createRequest(alice, "demo-role", "not on call")
	e.waitIncident(notOnCallID)
	d.waitLogEntry("a decision on "+notOnCallID, func(l logEntry) bool {
		return l.str("request_id") == notOnCallID && l.str("decision") != "" && l.str("decision") != "notify"
	})
	if got := tp.state(notOnCallID); got != "PENDING" {
		t.Errorf("scenario 7: request state %s, want PENDING", got)
	}

	// 9: a responder on call for the notify service approves from the pager.
	buttonID := tp.createRequest(alice, "editor", "pager button")
	inc = e.waitIncident(buttonID)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	code, err := e.pd.SendAction(ctx, inc.ID, carol, "approve", "go ahead")
	cancel()
	if err != nil || code/100 != 2 {
		t.Fatalf("scenario 9: pager approve answered %d, %v", code, err)
	}
	tp.waitState(buttonID, "APPROVED")
	if r := tp.request(buttonID); !strings.Contains(r.Spec.ResolveReason, carol) {
		t.Errorf("scenario 9: resolve reason %q does not name %s", r.Spec.ResolveReason, carol)
	}
	tp.wantDelegator(buttonID, "pagerduty:"+carol)
	e.waitResolved(buttonID)

	// 11: a request created while pagergate is down gets its incident at
	// the next start.
	d.stop()
	backlogID := tp.createRequest(alice, "editor", "while down")
	tp.waitListed(backlogID)
	d = e.start(cfg)
	e.waitIncident(backlogID)

	// 15: Teleport restarts; pagergate reconnects on its own and keeps
	// working on old and new requests.
	tp.restart()
	afterID := tp.createRequest(alice, "editor", "after restart")
	e.waitIncident(afterID)
	tp.tctl("request", "approve", backlogID, "--reason=after the restart")
	e.waitResolved(backlogID)
	d.waitReady()

	// Exactly one incident per request, whatever happened in between.
	for _, id := range []string{pendingID, approveID, denyID, expireID, autoID, notOnCallID, buttonID, backlogID, afterID} {
		if n := len(e.incidentsFor(id)); n != 1 {
			t.Errorf("request %s has %d incidents, want 1", id, n)
		}
	}
	d.stop()
}

// checkPing makes sure the daemon saw a real Teleport of the release the
// version check calls tested, and did not warn about it.
func checkPing(t *testing.T, d *daemon) {
	t.Helper()
	d.waitLogEntry("the server version "+teleport.TestedRelease, func(l logEntry) bool {
		return l.str("msg") == "connected to teleport" && l.str("version") == teleport.TestedRelease
	})
	for _, l := range d.logEntries() {
		if strings.Contains(l.str("msg"), "not tested") {
			t.Errorf("real Teleport %s logged as not tested: %v", teleport.TestedRelease, map[string]any(l))
		}
	}
}

// wantNote fails unless one of notes holds every want.
func wantNote(t *testing.T, scenario string, notes []string, want ...string) {
	t.Helper()
	for _, n := range notes {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(strings.ToUpper(n), strings.ToUpper(w))
		}
		if ok {
			return
		}
	}
	t.Errorf("%s: no note holds %q; notes: %q", scenario, want, notes)
}

// ---- binaries ----

var (
	binsOnce sync.Once
	binsDir  string
	binsErr  error
)

// teleportBinaries returns the directory holding `teleport` and `tctl`:
// PAGERGATE_TELEPORT_BIN, or what teleportbin/build.sh built or found in
// its cache.
func teleportBinaries(t *testing.T) string {
	t.Helper()
	binsOnce.Do(func() {
		if dir := os.Getenv("PAGERGATE_TELEPORT_BIN"); dir != "" {
			binsDir = dir
			return
		}
		began := time.Now()
		cmd := exec.Command("bash", "teleportbin/build.sh")
		cmd.Stderr = os.Stderr // progress and build time
		out, err := cmd.Output()
		if err != nil {
			binsErr = fmt.Errorf("teleportbin/build.sh: %w", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		binsDir = lines[len(lines)-1]
		t.Logf("teleport binaries in %s (%s)", binsDir, time.Since(began).Round(time.Second))
	})
	if binsErr != nil {
		t.Fatal(binsErr)
	}
	for _, b := range []string{"teleport", "tctl"} {
		if _, err := os.Stat(filepath.Join(binsDir, b)); err != nil {
			t.Fatalf("teleport binaries: %v", err)
		}
	}
	return binsDir
}

// ---- the Auth Service process ----

// realTeleport is one `teleport start` process, auth service only. It
// listens on a free port, which it logs; clients reach it through a front
// door kept for the whole test, so a restart keeps the address.
type realTeleport struct {
	t          *testing.T
	bins       string
	dir        string
	addr       string // the front door of the auth gRPC/TLS listener
	serverConf string // the server's config
	tctlConf   string // tctl's own config: same data dir, its own log
	cmd        *exec.Cmd
	out        *lockedBuffer
	done       chan struct{}

	mu      sync.Mutex
	backend string // the running process's listener ("" while stopped)
}

// startRealTeleport starts the Auth Service and waits until tctl can talk
// to it; the process is stopped at cleanup.
func startRealTeleport(t *testing.T, bins string) *realTeleport {
	t.Helper()
	dir := t.TempDir()
	r := &realTeleport{t: t, bins: bins, dir: dir}
	r.addr = newFrontDoor(t, func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.backend
	}).addr()
	r.serverConf = r.writeConfig("teleport.yaml", "teleport.log", "127.0.0.1:0")
	r.tctlConf = r.writeConfig("tctl.yaml", "tctl.log", r.addr)
	r.start()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("teleport output (tail):\n%s\nteleport log (tail):\n%s",
				tail(r.out.String(), 30), tail(readFile(filepath.Join(dir, "teleport.log")), 60))
		}
	})
	return r
}

// writeConfig writes a config file whose auth listen_addr is listen.
func (r *realTeleport) writeConfig(name, logName, listen string) string {
	r.t.Helper()
	conf := fmt.Sprintf(`version: v3
teleport:
  nodename: pagergate-e2e
  data_dir: %q
  log:
    output: %q
    severity: INFO
  storage:
    type: sqlite
auth_service:
  enabled: true
  listen_addr: %q
  cluster_name: pagergate-e2e
  authentication:
    type: local
    second_factor: "off"
proxy_service:
  enabled: false
ssh_service:
  enabled: false
`, filepath.Join(r.dir, "data"), filepath.Join(r.dir, logName), listen)
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// authStarting is Teleport's log line naming the auth listener's address.
var authStarting = regexp.MustCompile(`Auth service \S+ is starting on (\S+?)\.?\s`)

// start runs `teleport start`, waits until it logged its auth listener,
// points the front door at it and waits for a working tctl.
func (r *realTeleport) start() {
	r.t.Helper()
	// Teleport starts its log file over: keep the last run's aside.
	logPath := filepath.Join(r.dir, "teleport.log")
	if _, err := os.Stat(logPath); err == nil {
		if err := os.Rename(logPath, fmt.Sprintf("%s.%d", logPath, time.Now().UnixNano())); err != nil {
			r.t.Fatal(err)
		}
	}
	r.out = &lockedBuffer{}
	r.done = make(chan struct{})
	r.cmd = exec.Command(filepath.Join(r.bins, "teleport"), "start", "-c", r.serverConf)
	r.cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	began := time.Now()
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start teleport: %v", err)
	}
	done := r.done
	go func() {
		_ = r.cmd.Wait()
		close(done)
	}()
	var addr string
	err := poll(func() bool {
		select {
		case <-done:
			return true
		default:
		}
		if m := authStarting.FindStringSubmatch(readFile(logPath)); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	select {
	case <-done:
		r.t.Fatalf("teleport exited before ready:\n%s", tail(r.out.String(), 40))
	default:
	}
	if err != nil {
		r.t.Fatalf("teleport did not log its auth listener: %v\n%s", err, tail(r.out.String(), 40))
	}
	r.mu.Lock()
	r.backend = addr
	r.mu.Unlock()
	if err := poll(func() bool { _, err := r.tryTctl("status"); return err == nil }); err != nil {
		r.t.Fatalf("tctl status never worked: %v", err)
	}
	r.t.Logf("teleport %s (front door %s) ready in %s", addr, r.addr, time.Since(began).Round(time.Millisecond))
}

// stop ends the process (SIGTERM, then SIGKILL after 30 s) and waits.
func (r *realTeleport) stop() {
	if r.cmd == nil {
		return
	}
	r.mu.Lock()
	r.backend = ""
	r.mu.Unlock()
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// restart stops the process and starts it again on the same address and
// data directory.
func (r *realTeleport) restart() {
	r.t.Helper()
	r.stop()
	r.start()
}

// tryTctl runs tctl with its own config and returns its combined output.
func (r *realTeleport) tryTctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.bins, "tctl"), append([]string{"-c", r.tctlConf}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// tctl runs tctl and fails the test on error.
func (r *realTeleport) tctl(args ...string) string {
	r.t.Helper()
	out, err := r.tryTctl(args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// create applies YAML resources with `tctl create -f`.
func (r *realTeleport) create(yaml string) {
	r.t.Helper()
	path := filepath.Join(r.dir, fmt.Sprintf("resources-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.tctl("create", "-f", path)
}

// signIdentity writes an identity file for user to path the way README.md
// shows: tctl on the Auth Service host, with --ttl, which it honours.
func (r *realTeleport) signIdentity(user, path string) {
	r.t.Helper()
	_ = os.Remove(path)
	r.tctl("auth", "sign", "--user="+user, "--format=file", "--ttl=48h", "--out="+path)
	if left := time.Until(certNotAfter(r.t, path)); left < 47*time.Hour || left > 49*time.Hour {
		r.t.Errorf("identity signed with --ttl=48h is valid for %s", left.Round(time.Minute))
	}
}

// certNotAfter returns the expiry of the first certificate of a PEM file
// (an identity file's first is its TLS certificate).
func certNotAfter(t *testing.T, path string) time.Time {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			t.Fatalf("%s holds no PEM certificate", path)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return c.NotAfter
	}
}

// config writes a pagergate config for e pointing at this Auth Service
// with approval_mode "set_state" (Community Edition), and opts.
func (r *realTeleport) config(e *env, opts ...configOpt) string {
	r.t.Helper()
	path := e.writeConfig(append([]configOpt{withApprovalMode("set_state")}, opts...)...)
	data, err := os.ReadFile(path)
	if err != nil {
		r.t.Fatal(err)
	}
	old := "addr     = " + q(e.tp.Addr())
	if !strings.Contains(string(data), old) {
		r.t.Fatalf("config %s has no line %s", path, old)
	}
	data = []byte(strings.Replace(string(data), old, "addr     = "+q(r.addr), 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		r.t.Fatal(err)
	}
	return path
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// createRequest creates a request as an admin for user and returns its ID.
func (r *realTeleport) createRequest(user, role, reason string) string {
	r.t.Helper()
	out := r.tctl("request", "create", user, "--roles="+role, "--reason="+reason)
	id := uuidRe.FindString(out)
	if id == "" {
		r.t.Fatalf("no request ID in tctl output:\n%s", out)
	}
	return id
}

// accessRequest is the part of a request's JSON the test reads.
type accessRequest struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		User              string              `json:"user"`
		Roles             []string            `json:"roles"`
		State             any                 `json:"state"`
		ResolveReason     string              `json:"resolve_reason"`
		SystemAnnotations map[string][]string `json:"system_annotations"`
	} `json:"spec"`
}

// stateName returns the state as a name whichever way JSON holds it.
func (a accessRequest) stateName() string {
	names := map[float64]string{0: "NONE", 1: "PENDING", 2: "APPROVED", 3: "DENIED", 4: "PROMOTED"}
	switch s := a.Spec.State.(type) {
	case string:
		return s
	case float64:
		return names[s]
	}
	return fmt.Sprint(a.Spec.State)
}

// lookup returns the request, or ok=false when Teleport has none.
func (r *realTeleport) lookup(id string) (accessRequest, bool, error) {
	out, err := r.tryTctl("request", "get", id, "--format=json")
	if err != nil {
		if strings.Contains(strings.ToLower(out), "not found") {
			return accessRequest{}, false, nil
		}
		return accessRequest{}, false, err
	}
	var list []accessRequest
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return accessRequest{}, false, fmt.Errorf("decode tctl request get: %w\n%s", err, out)
	}
	for _, a := range list {
		if a.Metadata.Name == id {
			return a, true, nil
		}
	}
	return accessRequest{}, false, nil
}

// request returns the request; it fails the test if there is none.
func (r *realTeleport) request(id string) accessRequest {
	r.t.Helper()
	a, ok, err := r.lookup(id)
	if err != nil {
		r.t.Fatal(err)
	}
	if !ok {
		r.t.Fatalf("request %s not found", id)
	}
	return a
}

// state returns the request's state name.
func (r *realTeleport) state(id string) string {
	r.t.Helper()
	return r.request(id).stateName()
}

// waitState polls until the request is in state.
func (r *realTeleport) waitState(id, state string) {
	r.t.Helper()
	var got string
	err := poll(func() bool {
		a, ok, err := r.lookup(id)
		if err != nil || !ok {
			return false
		}
		got = a.stateName()
		return got == state
	})
	if err != nil {
		r.t.Fatalf("request %s: state %q, want %s", id, got, state)
	}
}

// waitListed polls until `tctl request ls` shows the request (Teleport
// lists a new request about a second after creating it).
func (r *realTeleport) waitListed(id string) {
	r.t.Helper()
	err := poll(func() bool {
		out, err := r.tryTctl("request", "ls")
		return err == nil && strings.Contains(out, id)
	})
	if err != nil {
		r.t.Fatalf("request %s never listed: %v", id, err)
	}
}

// wantDelegator fails unless Teleport's audit log records that the plugin
// user set the request's state on behalf of delegator (Teleport keeps the
// delegator only in the access_request.update audit event).
func (r *realTeleport) wantDelegator(id, delegator string) {
	r.t.Helper()
	var seen []string
	err := poll(func() bool {
		seen = seen[:0]
		files, _ := filepath.Glob(filepath.Join(r.dir, "data", "log", "*", "*.log"))
		for _, f := range files {
			for _, line := range strings.Split(readFile(f), "\n") {
				var ev struct {
					Event     string `json:"event"`
					ID        string `json:"id"`
					Delegator string `json:"delegator"`
					UpdatedBy string `json:"updated_by"`
				}
				if json.Unmarshal([]byte(line), &ev) != nil || ev.Event != "access_request.update" || ev.ID != id {
					continue
				}
				seen = append(seen, ev.Delegator+" by "+ev.UpdatedBy)
				if ev.Delegator == delegator && ev.UpdatedBy == pluginUser {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		r.t.Errorf("request %s: no audit event access_request.update by %s for %s; seen %q", id, pluginUser, delegator, seen)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
