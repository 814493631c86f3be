//go:build e2e || bench

// The front door: a listener the harness keeps, in front of a daemon's
// listener that moves with each restart.

package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// frontDoor accepts on a loopback port bound once and kept for the whole
// test, and forwards each connection, byte for byte (TLS and client
// certificates pass through), to the address backend names at that moment
// ("" while none: the connection is closed, as a load balancer without a
// healthy backend does).
type frontDoor struct {
	ln      net.Listener
	backend func() string

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newFrontDoor(t *testing.T, backend func() string) *frontDoor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("front door: %v", err)
	}
	d := &frontDoor{ln: ln, backend: backend, conns: map[net.Conn]bool{}}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(d.close)
	return d
}

// addr is the address the door listens on.
func (d *frontDoor) addr() string { return d.ln.Addr().String() }

func (d *frontDoor) serve() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.wg.Add(1)
		go d.forward(c)
	}
}

func (d *frontDoor) forward(c net.Conn) {
	defer d.wg.Done()
	defer c.Close()
	addr := d.backend()
	if addr == "" {
		return
	}
	b, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer b.Close()
	if !d.track(c, b) {
		return
	}
	defer d.untrack(c, b)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	<-done
}

// track records open connections so close can end them; false once the
// door is closed.
func (d *frontDoor) track(conns ...net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns == nil {
		return false
	}
	for _, c := range conns {
		d.conns[c] = true
	}
	return true
}

func (d *frontDoor) untrack(conns ...net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range conns {
		delete(d.conns, c)
	}
}

// close stops accepting, ends the open connections and waits for the
// forwarders.
func (d *frontDoor) close() {
	_ = d.ln.Close()
	d.mu.Lock()
	for c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
	d.mu.Unlock()
	d.wg.Wait()
}
