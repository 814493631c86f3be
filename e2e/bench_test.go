//go:build bench

// Benchmarks of SPEC §12, run by `make bench`: the real pagergate binary
// (a normal build, see race_bench_test.go) runs as a process against the
// in-process Teleport test server and fake PagerDuty of the e2e harness.
//
// Every figure is printed on its own line starting with "BENCH ", with its
// target and the setup it was measured in; TestBenchSummary (last in this
// file, so last to run) prints them again as a table. A missed target is
// reported, not failed: these tests fail only when the measurement itself
// cannot be made (the daemon exits, a wait times out, duplicates appear).
package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/boltstore"
	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport"
	"github.com/pagergate/pagergate/domain"
)

// Sizes of the runs (SPEC §12 and issue 8).
//
// PagerDuty's own limit is 960 requests/min per key; the runs use the
// limit scaled to 6,000/min (the daemon's rate_limit and the fake's) so a
// 10,000-request backlog drains in under two minutes.
const (
	pdRateLimit       = 6000 // per minute, daemon and fake
	latencyRequests   = 1000
	latencyPerSecond  = 50
	inLimitRequests   = 150
	inLimitPerSecond  = 10
	latencyFake       = 5 * time.Millisecond
	backlogRequests   = 10000 // ~100 s at 6,000/min
	memoryRequests    = 10000 // handled without PagerDuty calls
	afterReleaseRuns  = 40    // requests timed each right after an idle release
	memory200Requests = 199   // + the warm-up request: 200
	webhookApprovals  = 50
	webhookDuration   = 30 * time.Second
	webhookShort      = 15 * time.Second
	webhookClients    = 32
	startupRecords    = 100000
	callsRepeats      = 10
	benchWait         = 6 * time.Minute
)

// ---- results ----

// benchResult is one printed figure.
type benchResult struct {
	name, value, target, verdict, setup string
}

var (
	resultsMu sync.Mutex
	results   []benchResult
)

// report prints one figure as a BENCH line and keeps it for the summary.
// target is like "<10" or ">=0.90" ("" when there is none); ok says
// whether the value meets it.
func report(name string, value float64, unit, target string, ok bool, setup string) {
	v := strconv.FormatFloat(value, 'f', 0, 64)
	if math.Abs(value) < 100 && value != math.Trunc(value) {
		v = strconv.FormatFloat(value, 'f', 3, 64)
		v = strings.TrimRight(strings.TrimRight(v, "0"), ".")
	}
	verdict := ""
	if target != "" {
		verdict = "MISSED"
		if ok {
			verdict = "ok"
		}
	}
	r := benchResult{name: name + unit, value: v, target: target, verdict: verdict, setup: setup}
	line := fmt.Sprintf("BENCH %s=%s", r.name, r.value)
	if target != "" {
		line += fmt.Sprintf(" target%s %s", target, verdict)
	}
	fmt.Printf("%s setup=%q\n", line, setup)
	resultsMu.Lock()
	results = append(results, r)
	resultsMu.Unlock()
}

// note prints a figure that has no number (by-endpoint detail).
func note(name, text string) {
	fmt.Printf("BENCH %s %s\n", name, text)
}

// ---- daemon helpers ----

// benchConfig writes a config for a benchmark: the harness's config with
// info logs and rate_limit = pdRateLimit.
func benchConfig(e *env, opts ...configOpt) string {
	e.t.Helper()
	opts = append([]configOpt{func(c *daemonConfig) { c.Severity = "info" }}, opts...)
	path := e.writeConfig(opts...)
	data, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	const harnessLimit = "rate_limit      = 960"
	if !bytes.Contains(data, []byte(harnessLimit)) {
		e.t.Fatalf("config %s: no %q line to raise", path, harnessLimit)
	}
	data = bytes.Replace(data, []byte(harnessLimit), fmt.Appendf(nil, "rate_limit      = %d", pdRateLimit), 1)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// memory is the process's resident set in MB, as /proc/<pid>/status
// counts it: the resident set, its peak, and the split smaps makes of it
// into anonymous pages (heap, stacks, runtime) and file pages; binary is
// the part of the file pages that are the executable's own mappings
// (smaps; the binary is static, so nearly all of them).
type memory struct{ rss, hwm, anon, file, binary, cached float64 }

func (d *daemon) memory() memory {
	d.t.Helper()
	m, err := readMemory(d.cmd.Process.Pid)
	if err != nil {
		d.t.Fatalf("process memory: %v", err)
	}
	if m.cached, err = binaryCachedMB(d.cmd.Process.Pid); err != nil {
		d.t.Fatalf("page cache of the binary: %v", err)
	}
	return m
}

// releasedMemory waits until the daemon has given memory back for trigger
// more than `before` times (memory {} in the config: once ready, then after
// each idle spell of 5 s by default), and returns its memory then.
func (d *daemon) releasedMemory(trigger string, before float64) memory {
	d.t.Helper()
	waitUntil(d.t, d, time.Minute, "a memory release ("+trigger+")", func() bool { return d.releases(trigger) > before })
	return d.memory()
}

func (m memory) split() string {
	return fmt.Sprintf("RssAnon %.1f MB (heap, stacks), RssFile %.1f MB (%.1f MB of it the binary's mappings)", m.anon, m.file, m.binary)
}

func readMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			m.rss = kb / 1024
		case "VmHWM:":
			m.hwm = kb / 1024
		case "RssAnon:":
			m.anon = kb / 1024
		case "RssFile:":
			m.file = kb / 1024
		}
	}
	m.binary, err = binaryRSS(pid)
	return m, err
}

