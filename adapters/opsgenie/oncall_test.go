package opsgenie

import (
	"errors"
	"testing"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/ports"
)

// Levels: in the rotation (or an on-call team) is 1; an escalation's
// steps count by distinct escalationTime, in order; the lowest wins.
func TestOnCallLevels(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	for _, u := range []string{"carol@example.com", "dan@example.com", "erin@example.com", "frank@example.com"} {
		h.fake.AddUser(u, u)
	}
	mustNil(t, h.fake.AddOnCall("alice@example.com", "ops_schedule"))
	mustNil(t, h.fake.AddEscalationOnCall("ops_schedule", "esc",
		fakeopsgenie.Rule{DelayMinutes: 0, User: "alice@example.com"},
		fakeopsgenie.Rule{DelayMinutes: 0, User: "carol@example.com"},
		fakeopsgenie.Rule{DelayMinutes: 15, User: "dan@example.com"},
		fakeopsgenie.Rule{DelayMinutes: 15, User: "erin@example.com"},
		fakeopsgenie.Rule{DelayMinutes: 30, User: "frank@example.com"}))
	svc := h.service(t, "ops_schedule")
	want := map[string]int{"alice@example.com": 1, "carol@example.com": 1, "dan@example.com": 2, "erin@example.com": 2,
		"frank@example.com": 3, "bob@example.com": 0}
	for email, level := range want {
		u, err := h.client.FindUserByEmail(t.Context(), email)
		mustNil(t, err)
		got, err := h.client.OnCallsNow(t.Context(), u.ID, []string{svc.EscalationPolicyID})
		mustNil(t, err)
		if level == 0 && len(got) != 0 || level > 0 && (len(got) != 1 || got[0].Level != level || got[0].EscalationPolicyID != svc.EscalationPolicyID) {
			t.Errorf("OnCallsNow(%s) = %+v, want level %d", email, got, level)
		}
	}
	// No team in the rotation: one read per check, never the flat one.
	if n := h.fake.Calls()["GET /v2/schedules/{id}/on-calls"]; n != len(want) {
		t.Errorf("on-call reads = %d, want %d", n, len(want))
	}
}

// A team in the rotation puts its members on call at level 1, read from
// the flat answer; a team notify target has no on-call of its own.
func TestOnCallThroughTeam(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	mustNil(t, h.fake.AddTeamOnCall("ops", "ops_schedule"))
	svc := h.service(t, "ops_schedule")
	bob, _ := h.client.FindUserByEmail(t.Context(), "bob@example.com")
	alice, _ := h.client.FindUserByEmail(t.Context(), "alice@example.com")
	got, err := h.client.OnCallsNow(t.Context(), bob.ID, []string{svc.EscalationPolicyID})
	if err != nil || len(got) != 1 || got[0].Level != 1 {
		t.Errorf("OnCallsNow(bob, member of the on-call team) = %+v, %v; want level 1", got, err)
	}
	if got, _ := h.client.OnCallsNow(t.Context(), alice.ID, []string{svc.EscalationPolicyID}); len(got) != 0 {
		t.Errorf("OnCallsNow(alice, not in the team) = %+v, want none", got)
	}
	team := h.service(t, "team:ops")
	if team.EscalationPolicyID != "" {
		t.Errorf("team service = %+v, want no escalation policy", team)
	}
	if got, err := h.client.OnCallsNow(t.Context(), bob.ID, []string{team.ID, ""}); err != nil || len(got) != 0 {
		t.Errorf("OnCallsNow(team policy) = %+v, %v; want none", got, err)
	}
}

// A schedule deleted after it was looked up fails closed.
func TestOnCallUnknownScheduleFailsClosed(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	alice, _ := h.client.FindUserByEmail(t.Context(), "alice@example.com")
	_, err := h.client.OnCallsNow(t.Context(), alice.ID, []string{"schedule:0000-gone"})
	if !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("OnCallsNow(gone schedule) = %v, want ErrNotFound", err)
	}
	if _, err := h.client.OnCallsNow(t.Context(), "no-such-user", []string{"schedule:x"}); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("OnCallsNow(unknown user) = %v, want ErrNotFound", err)
	}
}

// Targets resolve by name (any case) or ID, "team:" picks teams, and a new
// schedule is found although the list is cached.
func TestFindServiceTargets(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	sched := h.service(t, "OPS_SCHEDULE")
	team := h.service(t, "team:OPS")
	if sched.ID == team.ID || sched.EscalationPolicyID != sched.ID || team.Name != "ops" {
		t.Errorf("schedule %+v, team %+v", sched, team)
	}
	if _, err := h.client.FindService(t.Context(), "ops"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("bare team name = %v, want ErrNotFound (bare names are schedules)", err)
	}
	if _, err := h.fake.AddSchedule("late_schedule", ""); err != nil {
		t.Fatal(err)
	}
	if svc := h.service(t, "late_schedule"); svc.Name != "late_schedule" {
		t.Errorf("new schedule = %+v", svc)
	}
	before := h.fake.TotalCalls()
	h.service(t, "ops_schedule")
	h.service(t, sched.ID)
	if n := h.fake.TotalCalls() - before; n != 0 {
		t.Errorf("cached lookups made %d requests, want 0", n)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
