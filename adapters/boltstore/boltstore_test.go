package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/adapters/boltstore"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness adds the suite's capabilities to a Store: a settable clock,
// reopening from the same file and the configured retention.
type harness struct {
	*boltstore.Store
	*storetest.Clock
	cfg boltstore.Config
	log *zap.Logger
}

func (h *harness) Retention() time.Duration { return h.cfg.Retention }

func (h *harness) Reopen(t *testing.T) storetest.Store {
	t.Helper()
	if err := h.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	s, err := boltstore.Open(h.cfg, h.log)
	if err != nil {
		t.Fatalf("Open() after Close = %v", err)
	}
	h.Store = s
	return h
}

func openHarness(t *testing.T) *harness {
	t.Helper()
	clk := storetest.NewClock()
	h := &harness{
		Clock: clk,
		cfg: boltstore.Config{
			Path:          filepath.Join(t.TempDir(), "state.db"),
			Retention:     24 * time.Hour,
			PruneInterval: -1, // the suite prunes by hand
			Now:           clk.Now,
		},
		log: zaptest.NewLogger(t),
	}
	s, err := boltstore.Open(h.cfg, h.log)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	h.Store = s
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return h
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openHarness(t) })
}

func mustOpen(t *testing.T, cfg boltstore.Config) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Open(%s) = %v", cfg.Path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "pagergate")
	path := filepath.Join(dir, "state.db")
	s := mustOpen(t, boltstore.Config{Path: path})
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(dir): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	mustOpen(t, boltstore.Config{Path: path})
	start := time.Now()
	_, err := boltstore.Open(boltstore.Config{Path: path, OpenTimeout: 100 * time.Millisecond}, zaptest.NewLogger(t))
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second Open() = %v, want ErrLocked", err)
	}
	for _, want := range []string{path, "is another pagergate running with this store?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second Open() error %q does not say %q", err, want)
		}
	}
	// bbolt retries the lock every 50ms and gives up within one retry of
	// the timeout.
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("second Open() gave up after %v, want it to wait about OpenTimeout (100ms)", waited)
	}
}

func TestOpenCorruptFile(t *testing.T) {
	for name, data := range map[string][]byte{
		"text":  []byte("this is not a database\n"),
		"zeros": make([]byte, 64<<10),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := boltstore.Open(boltstore.Config{Path: path}, zaptest.NewLogger(t))
			if !errors.Is(err, boltstore.ErrCorrupt) {
				t.Fatalf("Open(corrupt file) = %v, want ErrCorrupt", err)
			}
			for _, want := range []string{path, "move it aside", "Teleport plugin data"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open(corrupt file) error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestOpenForeignBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("someone-else"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = boltstore.Open(boltstore.Config{Path: path}, zaptest.NewLogger(t))
	if !errors.Is(err, boltstore.ErrCorrupt) || !strings.Contains(err.Error(), "not a pagergate store") {
		t.Fatalf("Open(another program's bbolt file) = %v, want ErrCorrupt saying it is not a pagergate store", err)
	}
}

func setSchema(t *testing.T, path, version string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte(version))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, boltstore.Config{Path: path})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	setSchema(t, path, fmt.Sprint(boltstore.SchemaVersion+1))
	_, err := boltstore.Open(boltstore.Config{Path: path}, zaptest.NewLogger(t))
	if !errors.Is(err, boltstore.ErrNewerSchema) {
		t.Fatalf("Open(newer schema) = %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{path, "upgrade pagergate", "move the file aside"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(newer schema) error %q does not say %q", err, want)
		}
	}
	// The refused file is left as it was.
	setSchema(t, path, fmt.Sprint(boltstore.SchemaVersion))
	mustOpen(t, boltstore.Config{Path: path})
}

func TestOpenBadSchemaValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, boltstore.Config{Path: path})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	setSchema(t, path, "banana")
	if _, err := boltstore.Open(boltstore.Config{Path: path}, zaptest.NewLogger(t)); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("Open(bad schema value) = %v, want ErrCorrupt", err)
	}
}

func TestOpenNoPath(t *testing.T) {
	if _, err := boltstore.Open(boltstore.Config{}, zaptest.NewLogger(t)); err == nil {
		t.Fatal("Open(no path) = nil error, want an error")
	}
}

