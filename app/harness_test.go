package app

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"go.uber.org/zap/zaptest"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/mocks"
	"github.com/pagergate/pagergate/ports"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// harness wires a Processor to gomock ports. Plugin data lives in a map so
// compare-and-swap behaves like Teleport's.
type harness struct {
	t   *testing.T
	tp  *mocks.MockAccessRequests
	oc  *mocks.MockOnCall
	pg  *mocks.MockPager
	rec *memRecords
	p   *Processor

	mu    sync.Mutex
	pd    map[string]map[string]string
	pdGet map[string]int // plugin data reads by request
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	ctrl := gomock.NewController(t)
	h := &harness{t: t, tp: mocks.NewMockAccessRequests(ctrl), oc: mocks.NewMockOnCall(ctrl),
		pg: mocks.NewMockPager(ctrl), rec: newMemRecords(), pd: map[string]map[string]string{}, pdGet: map[string]int{}}
	cfg := Config{Policy: domain.DefaultPolicy(), ReplicaID: "replica-a", Now: func() time.Time { return now },
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Workers: 4}
	if mutate != nil {
		mutate(&cfg)
	}
	h.p = NewProcessor(cfg, h.tp, h.oc, h.pg, h.rec, h.rec, nil, zaptest.NewLogger(t))
	h.tp.EXPECT().GetPluginData(gomock.Any(), gomock.Any()).DoAndReturn(h.getPD).AnyTimes()
	return h
}

func (h *harness) getPD(_ context.Context, id string) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pdGet[id]++
	return maps.Clone(h.pd[id]), nil
}

// reads returns how often the plugin data of a request was read.
func (h *harness) reads(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pdGet[id]
}

func (h *harness) casPD(_ context.Context, id string, set, expect map[string]string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !maps.Equal(h.pd[id], expect) {
		return ports.ErrConflict
	}
	h.pd[id] = maps.Clone(set)
	return nil
}

// allowCAS lets every UpdatePluginData go through the map.
func (h *harness) allowCAS() {
	h.tp.EXPECT().UpdatePluginData(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(h.casPD).AnyTimes()
}

func (h *harness) record(id string) domain.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, err := domain.RecordFromPluginData(id, h.pd[id])
	if err != nil {
		h.t.Fatalf("plugin data of %s: %v", id, err)
	}
	return r
}

func (h *harness) setRecord(r domain.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pd[r.RequestID] = r.PluginData()
}

var (
	notifySvc = domain.Service{ID: "PSN", Name: "Access Requests", EscalationPolicyID: "EPN"}
	critSvc   = domain.Service{ID: "PSC", Name: "Critical", EscalationPolicyID: "EPC"}
	alice     = domain.PagerUser{ID: "PUA", Email: "alice@example.com"}
	bob       = domain.PagerUser{ID: "PUB", Email: "bob@example.com"}
)

func request(id string, ann map[string][]string) domain.Request {
	return domain.Request{ID: id, User: "alice@example.com", Roles: []string{"db"}, State: domain.StatePending,
		Created: now, Annotations: ann}
}

func notifyOnly(id string) domain.Request {
	return request(id, map[string][]string{"pagerduty_notify_service": {"Access Requests"}})
}

func withApproval(id string) domain.Request {
	return request(id, map[string][]string{"pagerduty_notify_service": {"Access Requests"}, "pagerduty_services": {"Critical"}})
}

// memRecords is an in-memory Records + DedupStore for the use-case tests.
type memRecords struct {
	mu    sync.Mutex
	recs  map[string]domain.Record
	keys  map[string]bool
	ttls  map[string]time.Duration
	metas map[string]string
}

func newMemRecords() *memRecords {
	return &memRecords{recs: map[string]domain.Record{}, keys: map[string]bool{}, ttls: map[string]time.Duration{}, metas: map[string]string{}}
}

func (m *memRecords) GetRecord(_ context.Context, id string) (domain.Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	return r, ok, nil
}

func (m *memRecords) PutRecord(_ context.Context, r domain.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[r.RequestID] = r
	return nil
}

func (m *memRecords) OpenRecords(context.Context) ([]domain.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []domain.Record
	for _, r := range m.recs {
		if !r.Done() {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memRecords) GetMeta(_ context.Context, k string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.metas[k]
	return v, ok, nil
}

func (m *memRecords) PutMeta(_ context.Context, k, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.metas[k] = v
	return nil
}

func (m *memRecords) Remember(_ context.Context, k string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[k] {
		return false, nil
	}
	m.keys[k], m.ttls[k] = true, ttl
	return true, nil
}

func (m *memRecords) Forget(_ context.Context, k string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, k)
	return nil
}
