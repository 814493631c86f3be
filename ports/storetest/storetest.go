package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Store is what the suite tests: the three local store ports.
type Store interface {
	ports.Records
	ports.DedupStore
	ports.Cache
}

// Clocked is a store under test whose clock the suite can move forward.
// Without it, the cases about expiry and pruning are skipped.
type Clocked interface {
	// Advance moves the store's clock forward by d.
	Advance(d time.Duration)
}

// Reopener is a store that can be closed and opened again from the same
// place (a file). Reopen closes the store and returns the reopened one,
// which must keep the same clock.
type Reopener interface {
	Reopen(t *testing.T) Store
}

// Pruner is a store that prunes resolved records and expired keys.
type Pruner interface {
	// Prune removes resolved records older than Retention and expired
	// replay keys and cache entries, and says how many records and keys
	// (replay keys plus cache entries) it removed.
	Prune(ctx context.Context) (records, keys int, err error)
	// Retention is how long the store keeps resolved records.
	Retention() time.Duration
}

// Clock is a settable clock for stores under test: pass its Now to the
// store and embed it in the test's store wrapper to provide Clocked.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run runs the contract suite. open returns a new, empty store for each
// case; it registers its own cleanup (closing the store) with t.
func Run(t *testing.T, open func(t *testing.T) Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Store)
	}{
		{"RecordRoundTrip", testRecordRoundTrip},
		{"RecordCopies", testRecordCopies},
		{"RecordOverwrite", testRecordOverwrite},
		{"RecordWithoutID", testRecordWithoutID},
		{"OpenRecords", testOpenRecords},
		{"Meta", testMeta},
		{"RememberTwice", testRememberTwice},
		{"RememberExpiry", testRememberExpiry},
		{"Forget", testForget},
		{"RememberConcurrentSameKey", testRememberConcurrentSameKey},
		{"RememberConcurrentDistinctKeys", testRememberConcurrentDistinctKeys},
		{"PutRecordConcurrent", testPutRecordConcurrent},
		{"Cache", testCache},
		{"CacheExpiry", testCacheExpiry},
		{"Prune", testPrune},
		{"Reopen", testReopen},
		{"CanceledContext", testCanceledContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// fullRecord returns a record with every field set, with characters that
// tend to break encodings.
func fullRecord(id string) domain.Record {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	return domain.Record{
		RequestID: id,
		User:      "alice+ops@example.com",
		Roles:     []string{"db-admin", "rôle|with;odd%chars", ""},
		Created:   time.Date(2025, time.January, 2, 3, 4, 5, 123456789, zone),
		RequestReason: "need access \"now\"\nline two\ttab \\ back\x00nul " +
			"ünïcödé 日本語 🚀 <b>&amp;</b>",
		Incidents: []domain.IncidentRef{
			{Service: "Teleport Access | Requests; prod %7C", ServiceID: "PSVC1", IncidentID: "Q1AB2CD3"},
			{Service: "Ops Ünïcode", ServiceID: "PSVC2", IncidentID: "Q9;|%"},
		},
		ReviewsNoted:  3,
		ApprovalDone:  true,
		Resolution:    domain.StateApproved,
		ResolveReason: "approved by bob: \"looks fine\"",
		Intent: domain.Intent{
			Effect: domain.Effect{Kind: domain.EffectOpenIncident, Service: "Teleport Access | Requests; prod %7C"},
			Owner:  "replica-7f3a",
			At:     time.Date(2025, time.January, 2, 3, 5, 0, 1, time.UTC),
		},
		Updated: time.Date(2025, time.January, 2, 3, 6, 7, 999999999, time.Local),
	}
}

func openRecord(id string) domain.Record {
	return domain.Record{
		RequestID: id,
		User:      "carol@example.com",
		Roles:     []string{"editor"},
		Created:   time.Date(2025, time.February, 1, 0, 0, 0, 0, time.UTC),
		Incidents: []domain.IncidentRef{{Service: "svc", ServiceID: "PS", IncidentID: "PI-" + id}},
	}
}

// normalize makes records comparable with reflect.DeepEqual: times as UTC
// instants without monotonic reading, empty slices as nil.
func normalize(r domain.Record) domain.Record {
	tm := func(t time.Time) time.Time { return t.Round(0).UTC() }
	r.Created = tm(r.Created)
	r.Updated = tm(r.Updated)
	r.Intent.At = tm(r.Intent.At)
	if len(r.Roles) == 0 {
		r.Roles = nil
	}
	if len(r.Incidents) == 0 {
		r.Incidents = nil
	}
	return r
}

func sameRecord(got, want domain.Record) bool {
	return reflect.DeepEqual(normalize(got), normalize(want))
}

func mustPut(t *testing.T, s Store, r domain.Record) {
	t.Helper()
	if err := s.PutRecord(context.Background(), r); err != nil {
		t.Fatalf("PutRecord(%q) = %v, want nil", r.RequestID, err)
	}
}

func mustGet(t *testing.T, s Store, id string) domain.Record {
	t.Helper()
	r, ok, err := s.GetRecord(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("GetRecord(%q) = _, %v, %v; want found", id, ok, err)
	}
	return r
}

func remember(t *testing.T, s Store, key string, ttl time.Duration) bool {
	t.Helper()
	fresh, err := s.Remember(context.Background(), key, ttl)
	if err != nil {
		t.Fatalf("Remember(%q) = %v", key, err)
	}
	return fresh
}

func openIDs(t *testing.T, s Store) []string {
	t.Helper()
	recs, err := s.OpenRecords(context.Background())
	if err != nil {
		t.Fatalf("OpenRecords() = %v", err)
	}
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.RequestID)
	}
	slices.Sort(ids)
	return ids
}

