//go:build e2e

// Fault scenarios (issue 7, part 2): the daemon down, killed, doubled, its
// pager flaky and rate limited, its Teleport restarted, its identity
// rotated. Each scenario prints one "E2E scenarioNN: ..." line with its
// counts so CI output shows them.

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// fResolutionPrefix starts the note posted before an incident is resolved
// (SPEC §5).
const fResolutionPrefix = "Access request has been "

// fReviewer reviews requests in Teleport as a human would.
const fReviewer = "reviewer@example.com"

// fReport logs the counts of a scenario and prints them for CI.
func fReport(t *testing.T, scenario int, kv ...any) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "E2E scenario%d:", scenario)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	t.Log(b.String())
	fmt.Println(b.String())
}

// fByKey groups the fake's incidents (every status) by incident_key.
func fByKey(pd *fakepd.Server) map[string][]fakepd.Incident {
	out := map[string][]fakepd.Incident{}
	for _, inc := range pd.Incidents() {
		out[inc.Key] = append(out[inc.Key], inc)
	}
	return out
}

// fTally counts, over ids, the requests without an incident and the extra
// incidents of requests with more than one.
func fTally(pd *fakepd.Server, ids []string) (incidents, duplicates, missed int) {
	byKey := fByKey(pd)
	for _, id := range ids {
		n := len(byKey[incidentKey(id)])
		incidents += n
		if n == 0 {
			missed++
		}
		if n > 1 {
			duplicates += n - 1
		}
	}
	return incidents, duplicates, missed
}

