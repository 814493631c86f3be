package fakeopsgenie

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsimple"
)

// ErrUnknown says a seed names a user, team, schedule or alert the fake
// does not hold.
var ErrUnknown = errors.New("unknown")

// AddUser adds a user (username = email) with a new ID.
func (s *Server) AddUser(username, fullName string) User {
	u, _ := s.AddUserWithID("", username, fullName)
	return u
}

// AddUserWithID adds a user with the given ID ("" = a new one).
func (s *Server) AddUserWithID(id, username, fullName string) (User, error) {
	if !strings.Contains(username, "@") {
		return User{}, fmt.Errorf("username %q is not an email", username)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.userLocked(username); u != nil {
		return User{}, fmt.Errorf("user %q exists", username)
	}
	u := &User{ID: firstOf(id, newUUID()), Username: username, FullName: firstOf(fullName, username)}
	s.users = append(s.users, u)
	s.notify()
	return *u, nil
}

// AddTeam adds a team with members (usernames).
func (s *Server) AddTeam(name string, members ...string) (Team, error) {
	return s.AddTeamWithID("", name, members...)
}

// AddTeamWithID adds a team with the given ID ("" = a new one).
func (s *Server) AddTeamWithID(id, name string, members ...string) (Team, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.TrimSpace(name) == "" || s.teamLocked(name) != nil {
		return Team{}, fmt.Errorf("team name %q is empty or taken", name)
	}
	t := &Team{ID: firstOf(id, newUUID()), Name: name}
	for _, m := range members {
		u := s.userLocked(m)
		if u == nil {
			return Team{}, fmt.Errorf("team %s: user %q: %w", name, m, ErrUnknown)
		}
		t.Members = append(t.Members, u.ID)
	}
	s.teams = append(s.teams, t)
	s.notify()
	return *t, nil
}

// AddSchedule adds a schedule, owned by a team (name or ID; "" = none).
func (s *Server) AddSchedule(name, ownerTeam string) (Schedule, error) {
	return s.AddScheduleWithID("", name, ownerTeam)
}

// AddScheduleWithID adds a schedule with the given ID ("" = a new one).
func (s *Server) AddScheduleWithID(id, name, ownerTeam string) (Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.TrimSpace(name) == "" || s.scheduleLocked(name) != nil {
		return Schedule{}, fmt.Errorf("schedule name %q is empty or taken", name)
	}
	sc := &Schedule{ID: firstOf(id, newUUID()), Name: name}
	if ownerTeam != "" {
		t := s.teamLocked(ownerTeam)
		if t == nil {
			return Schedule{}, fmt.Errorf("schedule %s: team %q: %w", name, ownerTeam, ErrUnknown)
		}
		sc.OwnerTeam = t.ID
	}
	s.schedules = append(s.schedules, sc)
	s.notify()
	return *sc, nil
}

// AddOnCall puts a user (username or ID) on call in the schedule's
// rotation, for good.
func (s *Server) AddOnCall(user, schedule string) error {
	return s.AddOnCallWindow(user, schedule, time.Time{}, time.Time{})
}

// AddOnCallWindow puts a user on call in the schedule during [start, end)
// (zero: open-ended).
func (s *Server) AddOnCallWindow(user, schedule string, start, end time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, sc := s.userLocked(user), s.scheduleLocked(schedule)
	if u == nil || sc == nil {
		return fmt.Errorf("on-call of %q in %q: %w", user, schedule, ErrUnknown)
	}
	s.oncalls[sc.ID] = append(s.oncalls[sc.ID], participant{kind: KindUser, id: u.ID, start: start, end: end})
	s.notify()
	return nil
}

// AddTeamOnCall makes a team a participant of the schedule's rotation.
func (s *Server) AddTeamOnCall(team, schedule string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, sc := s.teamLocked(team), s.scheduleLocked(schedule)
	if t == nil || sc == nil {
		return fmt.Errorf("on-call of team %q in %q: %w", team, schedule, ErrUnknown)
	}
	s.oncalls[sc.ID] = append(s.oncalls[sc.ID], participant{kind: KindTeam, id: t.ID})
	s.notify()
	return nil
}

// Rule is an escalation rule of a seed: notify User (username) after
// DelayMinutes.
type Rule struct {
	DelayMinutes int
	User         string
}

// AddEscalationOnCall makes an escalation with rules a participant of the
// schedule's rotation; who is on call answers its users nested, with
// their escalationTime.
func (s *Server) AddEscalationOnCall(schedule, escalation string, rules ...Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scheduleLocked(schedule)
	if sc == nil || escalation == "" {
		return fmt.Errorf("escalation %q in %q: %w", escalation, schedule, ErrUnknown)
	}
	p := participant{kind: KindEscalation, id: newUUID(), name: escalation}
	for _, r := range rules {
		u := s.userLocked(r.User)
		if u == nil || r.DelayMinutes < 0 {
			return fmt.Errorf("escalation %s: rule for %q: %w", escalation, r.User, ErrUnknown)
		}
		p.rules = append(p.rules, EscalationRule{DelayMinutes: r.DelayMinutes, UserID: u.ID})
	}
	slices.SortStableFunc(p.rules, func(a, b EscalationRule) int { return a.DelayMinutes - b.DelayMinutes })
	s.oncalls[sc.ID] = append(s.oncalls[sc.ID], p)
	s.notify()
	return nil
}

// RemoveOnCall takes a user off the schedule: out of its rotation and out
// of the rules of its escalations.
func (s *Server) RemoveOnCall(user, schedule string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, sc := s.userLocked(user), s.scheduleLocked(schedule)
	if u == nil || sc == nil {
		return
	}
	var keep []participant
	for _, p := range s.oncalls[sc.ID] {
		if p.kind == KindUser && p.id == u.ID {
			continue
		}
		p.rules = slices.DeleteFunc(slices.Clone(p.rules), func(r EscalationRule) bool { return r.UserID == u.ID })
		keep = append(keep, p)
	}
	s.oncalls[sc.ID] = keep
	s.notify()
}

// Users returns the users, in the order added.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, *u)
	}
	return out
}

