package fakeopsgenie

import (
	"html/template"
	"net/http"
	"slices"
)

func (s *Server) uiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.uiIndex)
	m.HandleFunc("POST /_ui/action", s.uiAction)
	m.HandleFunc("/", http.NotFound)
	return m
}

type uiAlert struct {
	Alert
	Responders []string
}

type uiPage struct {
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
{{range .Alerts}}<div class="alert">
<span class="st {{.Status}}">{{.Status}}{{if .Acknowledged}}, acked by {{.Owner}}{{end}}</span>
<b>#{{.TinyID}} {{.Message}}</b> <span class="meta">{{.Priority}} &middot; alias {{.Alias}} &middot; count {{.Count}}</span>
<div class="meta">Responders: {{range $i, $r := .Responders}}{{if $i}}, {{end}}{{$r}}{{end}}</div>
{{with .Description}}<pre>{{.}}</pre>{{end}}
{{with .Notes}}<ul>{{range .}}<li><b>{{.Owner}}</b>: {{.Text}}</li>{{end}}</ul>{{end}}
{{if eq .Status "open"}}<form method="post" action="/_ui/action">
<input type="hidden" name="alert" value="{{.ID}}">
<select name="user">{{range $.Users}}<option value="{{.Username}}">{{.Username}}</option>{{end}}</select>
{{range .Actions}}<button name="action" value="{{.}}">{{.}}</button>{{end}}
<button name="action" value="Close">Close</button>
</form>{{end}}
</div>{{else}}<p>No alerts.</p>{{end}}
{{with .Deliveries}}<h2>Deliveries</h2><ul>{{range .}}<li>{{.Action}} on {{.AlertID}} by {{.Actor}}: {{if .Done}}delivered{{else if .Dropped}}dropped{{else}}retrying{{end}} after {{.Attempts}} attempt(s){{with .Status}}, HTTP {{.}}{{end}}{{with .Err}}, {{.}}{{end}}{{with .Answer}} &mdash; {{.}}{{end}}</li>{{end}}</ul>{{end}}
</body></html>
`))

func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	page := uiPage{Users: s.Users(), Target: s.webhookURL(), Deliveries: s.Deliveries(), Error: r.URL.Query().Get("error")}
	alerts := s.Alerts()
	slices.Reverse(alerts) // newest first
	s.mu.Lock()
	for _, a := range alerts {
		ua := uiAlert{Alert: a}
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
