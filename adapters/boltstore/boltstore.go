package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultPruneInterval = 10 * time.Minute
	DefaultOpenTimeout   = time.Second
	DefaultBatchDelay    = 2 * time.Millisecond
)

// SchemaVersion is the layout version this package writes and reads.
const SchemaVersion = 1

// Errors Open returns (wrapped, with the file name and what to do).
var (
	// ErrLocked: another process holds the file.
	ErrLocked = errors.New("store file is locked")
	// ErrCorrupt: the file is not a pagergate bbolt store, or a value in it
	// cannot be read.
	ErrCorrupt = errors.New("store file is corrupt")
	// ErrNewerSchema: the file was written by a newer pagergate.
	ErrNewerSchema = errors.New("store file was written by a newer pagergate")
)

// Config configures a Store.
type Config struct {
	// Path is the bbolt file; its parent directories are created (0700) and
	// the file too (0600).
	Path string
	// Retention is how long resolved records are kept, counted from when
	// the store first saw them resolved (default 7 days).
	Retention time.Duration
	// PruneInterval is how often the background pruner runs (default 10
	// minutes); a negative value turns it off (Prune can still be called).
	PruneInterval time.Duration
	// OpenTimeout is how long Open waits for the file lock (default 1s).
	OpenTimeout time.Duration
	// BatchDelay is how long a write waits for others to share its
	// transaction and fsync (default 2ms).
	BatchDelay time.Duration
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = DefaultPruneInterval
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = DefaultOpenTimeout
	}
	if c.BatchDelay <= 0 {
		c.BatchDelay = DefaultBatchDelay
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Bucket names. records: request ID -> encoded record. open: IDs of
// unresolved records. resolved: resolution time (8 bytes) + ID, for
// pruning. replay and cache: key -> expiry (8 bytes) [+ value]; their _exp
// buckets index them by expiry + key. meta: schema version and the
// process's own values.
var (
	bucketRecords   = []byte("records")
	bucketOpen      = []byte("open")
	bucketResolved  = []byte("resolved")
	bucketReplay    = []byte("replay")
	bucketReplayExp = []byte("replay_exp")
	bucketCache     = []byte("cache")
	bucketCacheExp  = []byte("cache_exp")
	bucketMeta      = []byte("meta")

	allBuckets = [][]byte{bucketRecords, bucketOpen, bucketResolved, bucketReplay, bucketReplayExp, bucketCache, bucketCacheExp, bucketMeta}

	metaSchemaKey  = []byte("schema_version")
	metaUserPrefix = "user/"
)

// Store is the bbolt store. It is safe for concurrent use.
type Store struct {
	db  *bolt.DB
	cfg Config
	log *zap.Logger

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var (
	_ ports.Records      = (*Store)(nil)
	_ ports.DedupStore   = (*Store)(nil)
	_ ports.Cache        = (*Store)(nil)
	_ ports.PageReleaser = (*Store)(nil)
)

// Open opens or creates the store file, checks its schema and starts the
// background pruner.
func Open(cfg Config, log *zap.Logger) (*Store, error) {
	cfg.setDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("boltstore")
	if cfg.Path == "" {
		return nil, errors.New("open store: no path")
	}
	path := cfg.Path
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := openDB(path, cfg.OpenTimeout)
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("open store %s: %w (waited %s): is another pagergate running with this store?", path, ErrLocked, cfg.OpenTimeout)
	case errors.Is(err, ErrCorrupt):
		return nil, corrupt(path, err)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := initSchema(db); err != nil {
		_ = db.Close()
		if errors.Is(err, ErrCorrupt) {
			return nil, corrupt(path, err)
		}
		if errors.Is(err, ErrNewerSchema) {
			return nil, fmt.Errorf("open store %s: %w: upgrade pagergate, or move the file aside to start with an empty store (nothing is lost: the state is kept in Teleport plugin data)", path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.MaxBatchDelay = cfg.BatchDelay
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("store file is readable by others", zap.String("path", path), zap.Stringer("mode", fi.Mode().Perm()))
	}

	s := &Store{db: db, cfg: cfg, log: log}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if cfg.PruneInterval > 0 {
		s.wg.Add(1)
		go s.pruneLoop(ctx)
	}
	log.Info("store opened", zap.String("path", path), zap.Int("schema_version", SchemaVersion), zap.Duration("retention", cfg.Retention))
	return s, nil
}

// openDB opens the bbolt file, turning a file that is not a bbolt database
// (including one that makes bbolt panic) into ErrCorrupt.
func openDB(path string, timeout time.Duration) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return db, err
}

func corrupt(path string, err error) error {
	return fmt.Errorf("open store %s: %w: move it aside (mv %s %s.corrupt) and start again; nothing is lost, the state is kept in Teleport plugin data", path, err, path, path)
}

// initSchema checks the schema version of an existing store, or sets up a
// new one.
func initSchema(db *bolt.DB) error {
	var fresh bool
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error {
				empty = false
				return nil
			})
			if !empty {
				return fmt.Errorf("%w: a bbolt database, but not a pagergate store", ErrCorrupt)
			}
			fresh = true
			return nil
		}
		raw := meta.Get(metaSchemaKey)
		v, err := strconv.Atoi(string(raw))
		if err != nil || v < 1 {
			return fmt.Errorf("%w: schema version %q", ErrCorrupt, raw)
		}
		if v > SchemaVersion {
			return fmt.Errorf("%w (schema version %d, this pagergate reads up to %d)", ErrNewerSchema, v, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if fresh {
			return tx.Bucket(bucketMeta).Put(metaSchemaKey, []byte(strconv.Itoa(SchemaVersion)))
		}
		return nil
	})
}

// Close stops the background pruner, waits for it and closes the file.
// Calling it again returns the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.wg.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.cfg.Path, err)
		}
	})
	return s.closeErr
}