// binaryCachedMB is how much of the process's executable file the page
// cache holds (mincore over a map of it that this process never touches):
// memory the machine keeps for the binary whether or not the process maps
// it.
func binaryCachedMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(b)
	page := os.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, errno
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n*page) / (1 << 20), nil
}

// peakSampler reads the daemon's memory every 50 ms and keeps the sample
// with the highest resident set: VmHWM gives the peak without its split.
type peakSampler struct {
	mu   sync.Mutex
	peak memory
	stop chan struct{}
	done chan struct{}
}

func (d *daemon) samplePeak() *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	pid := d.cmd.Process.Pid
	go func() {
		defer close(p.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := readMemory(pid); err == nil {
				p.mu.Lock()
				if m.rss > p.peak.rss {
					p.peak = m
				}
				p.mu.Unlock()
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// end stops the sampling and returns the highest sample.
func (p *peakSampler) end() memory {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// reportMemory prints a resident-set figure with its target (none when
// limit is 0) and, as its own lines, its anon/file/binary split.
func reportMemory(name string, m memory, limit float64, setup string) {
	if limit > 0 {
		report(name, m.rss, "_mb", fmt.Sprintf("<=%g", limit), m.rss <= limit, setup+"; "+m.split())
	} else {
		report(name, m.rss, "_mb", "", true, setup+"; "+m.split())
	}
	report(name+"_anon", m.anon, "_mb", "", true, "RssAnon of "+name)
	report(name+"_file", m.file, "_mb", "", true, "RssFile of "+name)
	report(name+"_binary", m.binary, "_mb", "", true, "Rss of the executable's mappings (smaps), part of "+name+"_file")
	if m.cached > 0 {
		report(name+"_binary_cached", m.cached, "_mb", "", true, "the executable file's pages in the page cache (mincore), mapped or not: what the machine holds for the binary")
	}
}

func fileMB(t *testing.T, path string) float64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return float64(fi.Size()) / (1 << 20)
}

// settled reports whether the plugin data of a request holds no intent
// and satisfies cond.
func (e *env) settled(id string, cond func(map[string]string) bool) bool {
	pd := e.pluginData(id)
	return pd[teleport.KeyIntent] == "" && cond(pd)
}

// waitAll waits until every request satisfies cond (see settled). A
// request once seen settled is not read again, so polling costs the test
// process little while the daemon works.
func (e *env) waitAll(t *testing.T, d *daemon, what string, ids []string, cond func(map[string]string) bool) {
	t.Helper()
	next := 0
	waitUntil(t, d, benchWait, what, func() bool {
		for next < len(ids) && e.settled(ids[next], cond) {
			next++
		}
		return next == len(ids)
	})
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sumStatus(by map[string]map[int]int, status int) int {
	n := 0
	for _, m := range by {
		n += m[status]
	}
	return n
}

// ---- PagerDuty calls per request ----

// TestBenchCalls counts the PagerDuty API calls of one request, by
// endpoint, with warm caches, in three lives: notify only; notify and
// auto-approval (then the resolution it causes); notify, a human review
// and the resolution.
func TestBenchCalls(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.start(benchConfig(e))
	defer d.stop()

	notifyOnly := func() string {
		return e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "bench")
	}
	notified := func(id string) bool {
		return e.settled(id, func(pd map[string]string) bool { return pd[teleport.KeyApproval] == "done" })
	}
	autoApproved := func() string {
		return e.createRequest(carol, []string{"editor"}, annotations(notify(svcTeleport), approvalServices(svcTeleport)), "bench")
	}
	resolved := func(id string) bool {
		return e.settled(id, func(pd map[string]string) bool { return pd[teleport.KeyResolution] == "approved" })
	}
	reviewed := func() string {
		id := notifyOnly()
		waitUntil(t, d, waitTimeout, "incident of "+id, func() bool { return notified(id) })
		if err := e.tp.Approve(id, bob, "looks fine"); err != nil {
			t.Fatalf("approve %s: %v", id, err)
		}
		return id
	}
	reviewedDone := func(id string) bool {
		return e.settled(id, func(pd map[string]string) bool {
			return pd[teleport.KeyResolution] == "approved" && pd[teleport.KeyReviewsCount] == "1"
		})
	}

	scenarios := []struct {
		name, setup string
		create      func() string
		done        func(string) bool
		// core are the calls the target counts (notes and resolve aside).
		target int
	}{
		{"notify_only", "alice (on call nowhere) requests editor; notify service annotated", notifyOnly, notified, 1},
		{"notify_auto_approve", "carol (on call for the service, level 1) requests editor; notify and approval service annotated; the approval resolves the request", autoApproved, resolved, 2},
		{"notify_review_resolve", "alice requests; bob approves (review) once the incident is open", reviewed, reviewedDone, 1},
	}
	for _, sc := range scenarios {
		warm := sc.create() // warm-up: fills the service and user caches
		waitUntil(t, d, waitTimeout, sc.name+" warm-up", func() bool { return sc.done(warm) })
		e.pd.ResetCalls()
		ids := make([]string, 0, callsRepeats)
		for range callsRepeats {
			ids = append(ids, sc.create())
		}
		waitUntil(t, d, waitTimeout, sc.name, func() bool {
			for _, id := range ids {
				if !sc.done(id) {
					return false
				}
			}
			return true
		})
		calls := e.pd.Calls()
		var keys []string
		total, core := 0, 0
		for k, n := range calls {
			keys = append(keys, k)
			total += n
			if k != "POST /incidents/{id}/notes" && !strings.HasPrefix(k, "PUT /incidents") {
				core += n
			}
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%q=%.2f", k, float64(calls[k])/callsRepeats))
		}
		per := float64(core) / callsRepeats
		report("calls_"+sc.name, per, "", fmt.Sprintf("<=%d", sc.target), per <= float64(sc.target),
			fmt.Sprintf("%s; warm caches; %d requests; calls other than notes and resolve", sc.setup, callsRepeats))
		report("calls_"+sc.name+"_all", float64(total)/callsRepeats, "", "", true, "same requests, every call including notes and resolve")
		note("calls_"+sc.name+"_by_endpoint", strings.Join(parts, " "))
	}
}

// ---- added latency ----

// TestBenchLatency measures request created in Teleport -> incident POST
// received by the fake, minus the fake's injected latency: over 1,000
// requests at 50/s (SPEC §12), then within the client rate limit; and the
// daemon's memory idle and after them.
func TestBenchLatency(t *testing.T) {
	e := newEnv(t, envOpts{Fake: func(o *fakepd.Options) { o.Latency = latencyFake }})
	d := e.start(benchConfig(e))
	defer d.stop()
	idle := d.releasedMemory("ready", 0)
	reportMemory("rss_idle", idle, 30, "VmRSS idle, empty store, after the release the daemon makes once ready")
	report("rss_idle_hwm", idle.hwm, "_mb", "", true, "VmHWM idle (the start-up's peak)")

	warm := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "warm-up")
	e.waitIncident(warm)

	idleReleases := d.releases("idle")
	latencyRun(t, e, memory200Requests, latencyPerSecond)
	setup200 := fmt.Sprintf("%d requests with notify (one incident each) at %d/s", memory200Requests+1, latencyPerSecond)
	reportMemory("rss_after_200_busy", d.memory(), 0, "VmRSS right when the last incident of "+setup200+" arrived")
	reportMemory("rss_after_200", d.releasedMemory("idle", idleReleases), 35, "VmRSS after "+setup200+", once idle (after the daemon's idle release)")

	lat, sent := latencyRun(t, e, latencyRequests, latencyPerSecond)
	setup := fmt.Sprintf("%d requests at %.0f/s (sent in %s), fake latency %s subtracted, rate_limit %d/min (so at most %d incidents/s)",
		latencyRequests, float64(latencyRequests)/sent.Seconds(), sent.Round(time.Millisecond), latencyFake, pdRateLimit, pdRateLimit/60)
	report("latency_p50", ms(percentile(lat, 0.50)), "_ms", "", true, setup)
	p99 := ms(percentile(lat, 0.99))
	report("latency_p99", p99, "_ms", "<10", p99 < 10, setup)
	report("latency_max", ms(lat[len(lat)-1]), "_ms", "", true, setup)
	after := d.memory()
	report("rss_after_1k", after.rss, "_mb", "", true, "VmRSS after the 1,000 requests above; "+after.split())

	lat, sent = latencyRun(t, e, inLimitRequests, inLimitPerSecond)
	setup = fmt.Sprintf("%d requests at %.0f/s (sent in %s, under the %d/min client limit), fake latency %s subtracted",
		inLimitRequests, float64(inLimitRequests)/sent.Seconds(), sent.Round(time.Millisecond), pdRateLimit, latencyFake)
	report("latency_in_limit_p50", ms(percentile(lat, 0.50)), "_ms", "", true, setup)
	p99 = ms(percentile(lat, 0.99))
	report("latency_in_limit_p99", p99, "_ms", "<10", p99 < 10, setup)
	report("latency_in_limit_max", ms(lat[len(lat)-1]), "_ms", "", true, setup)
}

// TestBenchLatencyAfterRelease measures what a release costs the request
// that follows it, whose code paths fault back in: with requests minutes
// apart, every request comes after one. The daemon releases after 1 s
// idle here (5 s by default) so that the samples take a minute.
func TestBenchLatencyAfterRelease(t *testing.T) {
	e := newEnv(t, envOpts{Fake: func(o *fakepd.Options) { o.Latency = latencyFake }})
	d := e.start(benchConfig(e, withTop("memory {", `  idle_after = "1s"`, "}")))
	defer d.stop()
	e.waitIncident(e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "warm-up"))
	var lat []time.Duration
	for range afterReleaseRuns {
		d.releasedMemory("idle", d.releases("idle"))
		l, _ := latencyRun(t, e, 1, 1)
		lat = append(lat, l[0])
	}
	slices.Sort(lat)
	setup := fmt.Sprintf("%d requests, each right after an idle release (idle_after 1s), fake latency %s subtracted", afterReleaseRuns, latencyFake)
	report("latency_after_release_p50", ms(percentile(lat, 0.50)), "_ms", "", true, setup)
	p99 := ms(percentile(lat, 0.99))
	report("latency_after_release_p99", p99, "_ms", "<10", p99 < 10, setup)
	report("latency_after_release_max", ms(lat[len(lat)-1]), "_ms", "", true, setup)
}

// latencyRun creates n requests at perSecond and returns the sorted added
// latencies and how long the sending took.
func latencyRun(t *testing.T, e *env, n, perSecond int) ([]time.Duration, time.Duration) {
	t.Helper()
	before := len(e.pd.Incidents())
	created := make(map[string]time.Time, n)
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	began := time.Now()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		at := time.Now()
		id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "bench")
		created[id] = at
	}
	tick.Stop()
	sent := time.Since(began)
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	if err := e.pd.WaitIncidents(ctx, before+n); err != nil {
		t.Fatalf("incidents: %v", err)
	}
	var lat []time.Duration
	for _, inc := range e.pd.Incidents() {
		if at, ok := created[domain.RequestIDFromKey(inc.Key)]; ok {
			lat = append(lat, inc.CreatedAt.Sub(at)-latencyFake)
		}
	}
	if len(lat) != n {
		t.Fatalf("%d incidents for %d requests", len(lat), n)
	}
	slices.Sort(lat)
	return lat, sent
}

