package fakeopsgenie

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUsersTeamsSchedules(t *testing.T) {
	s := newFake(t, Options{})
	alice := s.Users()[0]
	for _, ident := range []string{alice.ID, "alice@example.com", "ALICE@example.com"} {
		a := call(t, s, "GET", "/v2/users/"+ident, nil)
		if a.status != http.StatusOK || a.data()["id"] != alice.ID || a.data()["username"] != "alice@example.com" {
			t.Errorf("GET user %s = %d %v, want alice", ident, a.status, a.body)
		}
	}
	if a := call(t, s, "GET", "/v2/users/nobody@example.com", nil); a.status != http.StatusNotFound {
		t.Errorf("unknown user = %d, want 404", a.status)
	}
	sc := call(t, s, "GET", "/v2/schedules", nil)
	first, _ := sc.list()[0].(map[string]any)
	owner, _ := first["ownerTeam"].(map[string]any)
	if first["name"] != "ops_schedule" || owner["name"] != "ops" || sc.body["expandable"] == nil {
		t.Errorf("schedules = %v, want ops_schedule owned by ops", sc.body)
	}
}

// Who is on call answers users, teams and escalations (with each nested
// user's escalationTime), or, flat, every username reached.
func TestOnCalls(t *testing.T) {
	s := newFake(t, Options{})
	s.AddUser("carol@example.com", "Carol")
	s.AddUser("dan@example.com", "Dan")
	if _, err := s.AddTeam("dbas", "dan@example.com"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mustOK(t, s.AddOnCall("alice@example.com", "ops_schedule"))
	mustOK(t, s.AddOnCallWindow("bob@example.com", "ops_schedule", now.Add(time.Hour), now.Add(2*time.Hour)))
	mustOK(t, s.AddTeamOnCall("dbas", "ops_schedule"))
	mustOK(t, s.AddEscalationOnCall("ops_schedule", "ops_escalation",
		Rule{DelayMinutes: 10, User: "carol@example.com"}, Rule{DelayMinutes: 0, User: "alice@example.com"}))
	a := call(t, s, "GET", "/v2/schedules/ops_schedule/on-calls?scheduleIdentifierType=name", nil)
	parts, _ := a.data()["onCallParticipants"].([]any)
	var kinds []string
	for _, p := range parts {
		kinds = append(kinds, p.(map[string]any)["type"].(string))
	}
	if !slices.Equal(kinds, []string{"user", "team", "escalation"}) {
		t.Fatalf("participants = %v, want user, team, escalation (bob's shift is later)", a.body)
	}
	nested, _ := parts[2].(map[string]any)["onCallParticipants"].([]any)
	if len(nested) != 2 || nested[0].(map[string]any)["name"] != "alice@example.com" || nested[1].(map[string]any)["escalationTime"] != float64(10) {
		t.Errorf("escalation participants = %v, want alice at 0 then carol at 10", nested)
	}
	flat := call(t, s, "GET", "/v2/schedules/ops_schedule/on-calls?scheduleIdentifierType=name&flat=true", nil)
	got, _ := flat.data()["onCallRecipients"].([]any)
	if len(got) != 3 || !slices.Contains(got, any("dan@example.com")) || !slices.Contains(got, any("carol@example.com")) {
		t.Errorf("flat recipients = %v, want alice, dan, carol", got)
	}
	later := now.Add(90 * time.Minute).UTC().Format(time.RFC3339)
	at := call(t, s, "GET", "/v2/schedules/ops_schedule/on-calls?scheduleIdentifierType=name&flat=true&date="+later, nil)
	if got, _ := at.data()["onCallRecipients"].([]any); !slices.Contains(got, any("bob@example.com")) {
		t.Errorf("recipients at %s = %v, want bob's shift", later, got)
	}
	if a := call(t, s, "GET", "/v2/schedules/ops_schedule/on-calls", nil); a.status != http.StatusNotFound {
		t.Errorf("schedule name with identifier type id = %d, want 404", a.status)
	}
	s.RemoveOnCall("alice@example.com", "ops_schedule")
	flat = call(t, s, "GET", "/v2/schedules/ops_schedule/on-calls?scheduleIdentifierType=name&flat=true", nil)
	if got, _ := flat.data()["onCallRecipients"].([]any); slices.Contains(got, any("alice@example.com")) {
		t.Errorf("recipients after RemoveOnCall = %v, want no alice", got)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSeedFiles(t *testing.T) {
	dir := t.TempDir()
	hcl := `
user {
  username  = "alice@example.com"
  full_name = "Alice"
}
user { username = "bob@example.com" }
team {
  name    = "ops"
  members = ["alice@example.com"]
}
schedule {
  name       = "ops_schedule"
  owner_team = "ops"
}
on_call {
  schedule = "ops_schedule"
  user     = "alice@example.com"
}
on_call {
  schedule   = "ops_schedule"
  escalation = "ops_escalation"
  rule {
    user          = "bob@example.com"
    delay_minutes = 5
  }
}
alert {
  message    = "Disk full"
  responders = ["schedule:ops_schedule"]
  owner      = "alice@example.com"
}
`
	json := `{"user": [{"username": "alice@example.com"}], "schedule": [{"name": "s1"}],
"on_call": [{"schedule": "s1", "user": "alice@example.com"}]}`
	for name, src := range map[string]string{"seed.hcl": hcl, "seed.json": json} {
		path := filepath.Join(dir, name)
		mustOK(t, os.WriteFile(path, []byte(src), 0o600))
		s := New(Options{})
		if err := s.LoadSeedFile(path); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(s.Users()) == 0 || len(s.Schedules()) != 1 {
			t.Errorf("%s: users %v, schedules %v", name, s.Users(), s.Schedules())
		}
		_ = s.Close()
	}
}

func TestSeedErrorsNameTheLine(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	err := s.LoadSeed("bad.hcl", []byte("user {\n  username = \"a@example.com\"\n  colour = \"red\"\n}\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.hcl:3") {
		t.Errorf("unknown attribute: %v, want an error at bad.hcl:3", err)
	}
	err = s.LoadSeed("ref.hcl", []byte("on_call {\n  schedule = \"nope\"\n  user = \"x@example.com\"\n}\non_call { schedule = \"nope\" }\n"))
	if err == nil || !strings.Contains(err.Error(), "on_call[0]") || !strings.Contains(err.Error(), "on_call[1]") {
		t.Errorf("bad references: %v, want both on_call entries named", err)
	}
}
