//go:build e2e && realteleport

// The cutover test runs the switch from the reference plugin,
// teleport-pagerduty (Teleport's own integrations/access/pagerduty at the
// Teleport version of the suite, built by teleportbin/build.sh pagerduty),
// to pagergate, on one real Teleport Auth Service and one fake PagerDuty,
// with one plugin identity, as README.md's "Switching from
// teleport-pagerduty" tells operators to.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/client"
	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

// TestRealTeleportCutover: the reference opens incidents, then runs side
// by side with pagergate, then stops; pagergate adopts the reference's
// open incidents (approve, deny, an approval from the pager), leaves the
// reference's resolved ones alone, and handles new requests. No request
// ever has a second incident.
func TestRealTeleportCutover(t *testing.T) {
	bins := teleportBinaries(t)
	refBin := referenceBinary(t)
	e := newEnv(t, envOpts{})
	seedGuide(t, e)
	tp := startRealTeleport(t, bins)
	setUpCluster(t, tp, e.identity)

	// 1. The reference alone: it opens incidents and resolves one.
	ref := startReference(t, refBin, tp, e)
	approveLater := tp.createRequest(alice, "editor", "approved after the switch")
	denyLater := tp.createRequest(alice, "editor", "denied after the switch")
	pagerLater := tp.createRequest(alice, "editor", "approved from the pager after the switch")
	resolvedBefore := tp.createRequest(alice, "editor", "approved before the switch")
	before := map[string]fakepd.Incident{}
	for _, id := range []string{approveLater, denyLater, pagerLater, resolvedBefore} {
		before[id] = e.waitIncidentIn(id, guideNotify)
		// The reference records its incident in the plugin data.
		tp.waitPluginData(e.identity, id, "the reference's incident_id", func(d map[string]string) bool {
			return d["incident_id"] == before[id].ID
		})
	}
	data := tp.pluginData(e.identity, approveLater)
	for _, k := range []string{"service_id", "user", "roles", "created", "request_reason"} {
		if data[k] == "" {
			t.Errorf("reference plugin data lacks %s: %v", k, data)
		}
	}
	tp.tctl("request", "approve", resolvedBefore, "--reason=before the switch")
	e.waitResolved(resolvedBefore)
	resolvedNotes := e.waitNotes(before[resolvedBefore].ID, 1)
	ref.waitLog("the reference resolved "+resolvedBefore, resolvedBefore, "Successfully resolved the incident")

	// 2. Both at once, same identity. pagergate reconciles the pending
	// requests at start: it must adopt, not open again.
	d := e.start(tp.config(e))
	d.waitReady()
	// The reference's records name its incidents' services by ID:
	// pagergate adopts them without posting (a POST would be refused, 400,
	// the incident_key being taken).
	atStart := e.pd.CallsByStatus()["POST /incidents"]
	t.Logf("POST /incidents answers after pagergate's start: %v", atStart)
	if atStart[400] != 0 {
		t.Errorf("pagergate posted %d incidents the reference had opened, want 0 (adopted from the plugin data)", atStart[400])
	}
	both := tp.createRequest(alice, "editor", "while both run")
	e.waitIncidentIn(both, guideNotify)
	tp.tctl("request", "approve", both, "--reason=while both run")
	e.waitResolved(both)
	// The reference has handled both events of the request once it logs
	// the outcome of the approval (resolved it, or found it resolved).
	ref.waitLog("the reference's handling of "+both, both, "resolve the incident", "resolved the incident")
	bothNotes := e.pd.Notes(e.incidentsFor(both)[0].ID)
	t.Logf("request approved while both ran: notes %q; pagergate: %s", bothNotes, decisions(d, both))
	// Whichever takes the resolve in the plugin data (compare-and-swap on
	// resolution) notes it; the other sees it resolved.
	if n := countContaining(bothNotes, "has been approved"); n != 1 {
		t.Errorf("request approved while both ran: %d resolution notes, want 1: %q", n, bothNotes)
	}

	// 3. The reference stopped: pagergate alone.
	ref.stop()
	tp.tctl("request", "approve", approveLater, "--reason=after the switch")
	tp.tctl("request", "deny", denyLater, "--reason=not after the switch")
	for id, word := range map[string]string{approveLater: "APPROVED", denyLater: "DENIED"} {
		inc := e.waitResolved(id)
		if inc.ID != before[id].ID {
			t.Errorf("request %s: resolved incident %s, want the reference's %s", id, inc.ID, before[id].ID)
		}
		wantNote(t, "adopted "+word, e.waitNotes(inc.ID, 1), word)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	code, err := e.pd.SendAction(ctx, before[pagerLater].ID, carol, "approve", "on call, go ahead")
	cancel()
	if err != nil || code/100 != 2 {
		t.Fatalf("pager approve on the reference's incident answered %d, %v", code, err)
	}
	tp.waitState(pagerLater, "APPROVED")
	tp.wantDelegator(pagerLater, "pagerduty:"+carol)
	e.waitResolved(pagerLater)
	after := tp.createRequest(alice, "editor", "after the switch")
	e.waitIncidentIn(after, guideNotify)
	tp.tctl("request", "approve", after, "--reason=new request after the switch")
	e.waitResolved(after)

	// pagergate keeps the reference's keys and adds its own.
	data = tp.pluginData(e.identity, approveLater)
	if data["incident_id"] != before[approveLater].ID || data["resolution"] == "" {
		t.Errorf("plugin data after the switch: %v", data)
	}
	// The reference's resolved incident was left alone.
	if got := e.pd.Notes(before[resolvedBefore].ID); !slices.Equal(got, resolvedNotes) {
		t.Errorf("incident resolved by the reference got notes after the switch: %q, was %q", got, resolvedNotes)
	}
	for _, id := range []string{approveLater, denyLater, pagerLater, resolvedBefore, both, after} {
		if n := len(e.incidentsFor(id)); n != 1 {
			t.Errorf("request %s has %d incidents, want 1", id, n)
		}
	}
	t.Logf("POST /incidents answers: %v", e.pd.CallsByStatus()["POST /incidents"])
	d.stop()
}

// countContaining counts the notes that hold s.
func countContaining(notes []string, s string) int {
	n := 0
	for _, note := range notes {
		if strings.Contains(note, s) {
			n++
		}
	}
	return n
}

// decisions lists pagergate's log messages about a request.
func decisions(d *daemon, reqID string) string {
	var out []string
	for _, l := range d.logEntries() {
		if l.str("request_id") == reqID {
			out = append(out, fmt.Sprint(map[string]any(l)))
		}
	}
	return strings.Join(out, "\n")
}

// ---- the reference plugin ----

var (
	refOnce sync.Once
	refDir  string
	refErr  error
)

// referenceBinary returns the path of teleport-pagerduty:
// PAGERGATE_REFERENCE_BIN (a directory holding it), or what
// teleportbin/build.sh pagerduty built or found in its cache.
func referenceBinary(t *testing.T) string {
	t.Helper()
	refOnce.Do(func() {
		if dir := os.Getenv("PAGERGATE_REFERENCE_BIN"); dir != "" {
			refDir = dir
			return
		}
		began := time.Now()
		cmd := exec.Command("bash", "teleportbin/build.sh", "pagerduty")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			refErr = fmt.Errorf("teleportbin/build.sh pagerduty: %w", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		refDir = lines[len(lines)-1]
		t.Logf("reference plugin in %s (%s)", refDir, time.Since(began).Round(time.Second))
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	bin := filepath.Join(refDir, "teleport-pagerduty")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("reference plugin: %v", err)
	}
	return bin
}

// refPlugin is one running teleport-pagerduty process.
type refPlugin struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *lockedBuffer
	log  string
	done chan struct{}
}

// startReference runs the reference plugin with its own TOML
// configuration, on the same identity file as pagergate, and waits until
// its watcher is up.
func startReference(t *testing.T, bin string, tp *realTeleport, e *env) *refPlugin {
	t.Helper()
	p := &refPlugin{t: t, out: &lockedBuffer{}, log: filepath.Join(e.dir, "teleport-pagerduty.log"), done: make(chan struct{})}
	conf := fmt.Sprintf(`[teleport]
addr = %q
identity = %q

[pagerduty]
api_key = %q
user_email = %q

[log]
output = %q
severity = "DEBUG"
`, tp.addr, e.identity, fakepd.DefaultAPIKey, botEmail, p.log)
	path := filepath.Join(e.dir, "teleport-pagerduty.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "start", "-config", path, "-pagerduty-url", typeShim(t, e.pdURL))
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start teleport-pagerduty: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("teleport-pagerduty output:\n%s\nlog (tail):\n%s", tail(p.out.String(), 20), tail(readFile(p.log), 60))
		}
	})
	p.waitLog("the reference's watcher", "", "Plugin is ready")
	return p
}