// fWaitPD waits up to timeout for cond on the fake PagerDuty.
func fWaitPD(t *testing.T, pd *fakepd.Server, timeout time.Duration, what string, cond func(*fakepd.Server) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := pd.WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// fAllIncidents reports whether every request has at least one incident.
func fAllIncidents(pd *fakepd.Server, ids []string) bool {
	_, _, missed := fTally(pd, ids)
	return missed == 0
}

// fAllResolved reports whether every incident of each request is resolved
// and carries a resolution note.
func fAllResolved(pd *fakepd.Server, ids []string) bool {
	byKey := fByKey(pd)
	for _, id := range ids {
		l := byKey[incidentKey(id)]
		if len(l) == 0 {
			return false
		}
		for _, inc := range l {
			if inc.Status != "resolved" || fCountNotes(inc, fIsResolution) == 0 {
				return false
			}
		}
	}
	return true
}

func fIsResolution(content string) bool { return strings.HasPrefix(content, fResolutionPrefix) }

// fCountNotes counts the incident's notes matching match.
func fCountNotes(inc fakepd.Incident, match func(string) bool) int {
	n := 0
	for _, note := range inc.Notes {
		if match(note.Content) {
			n++
		}
	}
	return n
}

// fReviewNote matches the note of the review with reason (not the
// resolution note, which repeats the reason).
func fReviewNote(reason string) func(string) bool {
	return func(c string) bool { return !fIsResolution(c) && strings.Contains(c, reason) }
}

// fReviewReason is the reason of the review that resolves request i.
func fReviewReason(i int) string { return fmt.Sprintf("e2e review %d", i) }

// fResolve approves (even i/2) or denies request i with fReviewReason(i).
func fResolve(e *env, id string, i int) error {
	if (i/2)%2 == 0 {
		return e.tp.Approve(id, fReviewer, fReviewReason(i))
	}
	return e.tp.Deny(id, fReviewer, fReviewReason(i))
}

// fResolutionCheck counts, for the resolved requests, those whose
// incidents are not all resolved with exactly one resolution note and one
// note of the review; for the others, those with a resolution note or a
// resolved incident.
func fResolutionCheck(t *testing.T, pd *fakepd.Server, ids []string, resolved func(i int) bool) (bad int) {
	t.Helper()
	byKey := fByKey(pd)
	for i, id := range ids {
		for _, inc := range byKey[incidentKey(id)] {
			res := fCountNotes(inc, fIsResolution)
			rev := fCountNotes(inc, fReviewNote(fReviewReason(i)))
			switch {
			case resolved(i) && (inc.Status != "resolved" || res != 1 || rev != 1):
				bad++
				t.Errorf("request %d (%s): incident %s %s with %d resolution notes and %d review notes, want resolved, 1 and 1; notes: %q",
					i, id, inc.ID, inc.Status, res, rev, fNoteTexts(inc))
			case !resolved(i) && (inc.Status == "resolved" || res != 0 || rev != 0):
				bad++
				t.Errorf("pending request %d (%s): incident %s %s with %d resolution notes, want open without",
					i, id, inc.ID, inc.Status, res)
			}
		}
	}
	return bad
}

func fNoteTexts(inc fakepd.Incident) []string {
	out := make([]string, 0, len(inc.Notes))
	for _, n := range inc.Notes {
		out = append(out, n.Content)
	}
	return out
}

// fDuplicateReport fails the test for every request without exactly one
// incident.
func fDuplicateReport(t *testing.T, pd *fakepd.Server, ids []string) {
	t.Helper()
	byKey := fByKey(pd)
	for i, id := range ids {
		if n := len(byKey[incidentKey(id)]); n != 1 {
			t.Errorf("request %d (%s): %d incidents, want exactly 1", i, id, n)
		}
	}
	if known := len(ids); len(pd.Incidents()) != known {
		t.Errorf("the fake holds %d incidents, want %d (one per request)", len(pd.Incidents()), known)
	}
}

// fIncidentPosts returns how many POST /incidents the fake answered, and
// how many of them were refused as duplicates of an open incident.
func fIncidentPosts(pd *fakepd.Server) (posts, dedup int) {
	for status, c := range pd.CallsByStatus()["POST /incidents"] {
		posts += c
		if status == http.StatusBadRequest {
			dedup += c
		}
	}
	return posts, dedup
}

// fReadyz returns the status of the daemon's /readyz (0 when unreachable).
func fReadyz(d *daemon) int {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(d.metricsURL() + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fRewriteConfig replaces old with new in a config file written by
// writeConfig; old must occur exactly once.
func fRewriteConfig(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), old); n != 1 {
		t.Fatalf("config %s holds %q %d times, want once:\n%s", path, old, n, data)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fReplica returns a second view of e for another replica: same Teleport
// server, fake PagerDuty, identity and webhook certificate, but its own
// directory (configs, logs), bbolt file, front door and listeners.
func fReplica(t *testing.T, e *env) *env {
	t.Helper()
	dir := t.TempDir()
	r := &env{
		t: t, opts: e.opts, dir: dir,
		tp: e.tp, pd: e.pd, pdURL: e.pdURL,
		identity: e.identity, secret: e.secret,
		certFile: e.certFile, keyFile: e.keyFile, serverCAs: e.serverCAs,
		clientCAFile: e.clientCAFile, clientCA: e.clientCA, clientCert: e.clientCert,
		storePath:   filepath.Join(dir, "state.db"),
		pdTLSConfig: e.pdTLSConfig,
	}
	r.openFrontDoor()
	return r
}

// fCreate creates n pending requests by alice for the "editor" role (the
// notify service comes from the default_notify_service of the config).
func fCreate(e *env, n int, reason string) []string {
	e.t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, e.createRequest(alice, []string{"editor"}, nil, fmt.Sprintf("%s %d", reason, i)))
	}
	return ids
}

// Scenario 11: requests created while pagergate is down are all found by
// the backlog scan at start: one incident each, and no more.
func TestScenario11DownWhileRequestsCreated(t *testing.T) {
	t.Parallel()
	const n = 50
	e := newEnv(t, envOpts{})
	cfg := e.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook(), withWorkers(8))

	// Up once, so the restart finds a store with history.
	d := e.start(cfg)
	first := e.createRequest(alice, []string{"editor"}, nil, "before the outage")
	e.waitIncident(first)
	d.stop()

	ids := fCreate(e, n, "during the outage")
	if got := len(e.pd.Incidents()); got != 1 {
		t.Fatalf("%d incidents while pagergate was down, want 1", got)
	}
	d = e.start(cfg)
	all := append([]string{first}, ids...)
	fWaitPD(t, e.pd, 60*time.Second, fmt.Sprintf("%d incidents", len(all)), func(pd *fakepd.Server) bool {
		return fAllIncidents(pd, all)
	})
	// Stopping ends every effect in flight: what the fake holds now is final.
	d.stop()

	incidents, dups, missed := fTally(e.pd, ids)
	fReport(t, 11, "requests", n, "incidents", incidents, "duplicates", dups, "missed", missed,
		"total_incidents", len(e.pd.Incidents()))
	fDuplicateReport(t, e.pd, all)
}

