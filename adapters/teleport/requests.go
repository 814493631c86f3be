package teleport

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gravitational/teleport/api/client"
	"github.com/gravitational/teleport/api/client/proto"
	"github.com/gravitational/teleport/api/types"
	apiutils "github.com/gravitational/teleport/api/utils"
	"github.com/gravitational/trace"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Permissions named in *ports.PermissionError.
const (
	PermReview       = "review_requests"
	PermUpdate       = "access_request: update"
	PermRead         = "access_request: list, read"
	PermPluginData   = "access_plugin_data: read"
	PermPluginUpdate = "access_plugin_data: update"
)

// GetRequest returns one request; ports.ErrNotFound when it is gone.
func (c *Client) GetRequest(ctx context.Context, id string) (domain.Request, error) {
	api, err := c.conn("get access request " + id)
	if err != nil {
		return domain.Request{}, err
	}
	reqs, err := api.GetAccessRequests(ctx, types.AccessRequestFilter{ID: id})
	if err != nil {
		return domain.Request{}, translate(ctx, err, "get access request "+id, PermRead)
	}
	for _, r := range reqs {
		if r.GetName() == id {
			return toDomain(r), nil
		}
	}
	return domain.Request{}, fmt.Errorf("get access request %s: %w", id, ports.ErrNotFound)
}

// ScanRequests calls fn for every access request, in any state, a page
// at a time.
func (c *Client) ScanRequests(ctx context.Context, fn func(domain.Request)) error {
	return c.eachRequest(ctx, "list access requests", types.AccessRequestFilter{}, func(r types.AccessRequest) {
		fn(toDomain(r))
	})
}

// ListPending returns every pending request.
func (c *Client) ListPending(ctx context.Context) ([]domain.Request, error) {
	var out []domain.Request
	err := c.eachRequest(ctx, "list pending access requests", types.AccessRequestFilter{State: types.RequestState_PENDING}, func(r types.AccessRequest) {
		// The filter is applied by the server; check again in case an old
		// one ignored it.
		if r.GetState().IsPending() {
			out = append(out, toDomain(r))
		}
	})
	return out, err
}

// listPage is how many requests one ListAccessRequests call returns.
// Only one page of Teleport objects is held at a time; the caller keeps
// the small domain records.
const listPage = 200

// eachRequest calls fn for every request the filter matches, a page at a
// time. A server without ListAccessRequests (before v15) is asked the
// whole list at once, as the api client's compatibility path does.
func (c *Client) eachRequest(ctx context.Context, what string, filter types.AccessRequestFilter, fn func(types.AccessRequest)) error {
	api, err := c.conn(what)
	if err != nil {
		return err
	}
	req := &proto.ListAccessRequestsRequest{Filter: &filter, Limit: listPage}
	for {
		rsp, err := api.ListAccessRequests(ctx, req)
		if trace.IsNotImplemented(err) {
			return c.eachRequestAtOnce(ctx, api, what, filter, fn)
		}
		if err != nil {
			return translate(ctx, err, what, PermRead)
		}
		for _, r := range rsp.AccessRequests {
			fn(r)
		}
		if rsp.NextKey == "" {
			return nil
		}
		req.StartKey = rsp.NextKey
	}
}

func (c *Client) eachRequestAtOnce(ctx context.Context, api *client.Client, what string, filter types.AccessRequestFilter, fn func(types.AccessRequest)) error {
	reqs, err := api.GetAccessRequests(ctx, filter)
	if err != nil {
		return translate(ctx, err, what, PermRead)
	}
	for _, r := range reqs {
		fn(r)
	}
	return nil
}

// toDomain converts a Teleport access request.
func toDomain(r types.AccessRequest) domain.Request {
	out := domain.Request{
		ID:                 r.GetName(),
		User:               r.GetUser(),
		Roles:              slices.Clone(r.GetOriginalRoles()),
		Reason:             r.GetRequestReason(),
		Created:            r.GetCreationTime().UTC(),
		Expires:            r.GetAccessExpiry().UTC(),
		RequestExpires:     r.Expiry().UTC(),
		State:              toState(r.GetState()),
		ResolveReason:      r.GetResolveReason(),
		SuggestedReviewers: slices.Clone(r.GetSuggestedReviewers()),
	}
	if len(out.Roles) == 0 {
		out.Roles = slices.Clone(r.GetRoles())
	}
	if a := r.GetSystemAnnotations(); len(a) > 0 {
		out.Annotations = make(map[string][]string, len(a))
		for k, v := range a {
			out.Annotations[k] = slices.Clone(v)
		}
	}
	for _, id := range r.GetRequestedResourceIDs() {
		out.Resources = append(out.Resources, types.ResourceIDToString(id))
	}
	for _, rv := range r.GetReviews() {
		out.Reviews = append(out.Reviews, domain.Review{
			Author:  rv.Author,
			State:   toState(rv.ProposedState),
			Reason:  rv.Reason,
			Created: rv.Created.UTC(),
		})
	}
	return out
}

func toState(s types.RequestState) domain.State {
	switch s {
	case types.RequestState_PENDING:
		return domain.StatePending
	case types.RequestState_APPROVED:
		return domain.StateApproved
	case types.RequestState_DENIED:
		return domain.StateDenied
	case types.RequestState_PROMOTED:
		return domain.StatePromoted
	}
	return domain.StateUnknown
}