func testRecordRoundTrip(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	if r, ok, err := s.GetRecord(ctx, "missing"); err != nil || ok || !reflect.DeepEqual(r, domain.Record{}) {
		t.Fatalf("GetRecord(missing) = %+v, %v, %v; want zero, false, nil", r, ok, err)
	}
	for _, want := range []domain.Record{
		fullRecord("0b6f5e7e-3a51-4f0e-9a0e-1f6c2a8b9d01"),
		openRecord("id with spaces/and|odd;chars%ü"),
		{RequestID: "bare"},
	} {
		mustPut(t, s, want)
		got := mustGet(t, s, want.RequestID)
		if !sameRecord(got, want) {
			t.Errorf("GetRecord(%q) = %+v\nwant %+v", want.RequestID, normalize(got), normalize(want))
		}
		for _, tm := range []time.Time{got.Created, got.Updated, got.Intent.At} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Errorf("GetRecord(%q) time %v in %v, want UTC", want.RequestID, tm, tm.Location())
			}
		}
	}
	// Every resolution state survives.
	for st := domain.StateUnknown; st <= domain.StateExpired; st++ {
		r := openRecord(fmt.Sprintf("state-%d", st))
		r.Resolution = st
		mustPut(t, s, r)
		if got := mustGet(t, s, r.RequestID); got.Resolution != st {
			t.Errorf("GetRecord(%q).Resolution = %v, want %v", r.RequestID, got.Resolution, st)
		}
	}
}

func testRecordCopies(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	rec := fullRecord("r1")
	want := fullRecord("r1")
	mustPut(t, s, rec)
	rec.Roles[0] = "changed"
	rec.Incidents[0].IncidentID = "changed"
	got := mustGet(t, s, "r1")
	if !sameRecord(got, want) {
		t.Fatalf("after changing the caller's slices, GetRecord = %+v, want %+v", got, want)
	}
	got.Roles[0] = "changed"
	got.Incidents[0].IncidentID = "changed"
	if again := mustGet(t, s, "r1"); !sameRecord(again, want) {
		t.Fatalf("after changing a returned record, GetRecord = %+v, want %+v", again, want)
	}
}

