package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// DefaultRetention is how long resolved records are kept before Prune
// removes them, unless WithRetention says otherwise.
const DefaultRetention = 7 * 24 * time.Hour

// Option changes how New builds a Store.
type Option func(*Store)

// WithNow sets the clock the store reads (tests inject a fake one).
func WithNow(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithRetention sets how long resolved records are kept (default
// DefaultRetention); zero or less keeps the default.
func WithRetention(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.retention = d
		}
	}
}

// Store keeps records, replay keys and cache entries in memory. It is safe
// for concurrent use. Expired keys and entries are ignored on read and
// dropped by Prune or when written again.
type Store struct {
	now       func() time.Time
	retention time.Duration

	mu      sync.Mutex
	records map[string]entry
	meta    map[string]string
	keys    map[string]time.Time // replay key -> expiry
	cache   map[string]cached
}

var (
	_ ports.Records    = (*Store)(nil)
	_ ports.DedupStore = (*Store)(nil)
	_ ports.Cache      = (*Store)(nil)
)

type entry struct {
	rec        domain.Record
	resolvedAt time.Time // when the store first saw the record resolved
}

type cached struct {
	value   []byte
	expires time.Time
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		now:       time.Now,
		retention: DefaultRetention,
		records:   map[string]entry{},
		meta:      map[string]string{},
		keys:      map[string]time.Time{},
		cache:     map[string]cached{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

var errNoID = errors.New("put record: no request id")

// GetRecord returns the record of a request; false when there is none.
func (s *Store) GetRecord(ctx context.Context, id string) (domain.Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.Record{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.records[id]
	if !ok {
		return domain.Record{}, false, nil
	}
	return cloneRecord(e.rec), true, nil
}

// PutRecord stores the record, replacing any previous one for the request.
func (s *Store) PutRecord(ctx context.Context, rec domain.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.RequestID == "" {
		return errNoID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := entry{rec: cloneRecord(rec)}
	if rec.Done() {
		e.resolvedAt = s.now()
		if old, ok := s.records[rec.RequestID]; ok && old.rec.Done() {
			e.resolvedAt = old.resolvedAt
		}
	}
	s.records[rec.RequestID] = e
	return nil
}

// OpenRecords returns the records not resolved yet, ordered by request ID.
func (s *Store) OpenRecords(ctx context.Context) ([]domain.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Record
	for _, e := range s.records {
		if !e.rec.Done() {
			out = append(out, cloneRecord(e.rec))
		}
	}
	slices.SortFunc(out, func(a, b domain.Record) int { return strings.Compare(a.RequestID, b.RequestID) })
	return out, nil
}

// GetMeta returns a meta value; "" and false when absent.
func (s *Store) GetMeta(ctx context.Context, key string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.meta[key]
	return v, ok, nil
}

// PutMeta sets a meta value.
func (s *Store) PutMeta(ctx context.Context, key, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta[key] = value
	return nil
}

// Remember stores key until now+ttl and reports whether it was new: false
// means the key is already there and not expired (a replay).
func (s *Store) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKey(key, ttl); err != nil {
		return false, fmt.Errorf("remember: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if exp, ok := s.keys[key]; ok && now.Before(exp) {
		return false, nil
	}
	s.keys[key] = now.Add(ttl)
	return true, nil
}

// Forget removes a replay key; a missing key is not an error.
func (s *Store) Forget(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
	return nil
}

// GetCache returns a copy of a cached value; false when absent or expired.
func (s *Store) GetCache(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[key]
	if !ok || !s.now().Before(c.expires) {
		return nil, false, nil
	}
	return slices.Clone(c.value), true, nil
}

// PutCache stores a copy of value until now+ttl.
func (s *Store) PutCache(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key, ttl); err != nil {
		return fmt.Errorf("put cache: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := make([]byte, len(value))
	copy(v, value)
	s.cache[key] = cached{value: v, expires: s.now().Add(ttl)}
	return nil
}

// Prune removes resolved records older than the retention and expired
// replay keys and cache entries. It returns how many records and how many
// keys (replay keys plus cache entries) it removed.
func (s *Store) Prune(ctx context.Context) (records, keys int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, e := range s.records {
		if e.rec.Done() && !now.Before(e.resolvedAt.Add(s.retention)) {
			delete(s.records, id)
			records++
		}
	}
	for k, exp := range s.keys {
		if !now.Before(exp) {
			delete(s.keys, k)
			keys++
		}
	}
	for k, c := range s.cache {
		if !now.Before(c.expires) {
			delete(s.cache, k)
			keys++
		}
	}
	return records, keys, nil
}

func checkKey(key string, ttl time.Duration) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case ttl <= 0:
		return fmt.Errorf("ttl %s is not positive", ttl)
	}
	return nil
}

// cloneRecord copies the slices of a record so that neither the caller nor
// the store sees the other's later changes, and gives its times in UTC, as
// the file store does.
func cloneRecord(r domain.Record) domain.Record {
	r.Roles = slices.Clone(r.Roles)
	r.Incidents = slices.Clone(r.Incidents)
	r.Created = utc(r.Created)
	r.Updated = utc(r.Updated)
	r.Intent.At = utc(r.Intent.At)
	return r
}

func utc(t time.Time) time.Time { return t.Round(0).UTC() }
