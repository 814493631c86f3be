package fakepd

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pagergate/pagergate/domain"
)

func TestAuthRequired(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		name   string
		header []string
	}{
		{"no header", nil},
		{"wrong token", []string{"Authorization", "Token token=nope"}},
		{"bearer", []string{"Authorization", "Bearer " + DefaultAPIKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.doRaw("GET", "/abilities", nil, c.header...), http.StatusUnauthorized, CodeAuthentication, "")
		})
	}
	if a := e.do("GET", "/abilities", nil); a.status != http.StatusOK || len(list(a.body, "abilities")) == 0 {
		t.Fatalf("GET /abilities with token = %d %s", a.status, a.raw)
	}
	if got := e.fake.CallsByStatus()["GET /abilities"]; got[401] != 3 || got[200] != 1 {
		t.Errorf("CallsByStatus[GET /abilities] = %v, want 3x401 1x200", got)
	}
}

func TestCustomAPIKey(t *testing.T) {
	e := newEnv(t, Options{APIKey: "s3cret"})
	wantError(t, e.do("GET", "/users", nil), http.StatusUnauthorized, CodeAuthentication, "")
	if a := e.doRaw("GET", "/users", nil, "Authorization", "Token token=s3cret"); a.status != http.StatusOK {
		t.Fatalf("GET /users = %d %s", a.status, a.raw)
	}
}

func TestFromHeaderOnWrites(t *testing.T) {
	e := newEnv(t, Options{})
	body := map[string]any{"incident": map[string]any{
		"type": "incident", "title": "t", "service": map[string]any{"id": e.svc, "type": "service_reference"},
	}}
	wantError(t, e.do("POST", "/incidents", body), http.StatusBadRequest, CodeMissingArgument, "From")
	wantError(t, e.do("POST", "/incidents", body, "From", "nobody@example.com"), http.StatusBadRequest, CodeInvalidInput, "Requester User Not Found")
	if len(e.fake.Incidents()) != 0 {
		t.Fatal("an incident was created without a valid From")
	}
	a := e.do("POST", "/incidents", body, "From", strings.ToUpper(bot))
	if a.status != http.StatusCreated {
		t.Fatalf("POST /incidents with From = %d %s", a.status, a.raw)
	}
	id := str(a.body, "incident", "id")
	wantError(t, e.do("POST", "/incidents/"+id+"/notes", map[string]any{"note": map[string]any{"content": "x"}}),
		http.StatusBadRequest, CodeMissingArgument, "")
	wantError(t, e.do("PUT", "/incidents/"+id, map[string]any{"incident": map[string]any{"type": "incident", "status": "resolved"}}),
		http.StatusBadRequest, CodeMissingArgument, "")
	wantError(t, e.do("PUT", "/incidents", map[string]any{"incidents": []any{map[string]any{"id": id, "type": "incident", "status": "resolved"}}}),
		http.StatusBadRequest, CodeMissingArgument, "")
	if inc, _ := e.fake.Incident(id); inc.Status != domain.IncidentTriggered || len(inc.Notes) != 0 {
		t.Errorf("incident changed by writes without From: %+v", inc)
	}
}

func TestCreateIncidentShape(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.openIncident("teleport-access-request/r1", "Access request from bob")
	if a.status != http.StatusCreated {
		t.Fatalf("POST /incidents = %d %s", a.status, a.raw)
	}
	inc, _ := a.body["incident"].(map[string]any)
	checks := map[string]string{
		"type":                   "incident",
		"status":                 "triggered",
		"title":                  "Access request from bob",
		"incident_key":           "teleport-access-request/r1",
		"urgency":                "high",
		"assigned_via":           "escalation_policy",
		"service.id":             e.svc,
		"service.type":           "service_reference",
		"body.details":           "details of Access request from bob",
		"escalation_policy.type": "escalation_policy_reference",
	}
	for path, want := range checks {
		if got := str(inc, strings.Split(path, ".")...); got != want {
			t.Errorf("incident.%s = %q, want %q", path, got, want)
		}
	}
	for _, k := range []string{"created_at", "last_status_change_at", "html_url", "self"} {
		if str(inc, k) == "" {
			t.Errorf("incident.%s is empty", k)
		}
	}
	if _, err := time.Parse(time.RFC3339, str(inc, "created_at")); err != nil {
		t.Errorf("created_at: %v", err)
	}
	if v, ok := inc["resolved_at"]; !ok || v != nil {
		t.Errorf("resolved_at = %v (present %v), want null", v, ok)
	}
	// Assigned to the level-1 on-call (alice), not level 2 (bob).
	as := list(inc, "assignments")
	if len(as) != 1 || str(as[0], "assignee", "id") != e.alID || str(as[0], "assignee", "type") != "user_reference" {
		t.Errorf("assignments = %v, want alice only", as)
	}
	got, _ := e.fake.Incident(str(inc, "id"))
	if got.Key != "teleport-access-request/r1" || !slices.Equal(got.Assignees, []string{alice}) || got.Number != 1 {
		t.Errorf("Incident() = %+v", got)
	}
}

