package app

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/mocks"
	"github.com/pagergate/pagergate/ports"
	"github.com/pagergate/pagergate/ports/metricstest"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// harness wires the Service to gomock ports. Records in Teleport live in a
// map with a version each, so compare-and-swap behaves like Teleport's.
type harness struct {
	t   *testing.T
	tp  *mocks.MockAccessRequests
	lk  *mocks.MockLocks
	oc  *mocks.MockOnCall
	pg  *mocks.MockPager
	rec *memRecords
	p   *Service

	users   *mocks.MockUsers
	metrics *metricstest.Recorder
	// logs holds the Service's info lines and above.
	logs *observer.ObservedLogs

	mu     sync.Mutex
	stored map[string]storedRecord
	loads  map[string]int // record reads by request
	// afterLoad, when set, runs after a record was read and before the
	// reader gets it: a peer's write there lands between our read and our
	// write.
	afterLoad func(id string)
}

// storedRecord is a record in Teleport and how often it was written.
type storedRecord struct {
	rec    domain.Record
	writes int
}

func (s storedRecord) version() ports.Version {
	if s.writes == 0 {
		return ""
	}
	return ports.Version(fmt.Sprintf("v%d", s.writes))
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	ctrl := gomock.NewController(t)
	h := &harness{t: t, tp: mocks.NewMockAccessRequests(ctrl), lk: mocks.NewMockLocks(ctrl), oc: mocks.NewMockOnCall(ctrl),
		pg: mocks.NewMockPager(ctrl), rec: newMemRecords(), stored: map[string]storedRecord{}, loads: map[string]int{},
		users: mocks.NewMockUsers(ctrl), metrics: &metricstest.Recorder{}}
	cfg := Config{Policy: domain.DefaultPolicy(), ReplicaID: "replica-a", Now: func() time.Time { return now },
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Workers: 4}
	if mutate != nil {
		mutate(&cfg)
	}
	observed, logs := observer.New(zapcore.InfoLevel)
	h.logs = logs
	log := zaptest.NewLogger(t, zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, observed) })))
	h.p = New(cfg, Deps{Teleport: h.tp, Locks: h.lk, OnCall: h.oc, Pager: h.pg, Records: h.rec, Dedup: h.rec, Users: h.users,
		Metrics: h.metrics}, log)
	h.tp.EXPECT().LoadRecord(gomock.Any(), gomock.Any()).DoAndReturn(h.load).AnyTimes()
	h.tp.EXPECT().ListRecords(gomock.Any()).DoAndReturn(h.list).AnyTimes()
	return h
}

// list returns every record stored in Teleport, as ListRecords does.
func (h *harness) list(context.Context) ([]domain.Record, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]domain.Record, 0, len(h.stored))
	for _, s := range h.stored {
		out = append(out, s.rec)
	}
	return out, nil
}

func (h *harness) load(_ context.Context, id string) (domain.Record, ports.Version, error) {
	h.mu.Lock()
	h.loads[id]++
	s, ok := h.stored[id]
	after := h.afterLoad
	h.mu.Unlock()
	if after != nil {
		after(id)
	}
	if !ok {
		return domain.Record{RequestID: id}, "", nil
	}
	return s.rec, s.version(), nil
}

// reads returns how often the record of a request was read.
func (h *harness) reads(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.loads[id]
}

// cas writes the record if it is still at version at, as Teleport does.
func (h *harness) cas(_ context.Context, id string, at ports.Version, rec domain.Record) (ports.Version, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stored[id]
	if s.version() != at {
		return "", fmt.Errorf("update record of %s: %w", id, ports.ErrConflict)
	}
	s.rec, s.writes = rec, s.writes+1
	h.stored[id] = s
	return s.version(), nil
}

// allowCAS lets every UpdateRecord go through the map.
func (h *harness) allowCAS() {
	h.tp.EXPECT().UpdateRecord(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(h.cas).AnyTimes()
}

func (h *harness) record(id string) domain.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.stored[id]; ok {
		return s.rec
	}
	return domain.Record{RequestID: id}
}

// setRecord writes a record as a peer would: a new version.
func (h *harness) setRecord(r domain.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stored[r.RequestID]
	s.rec, s.writes = r, s.writes+1
	h.stored[r.RequestID] = s
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

// has reports whether the dedup key k is remembered.
func (m *memRecords) has(k string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[k]
}

// scanOf answers ScanRequests with reqs, in order.
func scanOf(reqs ...domain.Request) func(context.Context, func(domain.Request)) error {
	return func(_ context.Context, fn func(domain.Request)) error {
		for _, r := range reqs {
			fn(r)
		}
		return nil
	}
}