// typeShim stands between the reference plugin and the fake PagerDuty and
// adds "type": "incident" to the reference's POST /incidents bodies, which
// lack it. PagerDuty's API contract requires the field and the fake
// enforces the contract (../shared/pagerduty-openapi/PATCHES.md), while
// PagerDuty itself accepts the reference's bodies: the reference creates
// its incidents this way in production, and, ignoring HTTP errors, would
// otherwise create none. Nothing else is changed; the shim counts its
// fills in the test log.
func typeShim(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	var fills atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/incidents" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var m map[string]map[string]any
			if json.Unmarshal(body, &m) == nil && m["incident"] != nil && m["incident"]["type"] == nil {
				m["incident"]["type"] = "incident"
				body, _ = json.Marshal(m)
				fills.Add(1)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		t.Logf("type shim: added incident.type to %d POST /incidents of the reference", fills.Load())
	})
	return srv.URL
}

// waitLog waits for a line of the reference's log holding every word (and
// the request ID, unless empty); it fails if the process exits first.
func (p *refPlugin) waitLog(what, requestID string, words ...string) {
	p.t.Helper()
	found := func() bool {
		for _, l := range strings.Split(readFile(p.log), "\n") {
			if requestID != "" && !strings.Contains(l, requestID) {
				continue
			}
			if slices.ContainsFunc(words, func(w string) bool { return strings.Contains(l, w) }) {
				return true
			}
		}
		return false
	}
	err := poll(func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		return found()
	})
	if err != nil || !found() {
		p.t.Fatalf("%s: no log line with %q (exited: %v)\n%s\n%s", what, words, p.exited(), tail(p.out.String(), 20), tail(readFile(p.log), 40))
	}
}