func TestCreateIncidentValidation(t *testing.T) {
	e := newEnv(t, Options{})
	svc := map[string]any{"id": e.svc, "type": "service_reference"}
	cases := []struct {
		name string
		inc  map[string]any
	}{
		{"missing type", map[string]any{"title": "t", "service": svc}},
		{"no title", map[string]any{"type": "incident", "service": svc}},
		{"no service", map[string]any{"type": "incident", "title": "t"}},
		{"unknown service", map[string]any{"type": "incident", "title": "t", "service": map[string]any{"id": "PNOPE", "type": "service_reference"}}},
		{"bad urgency", map[string]any{"type": "incident", "title": "t", "service": svc, "urgency": "urgent"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.do("POST", "/incidents", map[string]any{"incident": c.inc}, "From", bot), http.StatusBadRequest, CodeInvalidInput, "")
		})
	}
	wantError(t, e.do("POST", "/incidents", "{", "From", bot), http.StatusBadRequest, CodeInvalidInput, "")
}

func TestIncidentKeyDedup(t *testing.T) {
	e := newEnv(t, Options{})
	other := e.fake.AddService("Other")
	key := "teleport-access-request/r1"
	first := e.mustOpen(key, "first")

	wantError(t, e.openIncident(key, "again"), http.StatusBadRequest, CodeArgumentsError, ErrTextDedup)

	// Same key on another service is another incident.
	a := e.do("POST", "/incidents", map[string]any{"incident": map[string]any{
		"type": "incident", "title": "other", "incident_key": key,
		"service": map[string]any{"id": other.ID, "type": "service_reference"},
	}}, "From", bot)
	if a.status != http.StatusCreated {
		t.Fatalf("same key on another service = %d %s", a.status, a.raw)
	}

	// Resolving frees the key.
	if a := e.do("PUT", "/incidents/"+first, map[string]any{"incident": map[string]any{"type": "incident_reference", "status": "resolved"}}, "From", bot); a.status != http.StatusOK {
		t.Fatalf("resolve = %d %s", a.status, a.raw)
	}
	second := e.mustOpen(key, "after resolve")
	if second == first {
		t.Fatal("new incident reused the resolved one's ID")
	}
	a = e.do("GET", "/incidents?incident_key="+key+"&service_ids[]="+e.svc+"&date_range=all", nil)
	ids := incidentIDs(a)
	if !slices.Equal(ids, []string{first, second}) {
		t.Errorf("incidents with key on service = %v, want [%s %s]", ids, first, second)
	}
}

func TestResolveTwice(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.mustOpen("k1", "one")
	resolve := map[string]any{"incidents": []any{map[string]any{"id": id, "type": "incident_reference", "status": "resolved"}}}
	a := e.do("PUT", "/incidents", resolve, "From", bot)
	if a.status != http.StatusOK {
		t.Fatalf("PUT /incidents = %d %s", a.status, a.raw)
	}
	if got := list(a.body, "incidents"); len(got) != 1 || str(got[0], "status") != "resolved" || len(list(got[0].(map[string]any), "assignments")) != 0 {
		t.Errorf("PUT /incidents answered %s", a.raw)
	}
	wantError(t, e.do("PUT", "/incidents", resolve, "From", bot), http.StatusBadRequest, CodeArgumentsError, ErrTextAlreadyResolved)
	wantError(t, e.do("PUT", "/incidents/"+id, map[string]any{"incident": map[string]any{"type": "incident", "status": "resolved"}}, "From", bot),
		http.StatusBadRequest, CodeArgumentsError, ErrTextAlreadyResolved)
	wantError(t, e.do("PUT", "/incidents/"+id, map[string]any{"incident": map[string]any{"type": "incident", "status": "acknowledged"}}, "From", bot),
		http.StatusBadRequest, CodeArgumentsError, ErrTextAlreadyResolved)
	inc, _ := e.fake.Incident(id)
	if inc.Status != domain.IncidentResolved || inc.ResolvedAt.IsZero() {
		t.Errorf("incident = %+v, want resolved", inc)
	}
	wantError(t, e.do("PUT", "/incidents/PNOPE", map[string]any{"incident": map[string]any{"type": "incident", "status": "resolved"}}, "From", bot),
		http.StatusNotFound, CodeNotFound, "")
}

