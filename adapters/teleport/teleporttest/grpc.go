package teleporttest

import (
	"context"
	"slices"

	gogoproto "github.com/gogo/protobuf/proto"
	"github.com/gravitational/teleport/api/client"
	"github.com/gravitational/teleport/api/client/proto"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"
)

// authService implements the part of proto.AuthServiceServer the access
// plugins use; the rest answers Unimplemented.
type authService struct {
	proto.UnimplementedAuthServiceServer
	s *Server
}

// caller returns the user of the client certificate and their permissions.
func (a *authService) caller(ctx context.Context) (string, Perms, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", Perms{}, trace.AccessDenied("no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", Perms{}, trace.AccessDenied("missing client certificate")
	}
	user := info.State.VerifiedChains[0][0].Subject.CommonName
	a.s.mu.Lock()
	perms := a.s.users[user]
	a.s.mu.Unlock()
	return user, perms, nil
}

func (p Perms) canReview(roles []string) bool {
	if len(p.ReviewRoles) == 0 {
		return false
	}
	if slices.Contains(p.ReviewRoles, "*") {
		return true
	}
	for _, r := range roles {
		if !slices.Contains(p.ReviewRoles, r) {
			return false
		}
	}
	return true
}

func denied(user, verb, resource string) error {
	return trace.AccessDenied("access denied to perform action %q on %q for user %q", verb, resource, user)
}

// Ping reports the cluster; every authenticated user may call it.
func (a *authService) Ping(ctx context.Context, _ *proto.PingRequest) (*proto.PingResponse, error) {
	if _, _, err := a.caller(ctx); err != nil {
		return nil, err
	}
	s := a.s
	s.mu.Lock()
	s.counts.Ping++
	s.mu.Unlock()
	return &proto.PingResponse{
		ClusterName:     s.opts.ClusterName,
		ServerVersion:   s.opts.Version,
		ProxyPublicAddr: s.opts.ProxyAddr,
		ServerFeatures: &proto.Features{
			AdvancedAccessWorkflows: s.opts.Enterprise,
			AccessRequests:          &proto.AccessRequestsFeature{},
		},
	}, nil
}

func (a *authService) list(ctx context.Context, filter *types.AccessRequestFilter) ([]*types.AccessRequestV3, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.ReadRequests {
		return nil, denied(user, "list", types.KindAccessRequest)
	}
	var f types.AccessRequestFilter
	if filter != nil {
		f = *filter
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.ListAccessRequests++
	var out []*types.AccessRequestV3
	for _, id := range s.order {
		if r := s.reqs[id]; f.Match(r) {
			out = append(out, clone(r))
		}
	}
	return out, nil
}

// ListAccessRequests lists requests matching the filter, a page at a time.
func (a *authService) ListAccessRequests(ctx context.Context, req *proto.ListAccessRequestsRequest) (*proto.ListAccessRequestsResponse, error) {
	if a.s.opts.NoListRequests {
		return a.UnimplementedAuthServiceServer.ListAccessRequests(ctx, req)
	}
	all, err := a.list(ctx, req.Filter)
	if err != nil {
		return nil, err
	}
	start := 0
	if req.StartKey != "" {
		start = slices.IndexFunc(all, func(r *types.AccessRequestV3) bool { return r.GetName() == req.StartKey })
		if start < 0 {
			return nil, trace.BadParameter("invalid start key %q", req.StartKey)
		}
	}
	all = all[start:]
	rsp := &proto.ListAccessRequestsResponse{AccessRequests: all}
	if req.Limit > 0 && len(all) > int(req.Limit) {
		rsp.AccessRequests = all[:req.Limit]
		rsp.NextKey = all[req.Limit].GetName()
	}
	return rsp, nil
}

// GetAccessRequestsV2 streams requests matching the filter (the call older
// servers answer instead of ListAccessRequests).
func (a *authService) GetAccessRequestsV2(filter *types.AccessRequestFilter, stream proto.AuthService_GetAccessRequestsV2Server) error {
	all, err := a.list(stream.Context(), filter)
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := stream.Send(r); err != nil {
			return err
		}
	}
	return nil
}

// SubmitAccessReview applies a review by the caller (Enterprise only).
func (a *authService) SubmitAccessReview(ctx context.Context, sub *types.AccessReviewSubmission) (*types.AccessRequestV3, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.SubmitAccessReview++
	if !s.opts.Enterprise {
		return nil, trace.AccessDenied("access request reviews are only available in Teleport Enterprise")
	}
	r, ok := s.reqs[sub.RequestID]
	if !ok {
		return nil, trace.NotFound("access request %q not found", sub.RequestID)
	}
	if r.GetUser() == user || !perms.canReview(r.GetRoles()) {
		return nil, trace.AccessDenied("user %q cannot submit reviews for access request %q", user, sub.RequestID)
	}
	rev := sub.Review
	rev.Author = user
	return s.reviewLocked(sub.RequestID, rev)
}

