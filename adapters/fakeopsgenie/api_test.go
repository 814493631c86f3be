package fakeopsgenie

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	s := newFake(t, Options{})
	for _, key := range []string{"", "wrong-key"} {
		a := callKey(t, s, key, "GET", "/v2/teams", nil)
		if a.status != http.StatusUnauthorized || a.body["message"] == nil || a.body["requestId"] == nil {
			t.Errorf("key %q: %d %v, want 401 with Opsgenie's error body", key, a.status, a.body)
		}
	}
	r := call(t, s, "GET", "/v2/teams", nil)
	if r.status != http.StatusOK || len(r.list()) != 1 || r.header.Get("X-RateLimit-State") != "OK" {
		t.Errorf("right key: %d %v %v, want the team list", r.status, r.header, r.body)
	}
}

func TestCreateIsAsynchronousAndDedupsByAlias(t *testing.T) {
	s := newFake(t, Options{ProcessingDelay: time.Hour})
	body := map[string]any{"message": "Access request", "alias": "teleport-access-request/r1",
		"responders": []map[string]string{{"type": "schedule", "name": "ops_schedule"}}, "priority": "P2"}
	req := create(t, s, body)
	a := call(t, s, "GET", "/v2/alerts/requests/"+req, nil)
	if a.status != http.StatusNotFound || a.header.Get("X-Opsgenie-Errortype") != "RequestNotProcessed" {
		t.Fatalf("status before processing = %d %v, want 404 RequestNotProcessed", a.status, a.header)
	}
	if len(s.Alerts()) != 0 {
		t.Fatal("alert visible before its request was processed")
	}
	s.ProcessPending()
	st := status(t, s, req)
	if st["isSuccess"] != true || st["action"] != "Create" || st["alertId"] == "" || st["alias"] != "teleport-access-request/r1" {
		t.Fatalf("status = %v, want a successful Create with the alert", st)
	}
	again := create(t, s, body)
	s.ProcessPending()
	if st2 := status(t, s, again); st2["alertId"] != st["alertId"] {
		t.Errorf("second create = alert %v, want the open alert %v (alias dedup)", st2["alertId"], st["alertId"])
	}
	alerts := s.Alerts()
	if len(alerts) != 1 || alerts[0].Count != 2 || alerts[0].Priority != "P2" {
		t.Errorf("alerts = %+v, want one with count 2", alerts)
	}
	if err := s.CloseByHand(alerts[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	third := create(t, s, body)
	s.ProcessPending()
	if st3 := status(t, s, third); st3["alertId"] == st["alertId"] {
		t.Error("create after close deduped onto the closed alert, want a new alert")
	}
}

func TestCreateValidation(t *testing.T) {
	s := newFake(t, Options{})
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"no message", map[string]any{"alias": "x"}},
		{"bad priority", map[string]any{"message": "m", "priority": "P9"}},
		{"bad responder type", map[string]any{"message": "m", "responders": []map[string]string{{"type": "group", "name": "x"}}}},
		{"responder without id", map[string]any{"message": "m", "responders": []map[string]string{{"type": "team"}}}},
		{"long alias", map[string]any{"message": "m", "alias": strings.Repeat("a", 513)}},
	} {
		a := call(t, s, "POST", "/v2/alerts", tc.body)
		if a.status != http.StatusUnprocessableEntity || a.body["errors"] == nil {
			t.Errorf("%s: %d %v, want 422 with errors", tc.name, a.status, a.body)
		}
	}
	a := call(t, s, "POST", "/v2/alerts", map[string]any{"message": "m",
		"responders": []map[string]string{{"type": "team", "name": "nobody"}}})
	req, _ := a.body["requestId"].(string)
	if st := status(t, s, req); st["isSuccess"] != false || !strings.Contains(fmt.Sprint(st["status"]), "does not exist") {
		t.Errorf("unknown responder: status %v, want a failed request", st)
	}
	long := strings.Repeat("é", 200)
	create(t, s, map[string]any{"message": long, "description": strings.Repeat("d", 16000)})
	got := s.Alerts()[0]
	if len([]rune(got.Message)) != 130 || len(got.Description) != 15000 {
		t.Errorf("message %d runes, description %d bytes, want 130 and 15000", len([]rune(got.Message)), len(got.Description))
	}
}