func TestManageIncidentsIsAllOrNothing(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := e.mustOpen("ka", "a"), e.mustOpen("kb", "b")
	e.do("PUT", "/incidents/"+b, map[string]any{"incident": map[string]any{"type": "incident", "status": "resolved"}}, "From", bot)
	body := map[string]any{"incidents": []any{
		map[string]any{"id": a, "type": "incident", "status": "acknowledged"},
		map[string]any{"id": b, "type": "incident", "status": "resolved"},
	}}
	wantError(t, e.do("PUT", "/incidents", body, "From", bot), http.StatusBadRequest, CodeArgumentsError, ErrTextAlreadyResolved)
	if inc, _ := e.fake.Incident(a); inc.Status != domain.IncidentTriggered {
		t.Errorf("incident a = %s, want unchanged (triggered)", inc.Status)
	}
	ack := e.do("PUT", "/incidents", map[string]any{"incidents": []any{map[string]any{"id": a, "type": "incident", "status": "acknowledged"}}}, "From", alice)
	if ack.status != http.StatusOK {
		t.Fatalf("acknowledge = %d %s", ack.status, ack.raw)
	}
	inc := list(ack.body, "incidents")[0].(map[string]any)
	if str(inc, "status") != "acknowledged" || str(list(inc, "acknowledgements")[0], "acknowledger", "id") != e.alID {
		t.Errorf("acknowledged incident = %v", inc)
	}
}

func incidentIDs(a answer) []string {
	var ids []string
	for _, i := range list(a.body, "incidents") {
		ids = append(ids, str(i, "id"))
	}
	return ids
}

