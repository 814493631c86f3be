package fakepd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/domain"
)

// Seeding errors.
var (
	ErrUnknownUser    = errors.New("unknown user")
	ErrUnknownService = errors.New("unknown service")
)

// AddUser adds a user (or returns the one with that email, compared
// case-insensitively). An empty name defaults to the email's local part.
func (s *Server) AddUser(email, name string) domain.PagerUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked("", email, name)
}

func (s *Server) addUserLocked(id, email, name string) domain.PagerUser {
	email = strings.TrimSpace(email)
	if u := s.userByEmailLocked(email); u != nil {
		return domain.PagerUser{ID: u.id, Name: u.name, Email: u.email}
	}
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	if id == "" || s.userByIDLocked(id) != nil {
		id = s.ids.make(kindUser)
	}
	u := &user{id: id, name: name, email: email, createdAt: s.now()}
	s.users = append(s.users, u)
	s.notify()
	return domain.PagerUser{ID: u.id, Name: u.name, Email: u.email}
}

// AddService adds a service and its escalation policy (or returns the
// service with that name, compared case-insensitively).
func (s *Server) AddService(name string) domain.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv, _ := s.addServiceLocked("", name)
	return sv
}

// AddServiceWithID is AddService with a chosen service ID (as a seed file
// may give). It fails when the ID belongs to another service.
func (s *Server) AddServiceWithID(name, id string) (domain.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addServiceLocked(id, name)
}

func (s *Server) addServiceLocked(id, name string) (domain.Service, error) {
	name = strings.TrimSpace(name)
	if sv := s.findServiceLocked(name); sv != nil && lower(sv.name) == lower(name) {
		if id != "" && sv.id != id {
			return domain.Service{}, fmt.Errorf("service %q exists with ID %s, not %s", name, sv.id, id)
		}
		return domain.Service{ID: sv.id, Name: sv.name, EscalationPolicyID: sv.policyID}, nil
	}
	if id != "" && s.serviceByIDLocked(id) != nil {
		return domain.Service{}, fmt.Errorf("service ID %s is taken", id)
	}
	if id == "" {
		id = s.ids.make(kindService)
	}
	pol := &policy{id: s.ids.make(kindPolicy), name: name + " Escalation Policy", serviceID: id}
	sv := &service{id: id, name: name, policyID: pol.id, createdAt: s.now()}
	s.pols[pol.id] = pol
	s.svcs = append(s.svcs, sv)
	s.notify()
	return domain.Service{ID: sv.id, Name: sv.name, EscalationPolicyID: sv.policyID}, nil
}

// AddOnCall puts a user permanently on call for the escalation policy of a
// service (name or ID) at level (0 means 1).
func (s *Server) AddOnCall(email, serviceName string, level int) error {
	return s.AddOnCallWindow(email, serviceName, level, time.Time{}, time.Time{})
}

// AddOnCallWindow is AddOnCall for the window [start, end); a zero bound
// is open.
func (s *Server) AddOnCallWindow(email, serviceName string, level int, start, end time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, sv, err := s.userServiceLocked(email, serviceName)
	if err != nil {
		return err
	}
	if level <= 0 {
		level = 1
	}
	o := onCall{userID: u.id, policyID: sv.policyID, level: level, start: start, end: end}
	if !slices.Contains(s.oncalls, o) {
		s.oncalls = append(s.oncalls, o)
		s.notify()
	}
	return nil
}

// RemoveOnCall takes a user off call for a service's escalation policy (all
// levels). Unknown users or services are ignored.
func (s *Server) RemoveOnCall(email, serviceName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, sv, err := s.userServiceLocked(email, serviceName)
	if err != nil {
		return
	}
	s.oncalls = slices.DeleteFunc(s.oncalls, func(o onCall) bool {
		return o.userID == u.id && o.policyID == sv.policyID
	})
	s.notify()
}

func (s *Server) userServiceLocked(email, serviceName string) (*user, *service, error) {
	u := s.userByEmailLocked(email)
	if u == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownUser, email)
	}
	sv := s.findServiceLocked(serviceName)
	if sv == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownService, serviceName)
	}
	return u, sv, nil
}

// AddIncident opens an incident as if a person or another integration had
// (no From check, no webhook), e.g. an incident assigned to a responder
// for require_active_incident. A duplicate open key on the service fails.
func (s *Server) AddIncident(seed IncidentSeed) (Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.findServiceLocked(seed.Service)
	if sv == nil {
		return Incident{}, fmt.Errorf("%w: %s", ErrUnknownService, seed.Service)
	}
	n := newIncident{serviceID: sv.id, key: seed.Key, title: seed.Title, details: seed.Details, status: seed.Status}
	if n.title == "" {
		n.title = "Incident on " + sv.name
	}
	for _, email := range seed.Assignees {
		u := s.userByEmailLocked(email)
		if u == nil {
			return Incident{}, fmt.Errorf("%w: %s", ErrUnknownUser, email)
		}
		n.assignees = append(n.assignees, u.id)
	}
	inc, aerr := s.openIncidentLocked(n, nil)
	if aerr != nil {
		return Incident{}, fmt.Errorf("add incident: %w", aerr)
	}
	return s.snapshotLocked(inc), nil
}

