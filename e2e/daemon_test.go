//go:build e2e || bench

// The daemon process: run, readiness, signals, exit, its log and metrics.

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is one running "pagergate start" process.
type daemon struct {
	t         *testing.T
	cmd       *exec.Cmd
	cfgPath   string
	logPath   string
	logOffset int64
	stderr    *lockedBuffer
	done      chan struct{}
	exitCode  int // valid once done is closed
	waitErr   error

	addrsMu sync.Mutex
	addrs   map[string]string // listen address by log message, once logged
}

// lockedBuffer is a bytes.Buffer safe for the exec copier and readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run starts the binary with args and returns the process without waiting
// for readiness; extraEnv entries NAME=value set a variable, a bare NAME
// removes it.
func (e *env) run(cfgPath string, args []string, extraEnv ...string) *daemon {
	e.t.Helper()
	d := &daemon{t: e.t, cfgPath: cfgPath, stderr: &lockedBuffer{}, done: make(chan struct{}), addrs: map[string]string{}}
	if cfgPath != "" {
		d.logPath = logPathOf(e.t, cfgPath)
		if fi, err := os.Stat(d.logPath); err == nil {
			d.logOffset = fi.Size()
		}
	}
	d.cmd = exec.Command(binPath, args...)
	d.cmd.Dir = e.dir
	d.cmd.Env = os.Environ()
	for _, kv := range extraEnv {
		name, _, set := strings.Cut(kv, "=")
		d.cmd.Env = slices.DeleteFunc(d.cmd.Env, func(x string) bool { return strings.HasPrefix(x, name+"=") })
		if set {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	d.cmd.Stdout = d.stderr
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		e.t.Fatalf("start pagergate: %v", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		d.exitCode = d.cmd.ProcessState.ExitCode()
		close(d.done)
	}()
	if len(args) > 0 && args[0] == "start" {
		e.configsMu.Lock()
		e.latest = d
		e.configsMu.Unlock()
	}
	e.t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if e.t.Failed() {
			d.dump()
		}
	})
	return d
}

// listenAddr returns the address of the listener whose start the daemon
// logged with msg ("webhook listening", "metrics listening"), or "" while
// it has not.
func (d *daemon) listenAddr(msg string) string {
	d.addrsMu.Lock()
	defer d.addrsMu.Unlock()
	if a, ok := d.addrs[msg]; ok {
		return a
	}
	for _, l := range d.logEntries() {
		if l.str("msg") == msg && l.str("addr") != "" {
			d.addrs[msg] = l.str("addr")
			return d.addrs[msg]
		}
	}
	return ""
}

// metricsURL is the base URL of the metrics listener ("http://" alone
// while it has not started).
func (d *daemon) metricsURL() string { return "http://" + d.listenAddr("metrics listening") }

// webhookURL is the base URL of the daemon's own webhook listener, not
// the front door's.
func (d *daemon) webhookURL() string { return "https://" + d.listenAddr("webhook listening") }

// start runs "pagergate start -c cfgPath" and waits until /readyz on the
// metrics address answers 200.
func (e *env) start(cfgPath string) *daemon {
	e.t.Helper()
	d := e.run(cfgPath, []string{"start", "-c", cfgPath})
	d.waitReady()
	return d
}

