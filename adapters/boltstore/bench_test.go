package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/boltstore"
	"github.com/pagergate/pagergate/domain"
)

func benchStore(b *testing.B) *boltstore.Store {
	b.Helper()
	s, err := boltstore.Open(boltstore.Config{Path: filepath.Join(b.TempDir(), "state.db"), PruneInterval: -1}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkPutRecordParallel measures record writes from many goroutines,
// which share transactions and fsyncs.
func BenchmarkPutRecordParallel(b *testing.B) {
	s := benchStore(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			rec := domain.Record{
				RequestID: fmt.Sprintf("0b6f5e7e-3a51-4f0e-9a0e-%012d", i),
				User:      "alice@example.com",
				Roles:     []string{"db-admin"},
				Created:   time.Now(),
				Incidents: []domain.IncidentRef{{Service: "Ops", ServiceID: "PSVC1", IncidentID: "Q1AB2CD3"}},
			}
			if err := s.PutRecord(ctx, rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRemember measures replay-key check-and-set from many goroutines.
func BenchmarkRemember(b *testing.B) {
	s := benchStore(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			key := fmt.Sprintf("webhook-%d", n.Add(1))
			fresh, err := s.Remember(ctx, key, 72*time.Hour)
			if err != nil || !fresh {
				b.Errorf("Remember(%q) = %v, %v; want true, nil", key, fresh, err)
				return
			}
		}
	})
}
