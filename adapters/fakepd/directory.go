package fakepd

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// abilities are the account abilities GET /abilities reports.
var abilities = []string{
	"teams", "read_only_users", "team_responders", "urgencies", "manage_schedules",
	"manage_api_keys", "coordinated_responding", "event_rules", "advanced_reports",
	"response_automation", "incident_workflows", "custom_incident_actions",
}

func (s *Server) getAbilities(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"abilities": abilities})
}

// --- lookups (s.mu held) ---

func (s *Server) userByIDLocked(id string) *user {
	for _, u := range s.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

func (s *Server) userByEmailLocked(email string) *user {
	e := lower(email)
	for _, u := range s.users {
		if lower(u.email) == e {
			return u
		}
	}
	return nil
}

func (s *Server) serviceByIDLocked(id string) *service {
	for _, sv := range s.svcs {
		if sv.id == id {
			return sv
		}
	}
	return nil
}

// findServiceLocked resolves a service ID or name (case-insensitive).
func (s *Server) findServiceLocked(nameOrID string) *service {
	if sv := s.serviceByIDLocked(nameOrID); sv != nil {
		return sv
	}
	n := lower(nameOrID)
	for _, sv := range s.svcs {
		if lower(sv.name) == n {
			return sv
		}
	}
	return nil
}

// levelUsersLocked returns the IDs of the users on call now for the policy
// at its lowest populated level (level 1 normally).
func (s *Server) levelUsersLocked(policyID string, now time.Time) []string {
	best := 0
	var out []string
	for _, o := range s.oncalls {
		if o.policyID != policyID || !o.overlaps(now, now) {
			continue
		}
		switch {
		case best == 0 || o.level < best:
			best, out = o.level, []string{o.userID}
		case o.level == best && !has(out, o.userID):
			out = append(out, o.userID)
		}
	}
	return out
}

// --- rendering (s.mu held) ---

func (s *Server) link(path string) string { return s.baseURLLocked() + path }

func (s *Server) userRefLocked(id string) map[string]any {
	u := s.userByIDLocked(id)
	name := id
	if u != nil {
		name = u.name
	}
	return map[string]any{
		"id": id, "type": "user_reference", "summary": name,
		"self": s.link("/users/" + id), "html_url": s.link("/users/" + id),
	}
}

func (s *Server) userJSONLocked(u *user) map[string]any {
	return map[string]any{
		"id": u.id, "type": "user", "summary": u.name,
		"self": s.link("/users/" + u.id), "html_url": s.link("/users/" + u.id),
		"name": u.name, "email": u.email, "time_zone": "Etc/UTC", "color": "purple",
		"role": "user", "description": nil, "invitation_sent": false, "job_title": "",
		"teams": []any{}, "contact_methods": []any{}, "notification_rules": []any{},
	}
}

func (s *Server) serviceRefLocked(sv *service) map[string]any {
	return map[string]any{
		"id": sv.id, "type": "service_reference", "summary": sv.name,
		"self": s.link("/services/" + sv.id), "html_url": s.link("/services/" + sv.id),
	}
}

func (s *Server) serviceJSONLocked(sv *service, withPolicy bool) map[string]any {
	out := map[string]any{
		"id": sv.id, "type": "service", "summary": sv.name,
		"self": s.link("/services/" + sv.id), "html_url": s.link("/services/" + sv.id),
		"name": sv.name, "description": "", "auto_resolve_timeout": 14400,
		"acknowledgement_timeout": 1800, "created_at": fmtTime(sv.createdAt), "status": "active",
		"teams": []any{}, "integrations": []any{}, "addons": []any{}, "scheduled_actions": []any{},
		"incident_urgency_rule": map[string]any{"type": "constant", "urgency": "high"},
		"alert_creation":        "create_alerts_and_incidents",
	}
	if !sv.lastIncident.IsZero() {
		out["last_incident_timestamp"] = fmtTime(sv.lastIncident)
	}
	if p := s.pols[sv.policyID]; p != nil {
		if withPolicy {
			out["escalation_policy"] = s.policyJSONLocked(p)
		} else {
			out["escalation_policy"] = s.policyRefLocked(p)
		}
	}
	return out
}

func (s *Server) policyRefLocked(p *policy) map[string]any {
	return map[string]any{
		"id": p.id, "type": "escalation_policy_reference", "summary": p.name,
		"self": s.link("/escalation_policies/" + p.id), "html_url": s.link("/escalation_policies/" + p.id),
	}
}

func (s *Server) policyJSONLocked(p *policy) map[string]any {
	now := s.now()
	levels := map[int][]string{}
	for _, o := range s.oncalls {
		if o.policyID == p.id && o.overlaps(now, now) && !has(levels[o.level], o.userID) {
			levels[o.level] = append(levels[o.level], o.userID)
		}
	}
	keys := make([]int, 0, len(levels))
	for l := range levels {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	rules := make([]any, 0, len(keys))
	for _, l := range keys {
		targets := make([]any, 0, len(levels[l]))
		for _, id := range levels[l] {
			targets = append(targets, s.userRefLocked(id))
		}
		rules = append(rules, map[string]any{
			"id": p.id + "-L" + strconv.Itoa(l), "escalation_delay_in_minutes": 30, "targets": targets,
		})
	}
	services := []any{}
	if sv := s.serviceByIDLocked(p.serviceID); sv != nil {
		services = append(services, s.serviceRefLocked(sv))
	}
	return map[string]any{
		"id": p.id, "type": "escalation_policy", "summary": p.name,
		"self": s.link("/escalation_policies/" + p.id), "html_url": s.link("/escalation_policies/" + p.id),
		"name": p.name, "description": "", "num_loops": 0, "on_call_handoff_notifications": "if_has_services",
		"escalation_rules": rules, "services": services, "teams": []any{},
	}
}

// --- handlers ---

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, aerr := parsePage(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	query := lower(q.Get("query"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*user
	for _, u := range s.users {
		if query == "" || strings.Contains(lower(u.name), query) || strings.Contains(lower(u.email), query) {
			list = append(list, u)
		}
	}
	slices.SortStableFunc(list, func(a, b *user) int { return cmp.Compare(lower(a.name), lower(b.name)) })
	writeJSON(w, http.StatusOK, paged(p, "users", list, func(u *user) any { return s.userJSONLocked(u) }))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByIDLocked(r.PathValue("id"))
	if u == nil {
		writeError(w, notFound("User"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": s.userJSONLocked(u)})
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, aerr := parsePage(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	query, name := lower(q.Get("query")), lower(q.Get("name"))
	withPolicy := has(listParam(q, "include"), "escalation_policies")
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*service
	for _, sv := range s.svcs {
		n := lower(sv.name)
		if (query == "" || strings.Contains(n, query)) && (name == "" || n == name) {
			list = append(list, sv)
		}
	}
	slices.SortStableFunc(list, func(a, b *service) int { return cmp.Compare(lower(a.name), lower(b.name)) })
	if q.Get("sort_by") == "name:desc" {
		slices.Reverse(list)
	}
	writeJSON(w, http.StatusOK, paged(p, "services", list, func(sv *service) any { return s.serviceJSONLocked(sv, withPolicy) }))
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	withPolicy := has(listParam(r.URL.Query(), "include"), "escalation_policies")
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.serviceByIDLocked(r.PathValue("id"))
	if sv == nil {
		writeError(w, notFound("Service"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": s.serviceJSONLocked(sv, withPolicy)})
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, aerr := parsePage(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	query := lower(q.Get("query"))
	userIDs := listParam(q, "user_ids")
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*policy
	for _, sv := range s.svcs { // services and policies are one to one
		pol := s.pols[sv.policyID]
		if pol == nil || (query != "" && !strings.Contains(lower(pol.name), query)) {
			continue
		}
		if len(userIDs) > 0 && !slices.ContainsFunc(s.oncalls, func(o onCall) bool {
			return o.policyID == pol.id && has(userIDs, o.userID)
		}) {
			continue
		}
		list = append(list, pol)
	}
	writeJSON(w, http.StatusOK, paged(p, "escalation_policies", list, func(pol *policy) any { return s.policyJSONLocked(pol) }))
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pol := s.pols[r.PathValue("id")]
	if pol == nil {
		writeError(w, notFound("Escalation Policy"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"escalation_policy": s.policyJSONLocked(pol)})
}

func (s *Server) listOnCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, aerr := parsePage(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	loc := time.UTC
	if tz := q.Get("time_zone"); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since, until, aerr := onCallWindow(q, s.now())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	list := s.onCallsLocked(q, since, until)
	include := listParam(q, "include")
	render := func(o onCall) any {
		var userObj, polObj any = s.userRefLocked(o.userID), nil
		if u := s.userByIDLocked(o.userID); u != nil && has(include, "users") {
			userObj = s.userJSONLocked(u)
		}
		if pol := s.pols[o.policyID]; pol != nil {
			polObj = s.policyRefLocked(pol)
			if has(include, "escalation_policies") {
				polObj = s.policyJSONLocked(pol)
			}
		}
		return map[string]any{
			"user": userObj, "escalation_policy": polObj, "escalation_level": o.level,
			"schedule": nil, "start": fmtTimeIn(o.start, loc), "end": fmtTimeIn(o.end, loc),
		}
	}
	writeJSON(w, http.StatusOK, paged(p, "oncalls", list, render))
}

// onCallWindow reads since and until (both now by default: who is on call
// at this moment).
func onCallWindow(q url.Values, now time.Time) (since, until time.Time, aerr *apiError) {
	since, until = now, now
	if t, ok, aerr := queryTime(q, "since"); aerr != nil {
		return since, until, aerr
	} else if ok {
		since, until = t, t
	}
	t, ok, aerr := queryTime(q, "until")
	if aerr != nil || (ok && t.Before(since)) {
		return since, until, invalid("until must be an ISO 8601 date-time after since")
	}
	if ok {
		until = t
	}
	return since, until, nil
}

// queryTime reads the ISO 8601 date-time parameter name; ok is false
// when it is absent.
func queryTime(q url.Values, name string) (t time.Time, ok bool, aerr *apiError) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, false, invalid(name + " must be an ISO 8601 date-time")
	}
	return t, true, nil
}

// onCallsLocked filters the on-call entries by the query's user, policy
// and schedule IDs and the window, in PagerDuty's order; earliest=true
// keeps the first of each (policy, level, user).
func (s *Server) onCallsLocked(q url.Values, since, until time.Time) []onCall {
	userIDs, policyIDs := listParam(q, "user_ids"), listParam(q, "escalation_policy_ids")
	if len(listParam(q, "schedule_ids")) > 0 {
		return nil // fake on-calls never come from a schedule
	}
	var list []onCall
	for _, o := range s.oncalls {
		if (len(userIDs) > 0 && !has(userIDs, o.userID)) || (len(policyIDs) > 0 && !has(policyIDs, o.policyID)) {
			continue
		}
		if o.overlaps(since, until) {
			list = append(list, o)
		}
	}
	slices.SortStableFunc(list, func(a, b onCall) int {
		return cmp.Or(cmp.Compare(a.policyID, b.policyID), cmp.Compare(a.level, b.level),
			cmp.Compare(a.userID, b.userID), a.start.Compare(b.start))
	})
	if q.Get("earliest") == "true" {
		list = slices.CompactFunc(list, func(a, b onCall) bool {
			return a.policyID == b.policyID && a.level == b.level && a.userID == b.userID
		})
	}
	return list
}

func fmtTimeIn(t time.Time, loc *time.Location) any {
	if t.IsZero() {
		return nil
	}
	return t.In(loc).Format(time.RFC3339)
}