// unavailable wraps a bbolt failure for the core.
func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, ports.ErrUnavailable, err)
}

// GetRecord returns the record of a request; false when there is none.
func (s *Store) GetRecord(ctx context.Context, id string) (domain.Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return domain.Record{}, false, err
	}
	var (
		rec   domain.Record
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get([]byte(id))
		if v == nil {
			return nil
		}
		sr, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("record %q: %w", id, err)
		}
		rec, found = sr.record(), true
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return domain.Record{}, false, err
		}
		return domain.Record{}, false, unavailable("get record", err)
	}
	return rec, found, nil
}

// PutRecord stores the record, replacing any previous one. Writes from
// concurrent callers share one transaction.
func (s *Store) PutRecord(ctx context.Context, rec domain.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.RequestID == "" {
		return errors.New("put record: no request id")
	}
	now := s.cfg.Now()
	sr := fromRecord(rec)
	err := s.db.Batch(func(tx *bolt.Tx) error { return putRecord(tx, sr, now) })
	if err != nil {
		return unavailable(fmt.Sprintf("put record %q", rec.RequestID), err)
	}
	return nil
}

func putRecord(tx *bolt.Tx, sr storedRecord, now time.Time) error {
	id := []byte(sr.RequestID)
	records, open, resolved := tx.Bucket(bucketRecords), tx.Bucket(bucketOpen), tx.Bucket(bucketResolved)
	var prev *storedRecord
	if v := records.Get(id); v != nil {
		if old, err := decodeRecord(v); err == nil {
			prev = &old
		}
	}
	sr.ResolvedAt = time.Time{}
	if sr.done() {
		sr.ResolvedAt = now.UTC()
		if prev != nil && prev.done() && !prev.ResolvedAt.IsZero() {
			sr.ResolvedAt = prev.ResolvedAt
		}
	}
	if prev != nil && prev.done() && !prev.ResolvedAt.Equal(sr.ResolvedAt) {
		if err := resolved.Delete(expKey(prev.ResolvedAt, id)); err != nil {
			return err
		}
	}
	if sr.done() {
		if err := open.Delete(id); err != nil {
			return err
		}
		if err := resolved.Put(expKey(sr.ResolvedAt, id), nil); err != nil {
			return err
		}
	} else if err := open.Put(id, nil); err != nil {
		return err
	}
	v, err := json.Marshal(sr)
	if err != nil {
		return err
	}
	return records.Put(id, v)
}

