package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
)

// peerLog accepts connections on a loopback listener and never answers
// them (a host that takes the TCP handshake and hangs); it records who
// connected.
type peerLog struct {
	ln    net.Listener
	mu    sync.Mutex
	peers []string
	conns []net.Conn
}

func newPeerLog(t *testing.T) *peerLog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peerLog{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.peers = append(p.peers, c.RemoteAddr().String())
			p.conns = append(p.conns, c)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *peerLog) addr() string { return p.ln.Addr().String() }

func (p *peerLog) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.peers)
}

// othersBefore connects once itself and, once that connection was
// accepted, returns how many other connections were accepted before it.
// Connections are accepted in order, so every connection made before the
// call is counted.
func (p *peerLog) othersBefore(t *testing.T) int {
	t.Helper()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	n := -1
	waitFor(t, "own connection accepted", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		n = slices.Index(p.peers, me)
		return n >= 0
	})
	return n
}

// waitFor checks cond every millisecond until it holds; after 10 s it
// fails the test naming what.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fx's rule, kept here: constructors make no network call; connections are
// made once started (OnStart) and stopped with the app. Building the
// daemon's graph with Teleport and PagerDuty hanging must return at once,
// without error and without a single connection to either; starting it
// must return at once too, then dial Teleport; stopping it must end the
// dial. A constructor that dials (as the Teleport client once did, with a
// 30 s timeout and an exit 1 when Teleport was down) fails this test.
func TestConstructorsMakeNoNetworkCalls(t *testing.T) {
	tp, pager := newPeerLog(t), newPeerLog(t)
	path, _, _ := servers(t, func(hcl string) string {
		i := strings.Index(hcl, "addr     = ")
		j := i + strings.Index(hcl[i:], "\n")
		hcl = hcl[:i] + `addr     = "` + tp.addr() + `"` + "\n  dial_timeout = \"1m\"" + hcl[j:]
		i = strings.Index(hcl, "api_endpoint           = ")
		j = i + strings.Index(hcl[i:], "\n")
		return hcl[:i] + `api_endpoint = "http://` + pager.addr() + `"` + hcl[j:]
	})
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	built := make(chan *fx.App, 1)
	go func() { built <- fx.New(modules(cfg, zap.NewNop())) }()
	var app *fx.App
	select {
	case app = <-built:
	case <-time.After(10 * time.Second):
		t.Fatal("building the fx graph blocked for 10s: a constructor waits on the network")
	}
	if err := app.Err(); err != nil {
		t.Fatalf("building the fx graph with Teleport unreachable = %v, want no error", err)
	}
	if n := tp.othersBefore(t); n != 0 {
		t.Errorf("constructors connected to Teleport %d times", n)
	}
	if n := pager.othersBefore(t); n != 0 {
		t.Errorf("constructors connected to PagerDuty %d times", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("Start with Teleport hanging = %v, want no error", err)
	}
	before := tp.count()
	waitFor(t, "connection attempt to Teleport after start", func() bool { return tp.count() > before })
	began := time.Now()
	if err := app.Stop(ctx); err != nil {
		t.Errorf("Stop while dialing = %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Stop while dialing took %v, want the dial cancelled", d)
	}
}
