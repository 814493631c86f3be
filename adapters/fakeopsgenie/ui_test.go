package fakeopsgenie

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func page(t *testing.T, s *Server, target string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec.Body.String()
}

func postForm(s *Server, path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// TestPageDefaultsAndOrder: the user dropdown defaults to who the alert
// pages (on call for its schedule), not to the first user, and open
// alerts come above newer closed ones.
func TestPageDefaultsAndOrder(t *testing.T) {
	s := newFake(t, Options{})
	s.AddUser("carol@example.com", "Carol")
	if _, err := s.AddSchedule("critical", ""); err != nil {
		t.Fatal(err)
	}
	mustOK(t, s.AddOnCall("carol@example.com", "critical"))
	open, err := s.AddAlert(AlertSeed{Message: "Open one", Alias: "a1", Responders: []string{"schedule:critical"}, Actions: []string{"Approve access"}})
	mustOK(t, err)
	closed, err := s.AddAlert(AlertSeed{Message: "Closed one", Alias: "a2", Responders: []string{"schedule:critical"}})
	mustOK(t, err)
	mustOK(t, s.CloseByHand(closed.ID, "carol@example.com"))
	html := page(t, s, "/")
	if !strings.Contains(html, `<option value="carol@example.com" selected>`) || strings.Contains(html, `<option value="alice@example.com" selected>`) {
		t.Errorf("the user dropdown of %s does not default to carol, on call for its schedule:\n%s", open.ID, html)
	}
	if strings.Index(html, "Closed one") < strings.Index(html, "Open one") {
		t.Error("a closed alert is listed above an open one")
	}
	if strings.Contains(html, `action="/_ui/request"`) {
		t.Error("a new-request form without SetRequestForm")
	}
}

// TestRequestForm: with a form set, the page offers a new access request;
// a post creates it through Create and names it; bad posts are 4xx.
func TestRequestForm(t *testing.T) {
	s := newFake(t, Options{})
	var got []string
	s.SetRequestForm(&RequestForm{Users: []string{"alice@example.com"}, Roles: "editor",
		Create: func(_ context.Context, user string, roles []string, reason string) (string, error) {
			got = append(got, user+" "+strings.Join(roles, "+")+" "+reason)
			return "req-9", nil
		}})
	if html := page(t, s, "/"); !strings.Contains(html, `action="/_ui/request"`) || !strings.Contains(html, `value="editor"`) {
		t.Errorf("page lacks the form:\n%s", html)
	}
	rec := postForm(s, "/_ui/request", url.Values{"user": {"alice@example.com"}, "roles": {"editor db"}, "reason": {"why"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/?created=req-9#new-request" {
		t.Fatalf("post = %d %v", rec.Code, rec.Header())
	}
	if len(got) != 1 || got[0] != "alice@example.com editor+db why" {
		t.Errorf("created %q", got)
	}
	if !strings.Contains(page(t, s, "/?created=req-9"), "Created access request req-9") {
		t.Error("the page does not name the created request")
	}
	if rec := postForm(s, "/_ui/request", url.Values{"user": {"bob@example.com"}, "roles": {"editor"}}); rec.Code != http.StatusBadRequest {
		t.Errorf("a user not offered: %d, want 400", rec.Code)
	}
	if len(got) != 1 {
		t.Errorf("a bad post created a request: %q", got)
	}
}