func fromState(s domain.State) (types.RequestState, error) {
	switch s {
	case domain.StateApproved:
		return types.RequestState_APPROVED, nil
	case domain.StateDenied:
		return types.RequestState_DENIED, nil
	}
	return types.RequestState_NONE, fmt.Errorf("a verdict must approve or deny, not %s", s)
}

// Resolve approves or denies a request by review (the review's author is
// the plugin's own user) or by setting its state with a delegator.
func (c *Client) Resolve(ctx context.Context, v domain.Verdict) error {
	state, err := fromState(v.State)
	if err != nil {
		return err
	}
	switch v.Mode {
	case domain.ModeReview:
		return c.review(ctx, v, state)
	case domain.ModeSetState:
		return c.setState(ctx, v, state)
	}
	return fmt.Errorf("resolve access request %s: approval mode %q is not review or set_state", v.RequestID, v.Mode)
}

func (c *Client) review(ctx context.Context, v domain.Verdict, state types.RequestState) error {
	what := fmt.Sprintf("review access request %s", v.RequestID)
	api, err := c.conn(what)
	if err != nil {
		return err
	}
	_, err = api.SubmitAccessReview(ctx, types.AccessReviewSubmission{
		RequestID: v.RequestID,
		Review: types.AccessReview{
			ProposedState: state,
			Reason:        v.Reason,
		},
	})
	switch {
	case err == nil:
		return nil
	case isAlreadyReviewed(err):
		return fmt.Errorf("%s: %w", what, ports.ErrAlreadyReviewed)
	case isAlreadyResolved(err):
		return fmt.Errorf("%s: %w: %v", what, ports.ErrAlreadyResolved, err)
	}
	return translate(ctx, err, what, PermReview)
}

func (c *Client) setState(ctx context.Context, v domain.Verdict, state types.RequestState) error {
	what := fmt.Sprintf("set state of access request %s", v.RequestID)
	// Teleport lets a state change overwrite an approval; check first so a
	// resolved request stays as it is.
	cur, err := c.GetRequest(ctx, v.RequestID)
	if err != nil {
		return err
	}
	if cur.State != domain.StatePending {
		return fmt.Errorf("%s: %w: it is %s", what, ports.ErrAlreadyResolved, cur.State.Word())
	}
	if v.Delegator != "" {
		ctx = apiutils.WithDelegator(ctx, v.Delegator)
	}
	api, err := c.conn(what)
	if err != nil {
		return err
	}
	err = api.SetAccessRequestState(ctx, types.AccessRequestUpdate{
		RequestID: v.RequestID,
		State:     state,
		Reason:    v.Reason,
	})
	switch {
	case err == nil:
		return nil
	case isAlreadyResolved(err):
		return fmt.Errorf("%s: %w: %v", what, ports.ErrAlreadyResolved, err)
	}
	return translate(ctx, err, what, PermUpdate)
}

// getPluginData returns the plugin's data on a request (empty when none);
// ports.ErrNotFound when the request is gone.
func (c *Client) getPluginData(ctx context.Context, id string) (map[string]string, error) {
	api, err := c.conn("get plugin data of " + id)
	if err != nil {
		return nil, err
	}
	data, err := api.GetPluginData(ctx, types.PluginDataFilter{
		Kind:     types.KindAccessRequest,
		Resource: id,
		Plugin:   c.cfg.PluginName,
	})
	if err != nil {
		return nil, translate(ctx, err, "get plugin data of "+id, PermPluginData)
	}
	for _, d := range data {
		if d.GetName() != id {
			continue
		}
		if e := d.Entries()[c.cfg.PluginName]; e != nil && len(e.Data) > 0 {
			return maps.Clone(e.Data), nil
		}
	}
	// No data: tell an untouched request from a deleted one.
	if _, err := c.GetRequest(ctx, id); err != nil {
		return nil, err
	}
	return map[string]string{}, nil
}

// updatePluginData replaces the plugin's data with set if it still equals
// expect (nil: no data). Teleport updates keys one by one and checks only
// the keys named in the expectation, so the update names every key of
// either map: keys only in expect are deleted, keys only in set must be
// absent. ports.ErrConflict when another writer changed them first.
func (c *Client) updatePluginData(ctx context.Context, id string, set, expect map[string]string) error {
	params := types.PluginDataUpdateParams{
		Kind:     types.KindAccessRequest,
		Resource: id,
		Plugin:   c.cfg.PluginName,
		Set:      make(map[string]string, len(set)+len(expect)),
		Expect:   make(map[string]string, len(set)+len(expect)),
	}
	for k, v := range expect {
		params.Expect[k] = v
		params.Set[k] = "" // deleted unless set below
	}
	for k, v := range set {
		params.Set[k] = v
		if _, ok := expect[k]; !ok {
			params.Expect[k] = ""
		}
	}
	if len(params.Set) == 0 {
		return nil
	}
	api, err := c.conn("update plugin data of " + id)
	if err != nil {
		return err
	}
	if err := api.UpdatePluginData(ctx, params); err != nil {
		return translate(ctx, err, "update plugin data of "+id, PermPluginUpdate)
	}
	return nil
}
