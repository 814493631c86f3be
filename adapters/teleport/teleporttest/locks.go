package teleporttest

import (
	"context"
	"slices"
	"time"

	gogoproto "github.com/gogo/protobuf/proto"
	"github.com/gravitational/teleport/api/client/proto"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Locks, as Teleport's Auth Service serves them (lib/auth/auth_with_roles.go
// and lib/services/local/access.go of v14): the permission is checked
// before the lock is validated; UpsertLock fills CreatedBy and CreatedAt
// when they are empty, refuses a lock without target (BadParameter) and
// replaces a lock of the same name; a lock's expiry is its backend item's,
// so an expired lock is gone for every reader.

// UpsertLock creates or replaces a lock (lock: create and update).
func (a *authService) UpsertLock(ctx context.Context, l *types.LockV2) (*emptypb.Empty, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.Locks {
		return nil, denied(user, "create", types.KindLock)
	}
	cp := gogoproto.Clone(l).(*types.LockV2)
	if cp.CreatedBy() == "" {
		cp.SetCreatedBy(user)
	}
	if cp.CreatedAt().IsZero() {
		cp.SetCreatedAt(time.Now().UTC())
	}
	if err := cp.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.UpsertLock++
	s.locks[cp.GetName()] = cp
	return &emptypb.Empty{}, nil
}

// GetLock returns a lock by name (lock: read).
func (a *authService) GetLock(ctx context.Context, req *proto.GetLockRequest) (*types.LockV2, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.ReadLocks {
		return nil, denied(user, "read", types.KindLock)
	}
	if req.Name == "" {
		return nil, trace.BadParameter("missing lock name")
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.liveLockLocked(req.Name, time.Now())
	if !ok {
		return nil, trace.NotFound("lock %q is not found", req.Name)
	}
	return gogoproto.Clone(l).(*types.LockV2), nil
}

// GetLocks returns the locks matching at least one target (all locks when
// none is given), only those in force if asked (lock: list and read).
func (a *authService) GetLocks(ctx context.Context, req *proto.GetLocksRequest) (*proto.GetLocksResponse, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.ReadLocks {
		return nil, denied(user, "list", types.KindLock)
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return &proto.GetLocksResponse{Locks: s.matchingLocksLocked(req.InForceOnly, req.Targets, time.Now())}, nil
}

// DeleteLock deletes a lock (lock: delete); NotFound when there is none.
func (a *authService) DeleteLock(ctx context.Context, req *proto.DeleteLockRequest) (*emptypb.Empty, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.DeleteLocks {
		return nil, denied(user, "delete", types.KindLock)
	}
	if req.Name == "" {
		return nil, trace.BadParameter("missing lock name")
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveLockLocked(req.Name, time.Now()); !ok {
		return nil, trace.NotFound("lock %q is not found", req.Name)
	}
	delete(s.locks, req.Name)
	return &emptypb.Empty{}, nil
}

// liveLockLocked returns a lock that has not expired; s.mu must be held.
func (s *Server) liveLockLocked(name string, now time.Time) (*types.LockV2, bool) {
	l, ok := s.locks[name]
	if !ok {
		return nil, false
	}
	if !l.IsInForce(now) {
		delete(s.locks, name) // the backend item expired with it
		return nil, false
	}
	return l, true
}

func (s *Server) matchingLocksLocked(inForceOnly bool, targets []*types.LockTarget, now time.Time) []*types.LockV2 {
	names := make([]string, 0, len(s.locks))
	for name := range s.locks {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []*types.LockV2
	for _, name := range names {
		l, ok := s.liveLockLocked(name, now)
		if !ok || (inForceOnly && !l.IsInForce(now)) {
			continue
		}
		if len(targets) > 0 && !slices.ContainsFunc(targets, func(t *types.LockTarget) bool { return t != nil && t.Match(l) }) {
			continue
		}
		out = append(out, gogoproto.Clone(l).(*types.LockV2))
	}
	return out
}

// Locks returns every lock not expired, by name (as `tctl get locks`).
func (s *Server) Locks() []*types.LockV2 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.matchingLocksLocked(false, nil, time.Now())
}

// RequestLocked reports whether a lock in force targets the access
// request, as Teleport's lock watcher decides for a certificate issued
// with it.
func (s *Server) RequestLocked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.matchingLocksLocked(true, []*types.LockTarget{{AccessRequest: id}}, time.Now())) > 0
}
