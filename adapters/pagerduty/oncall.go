package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// FindService resolves a service by ID (when nameOrID looks like one and
// GET /services/{id} finds it) or else by name, case-insensitively, over
// all pages of GET /services?query=. The service includes its escalation
// policy ID. Results are cached for Config.CacheTTL.
func (c *Client) FindService(ctx context.Context, nameOrID string) (domain.Service, error) {
	s := strings.TrimSpace(nameOrID)
	if s == "" {
		return domain.Service{}, fmt.Errorf("service with empty name: %w", ports.ErrNotFound)
	}
	if looksLikeID(s) {
		if svc, ok := cacheGet[domain.Service](ctx, c, keyServiceID+s); ok {
			return svc, nil
		}
		got, err := c.pd.GetServiceWithContext(ctx, s, nil)
		if err == nil {
			svc := toService(*got)
			c.putService(ctx, svc)
			return svc, nil
		}
		if err = c.fail(ctx, err); !errors.Is(err, ports.ErrNotFound) {
			return domain.Service{}, fmt.Errorf("get service %s: %w", s, err)
		}
	}
	if svc, ok := cacheGet[domain.Service](ctx, c, keyServiceName+strings.ToLower(s)); ok {
		return svc, nil
	}
	all, err := allPages(func(offset uint) ([]pd.Service, bool, error) {
		resp, err := c.pd.ListServicesWithContext(ctx, pd.ListServiceOptions{Query: s, Limit: c.limit, Offset: offset})
		if err != nil {
			return nil, false, c.fail(ctx, err)
		}
		return resp.Services, resp.More, nil
	})
	if err != nil {
		return domain.Service{}, fmt.Errorf("find service %q: %w", s, err)
	}
	var found *pd.Service
	for i := range all {
		if all[i].Name == s {
			found = &all[i]
			break
		}
		if found == nil && strings.EqualFold(all[i].Name, s) {
			found = &all[i]
		}
	}
	if found == nil {
		return domain.Service{}, fmt.Errorf("service %q: %w", s, ports.ErrNotFound)
	}
	svc := toService(*found)
	c.putService(ctx, svc)
	return svc, nil
}

func (c *Client) putService(ctx context.Context, svc domain.Service) {
	cachePut(ctx, c, keyServiceID+svc.ID, svc)
	cachePut(ctx, c, keyServiceName+strings.ToLower(svc.Name), svc)
}

// FindUserByEmail finds a user by email, case-insensitively, over all
// pages of GET /users?query=. Results are cached for Config.CacheTTL.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (domain.PagerUser, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return domain.PagerUser{}, fmt.Errorf("user with empty email: %w", ports.ErrNotFound)
	}
	if u, ok := cacheGet[domain.PagerUser](ctx, c, keyUserEmail+strings.ToLower(email)); ok {
		return u, nil
	}
	all, err := allPages(func(offset uint) ([]pd.User, bool, error) {
		resp, err := c.pd.ListUsersWithContext(ctx, pd.ListUsersOptions{Query: email, Limit: c.limit, Offset: offset})
		if err != nil {
			return nil, false, c.fail(ctx, err)
		}
		return resp.Users, resp.More, nil
	})
	if err != nil {
		return domain.PagerUser{}, fmt.Errorf("find user %s: %w", email, err)
	}
	for _, u := range all {
		if strings.EqualFold(u.Email, email) {
			pu := toUser(u)
			c.putUser(ctx, pu)
			return pu, nil
		}
	}
	return domain.PagerUser{}, fmt.Errorf("user %s: %w", email, ports.ErrNotFound)
}

// GetUser returns a user by ID (cached for Config.CacheTTL).
func (c *Client) GetUser(ctx context.Context, id string) (domain.PagerUser, error) {
	if !validID(id) {
		return domain.PagerUser{}, idError("user", id)
	}
	if u, ok := cacheGet[domain.PagerUser](ctx, c, keyUserID+id); ok {
		return u, nil
	}
	got, err := c.pd.GetUserWithContext(ctx, id, pd.GetUserOptions{})
	if err != nil {
		return domain.PagerUser{}, fmt.Errorf("get user %s: %w", id, c.fail(ctx, err))
	}
	u := toUser(*got)
	c.putUser(ctx, u)
	return u, nil
}

func (c *Client) putUser(ctx context.Context, u domain.PagerUser) {
	cachePut(ctx, c, keyUserID+u.ID, u)
	if u.Email != "" {
		cachePut(ctx, c, keyUserEmail+strings.ToLower(u.Email), u)
	}
}

// OnCallsNow returns the user's on-call entries now for the escalation
// policies: one GET /oncalls, never cached. A null start or end is a
// permanent entry (zero time).
func (c *Client) OnCallsNow(ctx context.Context, userID string, policyIDs []string) ([]domain.OnCall, error) {
	if !validID(userID) {
		return nil, idError("user", userID)
	}
	policies := uniq(policyIDs)
	if len(policies) == 0 {
		return nil, nil
	}
	all, err := allPages(func(offset uint) ([]pd.OnCall, bool, error) {
		resp, err := c.pd.ListOnCallsWithContext(ctx, pd.ListOnCallOptions{
			UserIDs:             []string{userID},
			EscalationPolicyIDs: policies,
			Limit:               c.limit,
			Offset:              offset,
		})
		if err != nil {
			return nil, false, c.fail(ctx, err)
		}
		return resp.OnCalls, resp.More, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list on-calls of user %s: %w", userID, err)
	}
	out := make([]domain.OnCall, 0, len(all))
	for _, oc := range all {
		entry := domain.OnCall{
			UserID:             oc.User.ID,
			EscalationPolicyID: oc.EscalationPolicy.ID,
			Level:              int(oc.EscalationLevel),
		}
		// An unreadable time must not turn into "permanent": fail closed.
		if entry.Start, err = parseTime(oc.Start); err != nil {
			return nil, fmt.Errorf("on-call of user %s: start: %w", userID, err)
		}
		if entry.End, err = parseTime(oc.End); err != nil {
			return nil, fmt.Errorf("on-call of user %s: end: %w", userID, err)
		}
		out = append(out, entry)
	}
	return out, nil
}

// ActiveIncidents returns the triggered or acknowledged incidents assigned
// to the user in the services, over all pages.
func (c *Client) ActiveIncidents(ctx context.Context, userID string, serviceIDs []string) ([]domain.Incident, error) {
	if !validID(userID) {
		return nil, idError("user", userID)
	}
	services := uniq(serviceIDs)
	if len(services) == 0 {
		return nil, nil
	}
	list, err := c.listIncidents(ctx, pd.ListIncidentsOptions{
		DateRange:  "all",
		Statuses:   activeStatuses,
		UserIDs:    []string{userID},
		ServiceIDs: services,
	})
	if err != nil {
		return nil, fmt.Errorf("list active incidents of user %s: %w", userID, err)
	}
	out := list[:0]
	for _, in := range list {
		if in.Active() {
			out = append(out, in)
		}
	}
	return out, nil
}

// looksLikeID reports whether s has the shape of a PagerDuty object ID
// (upper-case letters and digits, e.g. "PIJ90N7").
func looksLikeID(s string) bool {
	if len(s) < 5 || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	}
	return t, nil
}

func uniq(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func toService(s pd.Service) domain.Service {
	return domain.Service{ID: s.ID, Name: s.Name, EscalationPolicyID: s.EscalationPolicy.ID}
}

func toUser(u pd.User) domain.PagerUser {
	return domain.PagerUser{ID: u.ID, Name: u.Name, Email: u.Email}
}
