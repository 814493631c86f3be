package opsgenie

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// Cache key prefixes. Versioned, so a shape change never reads old values.
const (
	keySchedules = "og1:schedules"
	keyTeams     = "og1:teams"
	keyUserName  = "og1:user-name:"
	keyUserID    = "og1:user-id:"
)

// memCache is the in-memory ports.Cache used when New gets none.
type memCache struct {
	mu      sync.Mutex
	entries map[string]memEntry
}

type memEntry struct {
	value   []byte
	expires time.Time
}

var _ ports.Cache = (*memCache)(nil)

func newMemCache() *memCache { return &memCache{entries: make(map[string]memEntry)} }

// GetCache returns a value that has not expired.
func (m *memCache) GetCache(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !time.Now().Before(e.expires) {
		delete(m.entries, key)
		return nil, false, nil
	}
	return e.value, true, nil
}

// PutCache stores a value until now+ttl.
func (m *memCache) PutCache(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[key] = memEntry{value: append([]byte(nil), value...), expires: time.Now().Add(ttl)}
	return nil
}

// cacheGet reads a JSON value from the cache; a cache failure is a miss.
func cacheGet[T any](ctx context.Context, c *Client, key string) (T, bool) {
	var v T
	b, ok, err := c.cache.GetCache(ctx, key)
	if err != nil {
		c.log.Debug("cache read ignored", zap.String("key", key), zap.Error(err))
		return v, false
	}
	if !ok || json.Unmarshal(b, &v) != nil {
		return v, false
	}
	return v, true
}

// cachePut writes a JSON value to the cache; failures only cost a lookup
// later.
func cachePut[T any](ctx context.Context, c *Client, key string, v T) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	if err := c.cache.PutCache(ctx, key, b, c.cfg.CacheTTL); err != nil {
		c.log.Debug("cache write ignored", zap.String("key", key), zap.Error(err))
	}
}
