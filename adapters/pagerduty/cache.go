package pagerduty

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// Cache key prefixes. Versioned, so a shape change never reads old values.
const (
	keyServiceName = "pd1:service-name:"
	keyServiceID   = "pd1:service-id:"
	keyUserEmail   = "pd1:user-email:"
	keyUserID      = "pd1:user-id:"
	keyPriorities  = "pd1:priorities"
	keySchema      = "pd1:extension-schema:custom_webhook"
	// keyActionFingerprint + extension ID: what this replica last wrote.
	keyActionFingerprint = "pd1:action-fingerprint:"
)

// noCache is the ports.Cache of a Client built without one (the one-off
// probe of `pagergate check`): every lookup misses, nothing is kept. The
// daemon hands New the store's cache.
type noCache struct{}

var _ ports.Cache = noCache{}

func (noCache) GetCache(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

func (noCache) PutCache(context.Context, string, []byte, time.Duration) error { return nil }

// cacheGet reads a JSON value from the cache. A cache failure is a miss:
// the lookup goes to PagerDuty instead.
func cacheGet[T any](ctx context.Context, c *Client, key string) (T, bool) {
	var v T
	b, ok, err := c.cache.GetCache(ctx, key)
	if err != nil {
		c.log.Debug("cache read ignored", zap.String("key", key), zap.Error(err))
		return v, false
	}
	if !ok {
		return v, false
	}
	if err := json.Unmarshal(b, &v); err != nil {
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