func (p *refPlugin) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process (SIGTERM, SIGKILL after 30 s) and waits.
func (p *refPlugin) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// ---- plugin data on the real Auth Service ----

// pluginData reads the "pagerduty" plugin data of a request with the
// plugin's own identity (the data both plugins share).
func (r *realTeleport) pluginData(identity, reqID string) map[string]string {
	r.t.Helper()
	clt := r.apiClient(identity)
	defer clt.Close()
	data, err := readPluginData(clt, reqID)
	if err != nil {
		r.t.Fatalf("plugin data of %s: %v", reqID, err)
	}
	return data
}

// apiClient connects to the Auth Service with an identity file.
func (r *realTeleport) apiClient(identity string) *client.Client {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clt, err := client.New(ctx, client.Config{
		Addrs:       []string{r.addr},
		Credentials: []client.Credentials{client.LoadIdentityFile(identity)},
	})
	if err != nil {
		r.t.Fatalf("teleport api client: %v", err)
	}
	return clt
}

func readPluginData(clt *client.Client, reqID string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := clt.GetPluginData(ctx, types.PluginDataFilter{Kind: types.KindAccessRequest, Resource: reqID, Plugin: "pagerduty"})
	if err != nil || len(list) == 0 {
		return map[string]string{}, err
	}
	if entry := list[0].Entries()["pagerduty"]; entry != nil {
		return entry.Data, nil
	}
	return map[string]string{}, nil
}

// waitPluginData polls a request's plugin data until cond holds.
func (r *realTeleport) waitPluginData(identity, reqID, what string, cond func(map[string]string) bool) {
	r.t.Helper()
	clt := r.apiClient(identity)
	defer clt.Close()
	var last map[string]string
	err := poll(func() bool {
		d, err := readPluginData(clt, reqID)
		last = d
		return err == nil && cond(d)
	})
	if err != nil {
		r.t.Fatalf("request %s: %s never held; plugin data %v", reqID, what, last)
	}
}