// Scenario 12: kill -9 at random moments while 200 requests flow and half
// of them get resolved; restarts reuse the same bbolt file. Every request
// ends with exactly one incident and every resolution is noted once.
func TestScenario12KillNineWhileRequestsFlow(t *testing.T) {
	t.Parallel()
	const (
		n        = 200
		minKills = 10
		maxKills = 40
	)
	rnd := chaosRand(t, 12)
	e := newEnv(t, envOpts{})
	cfg := e.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook(), withWorkers(8))
	resolved := func(i int) bool { return i%2 == 0 }

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	var (
		mu       sync.Mutex
		ids      []string
		failures []error
		wg       sync.WaitGroup
	)
	defer func() { cancel(); wg.Wait() }()
	fail := func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	created := make(chan int, n) // indexes of created requests
	createDone := make(chan struct{})
	resolveDone := make(chan struct{})

	// Requests flow at a steady pace over the kill period.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(createDone)
		defer close(created)
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for i := range n {
			id, err := e.tp.CreateRequest(alice, []string{"editor"})
			if err != nil {
				fail(fmt.Errorf("create request %d: %w", i, err))
				return
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			created <- i
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	// A human resolves every other request once its incident is visible.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(resolveDone)
		for i := range created {
			if !resolved(i) {
				continue
			}
			mu.Lock()
			id := ids[i]
			mu.Unlock()
			err := e.pd.WaitFor(ctx, func(pd *fakepd.Server) bool { return len(incidentsIn(pd, id)) > 0 })
			if err != nil {
				fail(fmt.Errorf("incident of request %d: %w", i, err))
				return
			}
			if err := fResolve(e, id, i); err != nil {
				fail(fmt.Errorf("resolve request %d: %w", i, err))
				return
			}
		}
	}()

	closed := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	kills, readyAtKill := 0, 0
	for kills < maxKills && ctx.Err() == nil && (kills < minKills || !closed(createDone) || !closed(resolveDone)) {
		d := e.run(cfg, []string{"start", "-c", cfg})
		// A random moment: during start-up, the backlog scan or the flow.
		delay := 300*time.Millisecond + time.Duration(rnd.Int64N(int64(1700*time.Millisecond)))
		t.Logf("kill %d after %v", kills+1, delay)
		select {
		case <-time.After(delay):
		case <-d.done:
			t.Fatalf("pagergate exited by itself with code %d; output:\n%s", d.exitCode, d.stderrText())
		}
		if fReadyz(d) == http.StatusOK {
			readyAtKill++
		}
		d.kill()
		kills++
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("flow failed after %d kills: %v", kills, failures)
	}
	if kills < minKills {
		t.Fatalf("only %d kills before the deadline, want at least %d", kills, minKills)
	}

	var done []string
	for i, id := range ids {
		if resolved(i) {
			done = append(done, id)
		}
	}
	d := e.start(cfg)
	wctx, wcancel := context.WithTimeout(context.Background(), waitTimeout)
	werr := e.pd.WaitFor(wctx, func(pd *fakepd.Server) bool { return fAllIncidents(pd, ids) && fAllResolved(pd, done) })
	wcancel()
	if werr != nil {
		t.Errorf("not every request got its incident and resolution: %v", werr)
		fExplain(t, e, logPathOf(t, cfg), ids, resolved)
	}
	d.stop()

	incidents, dups, missed := fTally(e.pd, ids)
	bad := fResolutionCheck(t, e.pd, ids, resolved)
	posts, dedup := fIncidentPosts(e.pd)
	fReport(t, 12, "requests", n, "kills", kills, "ready_at_kill", readyAtKill, "incidents", incidents,
		"duplicates", dups, "missed", missed, "resolved", n/2, "bad_resolutions", bad,
		"incident_posts", posts, "dedup_answers", dedup)
	fDuplicateReport(t, e.pd, ids)
}

