package fakeopsgenie

import (
	"cmp"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

func (s *Server) uiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.uiIndex)
	m.HandleFunc("POST /_ui/action", s.uiAction)
	m.HandleFunc("POST /_ui/request", s.uiRequest)
	m.HandleFunc("/", http.NotFound)
	return m
}

type uiAlert struct {
	Alert
	Responders []string
	// User is the dropdown's default: the first user the alert pages.
	User string
}

type uiPage struct {
	// Form is the "new access request" form, when the page has one;
	// Created names the request it just created.
	Form       *RequestForm
	Created    string
	Alerts     []uiAlert
	Users      []User
	Target     string
	Deliveries []Delivery
	Error      string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Fake Opsgenie</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
h1{font-size:1.4em} .meta{color:#666;font-size:.9em}
.alert{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}
.st{display:inline-block;padding:.1em .6em;border-radius:4px;color:#fff;font-size:.85em}
.open{background:#c0392b}.closed{background:#1e8449}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap} .err{color:#c0392b}
</style></head><body>
<h1>Fake Opsgenie</h1>
<p class="meta">{{if .Target}}Webhook integration: custom actions go to {{.Target}}{{else}}No webhook integration: actions are recorded only{{end}} &middot; <a href="/">refresh</a></p>
{{with .Error}}<p class="err">{{.}}</p>{{end}}
{{with .Form}}<form method="post" action="/_ui/request" class="alert" id="new-request">
<b>New access request</b> <span class="meta">(in the demo's Teleport; pagergate alerts on it, or approves it when the requester is on call)</span><br>
<label>User <select name="user">{{range .Users}}<option value="{{.}}">{{.}}</option>{{end}}</select></label>
<label>Roles <input type="text" name="roles" size="20" value="{{.Roles}}"></label>
<label>Reason <input type="text" name="reason" size="30" placeholder="optional"></label>
<button type="submit">Request</button>
{{with $.Created}}<p><b>Created access request {{.}}; its alert appears below in a moment (<a href="/">refresh</a>).</b></p>{{end}}
</form>{{end}}
{{range .Alerts}}{{$a := .}}<div class="alert">
<span class="st {{.Status}}">{{.Status}}{{if .Acknowledged}}, acked by {{.Owner}}{{end}}</span>
<b>#{{.TinyID}} {{.Message}}</b> <span class="meta">{{.Priority}} &middot; alias {{.Alias}} &middot; count {{.Count}}</span>
<div class="meta">Responders: {{range $i, $r := .Responders}}{{if $i}}, {{end}}{{$r}}{{end}}</div>
{{with .Description}}<pre>{{.}}</pre>{{end}}
{{with .Notes}}<ul>{{range .}}<li><b>{{.Owner}}</b>: {{.Text}}</li>{{end}}</ul>{{end}}
{{if eq .Status "open"}}<form method="post" action="/_ui/action">
<input type="hidden" name="alert" value="{{.ID}}">
<select name="user">{{range $.Users}}<option value="{{.Username}}"{{if eq .Username $a.User}} selected{{end}}>{{.Username}}</option>{{end}}</select>
{{range .Actions}}<button name="action" value="{{.}}">{{.}}</button>{{end}}
<button name="action" value="Close">Close</button>
</form>{{end}}
</div>{{else}}<p>No alerts.</p>{{end}}
{{with .Deliveries}}<h2>Deliveries</h2><ul>{{range .}}<li>{{.Action}} on {{.AlertID}} by {{.Actor}}: {{if .Done}}delivered{{else if .Dropped}}dropped{{else}}retrying{{end}} after {{.Attempts}} attempt(s){{with .Status}}, HTTP {{.}}{{end}}{{with .Err}}, {{.}}{{end}}{{with .Answer}} &mdash; {{.}}{{end}}</li>{{end}}</ul>{{end}}
</body></html>
`))

func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	page := uiPage{Users: s.Users(), Target: s.webhookURL(), Deliveries: s.Deliveries(), Error: r.URL.Query().Get("error"),
		Form: s.requestForm(), Created: r.URL.Query().Get("created")}
	alerts := s.Alerts()
	slices.Reverse(alerts) // newest first, the open ones before the closed
	slices.SortStableFunc(alerts, func(a, b Alert) int { return cmp.Compare(boolInt(a.Status != "open"), boolInt(b.Status != "open")) })
	s.mu.Lock()
	for _, a := range alerts {
		ua := uiAlert{Alert: a, User: s.pagedUserLocked(a)}
		for _, rsp := range a.Responders {
			ua.Responders = append(ua.Responders, rsp.Type+" "+s.responderNameLocked(rsp))
		}
		page.Alerts = append(page.Alerts, ua)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, page)
}

// uiAction executes a custom action from the page's buttons, or closes the
// alert, then shows the page again.
func (s *Server) uiAction(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	target := "/"
	do := s.ExecuteAction
	if r.PostForm.Get("action") == actionClose {
		do = func(alertID, _, user string) error { return s.CloseByHand(alertID, user) }
	}
	if err := do(r.PostForm.Get("alert"), r.PostForm.Get("action"), r.PostForm.Get("user")); err != nil {
		target = "/?error=" + template.URLQueryEscaper(err.Error())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pagedUserLocked returns the username of the first user the alert
// pages: a user responder, a team's first member, or who is on call now
// for a schedule; "" when none.
func (s *Server) pagedUserLocked(a Alert) string {
	for _, r := range a.Responders {
		switch r.Type {
		case KindUser:
			return usernameOf(s.userLocked(r.ID))
		case KindTeam:
			if t := s.teamLocked(r.ID); t != nil && len(t.Members) > 0 {
				return usernameOf(s.userLocked(t.Members[0]))
			}
		case KindSchedule:
			if sc := s.scheduleLocked(r.ID); sc != nil {
				if on, _ := s.onCallDataLocked(sc, s.now(), true)["onCallRecipients"].([]string); len(on) > 0 {
					return on[0]
				}
			}
		}
	}
	return ""
}

// RequestForm is the web page's "new access request" form: the demo
// sets it (SetRequestForm) so a visitor can play the whole flow from the
// browser. The fake itself knows no Teleport.
type RequestForm struct {
	// Users are the requesters offered, the first by default.
	Users []string
	// Roles is the roles field's default, comma-separated.
	Roles string
	// Create creates the access request and returns its ID.
	Create func(ctx context.Context, user string, roles []string, reason string) (string, error)
}

// SetRequestForm puts f on the web page; nil takes it off.
func (s *Server) SetRequestForm(f *RequestForm) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.form = f
}

func (s *Server) requestForm() *RequestForm {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.form
}

// uiRequest creates an access request from the page's form and shows
// the page again, naming it.
func (s *Server) uiRequest(w http.ResponseWriter, r *http.Request) {
	f := s.requestForm()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	user := strings.TrimSpace(r.PostForm.Get("user"))
	roles := strings.FieldsFunc(r.PostForm.Get("roles"), func(c rune) bool { return c == ',' || unicode.IsSpace(c) })
	if !slices.Contains(f.Users, user) || len(roles) == 0 {
		http.Error(w, "a request needs one of the offered users and at least one role", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	id, err := f.Create(ctx, user, roles, strings.TrimSpace(r.PostForm.Get("reason")))
	if err != nil {
		http.Error(w, "create the access request: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, "/?created="+url.QueryEscape(id)+"#new-request", http.StatusSeeOther)
}
