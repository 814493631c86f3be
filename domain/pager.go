package domain

import (
	"strings"
	"time"
)

// Service is a pager service (a PagerDuty service).
type Service struct {
	ID                 string
	Name               string
	EscalationPolicyID string
}

// PagerUser is a user of the pager.
type PagerUser struct {
	ID    string
	Name  string
	Email string
}

// OnCall is one on-call entry: a user is on call for an escalation policy at
// a level. Zero Start/End mean a permanent entry.
type OnCall struct {
	UserID             string
	EscalationPolicyID string
	Level              int
	Start              time.Time
	End                time.Time
}

// ActiveAt reports whether the entry covers the instant t.
func (o OnCall) ActiveAt(t time.Time) bool {
	if !o.Start.IsZero() && t.Before(o.Start) {
		return false
	}
	if !o.End.IsZero() && !t.Before(o.End) {
		return false
	}
	return true
}

// Incident statuses as the pager reports them.
const (
	IncidentTriggered    = "triggered"
	IncidentAcknowledged = "acknowledged"
	IncidentResolved     = "resolved"
)

// Incident is a pager incident.
type Incident struct {
	ID          string
	Key         string // incident_key (dedup key)
	ServiceID   string
	Status      string
	Title       string
	HTMLURL     string
	AssigneeIDs []string
	// Existing: EnsureIncident found the incident already open under the
	// key (another writer opened it) instead of opening it.
	Existing bool
}

// Active reports whether the incident is triggered or acknowledged.
func (i Incident) Active() bool {
	return i.Status == IncidentTriggered || i.Status == IncidentAcknowledged
}

// IncidentSpec is what pagergate asks the pager to open.
type IncidentSpec struct {
	ServiceID string
	Key       string
	Title     string
	Details   string
	Urgency   string
	Priority  string
}

// IncidentKeyPrefix starts every incident_key pagergate (and the reference
// plugin) creates.
const IncidentKeyPrefix = "teleport-access-request/"

// IncidentKey returns the dedup key of a request's incidents.
func IncidentKey(requestID string) string { return IncidentKeyPrefix + requestID }

// RequestIDFromKey returns the request ID behind an incident_key, or "" when
// the key is not one of ours.
func RequestIDFromKey(key string) string {
	id, ok := strings.CutPrefix(key, IncidentKeyPrefix)
	if !ok {
		return ""
	}
	return id
}

// OwnIncident reports whether an incident was opened for an access request
// (by pagergate or the reference plugin).
func OwnIncident(i Incident) bool { return strings.HasPrefix(i.Key, IncidentKeyPrefix) }

// ActionHook is a Custom Incident Action pagergate provisions on a service.
type ActionHook struct {
	Name string // "Approve access"
	URL  string
	// Headers sent with each delivery (e.g. basic auth or a shared secret).
	Headers map[string]string
}