func TestPagination(t *testing.T) {
	e := newEnv(t, Options{})
	var want []string
	for i := range 7 {
		want = append(want, e.mustOpen(fmt.Sprintf("k%d", i), fmt.Sprintf("incident %d", i)))
	}
	var got []string
	for offset := 0; ; offset += 3 {
		a := e.do("GET", fmt.Sprintf("/incidents?limit=3&offset=%d", offset), nil)
		if a.status != http.StatusOK {
			t.Fatalf("GET /incidents = %d %s", a.status, a.raw)
		}
		if a.body["limit"] != 3.0 || a.body["offset"] != float64(offset) {
			t.Errorf("page at %d echoes limit=%v offset=%v", offset, a.body["limit"], a.body["offset"])
		}
		if v, ok := a.body["total"]; !ok || v != nil {
			t.Errorf("total = %v (present %v), want null without total=true", v, ok)
		}
		got = append(got, incidentIDs(a)...)
		more, _ := a.body["more"].(bool)
		if wantMore := offset+3 < 7; more != wantMore {
			t.Errorf("more at offset %d = %v, want %v", offset, more, wantMore)
		}
		if !more {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged incidents (-want +got):\n%s", diff)
	}
	a := e.do("GET", "/incidents?total=true&limit=500&offset=100", nil)
	if a.body["total"] != 7.0 || a.body["limit"] != 100.0 || len(list(a.body, "incidents")) != 0 || a.body["more"] != false {
		t.Errorf("total/limit cap/past end answer: %s", a.raw)
	}
	wantError(t, e.do("GET", "/users?limit=abc", nil), http.StatusBadRequest, CodeInvalidInput, "limit")
	// Classic pagination serves at most 10000 records.
	if a := e.do("GET", "/incidents?limit=100&offset=9900", nil); a.status != http.StatusOK {
		t.Errorf("offset+limit = 10000: %d %s", a.status, a.raw)
	}
	wantError(t, e.do("GET", "/incidents?limit=100&offset=9901", nil), http.StatusBadRequest, CodeInvalidInput, "10000")
	wantError(t, e.do("GET", "/services?offset=10000", nil), http.StatusBadRequest, CodeInvalidInput, "10000")
}

func TestPriorities(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.do("GET", "/priorities", nil)
	ps := list(a.body, "priorities")
	if a.status != http.StatusOK || len(ps) != 5 || str(ps[0], "name") != "P1" || str(ps[0], "type") != "priority" || a.body["more"] != false {
		t.Fatalf("GET /priorities = %d %s", a.status, a.raw)
	}
	p2 := str(ps[1], "id")
	inc := e.do("POST", "/incidents", map[string]any{"incident": map[string]any{"type": "incident", "title": "t",
		"service": map[string]any{"id": e.svc, "type": "service_reference"}, "priority": map[string]any{"id": p2, "type": "priority_reference"}}},
		"From", bot)
	if inc.status != http.StatusCreated || str(inc.body, "incident", "priority", "name") != "P2" {
		t.Errorf("incident with priority P2 = %d %s", inc.status, inc.raw)
	}
	wantError(t, e.do("POST", "/incidents", map[string]any{"incident": map[string]any{"type": "incident", "title": "t",
		"service": map[string]any{"id": e.svc, "type": "service_reference"}, "priority": map[string]any{"id": "PNOPE", "type": "priority_reference"}}},
		"From", bot), http.StatusBadRequest, CodeInvalidInput, "Priority")
}

func TestErrorMessages(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		got     answer
		status  int
		code    int
		message string
	}{
		{e.doRaw("GET", "/users", nil), http.StatusUnauthorized, CodeAuthentication, "Authentication failed"},
		{e.do("GET", "/users/PNOPE", nil), http.StatusNotFound, CodeNotFound, "Not Found"},
		{e.do("GET", "/nowhere", nil), http.StatusNotFound, CodeNotFound, "Not Found"},
	} {
		if c.got.status != c.status || c.got.body["error"].(map[string]any)["code"] != float64(c.code) ||
			str(c.got.body, "error", "message") != c.message {
			t.Errorf("answer %d %s, want %d code %d %q", c.got.status, c.got.raw, c.status, c.code, c.message)
		}
	}
	e.fake.FailNext(1, http.StatusInternalServerError)
	if a := e.do("GET", "/users", nil); a.status != 500 || !strings.Contains(str(a.body, "error", "message"), "internal error") {
		t.Errorf("500 = %s", a.raw)
	}
}

// The incident body comes back only when include[]=body asks for it.
func TestIncidentBodyOnlyWhenIncluded(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.mustOpen("kb", "with body")
	plain := e.do("GET", "/incidents/"+id, nil)
	if inc, _ := plain.body["incident"].(map[string]any); plain.status != http.StatusOK || inc == nil || inc["body"] != nil {
		t.Errorf("GET /incidents/{id} = %d %s, want the incident without its body", plain.status, plain.raw)
	}
	with := e.do("GET", "/incidents/"+id+"?include[]=body", nil)
	inc, _ := with.body["incident"].(map[string]any)
	if b, _ := inc["body"].(map[string]any); b["type"] != "incident_body" || b["details"] != "details of with body" {
		t.Errorf("GET /incidents/{id}?include[]=body = %d %s, want the body", with.status, with.raw)
	}
	if a := e.do("GET", "/incidents?include[]=body", nil); strings.Contains(a.raw, "details of") {
		t.Errorf("GET /incidents lists bodies: %s", a.raw)
	}
}

func TestListIncidentFilters(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.mustOpen("ka", "to alice")
	if err := e.fake.AddOnCall(bob, "Other", 1); err == nil {
		t.Fatal("AddOnCall on an unknown service succeeded")
	}
	e.fake.AddService("Other")
	if err := e.fake.AddOnCall(bob, "Other", 1); err != nil {
		t.Fatal(err)
	}
	human, err := e.fake.AddIncident(IncidentSeed{Service: "Other", Title: "disk full"})
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := e.fake.AddIncident(IncidentSeed{Service: "Teleport", Title: "old", Status: "resolved", Assignees: []string{bob}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{a, human.ID, resolved.ID}},
		{"?user_ids[]=" + e.alID, []string{a}},
		{"?user_ids[]=" + e.boID + "&statuses[]=triggered&statuses[]=acknowledged", []string{human.ID}},
		{"?statuses[]=resolved", []string{resolved.ID}},
		{"?service_ids[]=" + e.svc, []string{a, resolved.ID}},
		{"?incident_key=ka", []string{a}},
		{"?incident_key=nope", nil},
		{"?sort_by=created_at:desc", []string{resolved.ID, human.ID, a}},
		{"?date_range=all&since=2000-01-01T00:00:00Z", []string{a, human.ID, resolved.ID}},
		{"?until=2000-01-01T00:00:00Z", nil},
	}
	for _, c := range cases {
		if got := incidentIDs(e.do("GET", "/incidents"+c.query, nil)); !slices.Equal(got, c.want) {
			t.Errorf("GET /incidents%s = %v, want %v", c.query, got, c.want)
		}
	}
	wantError(t, e.do("GET", "/incidents?statuses[]=open", nil), http.StatusBadRequest, CodeInvalidInput, "")
}

