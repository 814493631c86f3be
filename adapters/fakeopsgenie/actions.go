package fakeopsgenie

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// alertWrite queues an asynchronous write on the alert named by the path
// (any identifier type) and answers 202. The alert is looked up when the
// request is processed: a write on a missing alert is accepted and fails
// then, with status "Alert does not exist".
func (s *Server) alertWrite(w http.ResponseWriter, r *http.Request, action string, apply func(a *alert, now time.Time) (string, bool)) {
	ident, idType := r.PathValue("id"), r.URL.Query().Get("identifierType")
	if !validIdentifierType(idType) {
		invalid(w, r, "identifierType", "Invalid identifier type ["+idType+"].")
		return
	}
	reqID := requestID(r.Context())
	s.mu.Lock()
	s.submitLocked(reqID, action, func(now time.Time) (string, string, string, bool) {
		a := s.alertLocked(ident, idType)
		if a == nil {
			return "", "", "Alert does not exist", false
		}
		status, ok := apply(a, now)
		if ok {
			a.UpdatedAt = now
		}
		return a.ID, a.Alias, status, ok
	})
	s.mu.Unlock()
	writeAccepted(w, reqID)
}

// addNote serves POST /v2/alerts/{id}/notes.
func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	var b actionBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.Note == "" {
		invalid(w, r, "note", "Note can not be empty.")
		return
	}
	if len([]rune(b.Note)) > maxNoteLen {
		invalid(w, r, "note", "Note can not be longer than "+strconv.Itoa(maxNoteLen)+" characters.")
		return
	}
	s.alertWrite(w, r, "AddNote", func(a *alert, now time.Time) (string, bool) {
		s.appendNoteLocked(a, b.Note, b.User, now)
		return "Added note", true
	})
}

func (s *Server) appendNoteLocked(a *alert, text, owner string, now time.Time) {
	s.noteSeq++
	if owner == "" {
		owner = "System"
	}
	a.Notes = append(a.Notes, Note{Text: text, Owner: owner, CreatedAt: now, Offset: strconv.Itoa(s.noteSeq)})
	a.Log = append(a.Log, "Note added")
}

// closeAlert serves POST /v2/alerts/{id}/close. Closing a closed alert
// fails with "Alert is already closed".
func (s *Server) closeAlert(w http.ResponseWriter, r *http.Request) {
	var b actionBody
	if !readJSON(w, r, &b) {
		return
	}
	s.alertWrite(w, r, "Close", func(a *alert, now time.Time) (string, bool) {
		if a.Status == StatusClosed {
			return "Alert is already closed", false
		}
		a.Status = StatusClosed
		a.Log = append(a.Log, "Alert closed")
		if b.Note != "" {
			s.appendNoteLocked(a, b.Note, b.User, now)
		}
		s.deliverLocked(a, actionClose, s.userLocked(b.User), now)
		return "Closed alert", true
	})
}

// addResponder serves POST /v2/alerts/{id}/responders: users and teams
// only, as Opsgenie.
func (s *Server) addResponder(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Responder responderBody `json:"responder"`
		actionBody
	}
	if !readJSON(w, r, &b) {
		return
	}
	if b.Responder.Type != KindUser && b.Responder.Type != KindTeam {
		invalid(w, r, "responder", "Responder type should be one of [user, team].")
		return
	}
	s.alertWrite(w, r, "AddResponder", func(a *alert, _ time.Time) (string, bool) {
		rsp, ok := s.resolveResponderLocked(b.Responder)
		if !ok {
			return b.Responder.Type + " responder does not exist", false
		}
		if !a.hasResponder(rsp) {
			a.Responders = append(a.Responders, rsp)
			a.Log = append(a.Log, "Responder added")
		}
		return "Added responder", true
	})
}

// customAction serves POST /v2/alerts/{id}/actions/{action}: the action
// must be one of the alert's; when processed, the webhook integration
// delivers it.
func (s *Server) customAction(w http.ResponseWriter, r *http.Request) {
	var b actionBody
	if !readJSON(w, r, &b) {
		return
	}
	action := r.PathValue("action")
	s.alertWrite(w, r, action, func(a *alert, now time.Time) (string, bool) {
		if !slices.Contains(a.Actions, action) {
			return "Alert does not have action [" + action + "]", false
		}
		actor := s.userLocked(b.User)
		s.executeLocked(a, action, actor, b.Note, now)
		return "Executed custom action", true
	})
}

// executeLocked records a custom action on the alert and hands it to the
// webhook integration.
func (s *Server) executeLocked(a *alert, action string, actor *User, note string, now time.Time) {
	a.Log = append(a.Log, "Executed ["+action+"] action")
	if note != "" {
		s.appendNoteLocked(a, note, usernameOf(actor), now)
	}
	s.deliverLocked(a, action, actor, now)
}

func usernameOf(u *User) string {
	if u == nil {
		return ""
	}
	return u.Username
}
