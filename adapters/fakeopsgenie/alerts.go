package fakeopsgenie

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

type responderBody struct {
	Type     string `json:"type"`
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
}

type createBody struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Responders  []responderBody   `json:"responders"`
	VisibleTo   []responderBody   `json:"visibleTo"`
	Actions     []string          `json:"actions"`
	Tags        []string          `json:"tags"`
	Details     map[string]string `json:"details"`
	Entity      string            `json:"entity"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
	User        string            `json:"user"`
	Note        string            `json:"note"`
}

// actionBody is the body of close, note and custom action requests.
type actionBody struct {
	User   string `json:"user"`
	Source string `json:"source"`
	Note   string `json:"note"`
}

var priorities = []string{"P1", "P2", "P3", "P4", "P5"}

// createAlert serves POST /v2/alerts: checks the body at once (422), then
// creates the alert, or raises the count of the open alert with the same
// alias, when the request is processed.
func (s *Server) createAlert(w http.ResponseWriter, r *http.Request) {
	var b createBody
	if !readJSON(w, r, &b) {
		return
	}
	if field, msg := validateCreate(b); field != "" {
		invalid(w, r, field, msg)
		return
	}
	reqID := requestID(r.Context())
	s.mu.Lock()
	s.submitLocked(reqID, "Create", func(now time.Time) (string, string, string, bool) {
		return s.applyCreateLocked(b, now)
	})
	s.mu.Unlock()
	writeAccepted(w, reqID)
}

func validateCreate(b createBody) (field, msg string) {
	switch {
	case b.Message == "":
		return "message", "Message can not be empty."
	case len([]rune(b.Alias)) > maxAlias:
		return "alias", fmt.Sprintf("Alias can not be longer than %d characters.", maxAlias)
	case b.Priority != "" && !slices.Contains(priorities, b.Priority):
		return "priority", "Priority should be one of " + fmt.Sprint(priorities)
	}
	for _, rb := range b.Responders {
		if !slices.Contains([]string{KindUser, KindTeam, KindSchedule, KindEscalation}, rb.Type) {
			return "responders", "Responder type [" + rb.Type + "] is not valid."
		}
		if rb.ID == "" && rb.Name == "" && rb.Username == "" {
			return "responders", "Responder should have an id, a name or a username."
		}
	}
	return "", ""
}

func (s *Server) applyCreateLocked(b createBody, now time.Time) (alertID, alias, status string, ok bool) {
	responders := make([]Responder, 0, len(b.Responders))
	for _, rb := range b.Responders {
		rsp, found := s.resolveResponderLocked(rb)
		if !found {
			return "", b.Alias, fmt.Sprintf("%s responder [%s] does not exist", rb.Type, firstOf(rb.ID, rb.Name, rb.Username)), false
		}
		if !slices.Contains(responders, rsp) {
			responders = append(responders, rsp)
		}
	}
	if b.Alias != "" {
		if a := s.openByAliasLocked(b.Alias); a != nil {
			a.Count++
			a.UpdatedAt = now
			a.Log = append(a.Log, "Alert deduplicated")
			return a.ID, a.Alias, "Alert deduplicated", true
		}
	}
	a := s.newAlertLocked(b, responders, now)
	return a.ID, a.Alias, "Created alert", true
}

func (s *Server) newAlertLocked(b createBody, responders []Responder, now time.Time) *alert {
	s.tiny++
	priority := b.Priority
	if priority == "" {
		priority = "P3"
	}
	a := &alert{seq: s.tiny, Alert: Alert{
		ID: newAlertID(now), TinyID: strconv.Itoa(s.tiny), Alias: b.Alias,
		Message: truncate(b.Message, maxMessage), Description: truncate(b.Description, maxDescLen),
		Status: StatusOpen, Priority: priority, Source: b.Source, Entity: b.Entity, User: b.User,
		Responders: responders, Tags: b.Tags, Details: b.Details, Actions: b.Actions,
		Count: 1, CreatedAt: now, UpdatedAt: now, Log: []string{"Alert created"},
	}}
	if a.Alias == "" {
		a.Alias = a.ID // Opsgenie uses the ID when no alias is given
	}
	if a.Details == nil {
		a.Details = map[string]string{}
	}
	if b.Note != "" {
		s.appendNoteLocked(a, b.Note, b.User, now)
	}
	s.alerts = append(s.alerts, a)
	s.byID[a.ID] = a
	return a
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// resolveResponderLocked finds a responder by ID or name (username for
// users).
func (s *Server) resolveResponderLocked(rb responderBody) (Responder, bool) {
	switch rb.Type {
	case KindUser:
		u := s.userLocked(firstOf(rb.ID, rb.Username, rb.Name))
		if u != nil {
			return Responder{Type: KindUser, ID: u.ID}, true
		}
	case KindTeam:
		if t := s.teamLocked(firstOf(rb.ID, rb.Name)); t != nil {
			return Responder{Type: KindTeam, ID: t.ID}, true
		}
	case KindSchedule:
		if sc := s.scheduleLocked(firstOf(rb.ID, rb.Name)); sc != nil {
			return Responder{Type: KindSchedule, ID: sc.ID}, true
		}
	}
	return Responder{}, false
}

func (s *Server) openByAliasLocked(alias string) *alert {
	for _, a := range s.alerts {
		if a.Status == StatusOpen && a.Alias == alias {
			return a
		}
	}
	return nil
}

// alertLocked finds an alert by identifierType "id" (default), "tiny" or
// "alias" (the open alert with that alias).
func (s *Server) alertLocked(ident, idType string) *alert {
	switch idType {
	case "", "id":
		return s.byID[ident]
	case "tiny":
		for _, a := range s.alerts {
			if a.TinyID == ident {
				return a
			}
		}
	case "alias":
		return s.openByAliasLocked(ident)
	}
	return nil
}

func validIdentifierType(t string) bool {
	return t == "" || t == "id" || t == "tiny" || t == "alias"
}

// getAlert serves GET /v2/alerts/{id}.
func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	idType := r.URL.Query().Get("identifierType")
	if !validIdentifierType(idType) {
		invalid(w, r, "identifierType", "Invalid identifier type ["+idType+"].")
		return
	}
	s.mu.Lock()
	s.processDueLocked()
	a := s.alertLocked(r.PathValue("id"), idType)
	var snap Alert
	if a != nil {
		snap = a.snapshot()
	}
	s.mu.Unlock()
	if a == nil {
		writeError(w, requestID(r.Context()), http.StatusNotFound, "Alert does not exist", nil, "")
		return
	}
	writeData(w, r, alertJSON(snap, true), nil)
}

// getAlertSub serves GET /v2/alerts/requests/{id} and GET
// /v2/alerts/{id}/notes.
func (s *Server) getAlertSub(w http.ResponseWriter, r *http.Request) {
	id, sub := r.PathValue("id"), r.PathValue("sub")
	switch {
	case id == "requests":
		s.requestStatus(w, r, sub)
	case sub == "notes":
		s.listNotes(w, r, id)
	default:
		writeError(w, requestID(r.Context()), http.StatusNotFound, "Resource not found", nil, "")
	}
}

// alertJSON renders an alert as Opsgenie does: the list shape, plus
// description, details and actions for a single alert.
func alertJSON(a Alert, full bool) map[string]any {
	rs := make([]map[string]string, 0, len(a.Responders))
	for _, x := range a.Responders {
		rs = append(rs, map[string]string{"type": x.Type, "id": x.ID})
	}
	m := map[string]any{
		"id": a.ID, "tinyId": a.TinyID, "alias": a.Alias, "message": a.Message, "status": a.Status,
		"acknowledged": a.Acknowledged, "isSeen": false, "tags": nonNil(a.Tags), "snoozed": false, "count": a.Count,
		"lastOccurredAt": a.UpdatedAt.UTC().Format(time.RFC3339Nano), "createdAt": a.CreatedAt.UTC().Format(time.RFC3339Nano),
		"updatedAt": a.UpdatedAt.UTC().Format(time.RFC3339Nano), "source": a.Source, "owner": a.Owner,
		"priority": a.Priority, "responders": rs,
		"integration": map[string]string{"id": integrationID, "name": "API", "type": "API"},
		"report":      map[string]any{"ackTime": 0, "closeTime": 0},
	}
	if full {
		m["description"] = a.Description
		m["details"] = a.Details
		m["actions"] = nonNil(a.Actions)
		m["entity"] = a.Entity
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