func TestNotes(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.mustOpen("k", "t")
	for _, c := range []string{"first", "second"} {
		a := e.do("POST", "/incidents/"+id+"/notes", map[string]any{"note": map[string]any{"content": c}}, "From", bot)
		if a.status != http.StatusCreated || str(a.body, "note", "content") != c || str(a.body, "note", "user", "type") != "user_reference" {
			t.Fatalf("POST note = %d %s", a.status, a.raw)
		}
	}
	a := e.do("GET", "/incidents/"+id+"/notes", nil)
	var got []string
	for _, n := range list(a.body, "notes") {
		got = append(got, str(n, "content"))
	}
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("GET notes = %v", got)
	}
	if got := e.fake.Notes(id); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("Notes() = %v", got)
	}
	if inc, _ := e.fake.Incident(id); inc.Notes[0].Author != bot {
		t.Errorf("note author = %q, want %q", inc.Notes[0].Author, bot)
	}
	wantError(t, e.do("POST", "/incidents/"+id+"/notes", map[string]any{"note": map[string]any{"content": " "}}, "From", bot), http.StatusBadRequest, CodeInvalidInput, "")
	wantError(t, e.do("GET", "/incidents/PNOPE/notes", nil), http.StatusNotFound, CodeNotFound, "")

	// PagerDuty takes notes on incidents in any status: a resolved one too.
	if a := e.do("PUT", "/incidents/"+id, map[string]any{"incident": map[string]any{"type": "incident_reference", "status": "resolved"}}, "From", bot); a.status != http.StatusOK {
		t.Fatalf("resolve = %d %s", a.status, a.raw)
	}
	if a := e.do("POST", "/incidents/"+id+"/notes", map[string]any{"note": map[string]any{"content": "after"}}, "From", bot); a.status != http.StatusCreated {
		t.Errorf("POST note on a resolved incident = %d %s, want 201", a.status, a.raw)
	}
	// At most 2000 notes per incident.
	held := len(e.fake.Notes(id))
	if added, err := e.fake.FillNotes(id); err != nil || added != maxNotes-held {
		t.Fatalf("FillNotes = %d, %v; want %d added", added, err, maxNotes-held)
	}
	wantError(t, e.do("POST", "/incidents/"+id+"/notes", map[string]any{"note": map[string]any{"content": "one too many"}}, "From", bot),
		http.StatusBadRequest, CodeInvalidInput, "")
	if n := len(e.fake.Notes(id)); n != maxNotes {
		t.Errorf("notes = %d, want the limit %d", n, maxNotes)
	}
}

