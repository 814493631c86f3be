package fakeopsgenie

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// User is an Opsgenie user. Username is the user's email.
type User struct {
	ID       string
	Username string
	FullName string
}

// Team is an Opsgenie team.
type Team struct {
	ID      string
	Name    string
	Members []string // user IDs
}

// Schedule is an Opsgenie on-call schedule.
type Schedule struct {
	ID        string
	Name      string
	OwnerTeam string // team ID, "" when none
}

// Participant kinds of a schedule's rotation (Opsgenie's participant
// types).
const (
	KindUser       = "user"
	KindTeam       = "team"
	KindEscalation = "escalation"
	KindSchedule   = "schedule"
)

// EscalationRule is one rule of an escalation: notify the user after
// DelayMinutes.
type EscalationRule struct {
	DelayMinutes int
	UserID       string
}

// participant is who is on call in a schedule's rotation during [start,
// end) (zero times: always).
type participant struct {
	kind       string // KindUser, KindTeam or KindEscalation
	id         string // user, team or escalation ID
	name       string // escalation name
	rules      []EscalationRule
	start, end time.Time
}

func (p participant) activeAt(t time.Time) bool {
	return (p.start.IsZero() || !t.Before(p.start)) && (p.end.IsZero() || t.Before(p.end))
}

// Responder is a responder of an alert.
type Responder struct {
	Type string // "user", "team", "schedule" or "escalation"
	ID   string
}

// Note is an alert note.
type Note struct {
	Text      string
	Owner     string
	CreatedAt time.Time
	Offset    string
}

// Alert is a snapshot of an alert.
type Alert struct {
	ID           string
	TinyID       string
	Alias        string
	Message      string
	Description  string
	Status       string // "open" or "closed"
	Acknowledged bool
	Owner        string // username
	Priority     string
	Source       string
	Entity       string
	User         string
	Responders   []Responder
	Tags         []string
	Details      map[string]string
	Actions      []string
	Count        int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Notes        []Note
	// Log is the alert's activity log, oldest first.
	Log []string
}

// Alert statuses.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

type alert struct {
	Alert
	seq int // creation order
}

func (a *alert) snapshot() Alert {
	c := a.Alert
	c.Responders = append([]Responder(nil), a.Responders...)
	c.Tags = append([]string(nil), a.Tags...)
	c.Actions = append([]string(nil), a.Actions...)
	c.Notes = append([]Note(nil), a.Notes...)
	c.Log = append([]string(nil), a.Log...)
	c.Details = make(map[string]string, len(a.Details))
	for k, v := range a.Details {
		c.Details[k] = v
	}
	return c
}

func (a *alert) hasResponder(r Responder) bool {
	for _, x := range a.Responders {
		if x.Type == r.Type && x.ID == r.ID {
			return true
		}
	}
	return false
}

// request is an asynchronous API request (create, close, note…).
type request struct {
	id          string
	action      string // "Create", "Close", "AddNote", …
	alertID     string
	alias       string
	due         time.Time
	processed   bool
	processedAt time.Time
	success     bool
	status      string
	apply       func(now time.Time) (alertID, alias, status string, ok bool)
}

// newUUID returns a random UUID (version 4 layout).
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newAlertID returns an alert ID the way Opsgenie writes them: a UUID and
// the creation time in milliseconds.
func newAlertID(now time.Time) string {
	return newUUID() + "-" + strconv.FormatInt(now.UnixMilli(), 10)
}

// lower folds an identifier for case-insensitive matching.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