// fExplain logs, for each request whose incidents are missing or not in
// the expected state, what Teleport and the fake PagerDuty hold and what
// the daemons logged about it in logPath (every run, oldest first).
func fExplain(t *testing.T, e *env, logPath string, ids []string, resolved func(i int) bool) {
	t.Helper()
	data, _ := os.ReadFile(logPath)
	lines := strings.Split(string(data), "\n")
	for _, line := range lines {
		if strings.Contains(line, `"msg":"backlog reconciled"`) || strings.Contains(line, `"msg":"replica"`) {
			t.Logf("    run: %s", line)
		}
	}
	byKey := fByKey(e.pd)
	shown := 0
	for i, id := range ids {
		l := byKey[incidentKey(id)]
		ok := len(l) == 1
		for _, inc := range l {
			if resolved(i) != (inc.Status == "resolved") {
				ok = false
			}
		}
		if ok {
			continue
		}
		shown++
		if shown > 10 {
			continue
		}
		state := "gone"
		if r, err := e.tp.Get(id); err == nil {
			state = r.GetState().String()
		}
		var incs []string
		for _, inc := range l {
			incs = append(incs, fmt.Sprintf("%s %s notes=%q", inc.ID, inc.Status, fNoteTexts(inc)))
		}
		t.Logf("request %d %s: state %s, plugin data %v, incidents %v", i, id, state, e.pluginData(id), incs)
		for _, line := range lines {
			if strings.Contains(line, id) || strings.Contains(line, `"msg":"replica"`) {
				t.Logf("    log: %s", line)
			}
		}
	}
	t.Logf("%d requests not as expected", shown)
}

// Scenario 13: two replicas (own bbolt file, own ports) share Teleport and
// PagerDuty: one incident per request, one note per review, one resolution.
func TestScenario13TwoReplicas(t *testing.T) {
	t.Parallel()
	const n = 200
	e := newEnv(t, envOpts{})
	e2 := fReplica(t, e)
	opts := []configOpt{withDefaultNotify(svcTeleport), withNoWebhook(), withWorkers(8)}
	d1 := e.start(e.writeConfig(opts...))
	d2 := e2.start(e2.writeConfig(opts...))

	ids := fCreate(e, n, "two replicas")
	// Resolve every request as soon as its incident shows up.
	pending := slices.Clone(ids)
	index := make(map[string]int, n)
	for i, id := range ids {
		index[id] = i
	}
	deadline := time.Now().Add(90 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests never got an incident", len(pending))
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := e.pd.WaitFor(ctx, func(pd *fakepd.Server) bool {
			byKey := fByKey(pd)
			return slices.ContainsFunc(pending, func(id string) bool { return len(byKey[incidentKey(id)]) > 0 })
		})
		cancel()
		if err != nil {
			t.Fatalf("%d requests never got an incident: %v", len(pending), err)
		}
		byKey := fByKey(e.pd)
		pending = slices.DeleteFunc(pending, func(id string) bool {
			if len(byKey[incidentKey(id)]) == 0 {
				return false
			}
			if err := fResolve(e, id, index[id]); err != nil {
				t.Fatalf("resolve %s: %v", id, err)
			}
			return true
		})
	}
	fWaitPD(t, e.pd, 60*time.Second, "every incident resolved", func(pd *fakepd.Server) bool {
		return fAllResolved(pd, ids)
	})
	d1.stop()
	d2.stop()

	byReplica := func(d *daemon) int {
		c := 0
		for _, l := range d.logEntries() {
			if l.str("decision") == "notify" {
				c++
			}
		}
		return c
	}
	incidents, dups, missed := fTally(e.pd, ids)
	bad := fResolutionCheck(t, e.pd, ids, func(int) bool { return true })
	// PagerDuty's incident_key dedup may catch a replica that acted too
	// (SPEC §7); the counts show how often that happened.
	posts, dedup := fIncidentPosts(e.pd)
	fReport(t, 13, "requests", n, "replicas", 2, "incidents", incidents, "duplicates", dups, "missed", missed,
		"bad_resolutions", bad, "notify_lines_replica1", byReplica(d1), "notify_lines_replica2", byReplica(d2),
		"incident_posts", posts, "dedup_answers", dedup)
	fDuplicateReport(t, e.pd, ids)
}

