package fakeopsgenie

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

func (s *Server) userLocked(ident string) *User {
	if ident == "" {
		return nil
	}
	for _, u := range s.users {
		if u.ID == ident || lower(u.Username) == lower(ident) {
			return u
		}
	}
	return nil
}

func (s *Server) teamLocked(ident string) *Team {
	if ident == "" {
		return nil
	}
	for _, t := range s.teams {
		if t.ID == ident || lower(t.Name) == lower(ident) {
			return t
		}
	}
	return nil
}

func (s *Server) scheduleLocked(ident string) *Schedule {
	if ident == "" {
		return nil
	}
	for _, sc := range s.schedules {
		if sc.ID == ident || lower(sc.Name) == lower(ident) {
			return sc
		}
	}
	return nil
}

// getUser serves GET /v2/users/{id}: by ID or username.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	ident := r.PathValue("id")
	s.mu.Lock()
	u := s.userLocked(ident)
	var c User
	if u != nil {
		c = *u
	}
	s.mu.Unlock()
	if u == nil {
		writeError(w, requestID(r.Context()), http.StatusNotFound, "No user exists with username ["+ident+"]", nil, "")
		return
	}
	writeData(w, r, map[string]any{
		"id": c.ID, "username": c.Username, "fullName": c.FullName,
		"role": map[string]string{"id": "User", "name": "User"}, "blocked": false, "verified": true,
		"timeZone": "UTC", "locale": "en_US", "createdAt": "2024-01-01T00:00:00Z",
	}, nil)
}

// listTeams serves GET /v2/teams.
func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]map[string]string, 0, len(s.teams))
	for _, t := range s.teams {
		out = append(out, map[string]string{"id": t.ID, "name": t.Name, "description": ""})
	}
	s.mu.Unlock()
	writeData(w, r, out, nil)
}

// listSchedules serves GET /v2/schedules.
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]map[string]any, 0, len(s.schedules))
	for _, sc := range s.schedules {
		m := map[string]any{"id": sc.ID, "name": sc.Name, "description": "", "timezone": "UTC", "enabled": true, "rotations": []any{}}
		if t := s.teamLocked(sc.OwnerTeam); t != nil {
			m["ownerTeam"] = map[string]string{"id": t.ID, "name": t.Name}
		}
		out = append(out, m)
	}
	s.mu.Unlock()
	writeData(w, r, out, map[string]any{"expandable": []string{"rotation"}})
}

// onCalls serves GET /v2/schedules/{id}/on-calls
// (scheduleIdentifierType id|name, flat, date).
func (s *Server) onCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	idType := q.Get("scheduleIdentifierType")
	flat, err := strconv.ParseBool(firstOf(q.Get("flat"), "false"))
	if (idType != "" && idType != "id" && idType != "name") || err != nil {
		invalid(w, r, "scheduleIdentifierType", "Invalid scheduleIdentifierType or flat")
		return
	}
	at := s.now()
	if d := q.Get("date"); d != "" {
		t, err := time.Parse(time.RFC3339, d)
		if err != nil {
			invalid(w, r, "date", "Invalid date ["+d+"]")
			return
		}
		at = t
	}
	ident := r.PathValue("id")
	s.mu.Lock()
	sc := s.scheduleByTypeLocked(ident, idType)
	var data map[string]any
	if sc != nil {
		data = s.onCallDataLocked(sc, at, flat)
	}
	s.mu.Unlock()
	if sc == nil {
		writeError(w, requestID(r.Context()), http.StatusNotFound, "Schedule with identifier ["+ident+"] does not exist", nil, "")
		return
	}
	writeData(w, r, data, nil)
}

func (s *Server) scheduleByTypeLocked(ident, idType string) *Schedule {
	for _, sc := range s.schedules {
		if (idType == "name" && sc.Name == ident) || (idType != "name" && sc.ID == ident) {
			return sc
		}
	}
	return nil
}

func (s *Server) onCallDataLocked(sc *Schedule, at time.Time, flat bool) map[string]any {
	data := map[string]any{"_parent": map[string]any{"id": sc.ID, "name": sc.Name, "enabled": true}}
	var parts []map[string]any
	var recipients []string
	add := func(userID string) {
		if u := s.userLocked(userID); u != nil && !slices.Contains(recipients, u.Username) {
			recipients = append(recipients, u.Username)
		}
	}
	for _, p := range s.oncalls[sc.ID] {
		if !p.activeAt(at) {
			continue
		}
		switch p.kind {
		case KindUser:
			add(p.id)
			parts = append(parts, map[string]any{"id": p.id, "name": usernameOf(s.userLocked(p.id)), "type": KindUser})
		case KindTeam:
			t := s.teamLocked(p.id)
			for _, m := range t.Members {
				add(m)
			}
			parts = append(parts, map[string]any{"id": t.ID, "name": t.Name, "type": KindTeam})
		case KindEscalation:
			nested := make([]map[string]any, 0, len(p.rules))
			for _, rule := range p.rules {
				add(rule.UserID)
				nested = append(nested, map[string]any{"id": rule.UserID, "name": usernameOf(s.userLocked(rule.UserID)),
					"type": KindUser, "escalationTime": rule.DelayMinutes, "notifyType": "default"})
			}
			parts = append(parts, map[string]any{"id": p.id, "name": p.name, "type": KindEscalation, "onCallParticipants": nested})
		}
	}
	if flat {
		data["onCallRecipients"] = nonNil(recipients)
	} else {
		data["onCallParticipants"] = append([]map[string]any{}, parts...)
	}
	return data
}