// SetAccessRequestState sets a request's state (access_request: update).
func (a *authService) SetAccessRequestState(ctx context.Context, req *proto.RequestStateSetter) (*emptypb.Empty, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.SetAccessRequestState++
	if !perms.UpdateRequests {
		return nil, denied(user, "update", types.KindAccessRequest)
	}
	if err := s.setStateLocked(req.ID, req.State, req.Reason, req.Delegator); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// GetPluginData returns the plugin data matching the filter.
func (a *authService) GetPluginData(ctx context.Context, f *types.PluginDataFilter) (*proto.PluginDataSeq, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.PluginData {
		return nil, denied(user, "read", types.KindAccessPluginData)
	}
	if f.Kind != "" && f.Kind != types.KindAccessRequest {
		return nil, trace.BadParameter("unsupported resource kind %q", f.Kind)
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.GetPluginData++
	seq := &proto.PluginDataSeq{}
	for _, id := range s.order {
		pd, ok := s.pdata[id]
		if !ok || !f.Match(pd) {
			continue
		}
		cp := clonePD(pd)
		if f.Plugin != "" {
			// Teleport returns only the entry of the plugin asked for.
			cp.Spec.Entries = map[string]*types.PluginDataEntry{f.Plugin: cp.Spec.Entries[f.Plugin]}
		}
		seq.PluginData = append(seq.PluginData, cp)
	}
	return seq, nil
}

// UpdatePluginData sets plugin data keys if the expectations hold.
func (a *authService) UpdatePluginData(ctx context.Context, p *types.PluginDataUpdateParams) (*emptypb.Empty, error) {
	user, perms, err := a.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !perms.PluginData {
		return nil, denied(user, "update", types.KindAccessPluginData)
	}
	if p.Kind != types.KindAccessRequest {
		return nil, trace.BadParameter("unsupported resource kind %q", p.Kind)
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.UpdatePluginData++
	if _, ok := s.reqs[p.Resource]; !ok {
		return nil, trace.NotFound("access request %q not found", p.Resource)
	}
	var pd *types.PluginDataV3
	if old, ok := s.pdata[p.Resource]; ok {
		pd = clonePD(old)
	} else {
		fresh, err := types.NewPluginData(p.Resource, types.KindAccessRequest)
		if err != nil {
			return nil, err
		}
		pd = fresh.(*types.PluginDataV3)
	}
	if err := pd.Update(*p); err != nil {
		return nil, err
	}
	s.pdata[p.Resource] = pd
	return &emptypb.Empty{}, nil
}

// WatchEvents streams OpInit (its watch status names the kinds confirmed),
// then OpPut / OpDelete of those kinds: access requests and access
// monitoring rules.
func (a *authService) WatchEvents(req *proto.Watch, stream proto.AuthService_WatchEventsServer) error {
	ctx := stream.Context()
	user, perms, err := a.caller(ctx)
	if err != nil {
		return err
	}
	kinds, err := a.s.confirmKinds(user, perms, req)
	if err != nil {
		return err
	}
	s := a.s
	s.mu.Lock()
	s.counts.WatchEvents++
	cut := s.cut[user]
	s.mu.Unlock()
	if cut {
		return trace.ConnectionProblem(nil, "watch streams of %s are cut", user)
	}
	w := s.addWatcher(user, kinds)
	defer s.removeWatcher(w)

	init, err := client.EventToGRPC(types.Event{Type: types.OpInit, Resource: types.NewWatchStatus(kinds)})
	if err != nil {
		return err
	}
	if err := stream.Send(init); err != nil {
		return err
	}
	for {
		select {
		case ev := <-w.events:
			out, err := client.EventToGRPC(ev)
			if err != nil {
				return err
			}
			if err := stream.Send(out); err != nil {
				return err
			}
		case <-w.done:
			s.mu.Lock()
			err := w.err
			s.mu.Unlock()
			return trace.ConnectionProblem(err, "%v", err)
		case <-ctx.Done():
			return nil
		}
	}
}

func clonePD(pd *types.PluginDataV3) *types.PluginDataV3 {
	return gogoproto.Clone(pd).(*types.PluginDataV3)
}