// fCall is one API request the recorder saw.
type fCall struct {
	at     time.Time // arrival
	done   time.Time // answer written
	status int
}

// fRecorder serves the fake PagerDuty's API and notes when each request
// arrived and how it was answered.
type fRecorder struct {
	next http.Handler
	mu   sync.Mutex
	// calls are in arrival order.
	calls []*fCall
}

type fStatusWriter struct {
	http.ResponseWriter
	c    *fCall
	mu   *sync.Mutex
	once bool
}

func (w *fStatusWriter) WriteHeader(status int) {
	if !w.once {
		w.once = true
		w.mu.Lock()
		w.c.status, w.c.done = status, time.Now()
		w.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *fStatusWriter) Write(b []byte) (int, error) {
	if !w.once {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (r *fRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	c := &fCall{at: time.Now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	r.next.ServeHTTP(&fStatusWriter{ResponseWriter: w, c: c, mu: &r.mu}, req)
}

// snapshot returns copies of the calls answered so far.
func (r *fRecorder) snapshot() []fCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]fCall, 0, len(r.calls))
	for _, c := range r.calls {
		if c.status != 0 {
			out = append(out, *c)
		}
	}
	return out
}

// fPeak returns the largest number of arrivals within any window of
// length w (arrivals sorted by time).
func fPeak(calls []fCall, w time.Duration) int {
	peak, lo := 0, 0
	for hi := range calls {
		for calls[hi].at.Sub(calls[lo].at) >= w {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

// Scenario 14: the fake PagerDuty answers 30% of calls with 429
// (Retry-After) or 500. Every request still gets exactly one incident, the
// calls that reach PagerDuty stay within the configured rate_limit, and
// nothing is sent while PagerDuty asked to wait.
func TestScenario14PagerFaultsAndRateLimit(t *testing.T) {
	t.Parallel()
	const (
		n         = 50
		perMinute = 600
		rate      = perMinute / 60 // calls per second
		burst     = perMinute / 60 // the client's bucket holds one second's worth
		// slack allows for arrivals bunched by scheduling on a loaded host.
		slack = 3
	)
	e := newEnv(t, envOpts{})
	rec := &fRecorder{next: e.pd.Handler()}
	srv := httptest.NewServer(rec) // loopback
	t.Cleanup(srv.Close)
	e.pdURL = srv.URL // the daemon calls PagerDuty through the recorder
	cfg := e.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook(), withWorkers(16))
	fRewriteConfig(t, cfg, "rate_limit      = 960", fmt.Sprintf("rate_limit      = %d", perMinute))

	// The backlog is there before the daemon starts, so it wants to call
	// PagerDuty much faster than the limit allows.
	ids := fCreate(e, n, "flaky pager")
	e.pd.InjectFaults(fakepd.Faults{Rate429: 0.1, Rate500: 0.2, RetryAfter: time.Second, Seed: 14})
	d := e.start(cfg)
	fWaitPD(t, e.pd, 90*time.Second, fmt.Sprintf("%d incidents", n), func(pd *fakepd.Server) bool {
		return fAllIncidents(pd, ids)
	})
	d.stop()
	e.pd.InjectFaults(fakepd.Faults{})

	calls := rec.snapshot()
	slices.SortFunc(calls, func(a, b fCall) int { return a.at.Compare(b.at) })
	byStatus := map[int]int{}
	for _, c := range calls {
		byStatus[c.status]++
	}
	// The faults really happened, so the retries were exercised.
	if byStatus[http.StatusTooManyRequests] == 0 || byStatus[http.StatusInternalServerError] == 0 {
		t.Errorf("answers by status %v: want injected 429s and 500s", byStatus)
	}
	// A token bucket of rate r and size b lets through at most b + r*w
	// calls in any window w.
	var over []string
	for _, w := range []time.Duration{time.Second, 3 * time.Second, 10 * time.Second} {
		limit := burst + int(float64(rate)*w.Seconds()) + slack
		if p := fPeak(calls, w); p > limit {
			over = append(over, fmt.Sprintf("%d calls in %s (limit %d)", p, w, limit))
		}
	}
	if len(over) > 0 {
		t.Errorf("rate_limit = %d/min exceeded: %s", perMinute, strings.Join(over, "; "))
	}
	// Retry-After: 1 pauses every call for a second. A call already on its
	// way may land just after the 429; none may land well inside the pause.
	inPause := 0
	for _, c := range calls {
		if c.status != http.StatusTooManyRequests {
			continue
		}
		from, to := c.done.Add(300*time.Millisecond), c.done.Add(700*time.Millisecond)
		for _, o := range calls {
			if o.at.After(from) && o.at.Before(to) {
				inPause++
			}
		}
	}
	if inPause > 0 {
		t.Errorf("%d calls arrived inside a Retry-After pause", inPause)
	}
	incidents, dups, missed := fTally(e.pd, ids)
	span := time.Duration(0)
	if len(calls) > 1 {
		span = calls[len(calls)-1].at.Sub(calls[0].at)
	}
	fReport(t, 14, "requests", n, "incidents", incidents, "duplicates", dups, "missed", missed,
		"calls", len(calls), "status_429", byStatus[http.StatusTooManyRequests], "status_500", byStatus[http.StatusInternalServerError],
		"peak_1s", fPeak(calls, time.Second), "peak_10s", fPeak(calls, 10*time.Second), "rate_limit_per_min", perMinute,
		"calls_in_pause", inPause, "span", span.Round(100*time.Millisecond))
	fDuplicateReport(t, e.pd, ids)
}

// Scenario 15: the Teleport Auth Service goes away and comes back on the
// same address. /readyz turns 503 while disconnected, the daemon
// reconnects, and the requests created during the outage are handled.
func TestScenario15TeleportRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook()))

	before := fCreate(e, 5, "before the outage")
	fWaitPD(t, e.pd, waitTimeout, "incidents before the outage", func(pd *fakepd.Server) bool {
		return fAllIncidents(pd, before)
	})

	disconnects := func() int {
		c := 0
		for _, l := range d.logEntries() {
			if l.str("msg") == "teleport watcher disconnected" {
				c++
			}
		}
		return c
	}
	seen := disconnects()
	e.tp.Stop()
	outage := time.Now()
	e.waitFor("/readyz 503 while Teleport is down", func() bool { return fReadyz(d) == http.StatusServiceUnavailable })
	during := fCreate(e, 10, "during the outage")
	// Stay down until a reconnect attempt has failed too.
	e.waitFor("a failed reconnect", func() bool { return disconnects() >= seen+2 })
	if err := e.tp.Restart(); err != nil {
		t.Fatalf("restart teleport: %v", err)
	}
	e.waitFor("/readyz 200 after Teleport is back", func() bool { return fReadyz(d) == http.StatusOK })
	reconnected := time.Since(outage)
	fWaitPD(t, e.pd, waitTimeout, "incidents of requests made during the outage", func(pd *fakepd.Server) bool {
		return fAllIncidents(pd, during)
	})
	after := fCreate(e, 5, "after the outage")
	fWaitPD(t, e.pd, waitTimeout, "incidents after the outage", func(pd *fakepd.Server) bool {
		return fAllIncidents(pd, after)
	})
	d.stop()

	all := slices.Concat(before, during, after)
	incidents, dups, missed := fTally(e.pd, all)
	fReport(t, 15, "requests", len(all), "during_outage", len(during), "incidents", incidents,
		"duplicates", dups, "missed", missed, "failed_reconnects", disconnects()-seen-1,
		"ready_again_after", reconnected.Round(100*time.Millisecond))
	fDuplicateReport(t, e.pd, all)
}