// OpenRecords returns the records not resolved yet, ordered by request ID.
func (s *Store) OpenRecords(ctx context.Context) ([]domain.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []domain.Record
	var bad []error
	err := s.db.View(func(tx *bolt.Tx) error {
		records := tx.Bucket(bucketRecords)
		return tx.Bucket(bucketOpen).ForEach(func(id, _ []byte) error {
			v := records.Get(id)
			if v == nil {
				return nil
			}
			sr, err := decodeRecord(v)
			if err != nil {
				bad = append(bad, fmt.Errorf("record %q: %w", id, err))
				return nil
			}
			if !sr.done() {
				out = append(out, sr.record())
			}
			return nil
		})
	})
	if err != nil {
		return nil, unavailable("open records", err)
	}
	if len(bad) > 0 {
		// The readable records are still returned with the error.
		return out, errors.Join(bad...)
	}
	return out, nil
}

// GetMeta returns a meta value; "" and false when absent.
func (s *Store) GetMeta(ctx context.Context, key string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	var (
		val   string
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte(metaUserPrefix + key)); v != nil {
			val, found = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, unavailable("get meta", err)
	}
	return val, found, nil
}

// PutMeta sets a meta value.
func (s *Store) PutMeta(ctx context.Context, key, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(metaUserPrefix+key), []byte(value))
	})
	if err != nil {
		return unavailable(fmt.Sprintf("put meta %q", key), err)
	}
	return nil
}

// Remember stores key until now+ttl and reports whether it was new: false
// means the key is already there and not expired (a replay). The check and
// the write are one transaction, shared with concurrent callers.
func (s *Store) Remember(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKey(key, ttl); err != nil {
		return false, fmt.Errorf("remember: %w", err)
	}
	now := s.cfg.Now()
	k := []byte(key)
	var fresh bool
	err := s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this more than once; the last run is the one
		// committed, and it sets fresh.
		fresh = false
		data, idx := tx.Bucket(bucketReplay), tx.Bucket(bucketReplayExp)
		if v := data.Get(k); len(v) >= 8 {
			old := int64(binary.BigEndian.Uint64(v))
			if nanos(now) < old {
				return nil
			}
			if err := idx.Delete(expKeyNanos(old, k)); err != nil {
				return err
			}
		}
		exp := nanos(now.Add(ttl))
		if err := data.Put(k, u64(exp)); err != nil {
			return err
		}
		if err := idx.Put(expKeyNanos(exp, k), nil); err != nil {
			return err
		}
		fresh = true
		return nil
	})
	if err != nil {
		return false, unavailable("remember", err)
	}
	return fresh, nil
}

// Forget removes a replay key; a missing key is not an error.
func (s *Store) Forget(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return nil
	}
	k := []byte(key)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		return deleteTTL(tx.Bucket(bucketReplay), tx.Bucket(bucketReplayExp), k)
	})
	if err != nil {
		return unavailable("forget", err)
	}
	return nil
}

// GetCache returns a copy of a cached value; false when absent or expired.
func (s *Store) GetCache(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if key == "" {
		return nil, false, nil
	}
	now := nanos(s.cfg.Now())
	var (
		val   []byte
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketCache).Get([]byte(key))
		if len(v) < 8 || now >= int64(binary.BigEndian.Uint64(v)) {
			return nil
		}
		val, found = bytes.Clone(v[8:]), true
		if val == nil {
			val = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, false, unavailable("get cache", err)
	}
	return val, found, nil
}

// PutCache stores value until now+ttl.
func (s *Store) PutCache(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key, ttl); err != nil {
		return fmt.Errorf("put cache: %w", err)
	}
	now := s.cfg.Now()
	k := []byte(key)
	exp := nanos(now.Add(ttl))
	v := append(u64(exp), value...)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		data, idx := tx.Bucket(bucketCache), tx.Bucket(bucketCacheExp)
		if err := deleteTTL(data, idx, k); err != nil {
			return err
		}
		if err := data.Put(k, v); err != nil {
			return err
		}
		return idx.Put(expKeyNanos(exp, k), nil)
	})
	if err != nil {
		return unavailable("put cache", err)
	}
	return nil
}

