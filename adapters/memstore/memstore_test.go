package memstore_test

import (
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/memstore"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports/storetest"
)

// harness adds the suite's capabilities to a Store: a settable clock and
// the retention it was built with.
type harness struct {
	*memstore.Store
	*storetest.Clock
	retention time.Duration
}

func (h *harness) Retention() time.Duration { return h.retention }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		clk := storetest.NewClock()
		const retention = 24 * time.Hour
		s := memstore.New(memstore.WithNow(clk.Now), memstore.WithRetention(retention))
		return &harness{Store: s, Clock: clk, retention: retention}
	})
}

func TestDefaults(t *testing.T) {
	s := memstore.New()
	// The default clock is the wall clock: a key remembered for an hour is
	// a replay right away.
	ctx := t.Context()
	if ok, err := s.Remember(ctx, "k", time.Hour); err != nil || !ok {
		t.Fatalf("Remember(k) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := s.Remember(ctx, "k", time.Hour); err != nil || ok {
		t.Fatalf("Remember(k) again = %v, %v; want false, nil", ok, err)
	}
	// A resolved record written now is within the default retention.
	if err := s.PutRecord(ctx, domainRecordResolved("r")); err != nil {
		t.Fatal(err)
	}
	if recs, keys, err := s.Prune(ctx); err != nil || recs != 0 || keys != 0 {
		t.Fatalf("Prune() = %d, %d, %v; want nothing pruned", recs, keys, err)
	}
}

func domainRecordResolved(id string) domain.Record {
	return domain.Record{RequestID: id, Resolution: domain.StateApproved}
}