func TestOnCallsFilter(t *testing.T) {
	e := newEnv(t, Options{})
	other := e.fake.AddService("Other")
	if err := e.fake.AddOnCall(alice, "Other", 3); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.fake.AddOnCallWindow(bob, "Other", 1, now.Add(time.Hour), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	teleport := e.fake.Services()[0]
	type entry struct {
		user, policy string
		level        float64
	}
	get := func(query string) []entry {
		t.Helper()
		a := e.do("GET", "/oncalls"+query, nil)
		if a.status != http.StatusOK {
			t.Fatalf("GET /oncalls%s = %d %s", query, a.status, a.raw)
		}
		var out []entry
		for _, o := range list(a.body, "oncalls") {
			m := o.(map[string]any)
			out = append(out, entry{str(m, "user", "id"), str(m, "escalation_policy", "id"), m["escalation_level"].(float64)})
		}
		return out
	}
	cases := []struct {
		query string
		want  []entry
	}{
		{"?user_ids[]=" + e.alID, []entry{{e.alID, teleport.EscalationPolicyID, 1}, {e.alID, other.EscalationPolicyID, 3}}},
		{"?escalation_policy_ids[]=" + teleport.EscalationPolicyID, []entry{{e.alID, teleport.EscalationPolicyID, 1}, {e.boID, teleport.EscalationPolicyID, 2}}},
		{"?user_ids[]=" + e.boID + "&escalation_policy_ids[]=" + other.EscalationPolicyID, nil},
		{"?user_ids[]=" + e.boID + "&escalation_policy_ids[]=" + other.EscalationPolicyID +
			"&since=" + now.Add(90*time.Minute).UTC().Format(time.RFC3339) + "&until=" + now.Add(100*time.Minute).UTC().Format(time.RFC3339),
			[]entry{{e.boID, other.EscalationPolicyID, 1}}},
		{"?user_ids[]=" + e.boID + "&earliest=true&time_zone=UTC", []entry{{e.boID, teleport.EscalationPolicyID, 2}}},
		{"?schedule_ids[]=PSCHED1", nil},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, get(c.query), cmp.AllowUnexported(entry{})); diff != "" {
			t.Errorf("GET /oncalls%s (-want +got):\n%s", c.query, diff)
		}
	}
	a := e.do("GET", "/oncalls?user_ids[]="+e.alID+"&escalation_policy_ids[]="+teleport.EscalationPolicyID+"&include[]=users", nil)
	o := list(a.body, "oncalls")[0].(map[string]any)
	for _, k := range []string{"start", "end", "schedule"} {
		if v, ok := o[k]; !ok || v != nil {
			t.Errorf("permanent on-call %s = %v (present %v), want null", k, v, ok)
		}
	}
	if str(o, "user", "email") != alice {
		t.Errorf("include[]=users: user = %v", o["user"])
	}
	e.fake.RemoveOnCall(alice, "Teleport")
	if got := get("?escalation_policy_ids[]=" + teleport.EscalationPolicyID); len(got) != 1 || got[0].user != e.boID {
		t.Errorf("after RemoveOnCall: %v", got)
	}
	// The escalation policy reflects the remaining on-call users.
	pol := e.do("GET", "/escalation_policies/"+teleport.EscalationPolicyID, nil)
	rules := list(pol.body["escalation_policy"].(map[string]any), "escalation_rules")
	if len(rules) != 1 || str(list(rules[0].(map[string]any), "targets")[0], "id") != e.boID {
		t.Errorf("escalation_rules = %v", rules)
	}
}

func TestDirectory(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.do("GET", "/users?query=ALICE", nil)
	if us := list(a.body, "users"); len(us) != 1 || str(us[0], "email") != alice || str(us[0], "type") != "user" {
		t.Errorf("GET /users?query=ALICE = %s", a.raw)
	}
	if a := e.do("GET", "/users?query=example.com", nil); len(list(a.body, "users")) != 3 {
		t.Errorf("query on email matched %d users, want 3", len(list(a.body, "users")))
	}
	if a := e.do("GET", "/users/"+e.alID, nil); str(a.body, "user", "name") != "Alice" {
		t.Errorf("GET /users/{id} = %s", a.raw)
	}
	wantError(t, e.do("GET", "/users/PNOPE", nil), http.StatusNotFound, CodeNotFound, "")
	a = e.do("GET", "/services?query=tele&include[]=escalation_policies", nil)
	svcs := list(a.body, "services")
	if len(svcs) != 1 || str(svcs[0], "escalation_policy", "type") != "escalation_policy" || str(svcs[0], "name") != "Teleport" {
		t.Errorf("GET /services = %s", a.raw)
	}
	if a := e.do("GET", "/services/"+e.svc, nil); str(a.body, "service", "escalation_policy", "type") != "escalation_policy_reference" {
		t.Errorf("GET /services/{id} = %s", a.raw)
	}
	wantError(t, e.do("GET", "/services/PNOPE", nil), http.StatusNotFound, CodeNotFound, "")
	wantError(t, e.do("GET", "/escalation_policies/PNOPE", nil), http.StatusNotFound, CodeNotFound, "")
	wantError(t, e.do("GET", "/nowhere", nil), http.StatusNotFound, CodeNotFound, "")
	wantError(t, e.do("DELETE", "/incidents", nil), http.StatusNotFound, CodeNotFound, "")
	calls := e.fake.Calls()
	if calls["GET /users/{id}"] != 2 || calls["GET /services"] != 1 || calls["GET /nowhere"] != 1 || calls["DELETE /incidents"] != 1 {
		t.Errorf("Calls() = %v", calls)
	}
	e.fake.ResetCalls()
	if len(e.fake.Calls()) != 0 || len(e.fake.CallsByStatus()) != 0 {
		t.Error("ResetCalls left counters")
	}
}