// Schedules returns the schedules, in the order added.
func (s *Server) Schedules() []Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Schedule, 0, len(s.schedules))
	for _, sc := range s.schedules {
		out = append(out, *sc)
	}
	return out
}

// Seed is what a seed file holds, in HCL:
//
//	user {
//	  username  = "alice@example.com"
//	  full_name = "Alice"
//	}
//	team {
//	  name    = "ops"
//	  members = ["alice@example.com"]
//	}
//	schedule {
//	  name       = "ops_schedule"
//	  owner_team = "ops"
//	}
//	on_call {
//	  schedule = "ops_schedule"
//	  user     = "alice@example.com" # or team = "ops"
//	}
//	on_call {
//	  schedule   = "ops_schedule"
//	  escalation = "ops_escalation"
//	  rule {
//	    delay_minutes = 10
//	    user          = "bob@example.com"
//	  }
//	}
//	alert {
//	  message    = "Disk full"
//	  responders = ["schedule:ops_schedule"]
//	}
//
// or the same in HCL's JSON syntax (a .json file): {"user": [{…}], …}.
type Seed struct {
	Users     []SeedUser     `hcl:"user,block"`
	Teams     []SeedTeam     `hcl:"team,block"`
	Schedules []SeedSchedule `hcl:"schedule,block"`
	OnCalls   []SeedOnCall   `hcl:"on_call,block"`
	Alerts    []AlertSeed    `hcl:"alert,block"`
}

// SeedUser is a user block of a seed.
type SeedUser struct {
	ID       string `hcl:"id,optional"`
	Username string `hcl:"username"`
	FullName string `hcl:"full_name,optional"`
}

// SeedTeam is a team block of a seed.
type SeedTeam struct {
	ID      string   `hcl:"id,optional"`
	Name    string   `hcl:"name"`
	Members []string `hcl:"members,optional"`
}

// SeedSchedule is a schedule block of a seed.
type SeedSchedule struct {
	ID        string `hcl:"id,optional"`
	Name      string `hcl:"name"`
	OwnerTeam string `hcl:"owner_team,optional"`
}

// SeedOnCall is an on_call block: exactly one of user, team or escalation
// (with rule blocks) takes part in the schedule's rotation.
type SeedOnCall struct {
	Schedule   string     `hcl:"schedule"`
	User       string     `hcl:"user,optional"`
	Team       string     `hcl:"team,optional"`
	Escalation string     `hcl:"escalation,optional"`
	Rules      []SeedRule `hcl:"rule,block"`
}

// SeedRule is a rule block of an escalation on_call.
type SeedRule struct {
	DelayMinutes int    `hcl:"delay_minutes,optional"`
	User         string `hcl:"user"`
}

// LoadSeedFile reads a seed file: HCL, or HCL's JSON syntax when the name
// ends in ".json". Errors name the file and line.
func (s *Server) LoadSeedFile(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read seed: %w", err)
	}
	return s.LoadSeed(path, src)
}

// LoadSeed reads a seed from src; filename picks the syntax (".json" or
// HCL) and names the source in errors.
func (s *Server) LoadSeed(filename string, src []byte) error {
	var seed Seed
	if err := hclsimple.Decode(filename, src, nil, &seed); err != nil {
		return fmt.Errorf("decode seed: %w", err)
	}
	return s.ApplySeed(seed)
}

// ApplySeed adds what a seed holds, in the order users, teams, schedules,
// on-calls, alerts; it reports every entry it could not add.
func (s *Server) ApplySeed(seed Seed) error {
	var errs []error
	for i, u := range seed.Users {
		if _, err := s.AddUserWithID(u.ID, u.Username, u.FullName); err != nil {
			errs = append(errs, fmt.Errorf("user[%d]: %w", i, err))
		}
	}
	for i, t := range seed.Teams {
		if _, err := s.AddTeamWithID(t.ID, t.Name, t.Members...); err != nil {
			errs = append(errs, fmt.Errorf("team[%d]: %w", i, err))
		}
	}
	for i, sc := range seed.Schedules {
		if _, err := s.AddScheduleWithID(sc.ID, sc.Name, sc.OwnerTeam); err != nil {
			errs = append(errs, fmt.Errorf("schedule[%d]: %w", i, err))
		}
	}
	for i, o := range seed.OnCalls {
		if err := s.applyOnCall(o); err != nil {
			errs = append(errs, fmt.Errorf("on_call[%d]: %w", i, err))
		}
	}
	for i, a := range seed.Alerts {
		if _, err := s.AddAlert(a); err != nil {
			errs = append(errs, fmt.Errorf("alert[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) applyOnCall(o SeedOnCall) error {
	set := 0
	for _, v := range []string{o.User, o.Team, o.Escalation} {
		if v != "" {
			set++
		}
	}
	if set != 1 || (o.Escalation == "" && len(o.Rules) > 0) {
		return errors.New("set exactly one of user, team or escalation (rules go with an escalation)")
	}
	switch {
	case o.User != "":
		return s.AddOnCall(o.User, o.Schedule)
	case o.Team != "":
		return s.AddTeamOnCall(o.Team, o.Schedule)
	}
	rules := make([]Rule, 0, len(o.Rules))
	for _, r := range o.Rules {
		rules = append(rules, Rule(r))
	}
	return s.AddEscalationOnCall(o.Schedule, o.Escalation, rules...)
}