// Scenario 16: with refresh_identity = true, the cluster's CA rotates and
// the identity file is rewritten while the daemon runs. It picks the new
// identity up and keeps working, on the open connection and on a new one
// that only the new identity can make.
func TestScenario16IdentityRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	cfg := e.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook())
	fRewriteConfig(t, cfg, fmt.Sprintf("  identity = %s\n", q(e.identity)),
		fmt.Sprintf("  identity = %s\n  refresh_identity = true\n", q(e.identity)))
	d := e.start(cfg)

	first := e.createRequest(alice, []string{"editor"}, nil, "before the rotation")
	e.waitIncident(first)

	// New CAs: from now on the server accepts only certificates of the new
	// CA, and presents one the old identity file does not trust.
	if err := e.tp.RotateCA(); err != nil {
		t.Fatal(err)
	}
	if err := e.tp.WriteIdentityFile(e.identity, "pagergate", 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.waitLog(ctx, "identity reloaded"); err != nil {
		t.Fatalf("rotated identity file not reloaded: %v\nlog:\n%s", err, tail(d.logText(), 30))
	}
	second := e.createRequest(alice, []string{"editor"}, nil, "after the rotation")
	e.waitIncident(second)

	// Drop the connection made with the old identity: reconnecting needs
	// the new one.
	e.tp.Stop()
	e.waitFor("/readyz 503 while Teleport is down", func() bool { return fReadyz(d) == http.StatusServiceUnavailable })
	if err := e.tp.Restart(); err != nil {
		t.Fatalf("restart teleport: %v", err)
	}
	e.waitFor("/readyz 200 with the new identity", func() bool { return fReadyz(d) == http.StatusOK })
	third := e.createRequest(alice, []string{"editor"}, nil, "after reconnecting")
	e.waitIncident(third)
	d.stop()

	all := []string{first, second, third}
	incidents, dups, missed := fTally(e.pd, all)
	fReport(t, 16, "requests", len(all), "rotations", 1, "incidents", incidents, "duplicates", dups, "missed", missed)
	fDuplicateReport(t, e.pd, all)
}

