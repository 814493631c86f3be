package ports

import (
	"context"
	"time"

	"github.com/pagergate/pagergate/domain"
)

//go:generate go tool mockgen -typed -destination=../mocks/ports.go -package=mocks . AccessRequests,Locks,Watcher,OnCall,Pager,Records,DedupStore,Cache,Actions,Metrics,Users

// AccessRequests is the Teleport side of the core.
type AccessRequests interface {
	// Ping reports the cluster (version, name, proxy address, features).
	Ping(ctx context.Context) (domain.Cluster, error)
	// GetRequest returns one request; ErrNotFound when it is gone.
	GetRequest(ctx context.Context, id string) (domain.Request, error)
	// ListPending returns every pending request.
	ListPending(ctx context.Context) ([]domain.Request, error)
	// ScanRequests calls fn for every request Teleport still holds, in any
	// state, a page at a time (the caller keeps what it needs, so a large
	// backlog is never held whole).
	ScanRequests(ctx context.Context, fn func(domain.Request)) error
	// Resolve approves or denies a request by review or by setting its
	// state (v.Mode). ErrAlreadyReviewed, ErrAlreadyResolved,
	// *PermissionError are the expected failures.
	Resolve(ctx context.Context, v domain.Verdict) error
	// LoadRecord returns the request's cluster-wide record and its version;
	// a record holding only RequestID, at the zero Version, when none is
	// stored. ErrNotFound when the request is gone. Parts the adapter
	// cannot read are left zero (the next write replaces them).
	LoadRecord(ctx context.Context, id string) (domain.Record, Version, error)
	// UpdateRecord replaces the request's record with rec if it is still at
	// version at (compare-and-swap over the whole record) and returns the
	// new version. ErrConflict when another writer changed it since;
	// ErrNotFound when the request is gone.
	UpdateRecord(ctx context.Context, id string, at Version, rec domain.Record) (Version, error)
	// ListRecords returns the records of every request Teleport holds one
	// for, in one call (records expire with their requests, so the list is
	// as bounded as Teleport's own). Parts the adapter cannot read are left
	// zero, as with LoadRecord.
	ListRecords(ctx context.Context) ([]domain.Record, error)
}

// Locks makes Teleport locks (SPEC §17).
type Locks interface {
	// LockRequest creates or replaces the lock l.Name targeting the access
	// request l.RequestID: making the same lock twice is one lock.
	// *PermissionError when the plugin may not create locks.
	LockRequest(ctx context.Context, l domain.Lock) error
}

// Version names the stored state of a request's record, as LoadRecord read
// it or UpdateRecord wrote it. It is opaque to the core: only the adapter
// that returned it reads it. The zero Version means no record is stored.
type Version string

// Watcher streams Teleport access request events.
type Watcher interface {
	// Watch sends events to out until ctx ends, connecting and
	// reconnecting with backoff by itself. After each (re)connect it sends
	// one domain.EventSynced with every pending request, every routing
	// rule and the cluster; then request and rule changes; on a lost
	// stream or a failed connection, one EventDisconnected. It returns
	// ctx's error, or an error that retrying cannot fix.
	Watch(ctx context.Context, out chan<- domain.Event) error
}

// Users reads Teleport users, for the routing rules that read the
// requester's traits.
type Users interface {
	// UserTraits returns a user's traits; a *PermissionError when
	// pagergate may not read users.
	UserTraits(ctx context.Context, user string) (map[string][]string, error)
}

// OnCall answers who is on call (the pager's directory side).
type OnCall interface {
	// FindService resolves a service name (case-insensitive) or ID.
	FindService(ctx context.Context, nameOrID string) (domain.Service, error)
	// FindUserByEmail finds a pager user by email (case-insensitive).
	FindUserByEmail(ctx context.Context, email string) (domain.PagerUser, error)
	// GetUser returns a pager user by ID.
	GetUser(ctx context.Context, id string) (domain.PagerUser, error)
	// OnCallsNow returns the user's on-call entries now for the policies.
	OnCallsNow(ctx context.Context, userID string, policyIDs []string) ([]domain.OnCall, error)
	// ActiveIncidents returns triggered or acknowledged incidents assigned to
	// the user in the services.
	ActiveIncidents(ctx context.Context, userID string, serviceIDs []string) ([]domain.Incident, error)
}

// Pager opens, annotates and resolves incidents.
type Pager interface {
	// EnsureIncident opens the incident or, when an open incident with the
	// same key exists in the service, returns that one (Existing set when
	// the pager says so).
	EnsureIncident(ctx context.Context, spec domain.IncidentSpec) (domain.Incident, error)
	// GetIncident returns an incident by ID.
	GetIncident(ctx context.Context, id string) (domain.Incident, error)
	// FindIncidents returns every incident (any status) with the key.
	FindIncidents(ctx context.Context, key string) ([]domain.Incident, error)
	// OpenIncidents returns the triggered or acknowledged incidents of the
	// services (any key, any age), at most max; more reports that some
	// were left out.
	OpenIncidents(ctx context.Context, serviceIDs []string, max int) (list []domain.Incident, more bool, err error)
	// IncidentDetails returns the details (body) an incident was opened
	// with; "" when it has none.
	IncidentDetails(ctx context.Context, id string) (string, error)
	// AddNote posts a note on an incident. A note the pager will never
	// take (the incident holds its maximum of notes, the text is over the
	// pager's limit) fails with ErrRefused.
	AddNote(ctx context.Context, incidentID, text string) error
	// ListNotes returns the texts of an incident's notes, oldest first.
	ListNotes(ctx context.Context, incidentID string) ([]string, error)
	// ResolveIncident resolves an incident; already resolved is success.
	ResolveIncident(ctx context.Context, incidentID string) error
	// EnsureActions creates or updates the Custom Incident Actions on a
	// service, idempotently.
	EnsureActions(ctx context.Context, serviceID string, hooks []domain.ActionHook) error
}

// Records is the local mirror of request records.
type Records interface {
	GetRecord(ctx context.Context, id string) (domain.Record, bool, error)
	PutRecord(ctx context.Context, rec domain.Record) error
	// OpenRecords returns the records that are not resolved yet.
	OpenRecords(ctx context.Context) ([]domain.Record, error)
	// Meta reads and writes small values owned by the process (its replica
	// identity): "" and false when absent.
	GetMeta(ctx context.Context, key string) (string, bool, error)
	PutMeta(ctx context.Context, key, value string) error
}

// DedupStore remembers webhook deliveries (replay protection).
type DedupStore interface {
	// Remember stores the key until now+ttl. It returns false when the key
	// was already there and not expired (a replay).
	Remember(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Forget removes a key, so a delivery that failed transiently can be
	// retried by the pager.
	Forget(ctx context.Context, key string) error
}

// Cache keeps lookup results (users, services) with a time to live.
type Cache interface {
	GetCache(ctx context.Context, key string) ([]byte, bool, error)
	PutCache(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Actions is the pager-action use case, called by driving adapters (the
// webhook). Errors: domain.ErrRefused-wrapped (403), ErrNotFound or
// domain.ErrUnknownIncident (404), domain.ErrNotPending (409),
// domain.ErrDeliveryTooOld (400), ErrUnavailable (503).
type Actions interface {
	HandleAction(ctx context.Context, a domain.Action) (domain.Outcome, error)
}

// Readiness reports whether a component is ready to serve.
type Readiness interface {
	// Ready returns nil when ready, else why not.
	Ready() error
}