func TestExtensions(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.do("GET", "/extension_schemas", nil)
	var keys []string
	for _, s := range list(a.body, "extension_schemas") {
		keys = append(keys, str(s, "key"))
	}
	if !slices.Contains(keys, "custom_webhook") {
		t.Fatalf("schemas = %v, want custom_webhook", keys)
	}
	ext := map[string]any{
		"name": "Approve access", "endpoint_url": "https://gate.example.com/pagerduty/actions/approve",
		"extension_schema":  map[string]any{"id": CustomWebhookSchemaID, "type": "extension_schema_reference"},
		"extension_objects": []any{map[string]any{"id": e.svc, "type": "service_reference"}},
		"config":            map[string]any{"headers": []any{map[string]any{"name": "X-Secret", "value": "v"}}},
	}
	a = e.do("POST", "/extensions", map[string]any{"extension": ext})
	if a.status != http.StatusCreated {
		t.Fatalf("POST /extensions = %d %s", a.status, a.raw)
	}
	id := str(a.body, "extension", "id")
	// Header values read back masked, on every answer.
	if v := str(a.body, "extension", "config", "headers", "0", "value"); v != headerMask {
		t.Errorf("created extension shows header value %q, want it masked", v)
	}
	if got := e.do("GET", "/extensions/"+id, nil); str(got.body, "extension", "config", "headers", "0", "value") != headerMask ||
		str(got.body, "extension", "config", "headers", "0", "name") != "X-Secret" {
		t.Errorf("GET /extensions/{id} = %s, want the header named and its value masked", got.raw)
	}
	// The {"extension": ...} wrapper is required (go-pagerduty v1.8.0 sends
	// the bare object, which PagerDuty's API refuses).
	bare := map[string]any{"name": "Deny access", "endpoint_url": "https://gate.example.com/pagerduty/actions/deny",
		"extension_schema": ext["extension_schema"], "extension_objects": ext["extension_objects"]}
	wantError(t, e.do("POST", "/extensions", bare), http.StatusBadRequest, CodeInvalidInput, "extension is required")
	if a := e.do("POST", "/extensions", map[string]any{"extension": bare}); a.status != http.StatusCreated {
		t.Fatalf("POST /extensions = %d %s", a.status, a.raw)
	}
	a = e.do("PUT", "/extensions/"+id, map[string]any{"extension": map[string]any{"name": "Approve access", "endpoint_url": "https://new.example.com/pagerduty/actions/approve"}})
	if a.status != http.StatusOK || str(a.body, "extension", "endpoint_url") != "https://new.example.com/pagerduty/actions/approve" {
		t.Fatalf("PUT /extensions/{id} = %d %s", a.status, a.raw)
	}
	a = e.do("GET", "/extensions?extension_object_id="+e.svc+"&extension_schema_id="+CustomWebhookSchemaID, nil)
	if got := list(a.body, "extensions"); len(got) != 2 || str(got[0], "extension_schema", "id") != CustomWebhookSchemaID {
		t.Errorf("GET /extensions = %s", a.raw)
	}
	wantError(t, e.do("POST", "/extensions", map[string]any{"extension": map[string]any{"name": "x", "endpoint_url": "https://x",
		"extension_schema": map[string]any{"id": "PNOPE"}, "extension_objects": ext["extension_objects"]}}), http.StatusBadRequest, CodeInvalidInput, "Schema")
	wantError(t, e.do("POST", "/extensions", map[string]any{"extension": map[string]any{"name": "x", "endpoint_url": "https://x",
		"extension_schema": ext["extension_schema"], "extension_objects": []any{map[string]any{"id": "PNOPE"}}}}), http.StatusBadRequest, CodeInvalidInput, "")
	if a := e.do("DELETE", "/extensions/"+id, nil); a.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d", a.status)
	}
	wantError(t, e.do("GET", "/extensions/"+id, nil), http.StatusNotFound, CodeNotFound, "")
	if got := e.fake.Extensions(); len(got) != 1 || got[0].Name != "Deny access" {
		t.Errorf("Extensions() = %+v", got)
	}
}
