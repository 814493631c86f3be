package fakepd

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pagergate/pagergate/domain"
)

// newIncident is what opening an incident needs, from the API or a seed.
type newIncident struct {
	serviceID  string
	policyID   string // "" = the service's
	key        string
	title      string
	details    string
	urgency    string
	priorityID string
	status     string
	assignees  []string // user IDs; nil = the policy's on-call users
}

// openIncidentLocked validates and stores a new incident.
func (s *Server) openIncidentLocked(n newIncident, by *user) (*incident, *apiError) {
	sv, policyID, aerr := s.checkNewIncidentLocked(&n)
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	inc := &incident{
		id: s.ids.make(kindIncident), key: n.key, serviceID: sv.id, policyID: policyID,
		status: domain.IncidentTriggered, title: n.title, details: n.details, urgency: n.urgency,
		priorityID: n.priorityID, assignedVia: "escalation_policy",
		createdAt: now, updatedAt: now, lastChangeAt: now,
	}
	assignees := n.assignees
	if assignees != nil {
		inc.assignedVia = "direct_assignment"
	} else {
		assignees = s.levelUsersLocked(policyID, now)
	}
	for _, id := range assignees {
		inc.assignments = append(inc.assignments, assignment{userID: id, at: now})
	}
	if by != nil {
		inc.lastChangeBy = by.id
	}
	s.number++
	inc.number = s.number
	s.incs = append(s.incs, inc)
	s.byID[inc.id] = inc
	if inc.key != "" {
		s.byKey[inc.key] = append(s.byKey[inc.key], inc)
	}
	sv.lastIncident = now
	if n.status != "" && n.status != domain.IncidentTriggered {
		if aerr := s.setStatusLocked(inc, n.status, by); aerr != nil {
			return nil, aerr
		}
	}
	s.notify()
	return inc, nil
}

// checkNewIncidentLocked checks a new incident as PagerDuty does (its
// service, title, urgency, the incident_key dedup among open incidents of
// the service, the escalation policy) and returns the service and policy;
// an empty urgency becomes "high".
func (s *Server) checkNewIncidentLocked(n *newIncident) (*service, string, *apiError) {
	sv := s.serviceByIDLocked(n.serviceID)
	if sv == nil {
		return nil, "", invalid("Service not found")
	}
	if strings.TrimSpace(n.title) == "" {
		return nil, "", invalid("Title cannot be empty")
	}
	switch n.urgency {
	case "":
		n.urgency = "high"
	case "high", "low":
	default:
		return nil, "", invalid("Urgency must be high or low")
	}
	if n.key != "" {
		for _, i := range s.byKey[n.key] {
			if i.serviceID == sv.id && i.open() {
				return nil, "", conflict(ErrTextDedup)
			}
		}
	}
	policyID := cmp.Or(n.policyID, sv.policyID)
	if s.pols[policyID] == nil {
		return nil, "", invalid("Escalation Policy not found")
	}
	return sv, policyID, nil
}

// setStatusLocked changes an incident's status like PagerDuty: a resolved
// incident cannot change status again.
func (s *Server) setStatusLocked(inc *incident, status string, by *user) *apiError {
	if aerr := checkStatus(inc, status); aerr != nil {
		return aerr
	}
	if status == "" || status == inc.status {
		return nil
	}
	now := s.now()
	byID := ""
	if by != nil {
		byID = by.id
	}
	switch status {
	case domain.IncidentResolved:
		inc.resolvedAt = now
		inc.assignments = nil
	case domain.IncidentAcknowledged:
		inc.acks = append(inc.acks, ack{userID: byID, at: now})
	case domain.IncidentTriggered:
		inc.acks = nil
	}
	inc.status = status
	inc.lastChangeAt, inc.updatedAt, inc.lastChangeBy = now, now, byID
	s.notify()
	return nil
}

func checkStatus(inc *incident, status string) *apiError {
	switch status {
	case "", domain.IncidentTriggered, domain.IncidentAcknowledged, domain.IncidentResolved:
	default:
		return invalid("Status must be one of triggered, acknowledged, resolved")
	}
	if status != "" && inc.status == domain.IncidentResolved {
		return conflict(ErrTextAlreadyResolved)
	}
	return nil
}

// --- rendering (s.mu held) ---