// ---- backlog drain ----

// TestBenchBacklog starts the daemon with 10,000 pending requests and a
// rate-limited fake, and measures how fast it drains them, the 429s, the
// duplicates, its memory and the store file.
func TestBenchBacklog(t *testing.T) {
	e := newEnv(t, envOpts{Fake: func(o *fakepd.Options) { o.RateLimit = pdRateLimit }})
	began := time.Now()
	ids := make([]string, 0, backlogRequests)
	for range backlogRequests {
		ids = append(ids, e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "backlog"))
	}
	t.Logf("%d pending requests created in %s", backlogRequests, time.Since(began).Round(time.Millisecond))

	cfg := benchConfig(e)
	start := time.Now()
	d := e.run(cfg, []string{"start", "-c", cfg})
	peak := d.samplePeak()
	ctx, cancel := context.WithTimeout(context.Background(), benchWait)
	defer cancel()
	go func() { // a daemon that dies ends the wait early
		select {
		case <-d.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := e.pd.WaitIncidents(ctx, backlogRequests); err != nil {
		t.Fatalf("backlog: %d incidents of %d: %v\n%s", len(e.pd.Incidents()), backlogRequests, err, tail(d.stderrText(), 30))
	}
	drained := time.Since(start)
	e.waitAll(t, d, "every request settled", ids, func(pd map[string]string) bool { return pd[teleport.KeyApproval] == "done" })

	incs := e.pd.Incidents()
	byKey := map[string]int{}
	first, last := incs[0].CreatedAt, incs[0].CreatedAt
	for _, inc := range incs {
		byKey[inc.Key]++
		if inc.CreatedAt.Before(first) {
			first = inc.CreatedAt
		}
		if inc.CreatedAt.After(last) {
			last = inc.CreatedAt
		}
	}
	dups := 0
	for _, n := range byKey {
		dups += n - 1
	}
	status := e.pd.CallsByStatus()
	posts := status["POST /incidents"]
	rate := float64(len(incs)-1) / last.Sub(first).Seconds()
	limit := float64(pdRateLimit) / 60
	total := 0
	for _, m := range status {
		for code, n := range m {
			if code < 300 {
				total += n
			}
		}
	}
	setup := fmt.Sprintf("%d pending requests at start; fake limit %d/min (fixed 1-minute window, 429 + Retry-After); daemon rate_limit %d/min; notify only",
		backlogRequests, pdRateLimit, pdRateLimit)
	report("backlog_rate_fraction", rate/limit, "", ">=0.90", rate/limit >= 0.90,
		fmt.Sprintf("%s; incidents/s between the first and last incident = %.1f of %.0f/s", setup, rate, limit))
	report("backlog_drain_time", drained.Seconds(), "_s", "", true, setup+"; process start to last incident")
	report("backlog_api_calls_per_s", float64(total)/drained.Seconds(), "", "", true, "successful API calls (all endpoints) / drain time")
	n429 := sumStatus(status, http.StatusTooManyRequests)
	report("backlog_429s", float64(n429), "", "", true, setup)
	report("backlog_duplicate_incidents", float64(dups), "", "=0", dups == 0, setup+"; incidents beyond one per incident_key")
	report("backlog_dedup_refusals", float64(posts[http.StatusBadRequest]), "", "", true, "POST /incidents answered 400 (an open incident with that key exists)")
	if dups != 0 {
		t.Errorf("%d duplicate incidents", dups)
	}
	top := peak.end()
	mem := d.memory()
	reportMemory("rss_backlog_peak", top, 60, fmt.Sprintf("highest VmRSS sampled every 50 ms while draining the %d-request backlog (VmHWM %.1f MB)", backlogRequests, mem.hwm))
	reportMemory("rss_after_backlog_busy", mem, 0, fmt.Sprintf("VmRSS right when the %d-request backlog drained", backlogRequests))
	reportMemory("rss_after_backlog", d.releasedMemory("idle", 0), 40, fmt.Sprintf("VmRSS after the %d-request backlog drained, once idle", backlogRequests))
	d.stop()
}

// TestBenchMemory starts the daemon with 10,000 pending requests that name
// no notify service (so it handles them without PagerDuty calls and the
// figure is the daemon's own: it reads each request,
// decides, writes plugin data twice and its local record), then measures
// its memory and the store file, before and after pruning.
func TestBenchMemory(t *testing.T) {
	e := newEnv(t, envOpts{})
	ids := make([]string, 0, memoryRequests)
	for range memoryRequests {
		ids = append(ids, e.createRequest(alice, []string{"editor"}, nil, "memory"))
	}
	cfg := benchConfig(e)
	start := time.Now()
	d := e.run(cfg, []string{"start", "-c", cfg})
	peak := d.samplePeak()
	e.waitAll(t, d, "every request settled", ids, func(pd map[string]string) bool { return pd[teleport.KeyApproval] == "done" })
	took := time.Since(start)
	top := peak.end()
	setup := fmt.Sprintf("%d pending requests at start without notify service (no PagerDuty calls), handled in %s", memoryRequests, took.Round(time.Millisecond))
	mem := d.memory()
	reportMemory("rss_after_10k_busy", mem, 0, setup+"; VmRSS right when the last request settled")
	reportMemory("rss_after_10k", d.releasedMemory("idle", 0), 40, setup+"; VmRSS once idle (after the daemon's idle release)")
	reportMemory("rss_10k_peak", top, 60, fmt.Sprintf("%s; highest VmRSS sampled every 50 ms (VmHWM %.1f MB)", setup, mem.hwm))
	report("handled_10k_per_s", float64(memoryRequests)/took.Seconds(), "", "", true, setup+"; process start to last request settled")
	report("bbolt_after_10k", fileMB(t, e.storePath), "_mb", "", true, setup+"; store file (open records)")
	d.stop()

	// Pruning needs resolved records older than retention (7 days; the
	// pruner runs every 10 minutes): resolve the records and prune with a
	// clock 8 days ahead, in this process, through the boltstore package.
	pruned, size := pruneAll(t, e.storePath)
	report("bbolt_after_prune", size, "_mb", "", true,
		fmt.Sprintf("same file after marking the records resolved and Prune with the clock 8 days ahead (%d pruned); bbolt keeps freed pages in the file", pruned))
}

// pruneAll marks every open record of the store file resolved, prunes it
// 8 days later and returns how many records went and the file size in MB.
func pruneAll(t *testing.T, path string) (int, float64) {
	t.Helper()
	s, err := boltstore.Open(boltstore.Config{Path: path, PruneInterval: -1}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	open, err := s.OpenRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	putParallel(t, s, len(open), func(i int) domain.Record {
		r := open[i]
		r.Resolution = domain.StateExpired
		return r
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(8 * 24 * time.Hour)
	s, err = boltstore.Open(boltstore.Config{Path: path, PruneInterval: -1, Now: func() time.Time { return later }}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return n, fileMB(t, path)
}

// putParallel writes n records from 64 goroutines (bbolt batches them).
func putParallel(t *testing.T, s *boltstore.Store, n int, rec func(i int) domain.Record) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := s.PutRecord(context.Background(), rec(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("put record: %v", err)
	}
}

// ---- webhook ----

// v3Template is a signed v3 incident.annotated delivery by one responder
// on one incident; body(eventID) renders it.
type v3Template struct{ before, after []byte }

func newV3Template(t *testing.T, e *env, incidentID, actorEmail, content string) v3Template {
	t.Helper()
	const marker = "@@EVENT_ID@@"
	b := e.v3AnnotatedEvent(incidentID, actorEmail, content, marker)
	before, after, ok := bytes.Cut(b, []byte(marker))
	if !ok {
		t.Fatal("template marker lost")
	}
	return v3Template{before: before, after: after}
}

func (tm v3Template) body(eventID string) []byte {
	out := make([]byte, 0, len(tm.before)+len(eventID)+len(tm.after))
	return append(append(append(out, tm.before...), eventID...), tm.after...)
}

// loadResult is what a load run saw.
type loadResult struct {
	n        int
	elapsed  time.Duration
	lat      []time.Duration
	statuses map[int]int
	errors   int
	firstErr error
}

// runLoad sends deliveries from clients goroutines over keep-alive TLS 1.2
// connections: next(i) returns the i-th delivery (ok false to stop);
// until, when not zero, ends the run at that time.
func runLoad(e *env, clients int, until time.Time, next func(i int) (body []byte, id string, ok bool)) loadResult {
	webhook := e.directWebhookURL()
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: e.serverCAs, MaxVersion: tls.VersionTLS12},
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		MaxConnsPerHost:     clients,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var (
		mu  sync.Mutex
		res = loadResult{statuses: map[int]int{}}
		idx atomic.Int64
		wg  sync.WaitGroup
	)
	began := time.Now()
	for range clients {
		wg.Go(func() {
			var lat []time.Duration
			statuses := map[int]int{}
			errs := 0
			var firstErr error
			for until.IsZero() || time.Now().Before(until) {
				body, id, ok := next(int(idx.Add(1)) - 1)
				if !ok {
					break
				}
				req, err := http.NewRequest(http.MethodPost, webhook+fakepd.V3Path, bytes.NewReader(body))
				if err != nil {
					errs++
					firstErr = cmp.Or(firstErr, err)
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-PagerDuty-Signature", e.signV3(body))
				req.Header.Set("X-Webhook-Id", id)
				at := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(at))
				statuses[resp.StatusCode]++
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			for k, v := range statuses {
				res.statuses[k] += v
			}
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(began)
	res.n = len(res.lat)
	slices.Sort(res.lat)
	return res
}

func (r loadResult) statusText() string {
	var codes []int
	for c := range r.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d:%d", c, r.statuses[c]))
	}
	if r.errors > 0 {
		parts = append(parts, fmt.Sprintf("transport_errors:%d (%v)", r.errors, r.firstErr))
	}
	return strings.Join(parts, " ")
}

// TestBenchWebhook measures verified v3 actions per second and their
// latency on loopback TLS with keep-alive, on three paths: "/approve" notes
// that approve pending requests (the full path: replay key, incident,
// request, responder and on-call lookups, set state); "/approve" notes on
// requests already approved (replay key, incident, request and responder
// looked up, 200 not_pending, noted once per incident); and 30 s of replayed deliveries (signature verified,
// replay key found, 200).
func TestBenchWebhook(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.start(benchConfig(e))
	defer d.stop()

	ids := make([]string, 0, webhookApprovals)
	for range webhookApprovals {
		ids = append(ids, e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "webhook bench"))
	}
	e.waitAll(t, d, "incidents of the webhook requests", ids, func(pd map[string]string) bool { return pd[teleport.KeyApproval] == "done" })
	tmpls := make([]v3Template, 0, len(ids))
	for _, id := range ids {
		tmpls = append(tmpls, newV3Template(t, e, e.pluginData(id)[teleport.KeyIncidentID], carol, "/approve bench"))
	}
	base := fmt.Sprintf("%d clients, keep-alive TLS 1.2 on loopback, signed v3 incident.annotated; approvers on_call (carol); set_state mode; rate_limit %d/min; load generator and both fakes share the 2 cores with the daemon", webhookClients, pdRateLimit)

	// 1. Approvals: each delivery approves one pending request.
	e.pd.ResetCalls()
	deliveries := make([]string, len(tmpls))
	res := runLoad(e, webhookClients, time.Time{}, func(i int) ([]byte, string, bool) {
		if i >= len(tmpls) {
			return nil, "", false
		}
		deliveries[i] = newDeliveryID()
		return tmpls[i].body("01BENCHA" + strconv.Itoa(i)), deliveries[i], true
	})
	rate := float64(res.n) / res.elapsed.Seconds()
	setup := fmt.Sprintf("%d approvals of pending requests, distinct X-Webhook-Id; %s; statuses %s", len(tmpls), base, res.statusText())
	report("webhook_approve_per_s", rate, "", ">=2000", rate >= 2000, setup)
	p99 := ms(percentile(res.lat, 0.99))
	report("webhook_approve_p50", ms(percentile(res.lat, 0.50)), "_ms", "", true, setup)
	report("webhook_approve_p99", p99, "_ms", "<20", p99 < 20, setup)
	note("webhook_approve_pd_calls_per_action", perAction(e.pd.Calls(), res.n))
	var approved []string // a delivery answered 503 approved nothing
	for _, id := range ids {
		if r, err := e.tp.Get(id); err == nil && r.GetState().IsApproved() {
			approved = append(approved, id)
		}
	}
	note("webhook_approved_requests", fmt.Sprintf("%d approved, %d deliveries answered 200", len(approved), res.statuses[http.StatusOK]))
	e.waitAll(t, d, "approved requests resolved", approved, func(pd map[string]string) bool { return pd[teleport.KeyResolution] == "approved" })

	// 2. Verified deliveries on requests no longer pending.
	e.pd.ResetCalls()
	res = runLoad(e, webhookClients, time.Now().Add(webhookShort), func(i int) ([]byte, string, bool) {
		return tmpls[i%len(tmpls)].body("01BENCHB" + strconv.Itoa(i)), newDeliveryID(), true
	})
	rate = float64(res.n) / res.elapsed.Seconds()
	setup = fmt.Sprintf("%s of /approve on approved requests, distinct event ids (answer 200 not_pending); %s; statuses %s", webhookShort, base, res.statusText())
	report("webhook_not_pending_per_s", rate, "", ">=2000", rate >= 2000, setup)
	p99 = ms(percentile(res.lat, 0.99))
	report("webhook_not_pending_p50", ms(percentile(res.lat, 0.50)), "_ms", "", true, setup)
	report("webhook_not_pending_p99", p99, "_ms", "<20", p99 < 20, setup)
	note("webhook_not_pending_pd_calls_per_action", perAction(e.pd.Calls(), res.n))

	// 3. Replays of the approvals' deliveries (200, nothing changes).
	e.pd.ResetCalls()
	res = runLoad(e, webhookClients, time.Now().Add(webhookDuration), func(i int) ([]byte, string, bool) {
		j := i % len(tmpls)
		return tmpls[j].body("01BENCHA" + strconv.Itoa(j)), deliveries[j], true
	})
	// A first-run delivery answered 503 was forgotten (so PagerDuty can
	// retry it): here it is handled afresh, with its PagerDuty calls.
	note("webhook_replay_pd_calls", fmt.Sprint(e.pd.Calls()))
	rate = float64(res.n) / res.elapsed.Seconds()
	setup = fmt.Sprintf("%s of replayed deliveries (verified, replay key found, 200); %s; statuses %s", webhookDuration, base, res.statusText())
	report("webhook_replay_per_s", rate, "", ">=2000", rate >= 2000, setup)
	p99 = ms(percentile(res.lat, 0.99))
	report("webhook_replay_p50", ms(percentile(res.lat, 0.50)), "_ms", "", true, setup)
	report("webhook_replay_p99", p99, "_ms", "<20", p99 < 20, setup)
	mem := d.memory()
	report("rss_after_webhook", mem.rss, "_mb", "", true, "VmRSS after the webhook runs; "+mem.split())
}

func perAction(calls map[string]int, n int) string {
	var keys []string
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q=%.3f", k, float64(calls[k])/float64(max(n, 1))))
	}
	return strings.Join(parts, " ")
}

// ---- startup ----

// TestBenchStartup times process start to /readyz 200, with an empty
// store and with a store pre-filled with 100,000 resolved records.
func TestBenchStartup(t *testing.T) {
	e := newEnv(t, envOpts{})
	timeStart := func(cfg string) (time.Duration, memory) {
		began := time.Now()
		d := e.run(cfg, []string{"start", "-c", cfg})
		d.waitReady()
		took := time.Since(began)
		m := d.releasedMemory("ready", 0)
		d.stop()
		return took, m
	}
	empty, _ := timeStart(benchConfig(e))
	report("startup_empty_store", ms(empty), "_ms", "", true, "process start to /readyz 200, empty store, no pending requests")

	path := filepath.Join(e.dir, "big.db")
	s, err := boltstore.Open(boltstore.Config{Path: path, PruneInterval: -1}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	began := time.Now()
	putParallel(t, s, startupRecords, func(i int) domain.Record {
		id := fmt.Sprintf("0b6f5e7e-3a51-4f0e-9a0e-%012d", i)
		return domain.Record{
			RequestID: id, User: "alice@example.com", Roles: []string{"editor"}, Created: now.Add(-time.Hour),
			RequestReason: "prefill",
			Incidents:     []domain.IncidentRef{{Service: svcTeleport, ServiceID: "PSVC001", IncidentID: fmt.Sprintf("Q%09d", i)}},
			ApprovalDone:  true, Resolution: domain.StateApproved, Updated: now,
		}
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records written in %s", startupRecords, time.Since(began).Round(time.Millisecond))
	size := fileMB(t, path)
	full, mem := timeStart(benchConfig(e, withStorePath(path)))
	setup := fmt.Sprintf("process start to /readyz 200, store with %d resolved records (%.1f MB file), no pending requests", startupRecords, size)
	report("startup_100k_store", ms(full), "_ms", "", true, setup)
	report("rss_100k_store", mem.rss, "_mb", "<=30", mem.rss <= 30, "VmRSS once ready (after the release the daemon makes then) with the 100,000-record store; "+mem.split())
}

// ---- summary ----

// TestBenchSummary prints every figure of the run as a table; it is last
// in the file so it runs last.
func TestBenchSummary(t *testing.T) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		t.Skip("no figures (run with -run '^TestBench')")
	}
	w := 0
	for _, r := range results {
		w = max(w, len(r.name))
	}
	fmt.Printf("BENCH %-*s %12s %10s %7s\n", w, "figure", "value", "target", "")
	for _, r := range results {
		fmt.Printf("BENCH %-*s %12s %10s %7s\n", w, r.name, r.value, r.target, r.verdict)
	}
}