func checkKey(key string, ttl time.Duration) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > bolt.MaxKeySize-8:
		return fmt.Errorf("key of %d bytes is too long", len(key))
	case ttl <= 0:
		return fmt.Errorf("ttl %s is not positive", ttl)
	}
	return nil
}

// deleteTTL removes a key and its expiry index entry.
func deleteTTL(data, idx *bolt.Bucket, k []byte) error {
	v := data.Get(k)
	if v == nil {
		return nil
	}
	if len(v) >= 8 {
		if err := idx.Delete(expKeyNanos(int64(binary.BigEndian.Uint64(v)), k)); err != nil {
			return err
		}
	}
	return data.Delete(k)
}

// pruneChunk bounds how much one pruning transaction deletes, so writers
// are not held up for long.
const pruneChunk = 1000

// Prune removes resolved records older than the retention and expired
// replay keys and cache entries. It returns how many records and how many
// keys (replay keys plus cache entries) it removed.
func (s *Store) Prune(ctx context.Context) (records, keys int, err error) {
	now := s.cfg.Now()
	cutoff := nanos(now.Add(-s.cfg.Retention))
	records, err = s.pruneIndex(ctx, bucketResolved, bucketRecords, cutoff, func(data *bolt.Bucket, id []byte, at int64) (bool, error) {
		v := data.Get(id)
		if v == nil {
			return false, nil
		}
		sr, err := decodeRecord(v)
		if err == nil && (!sr.done() || nanos(sr.ResolvedAt) != at) {
			return false, nil // a stale index entry: the record changed since
		}
		if err := data.Tx().Bucket(bucketOpen).Delete(id); err != nil {
			return false, err
		}
		return true, data.Delete(id)
	})
	if err != nil {
		return records, 0, err
	}
	expired := func(data *bolt.Bucket, k []byte, exp int64) (bool, error) {
		v := data.Get(k)
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) != exp {
			return false, nil
		}
		return true, data.Delete(k)
	}
	n, err := s.pruneIndex(ctx, bucketReplayExp, bucketReplay, nanos(now), expired)
	keys += n
	if err != nil {
		return records, keys, err
	}
	n, err = s.pruneIndex(ctx, bucketCacheExp, bucketCache, nanos(now), expired)
	keys += n
	return records, keys, err
}

// pruneIndex walks an index bucket (8-byte time + key) up to and including
// limit, in chunks, removing each index entry and calling drop for the data
// entry it points to. It returns how many data entries drop removed.
func (s *Store) pruneIndex(ctx context.Context, index, data []byte, limit int64, drop func(data *bolt.Bucket, k []byte, at int64) (bool, error)) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n, seen int
		err := s.db.Update(func(tx *bolt.Tx) error {
			n, seen = 0, 0
			idx, d := tx.Bucket(index), tx.Bucket(data)
			c := idx.Cursor()
			for k, _ := c.First(); k != nil && seen < pruneChunk; k, _ = c.First() {
				if len(k) < 8 {
					if err := c.Delete(); err != nil {
						return err
					}
					continue
				}
				at := int64(binary.BigEndian.Uint64(k))
				if at > limit {
					break
				}
				seen++
				key := bytes.Clone(k[8:])
				if err := c.Delete(); err != nil {
					return err
				}
				ok, err := drop(d, key, at)
				if err != nil {
					return err
				}
				if ok {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return total, unavailable("prune "+string(data), err)
		}
		total += n
		if seen < pruneChunk {
			return total, nil
		}
	}
}

func (s *Store) pruneLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.PruneInterval)
	defer t.Stop()
	for {
		records, keys, err := s.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("store pruning stopped early", zap.Error(err))
		case records+keys > 0:
			s.log.Debug("store pruned", zap.Int("records", records), zap.Int("keys", keys))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nanos returns t in Unix nanoseconds, clamped to [0, MaxInt64] so that it
// orders correctly as a big-endian key.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func u64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func expKeyNanos(n int64, k []byte) []byte { return append(u64(n), k...) }

func expKey(t time.Time, k []byte) []byte { return expKeyNanos(nanos(t), k) }
