package teleporttest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
)

// ReqOpt sets an optional field of a request made by CreateRequest.
type ReqOpt func(*types.AccessRequestV3) error

// WithReason sets the requester's reason.
func WithReason(reason string) ReqOpt {
	return func(r *types.AccessRequestV3) error {
		r.SetRequestReason(reason)
		return nil
	}
}

// WithAnnotations sets the system annotations (Teleport derives them from
// the requester's roles).
func WithAnnotations(a map[string][]string) ReqOpt {
	return func(r *types.AccessRequestV3) error {
		r.SetSystemAnnotations(maps.Clone(a))
		return nil
	}
}

// WithSuggestedReviewers sets the suggested reviewers.
func WithSuggestedReviewers(users ...string) ReqOpt {
	return func(r *types.AccessRequestV3) error {
		r.SetSuggestedReviewers(slices.Clone(users))
		return nil
	}
}

// WithResources adds requested resources, written as Teleport prints them:
// "/<cluster>/<kind>/<name>".
func WithResources(ids ...string) ReqOpt {
	return func(r *types.AccessRequestV3) error {
		for _, s := range ids {
			id, err := types.ResourceIDFromString(s)
			if err != nil {
				return err
			}
			r.Spec.RequestedResourceIDs = append(r.Spec.RequestedResourceIDs, id)
		}
		return nil
	}
}

// WithAccessExpiry sets when the granted access would end (default one hour
// after creation).
func WithAccessExpiry(t time.Time) ReqOpt {
	return func(r *types.AccessRequestV3) error {
		r.SetAccessExpiry(t)
		return nil
	}
}

// WithCreated sets the creation time (default now).
func WithCreated(t time.Time) ReqOpt {
	return func(r *types.AccessRequestV3) error {
		r.SetCreationTime(t)
		return nil
	}
}

// CreateRequest creates a pending request by user for roles, emits it to
// the watch streams and returns its ID. Review thresholds are Teleport's
// default: one approval approves, one denial denies.
func (s *Server) CreateRequest(user string, roles []string, opts ...ReqOpt) (string, error) {
	id := uuid.NewString()
	ireq, err := types.NewAccessRequest(id, user, roles...)
	if err != nil {
		return "", err
	}
	r := ireq.(*types.AccessRequestV3)
	now := time.Now().UTC()
	r.SetCreationTime(now)
	r.SetAccessExpiry(now.Add(time.Hour))
	r.SetExpiry(now.Add(time.Hour))
	r.SetThresholds([]types.AccessReviewThreshold{{Name: "default", Approve: 1, Deny: 1}})
	rtm := make(map[string]types.ThresholdIndexSets, len(r.GetRoles()))
	for _, role := range r.GetRoles() {
		rtm[role] = types.ThresholdIndexSets{Sets: []types.ThresholdIndexSet{{Indexes: []uint32{0}}}}
	}
	r.SetRoleThresholdMapping(rtm)
	for _, o := range opts {
		if err := o(r); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs[id] = r
	s.order = append(s.order, id)
	s.emitLocked(types.Event{Type: types.OpPut, Resource: clone(r)})
	return id, nil
}

func clone(r *types.AccessRequestV3) *types.AccessRequestV3 {
	return r.Copy().(*types.AccessRequestV3)
}

// Get returns a copy of a request.
func (s *Server) Get(id string) (*types.AccessRequestV3, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return nil, trace.NotFound("access request %q not found", id)
	}
	return clone(r), nil
}

// Requests returns copies of every request, oldest first.
func (s *Server) Requests() []*types.AccessRequestV3 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*types.AccessRequestV3, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, clone(s.reqs[id]))
	}
	return out
}

// Approve submits an approving review by reviewer (a human, not checked
// against permissions or the edition).
func (s *Server) Approve(id, reviewer, reason string) error {
	return s.AddReview(id, reviewer, types.RequestState_APPROVED, reason)
}

// Deny submits a denying review by reviewer.
func (s *Server) Deny(id, reviewer, reason string) error {
	return s.AddReview(id, reviewer, types.RequestState_DENIED, reason)
}

// AddReview submits a review by reviewer proposing state (APPROVED or
// DENIED). It fails like Teleport when the reviewer already reviewed the
// request or the request is no longer pending.
func (s *Server) AddReview(id, reviewer string, state types.RequestState, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.reviewLocked(id, types.AccessReview{Author: reviewer, ProposedState: state, Reason: reason})
	return err
}

