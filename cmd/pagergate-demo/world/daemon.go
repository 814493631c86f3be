package world

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Daemon is a running `pagergate start` process.
type Daemon struct {
	cmd  *exec.Cmd
	out  bytes.Buffer // stdout and stderr; read once the process ended
	done chan struct{}
	// WebhookAddr and MetricsAddr are the addresses its listeners took.
	WebhookAddr, MetricsAddr string
}

// DaemonBinary returns the pagergate binary next to this program when it
// is there, else "pagergate" (looked up on PATH).
func DaemonBinary() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "pagergate")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return "pagergate"
}

// StartDaemon runs `bin start -c <w.Config>` and waits until it logged
// the addresses of its listeners and its /readyz answers 200.
func (w *World) StartDaemon(ctx context.Context, bin string) (*Daemon, error) {
	d := &Daemon{done: make(chan struct{})}
	d.cmd = exec.Command(bin, "start", "-c", w.Config)
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := d.poll(ctx, func() bool {
		d.WebhookAddr, d.MetricsAddr = listenAddrs(w.Log)
		return d.WebhookAddr != "" && d.MetricsAddr != ""
	})
	if err == nil {
		err = d.poll(ctx, d.ready)
	}
	if err != nil {
		d.Stop() // then its output is complete
		return nil, fmt.Errorf("pagergate not ready: %w\n%s", err, d.out.String())
	}
	return d, nil
}

// poll checks cond every 20 ms until it holds; it fails when ctx ends or
// the process exits first.
func (d *Daemon) poll(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.done:
			return errors.New("pagergate exited")
		case <-t.C:
		}
	}
	return nil
}

func (d *Daemon) ready() bool {
	resp, err := http.Get("http://" + d.MetricsAddr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop sends SIGTERM and waits for the exit (SIGKILL after 30 s).
func (d *Daemon) Stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// listenAddrs reads the webhook and metrics listen addresses from a JSON
// log ("" while not logged yet).
func listenAddrs(logPath string) (webhook, metrics string) {
	f, err := os.Open(logPath)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch e.Msg {
		case "webhook listening":
			webhook = e.Addr
		case "metrics listening":
			metrics = e.Addr
		}
	}
	return webhook, metrics
}