func testRecordOverwrite(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	mustPut(t, s, fullRecord("r1"))
	second := domain.Record{RequestID: "r1", User: "dave@example.com", ReviewsNoted: 1}
	mustPut(t, s, second)
	if got := mustGet(t, s, "r1"); !sameRecord(got, second) {
		t.Fatalf("GetRecord after overwrite = %+v, want %+v (no field of the first kept)", got, second)
	}
}

func testRecordWithoutID(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	if err := s.PutRecord(context.Background(), domain.Record{User: "x"}); err == nil {
		t.Fatal("PutRecord(record without request id) = nil, want an error")
	}
}

func testOpenRecords(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	if ids := openIDs(t, s); len(ids) != 0 {
		t.Fatalf("OpenRecords() on an empty store = %v, want none", ids)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		mustPut(t, s, openRecord(id))
	}
	resolved := fullRecord("e") // resolved from the start
	mustPut(t, s, resolved)
	// b gets resolved; c is written again, still open.
	b := openRecord("b")
	b.Resolution = domain.StateDenied
	mustPut(t, s, b)
	c := openRecord("c")
	c.ReviewsNoted = 2
	mustPut(t, s, c)
	// e is reopened (not expected in practice, but the index must follow).
	e := openRecord("e")
	mustPut(t, s, e)
	// d is resolved then written resolved again.
	d := openRecord("d")
	d.Resolution = domain.StateExpired
	mustPut(t, s, d)
	mustPut(t, s, d)

	recs, err := s.OpenRecords(context.Background())
	if err != nil {
		t.Fatalf("OpenRecords() = %v", err)
	}
	want := map[string]domain.Record{"a": openRecord("a"), "c": c, "e": e}
	if len(recs) != len(want) {
		t.Fatalf("OpenRecords() returned %d records %v, want a, c, e", len(recs), recs)
	}
	for _, r := range recs {
		w, ok := want[r.RequestID]
		if !ok {
			t.Errorf("OpenRecords() returned %q, which is resolved or unknown", r.RequestID)
			continue
		}
		if !sameRecord(r, w) {
			t.Errorf("OpenRecords() record %q = %+v, want %+v", r.RequestID, r, w)
		}
		delete(want, r.RequestID)
	}
	for id := range want {
		t.Errorf("OpenRecords() misses %q", id)
	}
}

func testMeta(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	if v, ok, err := s.GetMeta(ctx, "replica_id"); err != nil || ok || v != "" {
		t.Fatalf("GetMeta(absent) = %q, %v, %v; want \"\", false, nil", v, ok, err)
	}
	for _, kv := range [][2]string{{"replica_id", "r-1"}, {"replica_id", "r-2"}, {"empty", ""}, {"odd key/ü|;", "välue\n"}} {
		if err := s.PutMeta(ctx, kv[0], kv[1]); err != nil {
			t.Fatalf("PutMeta(%q) = %v", kv[0], err)
		}
		if v, ok, err := s.GetMeta(ctx, kv[0]); err != nil || !ok || v != kv[1] {
			t.Fatalf("GetMeta(%q) = %q, %v, %v; want %q, true, nil", kv[0], v, ok, err, kv[1])
		}
	}
	// Meta keys and record IDs do not collide.
	if _, ok, err := s.GetRecord(ctx, "replica_id"); err != nil || ok {
		t.Fatalf("GetRecord(\"replica_id\") = _, %v, %v; want not found", ok, err)
	}
}

func testRememberTwice(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	if !remember(t, s, "delivery-1", time.Hour) {
		t.Fatal("first Remember(delivery-1) = false, want true")
	}
	if remember(t, s, "delivery-1", time.Hour) {
		t.Fatal("second Remember(delivery-1) = true, want false (a replay)")
	}
	if !remember(t, s, "delivery-2", time.Hour) {
		t.Fatal("Remember(delivery-2) = false, want true (another key)")
	}
	if _, err := s.Remember(context.Background(), "delivery-3", 0); err == nil {
		t.Fatal("Remember with ttl 0 = nil error, want an error")
	}
	if _, err := s.Remember(context.Background(), "", time.Hour); err == nil {
		t.Fatal("Remember(empty key) = nil error, want an error")
	}
}