func (s *Server) incidentRefLocked(inc *incident) map[string]any {
	return map[string]any{
		"id": inc.id, "type": "incident_reference", "summary": inc.summary(),
		"self": s.link("/incidents/" + inc.id), "html_url": s.htmlURLLocked(inc.id),
	}
}

func (s *Server) htmlURLLocked(id string) string { return s.link("/#" + id) }

func (inc *incident) summary() string { return "[#" + strconv.Itoa(inc.number) + "] " + inc.title }

func (s *Server) incidentJSONLocked(inc *incident, withBody bool) map[string]any {
	assignments := make([]any, 0, len(inc.assignments))
	for _, a := range inc.assignments {
		assignments = append(assignments, map[string]any{"at": fmtTime(a.at), "assignee": s.userRefLocked(a.userID)})
	}
	acks := make([]any, 0, len(inc.acks))
	for _, a := range inc.acks {
		acks = append(acks, map[string]any{"at": fmtTime(a.at), "acknowledger": s.agentRefLocked(a.userID, inc)})
	}
	out := map[string]any{
		"id": inc.id, "type": "incident", "summary": inc.summary(),
		"self": s.link("/incidents/" + inc.id), "html_url": s.htmlURLLocked(inc.id),
		"incident_number": inc.number, "title": inc.title, "description": inc.title,
		"created_at": fmtTime(inc.createdAt), "updated_at": fmtTime(inc.updatedAt),
		"status": inc.status, "urgency": inc.urgency,
		"assignments": assignments, "assigned_via": inc.assignedVia, "acknowledgements": acks,
		"last_status_change_at": fmtTime(inc.lastChangeAt),
		"last_status_change_by": s.agentRefLocked(inc.lastChangeBy, inc),
		"alert_counts":          map[string]any{"triggered": 0, "resolved": 0, "all": 0},
		"is_mergeable":          true, "teams": []any{}, "pending_actions": []any{},
		"resolved_at": fmtTime(inc.resolvedAt), "resolve_reason": nil, "priority": nil,
	}
	if inc.key != "" {
		out["incident_key"] = inc.key
	}
	if sv := s.serviceByIDLocked(inc.serviceID); sv != nil {
		out["service"] = s.serviceRefLocked(sv)
	}
	if pol := s.pols[inc.policyID]; pol != nil {
		out["escalation_policy"] = s.policyRefLocked(pol)
	}
	if p, ok := findPriority(inc.priorityID); ok {
		out["priority"] = s.priorityJSON(p)
	}
	if withBody {
		out["body"] = map[string]any{"type": "incident_body", "details": inc.details}
	}
	return out
}

// agentRefLocked references the user who acted, or the service when no
// user did.
func (s *Server) agentRefLocked(userID string, inc *incident) map[string]any {
	if userID != "" {
		return s.userRefLocked(userID)
	}
	if sv := s.serviceByIDLocked(inc.serviceID); sv != nil {
		return s.serviceRefLocked(sv)
	}
	return map[string]any{"id": inc.serviceID, "type": "service_reference"}
}

func (s *Server) noteJSONLocked(n note) map[string]any {
	return map[string]any{
		"id": n.id, "user": s.userRefLocked(n.userID),
		"channel":    map[string]any{"summary": "The PagerDuty website or APIs"},
		"content":    n.content,
		"created_at": fmtTime(n.createdAt),
	}
}

// --- handlers ---

type incidentBody struct {
	Type             string `json:"type"`
	Title            string `json:"title"`
	Service          *ref   `json:"service"`
	Priority         *ref   `json:"priority"`
	Urgency          string `json:"urgency"`
	IncidentKey      string `json:"incident_key"`
	Status           string `json:"status"`
	Resolution       string `json:"resolution"`
	EscalationPolicy *ref   `json:"escalation_policy"`
	Body             *struct {
		Type    string          `json:"type"`
		Details json.RawMessage `json:"details"`
	} `json:"body"`
	Assignments []struct {
		Assignee ref `json:"assignee"`
	} `json:"assignments"`
}

// details returns body.details as text (a string, or an object's JSON).
func (b incidentBody) details() string {
	if b.Body == nil || len(b.Body.Details) == 0 || string(b.Body.Details) == "null" {
		return ""
	}
	var str string
	if json.Unmarshal(b.Body.Details, &str) == nil {
		return str
	}
	return string(b.Body.Details)
}