// FillNotes adds notes to an incident, by no user, until it holds the
// most PagerDuty takes (2000), as a long-lived incident may: the next note
// posted on it is refused with 400. It returns how many it added.
func (s *Server) FillNotes(incidentID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc := s.byID[incidentID]
	if inc == nil {
		return 0, fmt.Errorf("%w: %s", ErrUnknownIncident, incidentID)
	}
	added := 0
	for ; len(inc.notes) < maxNotes; added++ {
		s.addNoteLocked(inc, "", fmt.Sprintf("note %d", len(inc.notes)+1))
	}
	return added, nil
}

// Users returns the users, in creation order.
func (s *Server) Users() []domain.PagerUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]domain.PagerUser, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, domain.PagerUser{ID: u.id, Name: u.name, Email: u.email})
	}
	return out
}

// Services returns the services, in creation order.
func (s *Server) Services() []domain.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]domain.Service, 0, len(s.svcs))
	for _, sv := range s.svcs {
		out = append(out, domain.Service{ID: sv.id, Name: sv.name, EscalationPolicyID: sv.policyID})
	}
	return out
}

// Seed is what a seed file holds (LoadSeed reads it as JSON,
// LoadSeedFile as JSON or HCL).
type Seed struct {
	Users     []SeedUser     `json:"users"`
	Services  []SeedService  `json:"services"`
	OnCalls   []SeedOnCall   `json:"on_calls"`
	Incidents []SeedIncident `json:"incidents"`
}

// SeedUser is a user of a seed; ID is optional.
type SeedUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// SeedService is a service of a seed, with its escalation policy; ID is
// optional.
type SeedService struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// SeedOnCall puts a user on call for a service's escalation policy at a
// level (default 1).
type SeedOnCall struct {
	User    string `json:"user"`
	Service string `json:"service"`
	Level   int    `json:"level"`
}

// SeedIncident is an incident open (or in Status) before anything runs.
type SeedIncident struct {
	Service   string   `json:"service"`
	Key       string   `json:"key"`
	Title     string   `json:"title"`
	Details   string   `json:"details"`
	Status    string   `json:"status"`
	Assignees []string `json:"assignees"`
}

// LoadSeed adds the users, services, on-calls and incidents of a JSON seed:
//
//	{"users":[{"email":"a@example.com","name":"A"}],
//	 "services":[{"name":"Teleport","id":"PSVC001"}],
//	 "on_calls":[{"user":"a@example.com","service":"Teleport","level":1}],
//	 "incidents":[{"service":"Teleport","title":"Disk full","assignees":["a@example.com"]}]}
//
// Unknown fields are errors; "id" and "level" are optional.
func (s *Server) LoadSeed(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return fmt.Errorf("decode seed: %w", err)
	}
	return s.AddSeed(seed)
}

// LoadSeedFile loads a seed file: HCL when its name ends in ".hcl" (the
// blocks of config.FakeSeed), else JSON (LoadSeed).
func (s *Server) LoadSeedFile(path string) error {
	if strings.HasSuffix(path, ".hcl") {
		hs, err := config.LoadFakeSeed(path)
		if err != nil {
			return err
		}
		return s.AddSeed(seedFromHCL(hs))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.LoadSeed(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func seedFromHCL(hs *config.FakeSeed) Seed {
	var seed Seed
	for _, u := range hs.Users {
		seed.Users = append(seed.Users, SeedUser{Email: u.Email, Name: u.Name})
	}
	for _, sv := range hs.Services {
		seed.Services = append(seed.Services, SeedService{Name: sv.Name, ID: sv.ID})
	}
	for _, o := range hs.OnCalls {
		seed.OnCalls = append(seed.OnCalls, SeedOnCall{User: o.User, Service: o.Service, Level: o.Level})
	}
	for _, in := range hs.Incidents {
		seed.Incidents = append(seed.Incidents, SeedIncident{Service: in.Service, Key: in.Key, Title: in.Title,
			Details: in.Details, Status: in.Status, Assignees: in.Assignees})
	}
	return seed
}

// AddSeed adds a seed's users, services, on-calls and incidents, in that
// order, and reports every entry it could not add.
func (s *Server) AddSeed(seed Seed) error {
	var errs []error
	for i, u := range seed.Users {
		if !strings.Contains(u.Email, "@") {
			errs = append(errs, fmt.Errorf("users[%d]: email %q is not an email", i, u.Email))
			continue
		}
		s.mu.Lock()
		s.addUserLocked(u.ID, u.Email, u.Name)
		s.mu.Unlock()
	}
	for i, sv := range seed.Services {
		if strings.TrimSpace(sv.Name) == "" {
			errs = append(errs, fmt.Errorf("services[%d]: name is empty", i))
			continue
		}
		if _, err := s.AddServiceWithID(sv.Name, sv.ID); err != nil {
			errs = append(errs, fmt.Errorf("services[%d]: %w", i, err))
		}
	}
	for i, o := range seed.OnCalls {
		if err := s.AddOnCall(o.User, o.Service, o.Level); err != nil {
			errs = append(errs, fmt.Errorf("on_calls[%d]: %w", i, err))
		}
	}
	for i, in := range seed.Incidents {
		if _, err := s.AddIncident(IncidentSeed(in)); err != nil {
			errs = append(errs, fmt.Errorf("incidents[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
