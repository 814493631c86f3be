package fakepd

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestRequestForm: with a form set, the page offers a new access request
// (user, roles, reason); a post creates it through the form's Create and
// shows the page again naming it; bad posts are 4xx and create nothing.
func TestRequestForm(t *testing.T) {
	e := newEnv(t, Options{})
	type created struct {
		user   string
		roles  []string
		reason string
	}
	var got []created
	fail := false
	e.fake.SetRequestForm(&RequestForm{Users: []string{alice, bob}, Roles: "editor",
		Create: func(_ context.Context, user string, roles []string, reason string) (string, error) {
			if fail {
				return "", errors.New("teleport is down")
			}
			got = append(got, created{user, roles, reason})
			return "req-1", nil
		}})
	page := e.doRaw("GET", "/", nil)
	for _, want := range []string{`action="/_ui/request"`, `<option value="` + alice + `">`, `name="roles" size="20" value="editor"`} {
		if !strings.Contains(page.raw, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(v url.Values) *http.Response {
		t.Helper()
		resp, err := client.PostForm(e.srv.URL+"/_ui/request", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := post(url.Values{"user": {bob}, "roles": {"editor, db-admin"}, "reason": {" fix prod "}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?created=req-1#new-request" {
		t.Fatalf("post = %d Location %q, want 303 to /?created=req-1", resp.StatusCode, resp.Header.Get("Location"))
	}
	if len(got) != 1 || got[0].user != bob || !slices.Equal(got[0].roles, []string{"editor", "db-admin"}) || got[0].reason != "fix prod" {
		t.Errorf("created %+v, want bob's request for editor and db-admin, reason trimmed", got)
	}
	if p := e.doRaw("GET", "/?created=req-1", nil); !strings.Contains(p.raw, "Created access request req-1") {
		t.Error("the page does not name the request it created")
	}
	for name, v := range map[string]url.Values{
		"a user not offered": {"user": {"mallory@example.com"}, "roles": {"editor"}},
		"no role":            {"user": {alice}, "roles": {" , "}},
	} {
		if resp := post(v); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
	fail = true
	if resp := post(url.Values{"user": {alice}, "roles": {"editor"}}); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("Create failing: %d, want 502", resp.StatusCode)
	}
	if len(got) != 1 {
		t.Errorf("bad posts created requests: %+v", got)
	}
	e.fake.SetRequestForm(nil)
	if resp := post(url.Values{"user": {alice}, "roles": {"editor"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("without a form: %d, want 404", resp.StatusCode)
	}
}
