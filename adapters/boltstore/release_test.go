//go:build linux

package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/boltstore"
	"github.com/pagergate/pagergate/domain"
)

func someRecord(i int) domain.Record {
	return domain.Record{RequestID: fmt.Sprintf("req-%05d", i), User: "alice@example.com", Roles: []string{"admin", strings.Repeat("r", 200)},
		Incidents: []domain.IncidentRef{{Service: "Ops", ServiceID: "PS1", IncidentID: fmt.Sprintf("PI%d", i)}}}
}

// putMany writes records 0..n-1 from 16 goroutines (bbolt batches them).
func putMany(t *testing.T, s *boltstore.Store, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if err := s.PutRecord(context.Background(), someRecord(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func sortedOpen(t *testing.T, s *boltstore.Store) []domain.Record {
	t.Helper()
	recs, err := s.OpenRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].RequestID < recs[j].RequestID })
	return recs
}

// mappedKB is the resident size of this process's mappings of path, from
// /proc/self/smaps.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// A mapping's first line; an anonymous one has no path.
			in = len(fields) >= 6 && fields[len(fields)-1] == path
		case in && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// The store's pages leave the process and read back unchanged.
func TestReleasePagesDropsTheMapAndKeepsTheData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, boltstore.Config{Path: path})
	putMany(t, s, 2000)
	before := sortedOpen(t, s) // reads every page through the map
	if kb := mappedKB(t, path); kb < 100 {
		t.Fatalf("%d kB of the map resident after reading 2,000 records; the test needs them resident", kb)
	}
	if err := s.ReleasePages(); err != nil {
		t.Fatalf("ReleasePages() = %v", err)
	}
	if kb := mappedKB(t, path); kb != 0 {
		t.Fatalf("%d kB of the map still resident after ReleasePages, want 0", kb)
	}
	if after := sortedOpen(t, s); !reflect.DeepEqual(before, after) {
		t.Fatalf("records changed by the drop: %d before, %d after", len(before), len(after))
	}
	ctx := context.Background()
	if err := s.PutRecord(ctx, someRecord(5000)); err != nil {
		t.Fatalf("write after the drop: %v", err)
	}
	if got, ok, err := s.GetRecord(ctx, someRecord(5000).RequestID); err != nil || !ok || !reflect.DeepEqual(got, someRecord(5000)) {
		t.Fatalf("read after the drop = %+v, %v, %v", got, ok, err)
	}
}

// Drops race with writes that grow the file and so replace bbolt's map:
// the read transaction keeps the map from being replaced under a drop.
func TestReleasePagesWhileTheMapGrows(t *testing.T) {
	s := mustOpen(t, boltstore.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	const n = 6000
	var wg sync.WaitGroup
	done := make(chan struct{})
	drops := 0
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.ReleasePages(); err != nil {
				t.Errorf("ReleasePages: %v", err)
				return
			}
			drops++
		}
	})
	putMany(t, s, n)
	close(done)
	wg.Wait()
	recs := sortedOpen(t, s)
	if len(recs) != n {
		t.Fatalf("%d records after %d drops, want %d", len(recs), drops, n)
	}
	for i, r := range recs {
		if want := someRecord(i); !reflect.DeepEqual(r, want) {
			t.Fatalf("record %d = %+v, want %+v", i, r, want)
		}
	}
	t.Logf("%d drops while writing %d records", drops, n)
}

// A write that grows the file (and so replaces bbolt's map) waits while a
// drop is between reading the map's range and dropping it: the range
// stays the map's.
func TestReleasePagesHoldsTheMapAgainstAGrowingWrite(t *testing.T) {
	s := mustOpen(t, boltstore.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	big := someRecord(1)
	big.Roles = []string{strings.Repeat("x", 8<<20)} // far past the first map's size
	wrote := make(chan error, 1)
	var during bool
	restore := boltstore.SetBeforeDrop(func() {
		go func() { wrote <- s.PutRecord(context.Background(), big) }()
		select {
		case err := <-wrote:
			during = true
			wrote <- err
		case <-time.After(300 * time.Millisecond):
		}
	})
	defer restore()
	if err := s.ReleasePages(); err != nil {
		t.Fatalf("ReleasePages() = %v", err)
	}
	if during {
		t.Fatal("a write that grows the map finished while a drop held the map's range")
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the growing write, after the drop: %v", err)
	}
	if got, ok, err := s.GetRecord(context.Background(), big.RequestID); err != nil || !ok || len(got.Roles) != 1 || len(got.Roles[0]) != 8<<20 {
		t.Fatalf("the big record reads back as %d roles, %v, %v", len(got.Roles), ok, err)
	}
}