func testRememberExpiry(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	clk, ok := s.(Clocked)
	if !ok {
		t.Skip("store has no settable clock")
	}
	const ttl = 72 * time.Hour
	if !remember(t, s, "k", ttl) {
		t.Fatal("first Remember(k) = false, want true")
	}
	clk.Advance(ttl - time.Second)
	if remember(t, s, "k", ttl) {
		t.Fatal("Remember(k) one second before the ttl = true, want false")
	}
	clk.Advance(2 * time.Second)
	if !remember(t, s, "k", ttl) {
		t.Fatal("Remember(k) after the ttl = false, want true")
	}
	// The new expiry counts from the second Remember.
	clk.Advance(ttl - time.Second)
	if remember(t, s, "k", ttl) {
		t.Fatal("Remember(k) within the renewed ttl = true, want false")
	}
}

func testForget(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	if err := s.Forget(ctx, "never-seen"); err != nil {
		t.Fatalf("Forget(unknown) = %v, want nil", err)
	}
	remember(t, s, "k", time.Hour)
	remember(t, s, "other", time.Hour)
	if err := s.Forget(ctx, "k"); err != nil {
		t.Fatalf("Forget(k) = %v", err)
	}
	if !remember(t, s, "k", time.Hour) {
		t.Fatal("Remember(k) after Forget = false, want true")
	}
	if remember(t, s, "other", time.Hour) {
		t.Fatal("Forget(k) also forgot another key")
	}
}

func testRememberConcurrentSameKey(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	const n = 50
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		fresh = make(chan bool, n)
		errs  = make(chan error, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			ok, err := s.Remember(context.Background(), "burst", time.Hour)
			if err != nil {
				errs <- err
				return
			}
			fresh <- ok
		})
	}
	close(start)
	wg.Wait()
	close(fresh)
	close(errs)
	for err := range errs {
		t.Errorf("Remember(burst) = %v", err)
	}
	trues := 0
	for ok := range fresh {
		if ok {
			trues++
		}
	}
	if trues != 1 {
		t.Fatalf("%d concurrent Remember(burst): %d returned true, want exactly 1", n, trues)
	}
}