// assigneeIDsLocked checks the assignments of a request body.
func (s *Server) assigneeIDsLocked(b incidentBody) ([]string, *apiError) {
	if len(b.Assignments) == 0 {
		return nil, nil
	}
	ids := []string{}
	for _, a := range b.Assignments {
		if s.userByIDLocked(a.Assignee.ID) == nil {
			return nil, invalid("Assignee not found: " + a.Assignee.ID)
		}
		ids = append(ids, a.Assignee.ID)
	}
	return ids, nil
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Incident *incidentBody `json:"incident"`
	}
	by, ok := s.beginWrite(w, r, &body)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	var aerr *apiError
	b := body.Incident
	switch {
	case b == nil:
		aerr = invalid("incident is required")
	case b.Type != "incident":
		aerr = invalid("incident.type must be \"incident\"")
	case b.Service == nil || b.Service.ID == "":
		aerr = invalid("Service cannot be empty")
	case b.EscalationPolicy != nil && len(b.Assignments) > 0:
		aerr = invalid("Cannot specify both an escalation policy and assignments")
	default:
		aerr = checkPriority(b.Priority)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	n := newIncident{serviceID: b.Service.ID, key: b.IncidentKey, title: b.Title, details: b.details(), urgency: b.Urgency}
	if b.Priority != nil {
		n.priorityID = b.Priority.ID
	}
	if b.EscalationPolicy != nil {
		n.policyID = b.EscalationPolicy.ID
		if s.pols[n.policyID] == nil {
			writeError(w, invalid("Escalation Policy not found"))
			return
		}
	}
	if n.assignees, aerr = s.assigneeIDsLocked(*b); aerr != nil {
		writeError(w, aerr)
		return
	}
	inc, aerr := s.openIncidentLocked(n, by)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"incident": s.incidentJSONLocked(inc, true)})
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.pathIncidentLocked(w, r)
	if !ok {
		return
	}
	// PagerDuty returns the body only when include[]=body asks for it.
	withBody := has(listParam(r.URL.Query(), "include"), "body")
	writeJSON(w, http.StatusOK, map[string]any{"incident": s.incidentJSONLocked(inc, withBody)})
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, aerr := parsePage(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	for _, st := range listParam(q, "statuses") {
		if checkStatus(&incident{}, st) != nil {
			writeError(w, invalid("Status must be a list of triggered, acknowledged, or resolved."))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since, until, aerr := incidentWindow(q, s.now())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	list := s.incidentsLocked(q, since, until)
	if sort := listParam(q, "sort_by"); len(sort) > 0 && strings.HasSuffix(sort[0], ":desc") {
		list = slices.Clone(list)
		slices.Reverse(list)
	}
	writeJSON(w, http.StatusOK, paged(p, "incidents", list, func(inc *incident) any { return s.incidentJSONLocked(inc, false) }))
}

// incidentWindow reads since and until: the last month by default; both
// zero with date_range=all.
func incidentWindow(q url.Values, now time.Time) (since, until time.Time, aerr *apiError) {
	if q.Get("date_range") == "all" {
		return time.Time{}, time.Time{}, nil
	}
	since, until = now.AddDate(0, -1, 0), now.Add(time.Second)
	if t, ok, aerr := queryTime(q, "since"); aerr != nil {
		return since, until, aerr
	} else if ok {
		since = t
	}
	if t, ok, aerr := queryTime(q, "until"); aerr != nil {
		return since, until, aerr
	} else if ok {
		until = t
	}
	return since, until, nil
}

// incidentsLocked filters the incidents by the query's incident key,
// statuses, services, urgencies, assignees and the creation window.
func (s *Server) incidentsLocked(q url.Values, since, until time.Time) []*incident {
	statuses, serviceIDs := listParam(q, "statuses"), listParam(q, "service_ids")
	userIDs, urgencies := listParam(q, "user_ids"), listParam(q, "urgencies")
	pool := s.incs
	if key := q.Get("incident_key"); key != "" {
		pool = s.byKey[key]
	}
	var list []*incident
	for _, inc := range pool {
		switch {
		case len(statuses) > 0 && !has(statuses, inc.status),
			len(serviceIDs) > 0 && !has(serviceIDs, inc.serviceID),
			len(urgencies) > 0 && !has(urgencies, inc.urgency),
			len(userIDs) > 0 && !slices.ContainsFunc(inc.assignments, func(a assignment) bool { return has(userIDs, a.userID) }),
			!since.IsZero() && (inc.createdAt.Before(since) || !inc.createdAt.Before(until)):
			continue
		}
		list = append(list, inc)
	}
	return list
}

// applyUpdateLocked applies the changes of a PUT body, validated before.
func (s *Server) applyUpdateLocked(inc *incident, b incidentBody, assignees []string, by *user) {
	now := s.now()
	if b.Title != "" {
		inc.title = b.Title
	}
	if b.Urgency != "" {
		inc.urgency = b.Urgency
	}
	if b.Priority != nil {
		inc.priorityID = b.Priority.ID
	}
	if b.EscalationPolicy != nil {
		inc.policyID = b.EscalationPolicy.ID
		assignees = s.levelUsersLocked(inc.policyID, now)
		inc.assignedVia = "escalation_policy"
	} else if assignees != nil {
		inc.assignedVia = "direct_assignment"
	}
	if assignees != nil && inc.open() {
		inc.assignments = nil
		for _, id := range assignees {
			inc.assignments = append(inc.assignments, assignment{userID: id, at: now})
		}
	}
	inc.updatedAt = now
	_ = s.setStatusLocked(inc, b.Status, by) // validated by checkUpdateLocked
	s.notify()
}

// checkUpdateLocked validates a PUT body against an incident.
func (s *Server) checkUpdateLocked(inc *incident, b incidentBody) ([]string, *apiError) {
	if b.Type != "incident" && b.Type != "incident_reference" {
		return nil, invalid("incident.type must be \"incident\" or \"incident_reference\"")
	}
	if b.Urgency != "" && b.Urgency != "high" && b.Urgency != "low" {
		return nil, invalid("Urgency must be high or low")
	}
	if b.EscalationPolicy != nil && s.pols[b.EscalationPolicy.ID] == nil {
		return nil, invalid("Escalation Policy not found")
	}
	if aerr := checkPriority(b.Priority); aerr != nil {
		return nil, aerr
	}
	if aerr := checkStatus(inc, b.Status); aerr != nil {
		return nil, aerr
	}
	return s.assigneeIDsLocked(b)
}

func (s *Server) updateIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Incident *incidentBody `json:"incident"`
	}
	by, ok := s.beginWrite(w, r, &body)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	inc, ok := s.pathIncidentLocked(w, r)
	if !ok {
		return
	}
	if body.Incident == nil {
		writeError(w, invalid("incident is required"))
		return
	}
	assignees, aerr := s.checkUpdateLocked(inc, *body.Incident)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.applyUpdateLocked(inc, *body.Incident, assignees, by)
	writeJSON(w, http.StatusOK, map[string]any{"incident": s.incidentJSONLocked(inc, true)})
}

