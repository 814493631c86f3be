package opsgenie

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsgenie/opsgenie-go-sdk-v2/schedule"
	"github.com/opsgenie/opsgenie-go-sdk-v2/team"
	"github.com/opsgenie/opsgenie-go-sdk-v2/user"

	"github.com/pagergate/pagergate/ports"
)

// userInfo is the adapter's view of an Opsgenie user; Username is the
// user's email.
type userInfo struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	FullName string `json:"full_name"`
}

// fetchSchedules lists every schedule (one call: Opsgenie does not page
// it), uncached.
func (c *Client) fetchSchedules(ctx context.Context) ([]target, error) {
	expand := false
	res, err := c.schedules.List(ctx, &schedule.ListRequest{Expand: &expand})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", c.fail(ctx, err))
	}
	out := make([]target, 0, len(res.Schedule))
	for _, s := range res.Schedule {
		out = append(out, target{Kind: targetSchedule, ID: s.Id, Name: s.Name})
	}
	return out, nil
}

func (c *Client) fetchTeams(ctx context.Context) ([]target, error) {
	res, err := c.teams.List(ctx, &team.ListTeamRequest{})
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", c.fail(ctx, err))
	}
	out := make([]target, 0, len(res.Teams))
	for _, t := range res.Teams {
		out = append(out, target{Kind: targetTeam, ID: t.Id, Name: t.Name})
	}
	return out, nil
}

// targets returns the schedules or teams, from the cache when fresh (fresh
// forces a new list).
func (c *Client) targets(ctx context.Context, kind string, fresh bool) ([]target, error) {
	key, fetch := keySchedules, c.fetchSchedules
	if kind == targetTeam {
		key, fetch = keyTeams, c.fetchTeams
	}
	if !fresh {
		if list, ok := cacheGet[[]target](ctx, c, key); ok {
			return list, nil
		}
	}
	list, err := fetch(ctx)
	if err != nil {
		return nil, err
	}
	cachePut(ctx, c, key, list)
	return list, nil
}

// findTarget resolves "team:<name or ID>", "schedule:<name or ID>" or a
// bare schedule name or ID; names match case-insensitively. A miss in the
// cached list reads the list again once (the target may be new).
func (c *Client) findTarget(ctx context.Context, ref string) (target, error) {
	kind, ident := splitRef(ref)
	if ident == "" {
		return target{}, fmt.Errorf("notify target %q: %w", ref, ports.ErrNotFound)
	}
	for _, fresh := range []bool{false, true} {
		list, err := c.targets(ctx, kind, fresh)
		if err != nil {
			return target{}, err
		}
		for _, t := range list {
			if t.ID == ident || strings.EqualFold(t.Name, ident) {
				return t, nil
			}
		}
	}
	return target{}, fmt.Errorf("opsgenie %s %q: %w", kind, ident, ports.ErrNotFound)
}

// userByName finds a user by username (email), case-insensitively.
func (c *Client) userByName(ctx context.Context, username string) (userInfo, error) {
	key := keyUserName + strings.ToLower(strings.TrimSpace(username))
	return c.user(ctx, key, strings.TrimSpace(username))
}

// userByID finds a user by ID.
func (c *Client) userByID(ctx context.Context, id string) (userInfo, error) {
	return c.user(ctx, keyUserID+id, id)
}

func (c *Client) user(ctx context.Context, key, ident string) (userInfo, error) {
	if u, ok := cacheGet[userInfo](ctx, c, key); ok {
		return u, nil
	}
	if ident == "" || strings.ContainsAny(ident, "/?#") {
		return userInfo{}, fmt.Errorf("opsgenie user %q: %w", ident, ports.ErrNotFound)
	}
	res, err := c.users.Get(ctx, &user.GetRequest{Identifier: ident})
	if err != nil {
		return userInfo{}, fmt.Errorf("get opsgenie user %q: %w", ident, c.fail(ctx, err))
	}
	u := userInfo{ID: res.Id, Username: res.Username, FullName: res.FullName}
	cachePut(ctx, c, keyUserID+u.ID, u)
	cachePut(ctx, c, keyUserName+strings.ToLower(u.Username), u)
	return u, nil
}
