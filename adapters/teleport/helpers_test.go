package teleport

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/domain"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 10 * time.Second

func newServer(t *testing.T, opts teleporttest.Options) *teleporttest.Server {
	t.Helper()
	srv, err := teleporttest.New(opts)
	if err != nil {
		t.Fatalf("teleporttest.New: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(srv *teleporttest.Server, identity string) Config {
	return Config{
		Addr:         srv.Addr(),
		IdentityFile: identity,
		DirectAuth:   true,
		DialTimeout:  5 * time.Second,
		BackoffMin:   5 * time.Millisecond,
		BackoffMax:   50 * time.Millisecond,
	}
}

// newClient adds user with perms and connects as them with an identity file.
func newClient(t *testing.T, srv *teleporttest.Server, user string, perms teleporttest.Perms) *Client {
	t.Helper()
	srv.AddUser(user, perms)
	path := filepath.Join(t.TempDir(), user+".identity")
	if err := srv.WriteIdentityFile(path, user, time.Hour); err != nil {
		t.Fatalf("WriteIdentityFile: %v", err)
	}
	return connect(t, testConfig(srv, path))
}

func connect(t *testing.T, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := Dial(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// watching runs c.Watch until the test ends.
func watching(t *testing.T, c *Client) <-chan domain.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan domain.Event, 64)
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("Watch returned %v, want context.Canceled", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Watch did not return within %v of its context's end", waitFor)
		}
	})
	return out
}

func next(t *testing.T, ch <-chan domain.Event) domain.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event")
	}
	return domain.Event{}
}

func nextKind(t *testing.T, ch <-chan domain.Event, want domain.EventKind) domain.Event {
	t.Helper()
	ev := next(t, ch)
	if ev.Kind != want {
		t.Fatalf("event kind = %v (%+v), want %v", ev.Kind, ev, want)
	}
	return ev
}

func pendingIDs(ev domain.Event) map[string]bool {
	ids := map[string]bool{}
	for _, r := range ev.Pending.Requests() {
		ids[r.ID] = true
	}
	return ids
}

func mustCreate(t *testing.T, srv *teleporttest.Server, user string, roles []string, opts ...teleporttest.ReqOpt) string {
	t.Helper()
	id, err := srv.CreateRequest(user, roles, opts...)
	if err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return id
}