// waitReady polls /readyz until it answers 200; it fails the test if the
// process exits first or waitTimeout passes.
func (d *daemon) waitReady() {
	d.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	ready := func() bool {
		resp, err := client.Get(d.metricsURL() + "/readyz")
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	err := poll(func() bool { return d.exited() || ready() })
	switch {
	case d.exited():
		d.t.Fatalf("pagergate exited with code %d before ready; output:\n%s", d.exitCode, d.stderr.String())
	case err != nil:
		d.t.Fatalf("pagergate not ready after %s; output:\n%s", waitTimeout, d.stderr.String())
	}
}

// signal sends sig to the process.
func (d *daemon) signal(sig os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// exited reports whether the process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end and returns its exit
// code; it fails the test on timeout.
func (d *daemon) wait(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.done:
		return d.exitCode
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.t.Fatalf("pagergate did not exit within %s; output:\n%s", timeout, d.stderr.String())
		return -1
	}
}

// stop sends SIGTERM and requires exit code 0 within 30 s and no race
// report.
func (d *daemon) stop() { d.t.Helper(); d.stopWithin(30 * time.Second) }

// stopWithin is stop with another deadline; it returns how long the exit
// took.
func (d *daemon) stopWithin(timeout time.Duration) time.Duration {
	d.t.Helper()
	began := time.Now()
	d.signal(syscall.SIGTERM)
	code := d.wait(timeout)
	took := time.Since(began)
	if code != 0 {
		d.t.Fatalf("pagergate exited with code %d after SIGTERM; output:\n%s", code, d.stderr.String())
	}
	d.checkNoRace()
	return took
}

// kill ends the process with SIGKILL and waits for it.
func (d *daemon) kill() {
	d.t.Helper()
	d.signal(syscall.SIGKILL)
	d.wait(30 * time.Second)
	d.checkNoRace()
}

func (d *daemon) checkNoRace() {
	d.t.Helper()
	if s := d.stderr.String(); strings.Contains(s, "WARNING: DATA RACE") {
		d.t.Errorf("data race in pagergate:\n%s", s)
	}
}

// stderrText returns everything the process wrote to stdout and stderr.
func (d *daemon) stderrText() string { return d.stderr.String() }

// logText returns what this process wrote to its log file.
func (d *daemon) logText() string {
	if d.logPath == "" {
		return ""
	}
	f, err := os.Open(d.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(d.logOffset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// logEntry is one JSON log line.
type logEntry map[string]any

// str returns a string field ("" when absent).
func (l logEntry) str(key string) string {
	s, _ := l[key].(string)
	return s
}

// logEntries parses every JSON line this process logged so far (a trailing
// partial line is skipped).
func (d *daemon) logEntries() []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(strings.NewReader(d.logText()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var m logEntry
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// logContains reports whether this process's log holds sub.
func (d *daemon) logContains(sub string) bool { return strings.Contains(d.logText(), sub) }

// waitLog waits until the log holds sub and returns the first line that
// does.
func (d *daemon) waitLog(ctx context.Context, sub string) (string, error) {
	var line string
	err := pollCtx(ctx, func() bool {
		for _, l := range strings.Split(d.logText(), "\n") {
			if strings.Contains(l, sub) {
				line = l
				return true
			}
		}
		return false
	})
	if err != nil {
		return "", fmt.Errorf("log line with %q: %w", sub, err)
	}
	return line, nil
}

// waitLogEntry waits for a JSON log line matching match (waitTimeout) and
// fails the test if none comes.
func (d *daemon) waitLogEntry(what string, match func(logEntry) bool) logEntry {
	d.t.Helper()
	var found logEntry
	err := poll(func() bool {
		for _, l := range d.logEntries() {
			if match(l) {
				found = l
				return true
			}
		}
		return false
	})
	if err != nil {
		d.t.Fatalf("no log line %s: %v\nlog:\n%s", what, err, tail(d.logText(), 40))
	}
	return found
}

// metrics returns the /metrics text of the metrics listener.
func (d *daemon) metrics() string {
	d.t.Helper()
	resp, err := http.Get(d.metricsURL() + "/metrics")
	if err != nil {
		d.t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("metrics: %v", err)
	}
	return string(b)
}

// releases is how many times the daemon gave memory back for trigger
// ("start", "ready" or "idle"), from its /metrics.
func (d *daemon) releases(trigger string) float64 {
	d.t.Helper()
	n, _ := metricValue(d.metrics(), `pagergate_memory_releases_total{trigger="`+trigger+`"}`)
	return n
}

// metricValue returns the value of the sample whose name and labels are
// written exactly as series (e.g. `pagergate_incidents_total{outcome="opened"}`)
// in a /metrics text.
func metricValue(text, series string) (float64, bool) {
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(l, series+" ")
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(rest, &v); err == nil {
			return v, true
		}
	}
	return 0, false
}

// metricSum sums the series of metric whose labels include each of
// pairs (`outcome="refused"`), and says whether there was one.
func metricSum(text, metric string, pairs ...string) (float64, bool) {
	sum, found := 0.0, false
	for _, l := range strings.Split(text, "\n") {
		labels, rest, ok := strings.Cut(strings.TrimPrefix(l, metric+"{"), "} ")
		if !ok || !strings.HasPrefix(l, metric+"{") {
			continue
		}
		all := true
		for _, p := range pairs {
			all = all && slices.Contains(strings.Split(labels, ","), p)
		}
		var v float64
		if _, err := fmt.Sscan(rest, &v); all && err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

func (d *daemon) dump() {
	d.t.Logf("pagergate %v: exit %d\noutput:\n%s\nlog %s (tail):\n%s", d.cmd.Args[1:], d.exitCode,
		tail(d.stderr.String(), 40), d.logPath, tail(withoutFx(d.logText()), 60))
}

// withoutFx drops fx's own lines from a JSON log.
func withoutFx(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `"logger":"fx"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// binaryRSS sums the Rss of the mappings of the process's executable.
func binaryRSS(pid int) (float64, error) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	kb, ours := 0.0, false
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			ours = len(f) >= 6 && f[5] == exe // a mapping's header line
		case ours && len(f) >= 2 && f[0] == "Rss:":
			v, _ := strconv.ParseFloat(f[1], 64)
			kb += v
		}
	}
	return kb / 1024, nil
}
