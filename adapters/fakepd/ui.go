package fakepd

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/pagergate/pagergate/domain"
)

// uiActionTimeout bounds one delivery sent from the web page.
const uiActionTimeout = 20 * time.Second

func (s *Server) uiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.uiIndex)
	m.HandleFunc("POST /_ui/action", s.uiAction)
	m.HandleFunc("POST /_ui/enable", s.uiEnable)
	m.HandleFunc("POST /_ui/request", s.uiRequest)
	m.HandleFunc("GET /_ui/stats", s.uiStats)
	m.HandleFunc("/", http.NotFound)
	return m
}

type uiIncident struct {
	Incident
	Service string
	Open    bool
	// Responder is the dropdown's default: the first assignee, the
	// responder the incident pages.
	Responder string
}

type uiPage struct {
	// Form is the "new access request" form, when the page has one;
	// Created names the request it just created.
	Form      *RequestForm
	Created   string
	Incidents []uiIncident
	Users     []domain.PagerUser
	Mode      string
	Target    string
	Formats   []string
	Format    string // the default of Mode
	Stats     DeliveryStats
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Fake PagerDuty</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
h1{font-size:1.4em} .meta{color:#666;font-size:.9em}
.inc{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}
.st{display:inline-block;padding:.1em .6em;border-radius:4px;color:#fff;font-size:.85em}
.triggered{background:#c0392b}.acknowledged{background:#d68910}.resolved{background:#1e8449}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}
ul.notes{padding-left:1.2em} .result{font-weight:bold}
form{margin-top:.6em} button{margin-right:.4em} form.inline{display:inline;margin:0}
.dest{margin:.3em 0}
</style></head><body>
<h1>Fake PagerDuty</h1>
<p class="meta">Webhook mode: {{.Mode}}{{if .Target}} &middot; deliveries to {{.Target}}{{end}} &middot; <a href="/">refresh</a> &middot; <a href="/_ui/stats">stats</a></p>
{{with .Stats}}
<div class="deliveries">
<p class="meta">Deliveries: {{.Delivered}} delivered, {{.Retried}} retried attempts, {{.Dropped}} dropped, {{.Pending}} pending.</p>
{{range .Destinations}}
<div class="dest" id="dest-{{.Key}}">{{.Name}} <span class="meta">({{.Key}})</span>:
{{if .Disabled}}<span class="st triggered">disabled</span> after 3 dropped deliveries in a row, until {{.DisabledUntil.UTC.Format "2006-01-02 15:04:05Z"}}; new deliveries are dropped.
<form method="post" action="/_ui/enable" class="inline"><input type="hidden" name="destination" value="{{.Key}}"><button type="submit">Re-enable</button></form>
{{else}}<span class="st resolved">enabled</span> &middot; {{.ConsecutiveDrops}} dropped in a row{{if .Queued}} &middot; {{.Queued}} queued{{end}}{{end}}
&middot; {{.Delivered}} delivered, {{.Retried}} retried, {{.Dropped}} dropped
</div>
{{end}}
</div>
{{end}}
{{with .Form}}
<form method="post" action="/_ui/request" class="inc" id="new-request">
<b>New access request</b> <span class="meta">(in the demo's Teleport; pagergate pages it, or approves it when the requester is on call)</span><br>
<label>User <select name="user">{{range .Users}}<option value="{{.}}">{{.}}</option>{{end}}</select></label>
<label>Roles <input type="text" name="roles" size="20" value="{{.Roles}}"></label>
<label>Reason <input type="text" name="reason" size="30" placeholder="optional"></label>
<button type="submit">Request</button>
{{with $.Created}}<p class="result">Created access request {{.}}; its incident appears below in a moment (<a href="/">refresh</a>).</p>{{end}}
</form>
{{end}}
{{if not .Incidents}}<p>No incidents yet.</p>{{end}}
{{range .Incidents}}{{$inc := .}}
<div class="inc" id="{{.ID}}">
<div><span class="st {{.Status}}">{{.Status}}</span> <b>#{{.Number}} {{.Title}}</b></div>
<div class="meta">{{.ID}} &middot; service {{.Service}}{{if .Key}} &middot; key {{.Key}}{{end}} &middot; created {{.CreatedAt.UTC.Format "2006-01-02 15:04:05Z"}}{{if .Assignees}} &middot; assigned to {{range $i, $a := .Assignees}}{{if $i}}, {{end}}{{$a}}{{end}}{{end}}</div>
{{if .Details}}<pre>{{.Details}}</pre>{{end}}
{{if .Notes}}<ul class="notes">{{range .Notes}}<li><span class="meta">{{.CreatedAt.UTC.Format "15:04:05Z"}} {{.Author}}:</span> {{.Content}}</li>{{end}}</ul>{{end}}
{{if .LastDelivery}}<p class="result">Last delivery: {{.LastDelivery}}</p>{{end}}
{{if .Open}}
<form method="post" action="/_ui/action">
<input type="hidden" name="incident" value="{{.ID}}">
<label>Responder <select name="responder">{{range $.Users}}<option value="{{.Email}}"{{if eq .Email $inc.Responder}} selected{{end}}>{{.Name}} &lt;{{.Email}}&gt;</option>{{end}}</select></label>
<label>Note <input type="text" name="note" size="40" placeholder="optional"></label>
<label>As <select name="format">{{range $.Formats}}<option value="{{.}}"{{if eq . $.Format}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<button type="submit" name="verb" value="approve">Approve</button>
<button type="submit" name="verb" value="deny">Deny</button>
<button type="submit" name="verb" value="resolve" title="sent as v3_resolve">Resolve</button>
</form>
{{end}}
</div>
{{end}}
</body></html>
`))

func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	incs := s.Incidents()
	slices.Reverse(incs) // newest first, the open ones before the resolved
	slices.SortStableFunc(incs, func(a, b Incident) int {
		return cmp.Compare(boolInt(a.Status == domain.IncidentResolved), boolInt(b.Status == domain.IncidentResolved))
	})
	p := uiPage{Users: s.Users(), Mode: s.opts.WebhookMode, Target: s.webhookURL(), Formats: Formats,
		Format: FormatV3Note, Stats: s.Stats(), Form: s.requestForm(), Created: r.URL.Query().Get("created")}
	if s.opts.WebhookMode == ModeCustomAction {
		p.Format = FormatCustomV2
	}
	s.mu.Lock()
	for _, inc := range incs {
		name := inc.ServiceID
		if sv := s.serviceByIDLocked(inc.ServiceID); sv != nil {
			name = sv.name
		}
		ui := uiIncident{Incident: inc, Service: name, Open: inc.Status != domain.IncidentResolved}
		if len(inc.Assignees) > 0 {
			ui.Responder = inc.Assignees[0]
		}
		p.Incidents = append(p.Incidents, ui)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTmpl.Execute(w, p); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// uiAction sends the delivery of an Approve / Deny (/ Resolve) click in the
// chosen format and redirects back to the incident on the page.
func (s *Server) uiAction(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	a := Action{IncidentID: r.PostForm.Get("incident"), Actor: r.PostForm.Get("responder"),
		Verb: r.PostForm.Get("verb"), Note: r.PostForm.Get("note"), Format: r.PostForm.Get("format")}
	if lower(a.Verb) == "resolve" {
		a.Format = FormatV3Resolve
	}
	ctx, cancel := context.WithTimeout(r.Context(), uiActionTimeout)
	defer cancel()
	_, err := s.Send(ctx, a)
	switch {
	case errors.Is(err, ErrUnknownIncident), errors.Is(err, ErrUnknownUser), errors.Is(err, ErrBadVerb),
		errors.Is(err, ErrBadFormat), errors.Is(err, ErrNoWebhookURL):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Delivery failures are shown on the page (Incident.LastDelivery).
	http.Redirect(w, r, "/#"+url.PathEscape(a.IncidentID), http.StatusSeeOther)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
	ctx, cancel := context.WithTimeout(r.Context(), uiActionTimeout)
	defer cancel()
	id, err := f.Create(ctx, user, roles, strings.TrimSpace(r.PostForm.Get("reason")))
	if err != nil {
		http.Error(w, "create the access request: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, "/?created="+url.QueryEscape(id)+"#new-request", http.StatusSeeOther)
}

// uiEnable is the page's re-enable button of a disabled destination.
func (s *Server) uiEnable(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	key := r.PostForm.Get("destination")
	if !s.Enable(key) {
		http.Error(w, "unknown destination "+key, http.StatusNotFound)
		return
	}
	http.Redirect(w, r, "/#dest-"+url.PathEscape(key), http.StatusSeeOther)
}

// uiStats answers the delivery stats as JSON.
func (s *Server) uiStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.Stats())
}
