package fakepd

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pagergate/pagergate/domain"
)

// Incident is a snapshot of one incident held by the fake.
type Incident struct {
	ID     string
	Number int
	// Key is the incident_key (dedup key); "" when none was given.
	Key       string
	ServiceID string
	// EscalationPolicyID is the policy the incident escalates through.
	EscalationPolicyID string
	Status             string // triggered, acknowledged or resolved
	Title              string
	Details            string
	Urgency            string
	HTMLURL            string
	CreatedAt          time.Time
	ResolvedAt         time.Time
	// Assignees are the emails of the assigned users, AssigneeIDs their IDs
	// (both empty once resolved, like PagerDuty).
	Assignees   []string
	AssigneeIDs []string
	Notes       []Note
	// LastDelivery describes the last webhook delivery sent from the web
	// page or SendAction for this incident ("" when none).
	LastDelivery string
}

// Domain returns the incident as the core sees it.
func (i Incident) Domain() domain.Incident {
	return domain.Incident{
		ID:          i.ID,
		Key:         i.Key,
		ServiceID:   i.ServiceID,
		Status:      i.Status,
		Title:       i.Title,
		HTMLURL:     i.HTMLURL,
		AssigneeIDs: slices.Clone(i.AssigneeIDs),
	}
}

// Note is one incident note.
type Note struct {
	ID      string
	Content string
	// Author is the email of the user named in the From header.
	Author    string
	CreatedAt time.Time
}

// IncidentSeed describes a pre-existing incident for AddIncident.
type IncidentSeed struct {
	// Service is the service name or ID (required).
	Service string
	// Key is the incident_key; "" for an incident opened by a human.
	Key     string
	Title   string
	Details string
	// Status defaults to triggered.
	Status string
	// Assignees are user emails; when empty the incident is assigned to
	// the level-1 on-call users of the service's escalation policy.
	Assignees []string
}

type user struct {
	id, name, email string
	createdAt       time.Time
}

type service struct {
	id, name, policyID string
	createdAt          time.Time
	lastIncident       time.Time
}

type policy struct {
	id, name  string
	serviceID string
}

type onCall struct {
	userID, policyID string
	level            int
	start, end       time.Time // zero = open-ended
}

func (o onCall) overlaps(since, until time.Time) bool {
	if since.Equal(until) {
		return domain.OnCall{Start: o.start, End: o.end}.ActiveAt(since)
	}
	if !o.end.IsZero() && !o.end.After(since) {
		return false
	}
	if !o.start.IsZero() && !o.start.Before(until) {
		return false
	}
	return true
}

type assignment struct {
	userID string
	at     time.Time
}

type ack struct {
	userID string
	at     time.Time
}

type note struct {
	id, content, userID string
	createdAt           time.Time
}

type incident struct {
	id            string
	number        int
	key           string
	serviceID     string
	policyID      string
	status        string
	title         string
	details       string
	urgency       string
	priorityID    string
	assignedVia   string
	createdAt     time.Time
	updatedAt     time.Time
	lastChangeAt  time.Time
	lastChangeBy  string // user ID; "" = the service
	resolvedAt    time.Time
	assignments   []assignment
	acks          []ack
	notes         []note
	lastDelivery  string
	deliveryCount int
}

func (i *incident) open() bool { return i.status != domain.IncidentResolved }

type extension struct {
	id, name, endpointURL, schemaID string
	serviceIDs                      []string
	config                          map[string]any
}

type extensionSchema struct {
	id, key, label, description string
	sendTypes                   []string
}

// Extension schemas the fake offers. PagerDuty's Custom Incident Actions
// use the schema with key "custom_webhook".
const (
	CustomWebhookSchemaID  = "PCIA001"
	GenericWebhookSchemaID = "PGWH002"
)

var extensionSchemas = []extensionSchema{
	{
		id:          CustomWebhookSchemaID,
		key:         "custom_webhook",
		label:       "Custom Incident Action",
		description: "Adds a button to incidents that sends the incident to a URL.",
		sendTypes:   []string{"custom"},
	},
	{
		id:          GenericWebhookSchemaID,
		key:         "generic_v2_webhook",
		label:       "Generic V2 Webhook",
		description: "Sends incident events to a URL (v2 webhook).",
		sendTypes:   []string{"trigger", "acknowledge", "resolve", "delegate", "escalate", "unacknowledge", "assign"},
	},
}

func findSchema(id string) (extensionSchema, bool) {
	for _, s := range extensionSchemas {
		if s.id == id {
			return s, true
		}
	}
	return extensionSchema{}, false
}

// ids hands out deterministic, PagerDuty-looking IDs: "P", one letter for
// the kind and a zero-padded counter ("PU00001" for the first user).
type ids struct {
	next map[byte]int
}

func (g *ids) make(kind byte) string {
	if g.next == nil {
		g.next = map[byte]int{}
	}
	g.next[kind]++
	return fmt.Sprintf("P%c%05d", kind, g.next[kind])
}

// Kinds of IDs.
const (
	kindUser      = 'U'
	kindService   = 'S'
	kindPolicy    = 'E'
	kindIncident  = 'I'
	kindNote      = 'N'
	kindExtension = 'X'
	kindEvent     = 'V'
)

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