// Writes on alerts are accepted first and fail when processed: a note on
// a missing alert answers 202, then its status says the alert does not
// exist.
func TestWritesOnMissingAlertFailLater(t *testing.T) {
	s := newFake(t, Options{})
	for _, path := range []string{"/v2/alerts/nope/notes", "/v2/alerts/nope/close", "/v2/alerts/nope/actions/Approve"} {
		a := call(t, s, "POST", path+"?identifierType=id", map[string]string{"note": "n"})
		if a.status != http.StatusAccepted {
			t.Fatalf("POST %s = %d, want 202", path, a.status)
		}
		st := status(t, s, a.body["requestId"].(string))
		if st["isSuccess"] != false || st["status"] != "Alert does not exist" {
			t.Errorf("POST %s: status %v, want Alert does not exist", path, st)
		}
	}
}

func TestCloseNotesAndResponders(t *testing.T) {
	s := newFake(t, Options{})
	create(t, s, map[string]any{"message": "m", "alias": "a1", "actions": []string{"Approve"}})
	id := s.Alerts()[0].ID
	for i := range 3 {
		call(t, s, "POST", "/v2/alerts/"+id+"/notes?identifierType=id", map[string]string{"note": fmt.Sprint("note ", i), "user": "pagergate"})
	}
	if a := call(t, s, "POST", "/v2/alerts/"+id+"/notes", map[string]string{"note": ""}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("empty note = %d, want 422", a.status)
	}
	if a := call(t, s, "POST", "/v2/alerts/"+id+"/responders", map[string]any{"responder": map[string]string{"type": "schedule", "name": "ops_schedule"}}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("schedule responder on an existing alert = %d, want 422 (users and teams only)", a.status)
	}
	call(t, s, "POST", "/v2/alerts/a1/responders?identifierType=alias", map[string]any{"responder": map[string]string{"type": "team", "name": "ops"}})
	first := call(t, s, "POST", "/v2/alerts/"+id+"/close", map[string]string{"note": "bye"})
	second := call(t, s, "POST", "/v2/alerts/"+id+"/close", nil)
	if st := status(t, s, first.body["requestId"].(string)); st["isSuccess"] != true {
		t.Errorf("first close: %v, want success", st)
	}
	if st := status(t, s, second.body["requestId"].(string)); st["isSuccess"] != false || st["status"] != "Alert is already closed" {
		t.Errorf("second close: %v, want already closed", st)
	}
	got, _ := s.Alert(id)
	want := []string{"note 0", "note 1", "note 2", "bye"}
	if !slices.Equal(s.Notes(id), want) || got.Status != StatusClosed || len(got.Responders) != 1 || got.Responders[0].Type != KindTeam {
		t.Errorf("alert = %+v, notes %q; want closed, team responder, notes %q", got, s.Notes(id), want)
	}
}

func TestSearchAndPagination(t *testing.T) {
	s := newFake(t, Options{})
	for i := range 25 {
		b := map[string]any{"message": fmt.Sprint("alert ", i), "alias": fmt.Sprint("k", i)}
		if i%5 == 0 {
			b["responders"] = []map[string]string{{"type": "team", "name": "ops"}}
		}
		create(t, s, b)
	}
	var seen []string
	for offset := 0; ; offset += 10 {
		a := call(t, s, "GET", fmt.Sprintf("/v2/alerts?query=status%%3Aopen&offset=%d&limit=10&sort=createdAt&order=asc", offset), nil)
		for _, x := range a.list() {
			seen = append(seen, x.(map[string]any)["alias"].(string))
		}
		paging, _ := a.body["paging"].(map[string]any)
		if paging["next"] == nil {
			break
		}
	}
	if len(seen) != 25 || seen[0] != "k0" || seen[24] != "k24" {
		t.Errorf("paged aliases = %v, want k0..k24 in order", seen)
	}
	teams := call(t, s, "GET", "/v2/alerts?query=teams%3A%20ops%20AND%20status%3A%20open&limit=100", nil)
	if len(teams.list()) != 5 {
		t.Errorf("teams: ops = %d alerts, want 5", len(teams.list()))
	}
	for _, q := range []string{"nonsense", "color: red", "status: open OR alias: k1"} {
		if a := call(t, s, "GET", "/v2/alerts?query="+strings.ReplaceAll(q, " ", "%20"), nil); a.status != http.StatusUnprocessableEntity {
			t.Errorf("query %q = %d, want 422", q, a.status)
		}
	}
	if a := call(t, s, "GET", "/v2/alerts?offset=19950&limit=100", nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("offset+limit over 20000 = %d, want 422", a.status)
	}
	if a := call(t, s, "GET", "/v2/alerts?limit=101", nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("limit 101 = %d, want 422", a.status)
	}
}