// manageIncidents is PUT /incidents: several updates, all or none.
func (s *Server) manageIncidents(w http.ResponseWriter, r *http.Request) {
	p, aerr := parsePage(r.URL.Query())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var body struct {
		Incidents []struct {
			ID string `json:"id"`
			incidentBody
		} `json:"incidents"`
	}
	by, ok := s.beginWrite(w, r, &body)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	if len(body.Incidents) == 0 {
		writeError(w, invalid("incidents cannot be empty"))
		return
	}
	type change struct {
		inc       *incident
		assignees []string
	}
	changes := make([]change, 0, len(body.Incidents))
	for _, b := range body.Incidents {
		inc := s.byID[b.ID]
		if inc == nil {
			writeError(w, invalid("Incident not found: "+b.ID))
			return
		}
		assignees, aerr := s.checkUpdateLocked(inc, b.incidentBody)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		changes = append(changes, change{inc, assignees})
	}
	out := make([]*incident, 0, len(changes))
	for i, c := range changes {
		s.applyUpdateLocked(c.inc, body.Incidents[i].incidentBody, c.assignees, by)
		out = append(out, c.inc)
	}
	p.offset, p.limit = 0, max(p.limit, len(out))
	writeJSON(w, http.StatusOK, paged(p, "incidents", out, func(inc *incident) any { return s.incidentJSONLocked(inc, false) }))
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.pathIncidentLocked(w, r)
	if !ok {
		return
	}
	notes := make([]any, 0, len(inc.notes))
	for _, n := range inc.notes {
		notes = append(notes, s.noteJSONLocked(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"notes": notes})
}

// maxNotes is how many notes PagerDuty takes on one incident (its API
// reference for POST /incidents/{id}/notes). Notes are taken in every
// incident status, resolved included.
const maxNotes = 2000

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Note *struct {
			Content string `json:"content"`
		} `json:"note"`
	}
	by, ok := s.beginWrite(w, r, &body)
	if !ok {
		return
	}
	defer s.mu.Unlock()
	inc, ok := s.pathIncidentLocked(w, r)
	if !ok {
		return
	}
	if body.Note == nil || strings.TrimSpace(body.Note.Content) == "" {
		writeError(w, invalid("Note content cannot be empty"))
		return
	}
	if len(inc.notes) >= maxNotes {
		writeError(w, invalid("An incident can have at most "+strconv.Itoa(maxNotes)+" notes"))
		return
	}
	n := s.addNoteLocked(inc, by.id, body.Note.Content)
	writeJSON(w, http.StatusCreated, map[string]any{"note": s.noteJSONLocked(n)})
}

