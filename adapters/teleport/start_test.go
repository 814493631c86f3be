package teleport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gravitational/teleport/api/types"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// identityFor writes an identity file of user (AllPerms) for srv.
func identityFor(t *testing.T, srv *teleporttest.Server, user string) string {
	t.Helper()
	srv.AddUser(user, teleporttest.AllPerms)
	path := filepath.Join(t.TempDir(), user+".identity")
	if err := srv.WriteIdentityFile(path, user, time.Hour); err != nil {
		t.Fatal(err)
	}
	return path
}

// Teleport down at start (SPEC §2): New succeeds without a connection,
// calls fail as unavailable, the watcher reports the failed attempt, keeps
// dialing, and syncs (with the backlog and the cluster) once Teleport is
// up.
func TestWatchConnectsWhenTeleportComesUp(t *testing.T) {
	srv := newServer(t, teleporttest.Options{ClusterName: "late", ProxyAddr: "teleport.example.com:443"})
	path := identityFor(t, srv, "pagergate")
	before := mustCreate(t, srv, "alice", []string{"dev"})
	srv.Stop()

	cfg := testConfig(srv, path)
	cfg.DialTimeout = 300 * time.Millisecond
	c, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("New with Teleport down = %v, want no network call and no error", err)
	}
	t.Cleanup(func() { c.Close() })
	c.Start()
	if _, _, err := c.LoadRecord(ctxT(t), before); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("LoadRecord before connecting = %v, want ErrUnavailable", err)
	}
	events := watching(t, c)
	disc := nextKind(t, events, domain.EventDisconnected)
	if !errors.Is(disc.Err, ports.ErrUnavailable) || !strings.Contains(disc.Err.Error(), srv.Addr()) {
		t.Errorf("first failed attempt = %v, want ErrUnavailable naming %s", disc.Err, srv.Addr())
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ev := nextKind(t, events, domain.EventSynced)
	if !pendingIDs(ev)[before] {
		t.Errorf("first sync = %v, want the request created before the connection", pendingIDs(ev))
	}
	if ev.Cluster.Name != "late" || ev.Cluster.ProxyAddr != "teleport.example.com:443" {
		t.Errorf("synced cluster = %+v", ev.Cluster)
	}
}

// holdListener accepts connections and never answers, like a host that
// takes the TCP handshake and then hangs; it counts them.
func holdListener(t *testing.T) (net.Listener, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			n.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln, &n
}

// A stop while the first dial hangs ends Watch at once, not after
// DialTimeout.
func TestWatchStopsWhileDialing(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	path := identityFor(t, srv, "pagergate")
	ln, accepted := holdListener(t)
	cfg := testConfig(srv, path)
	cfg.Addr = ln.Addr().String()
	cfg.DialTimeout = time.Minute
	c, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, make(chan domain.Event, 8)) }()
	deadline := time.Now().Add(waitFor)
	for accepted.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no connection attempt")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still dialing 5 s after its context ended")
	}
}

// An unsupported version ends Watch with an error retrying cannot fix.
func TestWatchRefusesOldClusterForGood(t *testing.T) {
	srv := newServer(t, teleporttest.Options{Version: "12.1.0"})
	c, err := New(testConfig(srv, identityFor(t, srv, "pagergate")), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Watch(ctxT(t), make(chan domain.Event, 8))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "13.0.0") {
		t.Errorf("Watch against 12.1.0 = %v, want ErrUnsupported naming 13.0.0", err)
	}
}

// fakeStream is a types.Watcher whose events and end the test controls.
type fakeStream struct {
	events chan types.Event
	done   chan struct{}
	err    error
}

func newFakeStream(buffered int) *fakeStream {
	return &fakeStream{events: make(chan types.Event, buffered), done: make(chan struct{})}
}

func (f *fakeStream) Events() <-chan types.Event { return f.events }
func (f *fakeStream) Done() <-chan struct{}      { return f.done }
func (f *fakeStream) Close() error               { return nil }
func (f *fakeStream) Error() error               { return f.err }

// A stream that never sends its init event is given up after InitTimeout
// (15 s by default), so the watcher opens a new one instead of hanging.
func TestStreamWithoutInitTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Client{cfg: Config{}.withDefaults(), log: zaptest.NewLogger(t)}
		start := time.Now()
		synced, err := c.stream(t.Context(), newFakeStream(1), make(chan domain.Event, 1))
		if synced || !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "init") {
			t.Errorf("stream without init = %v, %v; want an unavailable error about init", synced, err)
		}
		if d := time.Since(start); d != DefaultInitTimeout {
			t.Errorf("gave up after %v, want %v", d, DefaultInitTimeout)
		}
	})
}

// Events already received when the stream closes are forwarded, not
// dropped.
func TestClosedStreamDrainsItsEvents(t *testing.T) {
	const n = 64
	c := &Client{cfg: Config{}.withDefaults(), log: zaptest.NewLogger(t)}
	w := newFakeStream(n)
	for i := range n {
		r, err := types.NewAccessRequest(fmt.Sprintf("00000000-0000-0000-0000-%012d", i), "alice", "dev")
		if err != nil {
			t.Fatal(err)
		}
		w.events <- types.Event{Type: types.OpPut, Resource: r}
	}
	w.err = errors.New("stream reset")
	close(w.done)
	out := make(chan domain.Event, n)
	if err := c.pump(t.Context(), w, out); err == nil || !strings.Contains(err.Error(), "stream reset") {
		t.Errorf("pump on a reset stream = %v, want its error", err)
	}
	if len(out) != n {
		t.Errorf("forwarded %d of the %d events the stream held when it closed", len(out), n)
	}
}

// The test server can cut one user's watch streams only (the e2e
// scenarios cut one replica); the client reconnects once they are back.
func TestWatchAfterCutStreamsAreRestored(t *testing.T) {
	srv := newServer(t, teleporttest.Options{})
	c := newClient(t, srv, "pagergate", teleporttest.AllPerms)
	other := newClient(t, srv, "pagergate-b", teleporttest.AllPerms)
	events, otherEvents := watching(t, c), watching(t, other)
	nextKind(t, events, domain.EventSynced)
	nextKind(t, otherEvents, domain.EventSynced)

	srv.CutWatches("pagergate")
	nextKind(t, events, domain.EventDisconnected)
	id := mustCreate(t, srv, "alice", []string{"dev"})
	if ev := nextKind(t, otherEvents, domain.EventPut); ev.Request.ID != id {
		t.Errorf("the other user's stream got %s, want %s", ev.Request.ID, id)
	}
	srv.RestoreWatches("pagergate")
	if got := pendingIDs(nextKind(t, events, domain.EventSynced)); !got[id] {
		t.Errorf("sync after the cut = %v, want %s", got, id)
	}
}