// Searching by alias finds only the open alert with it, as Opsgenie.
func TestAliasSearchFindsOpenAlertsOnly(t *testing.T) {
	s := newFake(t, Options{})
	create(t, s, map[string]any{"message": "m", "alias": "teleport-access-request/r1"})
	id := s.Alerts()[0].ID
	q := "/v2/alerts?query=alias%3A%20%22teleport-access-request%2Fr1%22"
	if a := call(t, s, "GET", q, nil); len(a.list()) != 1 {
		t.Fatalf("alias search = %v, want the open alert", a.body)
	}
	_ = s.CloseByHand(id, "")
	if a := call(t, s, "GET", q, nil); len(a.list()) != 0 {
		t.Errorf("alias search after close = %v, want nothing", a.body)
	}
	if a := call(t, s, "GET", "/v2/alerts/"+id+"?identifierType=id", nil); a.status != http.StatusOK || a.data()["status"] != "closed" {
		t.Errorf("get by id after close = %d %v, want the closed alert", a.status, a.body)
	}
}

func TestNotesPagination(t *testing.T) {
	s := newFake(t, Options{})
	create(t, s, map[string]any{"message": "m"})
	id := s.Alerts()[0].ID
	for i := range 7 {
		call(t, s, "POST", "/v2/alerts/"+id+"/notes", map[string]string{"note": fmt.Sprint(i)})
	}
	var got []string
	offset := ""
	for range 10 {
		a := call(t, s, "GET", "/v2/alerts/"+id+"/notes?identifierType=id&order=asc&direction=next&limit=3&offset="+offset, nil)
		for _, n := range a.list() {
			m := n.(map[string]any)
			got = append(got, m["note"].(string))
			offset = m["offset"].(string)
		}
		if paging, _ := a.body["paging"].(map[string]any); paging["next"] == nil {
			break
		}
	}
	if want := []string{"0", "1", "2", "3", "4", "5", "6"}; !slices.Equal(got, want) {
		t.Errorf("notes = %v, want %v", got, want)
	}
	desc := call(t, s, "GET", "/v2/alerts/"+id+"/notes", nil)
	if first := desc.list()[0].(map[string]any)["note"]; first != "6" {
		t.Errorf("default order starts with %v, want the newest (desc)", first)
	}
}

// The rate limit is per domain: alert calls over the limit answer 429
// with Opsgenie's headers while on-call reads still pass.
func TestRateLimitPerDomain(t *testing.T) {
	s := newFake(t, Options{RateLimit: 2})
	for range 2 {
		call(t, s, "GET", "/v2/alerts/none", nil)
	}
	a := call(t, s, "GET", "/v2/alerts/none", nil)
	if a.status != http.StatusTooManyRequests || a.header.Get("X-RateLimit-State") != "THROTTLED" ||
		a.header.Get("X-RateLimit-Reason") != domainAlert || a.header.Get("X-RateLimit-Period-In-Sec") != "60" {
		t.Fatalf("third alert call = %d %v, want 429 with the throttling headers", a.status, a.header)
	}
	sc := s.Schedules()[0]
	if on := call(t, s, "GET", "/v2/schedules/"+sc.ID+"/on-calls", nil); on.status != http.StatusOK {
		t.Errorf("on-calls after the alert domain is throttled = %d, want 200", on.status)
	}
	s.FailNext(1, http.StatusTooManyRequests)
	if inj := call(t, s, "GET", "/v2/teams", nil); inj.status != 429 || inj.header.Get("X-RateLimit-Period-In-Sec") != "1" {
		t.Errorf("injected 429 = %d %v, want a one-second period", inj.status, inj.header)
	}
}

func TestLostAnswerIsStored(t *testing.T) {
	s := newFake(t, Options{})
	create(t, s, map[string]any{"message": "m"})
	id := s.Alerts()[0].ID
	s.LoseNextAnswer("POST /v2/alerts/{id}/notes", http.StatusBadGateway)
	if a := call(t, s, "POST", "/v2/alerts/"+id+"/notes", map[string]string{"note": "x"}); a.status != http.StatusBadGateway {
		t.Errorf("lost answer = %d, want 502", a.status)
	}
	if n := s.Notes(id); !slices.Equal(n, []string{"x"}) {
		t.Errorf("notes = %q, want the note stored", n)
	}
	if c := s.Calls()["POST /v2/alerts/{id}/notes"]; c != 1 {
		t.Errorf("calls = %d, want 1", c)
	}
}

// A delayed request takes effect on its own when due, without a read.
func TestDelayedRequestProcessedWhenDue(t *testing.T) {
	s := newFake(t, Options{ProcessingDelay: 20 * time.Millisecond})
	create(t, s, map[string]any{"message": "m"})
	if n := s.PendingRequests(); n != 1 {
		t.Fatalf("pending = %d, want 1", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := s.WaitFor(ctx, func(s *Server) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.alerts) == 1
	})
	if err != nil {
		t.Fatal(err)
	}
}