func testRememberConcurrentDistinctKeys(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("key-%d", i)
			for round, want := range []bool{true, false} {
				ok, err := s.Remember(context.Background(), key, time.Hour)
				if err != nil || ok != want {
					errs <- fmt.Errorf("Remember(%q) round %d = %v, %v; want %v, nil", key, round, ok, err, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testPutRecordConcurrent(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			r := openRecord(fmt.Sprintf("req-%02d", i))
			if i%2 == 1 {
				r.Resolution = domain.StateApproved
			}
			if err := s.PutRecord(context.Background(), r); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("PutRecord = %v", err)
	}
	for i := range n {
		id := fmt.Sprintf("req-%02d", i)
		if got := mustGet(t, s, id); got.RequestID != id || got.Incidents[0].IncidentID != "PI-"+id {
			t.Errorf("GetRecord(%q) = %+v", id, got)
		}
	}
	if ids := openIDs(t, s); len(ids) != n/2 {
		t.Errorf("OpenRecords() after a concurrent burst = %d records, want %d", len(ids), n/2)
	}
}

func testCache(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	if v, ok, err := s.GetCache(ctx, "user:alice"); err != nil || ok || v != nil {
		t.Fatalf("GetCache(absent) = %q, %v, %v; want nil, false, nil", v, ok, err)
	}
	val := []byte(`{"id":"PU1","email":"alice@example.com"}`)
	if err := s.PutCache(ctx, "user:alice", val, time.Hour); err != nil {
		t.Fatalf("PutCache = %v", err)
	}
	val[0] = 'X' // the store keeps its own copy
	got, ok, err := s.GetCache(ctx, "user:alice")
	if err != nil || !ok || string(got) != `{"id":"PU1","email":"alice@example.com"}` {
		t.Fatalf("GetCache = %q, %v, %v; want the stored value", got, ok, err)
	}
	got[0] = 'Y' // and hands out copies
	if again, _, _ := s.GetCache(ctx, "user:alice"); again[0] != '{' {
		t.Fatalf("changing a returned value changed the cache: %q", again)
	}
	if err := s.PutCache(ctx, "user:alice", []byte("v2"), time.Hour); err != nil {
		t.Fatalf("PutCache overwrite = %v", err)
	}
	if got, ok, err := s.GetCache(ctx, "user:alice"); err != nil || !ok || string(got) != "v2" {
		t.Fatalf("GetCache after overwrite = %q, %v, %v; want v2", got, ok, err)
	}
	if err := s.PutCache(ctx, "empty", nil, time.Hour); err != nil {
		t.Fatalf("PutCache(empty value) = %v", err)
	}
	if got, ok, err := s.GetCache(ctx, "empty"); err != nil || !ok || len(got) != 0 {
		t.Fatalf("GetCache(empty value) = %q, %v, %v; want empty, true, nil", got, ok, err)
	}
	if err := s.PutCache(ctx, "", []byte("x"), time.Hour); err == nil {
		t.Fatal("PutCache(empty key) = nil, want an error")
	}
	if err := s.PutCache(ctx, "k", []byte("x"), -time.Second); err == nil {
		t.Fatal("PutCache(negative ttl) = nil, want an error")
	}
	// Cache keys do not collide with replay keys.
	if !remember(t, s, "user:alice", time.Hour) {
		t.Fatal("Remember(key also used by the cache) = false, want true")
	}
}

func testCacheExpiry(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	clk, ok := s.(Clocked)
	if !ok {
		t.Skip("store has no settable clock")
	}
	ctx := context.Background()
	if err := s.PutCache(ctx, "svc", []byte("PSVC1"), 10*time.Minute); err != nil {
		t.Fatalf("PutCache = %v", err)
	}
	clk.Advance(10*time.Minute - time.Second)
	if _, ok, err := s.GetCache(ctx, "svc"); err != nil || !ok {
		t.Fatalf("GetCache before the ttl = %v, %v; want found", ok, err)
	}
	clk.Advance(2 * time.Second)
	if v, ok, err := s.GetCache(ctx, "svc"); err != nil || ok || v != nil {
		t.Fatalf("GetCache after the ttl = %q, %v, %v; want nil, false, nil", v, ok, err)
	}
	// Writing again makes it fresh.
	if err := s.PutCache(ctx, "svc", []byte("PSVC2"), time.Minute); err != nil {
		t.Fatalf("PutCache = %v", err)
	}
	if v, ok, err := s.GetCache(ctx, "svc"); err != nil || !ok || string(v) != "PSVC2" {
		t.Fatalf("GetCache after rewrite = %q, %v, %v; want PSVC2", v, ok, err)
	}
}

func testPrune(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	p, ok := s.(Pruner)
	clk, ok2 := s.(Clocked)
	if !ok || !ok2 {
		t.Skip("store does not prune or has no settable clock")
	}
	ctx := context.Background()
	keep := p.Retention()
	seedPrune(t, s, clk, keep)

	expectPrune(t, p, "at retention/2 (keys short, cache-short)", 0, 2)
	if !remember(t, s, "short", time.Hour) {
		t.Fatal("Remember(short) after pruning = false, want true")
	}
	if remember(t, s, "long", time.Hour) {
		t.Fatal("Prune removed a replay key that has not expired")
	}

	clk.Advance(keep/2 + time.Second)
	expectPrune(t, p, "after retention (record resolved-early, key short)", 1, 1)
	if _, ok, err := s.GetRecord(ctx, "resolved-early"); err != nil || ok {
		t.Fatalf("GetRecord(resolved-early) after pruning = %v, %v; want gone", ok, err)
	}
	mustGet(t, s, "resolved-late")
	mustGet(t, s, "still-open")

	clk.Advance(10 * keep)
	expectPrune(t, p, "much later (record resolved-late, key long)", 1, 1)
	mustGet(t, s, "still-open") // open records are never pruned
	if ids := openIDs(t, s); !slices.Equal(ids, []string{"still-open"}) {
		t.Fatalf("OpenRecords() after pruning = %v, want [still-open]", ids)
	}
	expectPrune(t, p, "again", 0, 0)
}

// expectPrune prunes and requires the counts of records and keys removed.
func expectPrune(t *testing.T, p Pruner, when string, recs, keys int) {
	t.Helper()
	r, k, err := p.Prune(context.Background())
	if err != nil || r != recs || k != keys {
		t.Fatalf("Prune() %s = %d records, %d keys, %v; want %d, %d", when, r, k, err, recs, keys)
	}
}

// seedPrune writes what testPrune expects to be pruned or kept: a record
// resolved at the start and one at retention/2 (the clock ends there),
// an open record, replay keys for an hour and for twice the retention,
// and a cache entry for an hour.
func seedPrune(t *testing.T, s Store, clk Clocked, keep time.Duration) {
	t.Helper()
	old := openRecord("resolved-early")
	old.Resolution = domain.StateApproved
	mustPut(t, s, old)
	mustPut(t, s, openRecord("still-open"))
	remember(t, s, "short", time.Hour)
	remember(t, s, "long", 2*keep)
	if err := s.PutCache(context.Background(), "cache-short", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}

	clk.Advance(keep / 2)
	late := openRecord("resolved-late")
	late.Resolution = domain.StateDenied
	mustPut(t, s, late)
	// Writing a resolved record again keeps its first resolution time.
	mustPut(t, s, old)
}

func testReopen(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	if _, ok := s.(Reopener); !ok {
		t.Skip("store cannot be reopened")
	}
	ctx := context.Background()
	full := fullRecord("persist-1")
	mustPut(t, s, full)
	mustPut(t, s, openRecord("persist-open"))
	if err := s.PutMeta(ctx, "replica_id", "r-42"); err != nil {
		t.Fatal(err)
	}
	remember(t, s, "delivery", time.Hour)
	if err := s.PutCache(ctx, "svc", []byte("PSVC1"), time.Hour); err != nil {
		t.Fatal(err)
	}

	s = s.(Reopener).Reopen(t)

	if got := mustGet(t, s, "persist-1"); !sameRecord(got, full) {
		t.Errorf("GetRecord after reopen = %+v, want %+v", got, full)
	}
	if ids := openIDs(t, s); !slices.Equal(ids, []string{"persist-open"}) {
		t.Errorf("OpenRecords() after reopen = %v, want [persist-open]", ids)
	}
	if v, ok, err := s.GetMeta(ctx, "replica_id"); err != nil || !ok || v != "r-42" {
		t.Errorf("GetMeta after reopen = %q, %v, %v; want r-42", v, ok, err)
	}
	if remember(t, s, "delivery", time.Hour) {
		t.Error("Remember(delivery) after reopen = true, want false (replay kept)")
	}
	if v, ok, err := s.GetCache(ctx, "svc"); err != nil || !ok || string(v) != "PSVC1" {
		t.Errorf("GetCache after reopen = %q, %v, %v; want PSVC1", v, ok, err)
	}
}

func testCanceledContext(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutRecord(ctx, openRecord("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("PutRecord(canceled ctx) = %v, want context.Canceled", err)
	}
	if _, err := s.Remember(ctx, "k", time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Remember(canceled ctx) = %v, want context.Canceled", err)
	}
	if _, _, err := s.GetRecord(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetRecord(canceled ctx) = %v, want context.Canceled", err)
	}
	// Nothing was written.
	if _, ok, err := s.GetRecord(context.Background(), "x"); err != nil || ok {
		t.Errorf("GetRecord(x) = %v, %v; want not found after a canceled PutRecord", ok, err)
	}
	if !remember(t, s, "k", time.Hour) {
		t.Error("Remember(k) = false after a canceled Remember, want true")
	}
}