// beginWrite decodes a write's body, takes s.mu and checks the From user.
// On success the caller holds s.mu and must release it; on failure the
// answer is written and s.mu is not held.
func (s *Server) beginWrite(w http.ResponseWriter, r *http.Request, body any) (*user, bool) {
	if aerr := decodeBody(r, body); aerr != nil {
		writeError(w, aerr)
		return nil, false
	}
	s.mu.Lock()
	by, aerr := s.fromUserLocked(r)
	if aerr != nil {
		s.mu.Unlock()
		writeError(w, aerr)
		return nil, false
	}
	return by, true
}

// pathIncidentLocked returns the incident the path names, or answers 404.
func (s *Server) pathIncidentLocked(w http.ResponseWriter, r *http.Request) (*incident, bool) {
	inc := s.byID[r.PathValue("id")]
	if inc == nil {
		writeError(w, notFound("Incident"))
		return nil, false
	}
	return inc, true
}

func (s *Server) addNoteLocked(inc *incident, userID, content string) note {
	n := note{id: s.ids.make(kindNote), content: content, userID: userID, createdAt: s.now()}
	inc.notes = append(inc.notes, n)
	inc.updatedAt = n.createdAt
	s.notify()
	return n
}

// --- inspection ---

// snapshotLocked copies an incident for callers outside the lock.
func (s *Server) snapshotLocked(inc *incident) Incident {
	out := Incident{
		ID: inc.id, Number: inc.number, Key: inc.key, ServiceID: inc.serviceID,
		EscalationPolicyID: inc.policyID, Status: inc.status, Title: inc.title,
		Details: inc.details, Urgency: inc.urgency, HTMLURL: s.htmlURLLocked(inc.id),
		CreatedAt: inc.createdAt, ResolvedAt: inc.resolvedAt, LastDelivery: inc.lastDelivery,
	}
	for _, a := range inc.assignments {
		out.AssigneeIDs = append(out.AssigneeIDs, a.userID)
		if u := s.userByIDLocked(a.userID); u != nil {
			out.Assignees = append(out.Assignees, u.email)
		}
	}
	for _, n := range inc.notes {
		author := n.userID
		if u := s.userByIDLocked(n.userID); u != nil {
			author = u.email
		}
		out.Notes = append(out.Notes, Note{ID: n.id, Content: n.content, Author: author, CreatedAt: n.createdAt})
	}
	return out
}

// Incidents returns every incident, oldest first.
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, 0, len(s.incs))
	for _, inc := range s.incs {
		out = append(out, s.snapshotLocked(inc))
	}
	return out
}

// Incident returns one incident by ID.
func (s *Server) Incident(id string) (Incident, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc := s.byID[id]
	if inc == nil {
		return Incident{}, false
	}
	return s.snapshotLocked(inc), true
}

// Notes returns the contents of an incident's notes, oldest first (nil
// for an unknown incident).
func (s *Server) Notes(incidentID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc := s.byID[incidentID]
	if inc == nil {
		return nil
	}
	out := make([]string, 0, len(inc.notes))
	for _, n := range inc.notes {
		out = append(out, n.content)
	}
	return out
}