// Without a logger the store logs nowhere; it opens and works.
func TestOpenWithoutLogger(t *testing.T) {
	s, err := boltstore.Open(boltstore.Config{Path: filepath.Join(t.TempDir(), "state.db")}, nil)
	if err != nil {
		t.Fatalf("Open(nil logger) = %v", err)
	}
	if err := s.PutMeta(context.Background(), "k", "v"); err != nil {
		t.Errorf("PutMeta() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

func TestReopenAfterCloseKeepsData(t *testing.T) {
	cfg := boltstore.Config{Path: filepath.Join(t.TempDir(), "state.db")}
	ctx := context.Background()
	s := mustOpen(t, cfg)
	rec := domain.Record{RequestID: "req-1", User: "alice@example.com", Roles: []string{"admin"},
		Incidents: []domain.IncidentRef{{Service: "Ops", ServiceID: "PS1", IncidentID: "PI1"}}}
	if err := s.PutRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta(ctx, "replica_id", "r-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	if err := s.PutRecord(ctx, rec); err == nil {
		t.Fatal("PutRecord after Close = nil, want an error")
	}

	s = mustOpen(t, cfg)
	got, ok, err := s.GetRecord(ctx, "req-1")
	if err != nil || !ok || got.User != rec.User || len(got.Incidents) != 1 || got.Incidents[0] != rec.Incidents[0] {
		t.Fatalf("GetRecord after reopen = %+v, %v, %v; want %+v", got, ok, err, rec)
	}
	if v, ok, err := s.GetMeta(ctx, "replica_id"); err != nil || !ok || v != "r-1" {
		t.Fatalf("GetMeta after reopen = %q, %v, %v; want r-1", v, ok, err)
	}
}

func TestBackgroundPruning(t *testing.T) {
	clk := storetest.NewClock()
	s := mustOpen(t, boltstore.Config{
		Path:          filepath.Join(t.TempDir(), "state.db"),
		Retention:     time.Hour,
		PruneInterval: 5 * time.Millisecond,
		Now:           clk.Now,
	})
	ctx := context.Background()
	if err := s.PutRecord(ctx, domain.Record{RequestID: "done", Resolution: domain.StateDenied}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remember(ctx, "delivery", time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := s.GetRecord(ctx, "done")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background pruner did not remove an old resolved record within 10s")
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// goleak in TestMain checks that Close stopped the pruner.
}

func TestCorruptRecordValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, boltstore.Config{Path: path})
	ctx := context.Background()
	if err := s.PutRecord(ctx, domain.Record{RequestID: "good"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, domain.Record{RequestID: "bad"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("records")).Put([]byte("bad"), []byte(`{"v":99}`))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, boltstore.Config{Path: path})
	if _, _, err := s.GetRecord(ctx, "bad"); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("GetRecord(unreadable record) = %v, want ErrCorrupt", err)
	}
	recs, err := s.OpenRecords(ctx)
	if !errors.Is(err, boltstore.ErrCorrupt) || len(recs) != 1 || recs[0].RequestID != "good" {
		t.Fatalf("OpenRecords() = %v, %v; want [good] and ErrCorrupt", recs, err)
	}
	// Writing the record again repairs it.
	if err := s.PutRecord(ctx, domain.Record{RequestID: "bad"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.GetRecord(ctx, "bad"); err != nil || !ok {
		t.Fatalf("GetRecord after rewrite = %v, %v; want found", ok, err)
	}
}

// A replay key and a cache entry end exactly at their expiry: a key seen
// again then is new, the cache entry is gone; a nanosecond before, both
// hold.
func TestTTLEndsAtTheExpiry(t *testing.T) {
	clk := storetest.NewClock()
	s := mustOpen(t, boltstore.Config{Path: filepath.Join(t.TempDir(), "state.db"), PruneInterval: -1, Now: clk.Now})
	ctx := context.Background()
	if fresh, err := s.Remember(ctx, "delivery", time.Minute); err != nil || !fresh {
		t.Fatalf("Remember() = %v, %v; want new", fresh, err)
	}
	if err := s.PutCache(ctx, "entry", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute - time.Nanosecond)
	if fresh, err := s.Remember(ctx, "delivery", time.Minute); err != nil || fresh {
		t.Errorf("Remember() just before the expiry = %v, %v; want a replay", fresh, err)
	}
	if _, ok, err := s.GetCache(ctx, "entry"); err != nil || !ok {
		t.Errorf("GetCache() just before the expiry = %v, %v; want the entry", ok, err)
	}
	clk.Advance(time.Nanosecond)
	if _, ok, err := s.GetCache(ctx, "entry"); err != nil || ok {
		t.Errorf("GetCache() at the expiry = %v, %v; want gone", ok, err)
	}
	if fresh, err := s.Remember(ctx, "delivery", time.Minute); err != nil || !fresh {
		t.Errorf("Remember() at the expiry = %v, %v; want new", fresh, err)
	}
}

// A resolved record is pruned once it is exactly the retention old, not a
// nanosecond before.
func TestPruneAtTheRetention(t *testing.T) {
	clk := storetest.NewClock()
	s := mustOpen(t, boltstore.Config{Path: filepath.Join(t.TempDir(), "state.db"), Retention: time.Hour, PruneInterval: -1, Now: clk.Now})
	ctx := context.Background()
	if err := s.PutRecord(ctx, domain.Record{RequestID: "done", Resolution: domain.StateDenied}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - time.Nanosecond)
	if records, _, err := s.Prune(ctx); err != nil || records != 0 {
		t.Errorf("Prune() just before the retention = %d records, %v; want 0", records, err)
	}
	clk.Advance(time.Nanosecond)
	if records, _, err := s.Prune(ctx); err != nil || records != 1 {
		t.Errorf("Prune() at the retention = %d records, %v; want 1", records, err)
	}
}