// fGet answers the status and body of GET url (0 when it did not answer).
func fGet(url string) (int, string) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Scenario 17: Teleport is not listening when pagergate starts (SPEC §2).
// Within a second it serves /healthz 200, /readyz 503 naming Teleport and
// /metrics with the watcher disconnected; a SIGTERM while it is still
// dialing exits 0; Teleport comes up 10 s later and pagergate becomes
// ready by itself and handles the request created before it connected.
func TestScenario17StartWithoutTeleport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.tp.Stop()
	down := time.Now()
	id := e.createRequest(alice, []string{"editor"}, nil, "created before pagergate connected")
	cfg := e.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook())

	// A replica stopped while dialing exits 0.
	e2 := fReplica(t, e)
	earlyCfg := e2.writeConfig(withDefaultNotify(svcTeleport), withNoWebhook())
	early := e2.run(earlyCfg, []string{"start", "-c", earlyCfg})
	e.waitFor("/healthz of the replica stopped while dialing", func() bool { code, _ := fGet(early.metricsURL() + "/healthz"); return code == http.StatusOK })
	stopTook := early.stopWithin(10 * time.Second)

	d := e.run(cfg, []string{"start", "-c", cfg})
	started := time.Now()
	var healthy, unready time.Duration
	var readyBody string
	for healthy == 0 || unready == 0 {
		if d.exited() {
			t.Fatalf("pagergate exited (code %d) with Teleport down; output:\n%s", d.exitCode, d.stderrText())
		}
		if time.Since(started) > time.Second {
			t.Fatalf("after 1 s: /healthz seen 200 after %v, /readyz seen 503 after %v (0: not yet); want both", healthy, unready)
		}
		if code, _ := fGet(d.metricsURL() + "/healthz"); code == http.StatusOK && healthy == 0 {
			healthy = time.Since(started)
		}
		if code, body := fGet(d.metricsURL() + "/readyz"); code == http.StatusServiceUnavailable && unready == 0 {
			unready, readyBody = time.Since(started), body
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(strings.ToLower(readyBody), "teleport") {
		t.Errorf("/readyz 503 body = %q, want it to name Teleport", readyBody)
	}
	if v, ok := metricValue(d.metrics(), "pagergate_watcher_connected"); !ok || v != 0 {
		t.Errorf("pagergate_watcher_connected = %v (found %v), want 0", v, ok)
	}
	// Teleport stays down for 10 s; pagergate stays up and unready.
	for time.Since(down) < 10*time.Second {
		if code := fReadyz(d); code != http.StatusServiceUnavailable || d.exited() {
			t.Fatalf("while Teleport is down: /readyz = %d, exited = %v", code, d.exited())
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, reason := fGet(d.metricsURL() + "/readyz")
	if err := e.tp.Restart(); err != nil {
		t.Fatalf("start teleport: %v", err)
	}
	up := time.Now()
	d.waitReady()
	readyAfter := time.Since(up)
	inc := e.waitIncident(id)
	d.stop()
	fReport(t, 17, "healthz_200_after", healthy.Round(time.Millisecond), "readyz_503_after", unready.Round(time.Millisecond),
		"sigterm_while_dialing_exit_after", stopTook.Round(time.Millisecond), "ready_after_teleport_up", readyAfter.Round(100*time.Millisecond),
		"incident", inc.ID, "readyz_while_down", strings.TrimSpace(reason))
}

// Scenario 18: replica A opens an incident; replica B (which never touched
// the request, its store empty) has its watcher cut; A is stopped; the
// request is approved; B's watcher comes back: B resolves the incident,
// exactly once (SPEC §2: after every reconnect).
func TestScenario18ReplicaResolvesAfterItsWatcherIsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	eb := fReplica(t, e)
	const userB = "pagergate-b"
	e.tp.AddUser(userB, teleporttest.AllPerms)
	eb.identity = filepath.Join(eb.dir, "identity-b")
	if err := e.tp.WriteIdentityFile(eb.identity, userB, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	opts := []configOpt{withDefaultNotify(svcTeleport), withNoWebhook()}
	a := e.start(e.writeConfig(opts...))
	id := e.createRequest(alice, []string{"editor"}, nil, "two replicas, one cut")
	inc := e.waitIncident(id)

	b := eb.start(eb.writeConfig(opts...))
	e.tp.CutWatches(userB)
	e.waitFor("replica B unready while its watcher is cut", func() bool { return fReadyz(b) == http.StatusServiceUnavailable })
	a.stop()
	resolvesBefore := e.pd.Calls()["PUT /incidents"]
	if err := e.tp.Approve(id, fReviewer, "approved while B was cut"); err != nil {
		t.Fatal(err)
	}
	e.tp.RestoreWatches(userB)
	b.waitReady()
	e.waitResolved(id)
	b.stop()

	got, _ := e.pd.Incident(inc.ID)
	resolves := e.pd.Calls()["PUT /incidents"] - resolvesBefore
	notes := fCountNotes(got, fIsResolution)
	if got.Status != "resolved" || resolves != 1 || notes != 1 {
		t.Errorf("incident %s: status %s, %d resolve calls, %d resolution notes; want resolved, 1, 1", inc.ID, got.Status, resolves, notes)
	}
	byB := 0
	for _, l := range b.logEntries() {
		if l.str("msg") == "incident resolved" && l.str("pd_incident_id") == inc.ID {
			byB++
		}
	}
	if byB != 1 {
		t.Errorf("replica B logged %d resolutions of %s, want 1", byB, inc.ID)
	}
	fReport(t, 18, "incident", inc.ID, "resolve_calls", resolves, "resolution_notes", notes, "resolved_by_b", byB)
}
