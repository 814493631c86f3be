package boltstore

import (
	"testing"
	"time"
)

// Zero and negative settings take the defaults (a negative prune interval
// turns pruning off); set ones are kept.
func TestConfigDefaults(t *testing.T) {
	for _, in := range []Config{{}, {Retention: -1, OpenTimeout: -1, BatchDelay: -1}} {
		c := in
		c.setDefaults()
		if c.Retention != DefaultRetention || c.PruneInterval != DefaultPruneInterval || c.OpenTimeout != DefaultOpenTimeout ||
			c.BatchDelay != DefaultBatchDelay || c.Now == nil {
			t.Errorf("defaults of %+v = %+v", in, c)
		}
	}
	clock := func() time.Time { return time.Unix(0, 0) }
	set := Config{Retention: time.Hour, PruneInterval: -1, OpenTimeout: 2 * time.Second, BatchDelay: time.Millisecond, Now: clock}
	c := set
	c.setDefaults()
	if c.Retention != set.Retention || c.PruneInterval != set.PruneInterval || c.OpenTimeout != set.OpenTimeout ||
		c.BatchDelay != set.BatchDelay || !c.Now().Equal(clock()) {
		t.Errorf("set fields changed: %+v, want %+v", c, set)
	}
}
