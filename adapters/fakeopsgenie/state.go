package fakeopsgenie

import (
	"fmt"
	"slices"
	"strings"
)

// AlertSeed is an alert to add directly (a seed's alert block, or a test's
// foreign alert).
type AlertSeed struct {
	Message     string `hcl:"message"`
	Alias       string `hcl:"alias,optional"`
	Description string `hcl:"description,optional"`
	// Responders are "schedule:<name or ID>", "team:<…>" or
	// "user:<username or ID>".
	Responders []string `hcl:"responders,optional"`
	// Status is "open" (default) or "closed".
	Status string `hcl:"status,optional"`
	// Owner (a username) acknowledged the alert.
	Owner    string   `hcl:"owner,optional"`
	Actions  []string `hcl:"actions,optional"`
	Priority string   `hcl:"priority,optional"`
	Source   string   `hcl:"source,optional"`
}

// AddAlert adds an alert at once (no asynchronous request), with the same
// alias dedup as the API: an open alert with the alias only gets its count
// raised.
func (s *Server) AddAlert(seed AlertSeed) (Alert, error) {
	b := createBody{Message: seed.Message, Alias: seed.Alias, Description: seed.Description,
		Actions: seed.Actions, Priority: seed.Priority, Source: seed.Source}
	for _, r := range seed.Responders {
		kind, ident, ok := strings.Cut(r, ":")
		if !ok {
			return Alert{}, fmt.Errorf("responder %q: want kind:name", r)
		}
		b.Responders = append(b.Responders, responderBody{Type: kind, Name: ident})
	}
	if field, msg := validateCreate(b); field != "" {
		return Alert{}, fmt.Errorf("%s: %s", field, msg)
	}
	if seed.Status != "" && seed.Status != StatusOpen && seed.Status != StatusClosed {
		return Alert{}, fmt.Errorf("status %q: want open or closed", seed.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seed.Owner != "" && s.userLocked(seed.Owner) == nil {
		return Alert{}, fmt.Errorf("owner %q: %w", seed.Owner, ErrUnknown)
	}
	id, _, status, ok := s.applyCreateLocked(b, s.now())
	if !ok {
		return Alert{}, fmt.Errorf("%s: %w", status, ErrUnknown)
	}
	a := s.byID[id]
	if seed.Status == StatusClosed {
		a.Status = StatusClosed
	}
	if seed.Owner != "" {
		a.Owner, a.Acknowledged = s.userLocked(seed.Owner).Username, true
	}
	s.notify()
	return a.snapshot(), nil
}

// Alerts returns every alert, oldest first.
func (s *Server) Alerts() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.processDueLocked()
	out := make([]Alert, 0, len(s.alerts))
	for _, a := range s.alerts {
		out = append(out, a.snapshot())
	}
	return out
}

// Alert returns an alert by ID.
func (s *Server) Alert(id string) (Alert, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.processDueLocked()
	a, ok := s.byID[id]
	if !ok {
		return Alert{}, false
	}
	return a.snapshot(), true
}

// Notes returns the note texts of an alert, oldest first (nil when the
// alert does not exist).
func (s *Server) Notes(alertID string) []string {
	a, ok := s.Alert(alertID)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a.Notes))
	for _, n := range a.Notes {
		out = append(out, n.Text)
	}
	return out
}

// CloseByHand closes an alert as a responder would in Opsgenie's web UI.
func (s *Server) CloseByHand(alertID, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[alertID]
	if !ok {
		return fmt.Errorf("alert %s: %w", alertID, ErrUnknown)
	}
	if a.Status == StatusClosed {
		return fmt.Errorf("alert %s is already closed: %w", alertID, ErrUnknown)
	}
	now := s.now()
	a.Status = StatusClosed
	a.UpdatedAt = now
	a.Log = append(a.Log, "Alert closed by "+firstOf(username, "a user"))
	s.deliverLocked(a, actionClose, s.userLocked(username), now)
	s.notify()
	return nil
}

// Acknowledge acknowledges an alert as a user (username), who becomes its
// owner.
func (s *Server) Acknowledge(alertID, username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[alertID]
	u := s.userLocked(username)
	if !ok || u == nil {
		return fmt.Errorf("alert %s, user %q: %w", alertID, username, ErrUnknown)
	}
	a.Acknowledged, a.Owner, a.UpdatedAt = true, u.Username, s.now()
	a.Log = append(a.Log, "Alert acknowledged by "+u.Username)
	s.notify()
	return nil
}

// ExecuteAction executes one of the alert's custom actions as a user
// (username or ID; "" for none), like its button in Opsgenie's web UI; the
// webhook integration then delivers it.
func (s *Server) ExecuteAction(alertID, action, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.processDueLocked()
	a, ok := s.byID[alertID]
	if !ok {
		return fmt.Errorf("alert %s: %w", alertID, ErrUnknown)
	}
	if !slices.Contains(a.Actions, action) {
		return fmt.Errorf("alert %s has no action %q: %w", alertID, action, ErrUnknown)
	}
	var actor *User
	if user != "" {
		if actor = s.userLocked(user); actor == nil {
			return fmt.Errorf("user %q: %w", user, ErrUnknown)
		}
	}
	now := s.now()
	a.UpdatedAt = now
	s.executeLocked(a, action, actor, "", now)
	s.notify()
	return nil
}