// reviewLocked applies a review with Teleport's checks and thresholds.
func (s *Server) reviewLocked(id string, rev types.AccessReview) (*types.AccessRequestV3, error) {
	r, ok := s.reqs[id]
	if !ok {
		return nil, trace.NotFound("access request %q not found", id)
	}
	if !rev.ProposedState.IsApproved() && !rev.ProposedState.IsDenied() {
		return nil, trace.BadParameter("invalid state proposal: %s (expected approval/denial)", rev.ProposedState)
	}
	for _, existing := range r.GetReviews() {
		if existing.Author == rev.Author {
			return nil, trace.AccessDenied("user %q has already reviewed this request", rev.Author)
		}
	}
	if !r.GetState().IsPending() {
		return nil, trace.AccessDenied("the access request has been already %s", strings.ToLower(r.GetState().String()))
	}
	if rev.Created.IsZero() {
		rev.Created = time.Now().UTC()
	}
	rev.ThresholdIndexes = []uint32{0}
	r = clone(r)
	r.SetReviews(append(r.GetReviews(), rev))
	// Thresholds are approve 1 / deny 1: every review resolves.
	if err := r.SetState(rev.ProposedState); err != nil {
		return nil, err
	}
	r.SetResolveReason(rev.Reason)
	s.reqs[id] = r
	s.emitLocked(types.Event{Type: types.OpPut, Resource: clone(r)})
	return clone(r), nil
}

// SetState sets a request's state as an admin would (tctl requests
// approve/deny), with Teleport's rule that a denied request stays denied.
func (s *Server) SetState(id string, state types.RequestState, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setStateLocked(id, state, reason, "")
}

func (s *Server) setStateLocked(id string, state types.RequestState, reason, delegator string) error {
	r, ok := s.reqs[id]
	if !ok {
		return trace.NotFound("cannot set state of access request %q (not found)", id)
	}
	if state.IsNone() || state.IsPending() {
		return trace.BadParameter("state update must specify a resolved state, got %s", state)
	}
	r = clone(r)
	if err := r.SetState(state); err != nil {
		return err
	}
	r.SetResolveReason(reason)
	s.reqs[id] = r
	if delegator != "" {
		s.deleg[id] = delegator
	}
	s.emitLocked(types.Event{Type: types.OpPut, Resource: clone(r)})
	return nil
}

// Delegator returns the delegator named by the last SetAccessRequestState
// call on a request.
func (s *Server) Delegator(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleg[id]
}

// Delete deletes a request and its plugin data (as when it expires) and
// emits an OpDelete.
func (s *Server) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reqs[id]; !ok {
		return trace.NotFound("access request %q not found", id)
	}
	delete(s.reqs, id)
	delete(s.pdata, id)
	delete(s.deleg, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	s.emitLocked(types.Event{Type: types.OpDelete, Resource: &types.ResourceHeader{
		Kind:     types.KindAccessRequest,
		Version:  types.V3,
		Metadata: types.Metadata{Name: id},
	}})
	return nil
}

// PluginData returns the data of plugin PluginName on a request (nil when
// there is none).
func (s *Server) PluginData(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	pd, ok := s.pdata[id]
	if !ok {
		return nil
	}
	e := pd.Entries()[PluginName]
	if e == nil {
		return nil
	}
	return maps.Clone(e.Data)
}

// SetPluginData replaces the data of plugin PluginName on a request, as
// another writer (another replica, the reference plugin) would.
func (s *Server) SetPluginData(id string, data map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reqs[id]; !ok {
		return trace.NotFound("access request %q not found", id)
	}
	pd, err := types.NewPluginData(id, types.KindAccessRequest)
	if err != nil {
		return err
	}
	v3 := pd.(*types.PluginDataV3)
	if len(data) > 0 {
		v3.Spec.Entries[PluginName] = &types.PluginDataEntry{Data: maps.Clone(data)}
	}
	if old, ok := s.pdata[id]; ok {
		for name, e := range old.Spec.Entries {
			if name != PluginName {
				v3.Spec.Entries[name] = e
			}
		}
	}
	s.pdata[id] = v3
	return nil
}

func (s *Server) String() string { return fmt.Sprintf("teleporttest.Server(%s)", s.Addr()) }
