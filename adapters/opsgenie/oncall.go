package opsgenie

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/opsgenie/opsgenie-go-sdk-v2/og"
	"github.com/opsgenie/opsgenie-go-sdk-v2/schedule"
)

// onCallLevel returns the level at which the user is on call in the
// schedule now, 0 when not on call. Level 1: a participant of the
// schedule's current rotation, or a member of an on-call team; level n: the
// n-th step (distinct escalationTime, in order) of an escalation that takes
// part in the rotation. Opsgenie's answer names a team without its
// members, so a team participant costs a second, flat read.
func (c *Client) onCallLevel(ctx context.Context, scheduleID string, u userInfo) (int, error) {
	res, err := c.onCalls(ctx, scheduleID, false)
	if err != nil {
		return 0, err
	}
	level, teams := levelIn(res.OnCallParticipants, u)
	if level > 0 || !teams {
		return level, nil
	}
	flat, err := c.onCalls(ctx, scheduleID, true)
	if err != nil {
		return 0, err
	}
	if slices.ContainsFunc(flat.OnCallRecipients, func(n string) bool { return strings.EqualFold(n, u.Username) }) {
		return 1, nil
	}
	return 0, nil
}

func (c *Client) onCalls(ctx context.Context, scheduleID string, flat bool) (*schedule.GetOnCallsResult, error) {
	res, err := c.schedules.GetOnCalls(ctx, &schedule.GetOnCallsRequest{
		Flat: &flat, ScheduleIdentifierType: schedule.Id, ScheduleIdentifier: scheduleID,
	})
	if err != nil {
		return nil, fmt.Errorf("who is on call for schedule %s: %w", scheduleID, c.fail(ctx, err))
	}
	return res, nil
}

// levelIn reads the user's level from a non-flat on-call answer (see
// onCallLevel); teams reports whether a team takes part.
func levelIn(parts []schedule.GetOnCallParticipant, u userInfo) (level int, teams bool) {
	is := func(id, name string) bool { return id == u.ID || (name != "" && strings.EqualFold(name, u.Username)) }
	better := func(l int) {
		if l > 0 && (level == 0 || l < level) {
			level = l
		}
	}
	for _, p := range parts {
		switch p.Type {
		case og.User:
			if is(p.Id, p.Name) {
				better(1)
			}
		case og.Team:
			teams = true
		case og.Escalation:
			var times []uint32
			for _, n := range p.OnCallParticipants {
				if !slices.Contains(times, n.EscalationTime) {
					times = append(times, n.EscalationTime)
				}
			}
			slices.Sort(times)
			for _, n := range p.OnCallParticipants {
				if n.Type == og.User && is(n.Id, n.Name) {
					better(slices.Index(times, n.EscalationTime) + 1)
				}
			}
		}
	}
	return level, teams
}
