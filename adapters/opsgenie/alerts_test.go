package opsgenie

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Opsgenie processes writes asynchronously: the adapter awaits the request
// status, and a create it cannot see processed in time is ErrUnavailable
// (safe to retry: the alias dedups), while a note or close Opsgenie
// accepted is done.
func TestAsynchronousWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.StatusWait = 5 * time.Second })
		h.seed(t)
		svc := h.service(t, "ops_schedule")
		h.fake.SetProcessingDelay(700 * time.Millisecond)
		in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
		if err != nil || !in.Active() {
			t.Fatalf("EnsureIncident with slow processing = %+v, %v", in, err)
		}
		if n := h.fake.Calls()["GET /v2/alerts/{id}/{sub}"]; n < 3 {
			t.Errorf("status reads = %d, want the adapter to poll", n)
		}
		h.fake.SetProcessingDelay(time.Hour)
		if _, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID)); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("EnsureIncident never processed = %v, want ErrUnavailable", err)
		}
		if err := h.client.AddNote(t.Context(), in.ID, "queued note"); err != nil {
			t.Errorf("AddNote accepted but queued = %v, want success", err)
		}
		if err := h.client.ResolveIncident(t.Context(), in.ID); err != nil {
			t.Errorf("ResolveIncident accepted but queued = %v, want success", err)
		}
		h.fake.ProcessPending()
		a, _ := h.fake.Alert(in.ID)
		if !slices.Equal(h.fake.Notes(in.ID), []string{"queued note"}) || a.Status != "closed" || a.Count != 2 {
			t.Errorf("alert = %+v, notes %q; want closed, one note, count 2 (the second create deduped)", a, h.fake.Notes(in.ID))
		}
	})
}

// All targets of a request share its alert: a team joins it as a
// responder; Opsgenie cannot add a schedule to an open alert.
func TestSecondTargetJoinsTheAlert(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	if _, err := h.fake.AddSchedule("db_schedule", ""); err != nil {
		t.Fatal(err)
	}
	sched, team, db := h.service(t, "ops_schedule"), h.service(t, "team:ops"), h.service(t, "db_schedule")
	first, err := h.client.EnsureIncident(t.Context(), testSpec(sched.ID))
	mustNil(t, err)
	viaTeam, err := h.client.EnsureIncident(t.Context(), testSpec(team.ID))
	mustNil(t, err)
	viaDB, err := h.client.EnsureIncident(t.Context(), testSpec(db.ID))
	mustNil(t, err)
	if viaTeam.ID != first.ID || viaDB.ID != first.ID || viaTeam.ServiceID != team.ID || viaDB.ServiceID != sched.ID {
		t.Errorf("incidents %+v, %+v, %+v; want one alert, the team responding", first, viaTeam, viaDB)
	}
	a, _ := h.fake.Alert(first.ID)
	var kinds []string
	for _, r := range a.Responders {
		kinds = append(kinds, r.Type)
	}
	if !slices.Equal(kinds, []string{"schedule", "team"}) {
		t.Errorf("responders = %v, want the schedule and the team", a.Responders)
	}
}

// Alert fields: alias from the configured prefix (the incident key maps
// back), priority (a spec's P1-P5 wins), tags, custom actions, source,
// user, link.
func TestAlertFields(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.AliasPrefix = "acme-access/"
		c.Priority = "P2"
		c.Tags = []string{"teleport"}
		c.Actions = []string{"Approve access"}
		c.WebURL = "https://acme.app.opsgenie.com/"
	})
	h.seed(t)
	svc := h.service(t, "ops_schedule")
	mustNil(t, h.client.EnsureActions(t.Context(), svc.ID, []domain.ActionHook{{Name: "Deny access"}, {Name: "Approve access"}}))
	spec := testSpec(svc.ID)
	spec.Priority = "P1"
	in, err := h.client.EnsureIncident(t.Context(), spec)
	mustNil(t, err)
	a, _ := h.fake.Alert(in.ID)
	switch {
	case a.Alias != "acme-access/3f9c0b1e-0000-4000-8000-000000000001" || in.Key != spec.Key:
		t.Errorf("alias %q, key %q; want the prefix in Opsgenie and the domain key outside", a.Alias, in.Key)
	case a.Priority != "P1" || !slices.Equal(a.Tags, []string{"teleport"}) || a.Source != DefaultSource || a.User != DefaultUser:
		t.Errorf("alert = %+v", a)
	case !slices.Equal(a.Actions, []string{"Approve access", "Deny access"}):
		t.Errorf("actions = %v, want the configured and registered ones, once each", a.Actions)
	case in.HTMLURL != "https://acme.app.opsgenie.com/alert/detail/"+in.ID+"/details":
		t.Errorf("link = %q", in.HTMLURL)
	}
	found, err := h.client.FindIncidents(t.Context(), spec.Key)
	if err != nil || len(found) != 1 || found[0].ID != in.ID {
		t.Errorf("FindIncidents(key) = %+v, %v", found, err)
	}
	spec.Key, spec.Priority = domain.IncidentKey("3f9c0b1e-0000-4000-8000-000000000002"), "urgent"
	in2, err := h.client.EnsureIncident(t.Context(), spec)
	mustNil(t, err)
	if a2, _ := h.fake.Alert(in2.ID); a2.Priority != "P2" {
		t.Errorf("priority with an unknown spec priority = %q, want the configured P2", a2.Priority)
	}
}

// Opsgenie cuts the message at 130 characters and the description at
// 15,000: the adapter sends them cut.
func TestLongFieldsAreCut(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	svc := h.service(t, "ops_schedule")
	spec := testSpec(svc.ID)
	spec.Title = string(make([]rune, 300))
	for i := range 20000 {
		spec.Details += string(rune('a' + i%26))
	}
	in, err := h.client.EnsureIncident(t.Context(), spec)
	mustNil(t, err)
	details, err := h.client.IncidentDetails(t.Context(), in.ID)
	if err != nil || len(details) != maxDescription || details != spec.Details[:maxDescription] {
		t.Errorf("details of %d characters, %v; want the first %d", len(details), err, maxDescription)
	}
}

// ActiveIncidents counts only open alerts the user owns in the services.
func TestActiveIncidentsOnlyOpenAndOwned(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	svc := h.service(t, "ops_schedule")
	in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	mustNil(t, err)
	mustNil(t, h.fake.Acknowledge(in.ID, "alice@example.com"))
	alice, _ := h.client.FindUserByEmail(t.Context(), "alice@example.com")
	got, err := h.client.ActiveIncidents(t.Context(), alice.ID, []string{svc.ID})
	if err != nil || len(got) != 1 || got[0].Status != domain.IncidentAcknowledged {
		t.Fatalf("ActiveIncidents = %+v, %v; want the acknowledged alert", got, err)
	}
	mustNil(t, h.fake.CloseByHand(in.ID, "alice@example.com"))
	if got, _ := h.client.ActiveIncidents(t.Context(), alice.ID, []string{svc.ID}); len(got) != 0 {
		t.Errorf("ActiveIncidents after close = %+v, want none", got)
	}
}

// Every attempt is counted with its endpoint template and status; retries
// too.
func TestMetrics(t *testing.T) {
	h := newHarness(t, nil)
	h.seed(t)
	svc := h.service(t, "ops_schedule")
	in, err := h.client.EnsureIncident(t.Context(), testSpec(svc.ID))
	mustNil(t, err)
	h.fake.FailNext(1, 503)
	_, err = h.client.GetIncident(t.Context(), in.ID)
	mustNil(t, err)
	for _, c := range []struct {
		labels []string
		want   int
	}{
		{[]string{"pager_calls", "POST /v2/alerts", "202"}, 1},
		{[]string{"pager_calls", "GET /v2/alerts/{id}", "503"}, 1},
		{[]string{"pager_retries", "GET /v2/alerts/{id}", "503"}, 1},
		{[]string{"pager_calls", "GET /v2/alerts/requests/{id}", "200"}, 1},
	} {
		if got := h.metrics.get(c.labels[0], c.labels[1:]...); got != c.want {
			t.Errorf("%v = %d, want %d", c.labels, got, c.want)
		}
	}
}

func TestConventions(t *testing.T) {
	ann := map[string][]string{
		AnnotationNotifySchedules: {"ops_schedule", " db_schedule ", "ops_schedule", ""},
		AnnotationNotifyTeams:     {"ops", ""},
		AnnotationSchedules:       {"ops_schedule", "ops_schedule"},
		"custom/notify":           {"x"},
	}
	if got := (Conventions{}).NotifyTargets(ann); !slices.Equal(got, []string{"ops_schedule", "db_schedule", "team:ops"}) {
		t.Errorf("NotifyTargets = %q", got)
	}
	if got := (Conventions{}).ApprovalTargets(ann); !slices.Equal(got, []string{"ops_schedule"}) {
		t.Errorf("ApprovalTargets = %q", got)
	}
	custom := Conventions{NotifySchedules: "custom/notify", NotifyTeams: "custom/teams"}
	if got := custom.NotifyTargets(ann); !slices.Equal(got, []string{"x"}) {
		t.Errorf("NotifyTargets(custom) = %q", got)
	}
}

// failedNotes makes Opsgenie's status of every note request read as
// processed and failed with status (the fake fails a note only for a
// missing alert).
type failedNotes struct {
	next   http.RoundTripper
	status string
}

func (f failedNotes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v2/alerts/requests/") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if bytes.Contains(body, []byte(`"action":"AddNote"`)) {
		body = bytes.Replace(body, []byte(`"isSuccess":true`), []byte(`"isSuccess":false`), 1)
		body = bytes.Replace(body, []byte(`"status":"Added note"`), []byte(`"status":`+strconv.Quote(f.status)), 1)
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// A note Opsgenie accepted (202), then processed and failed, is refused
// for good (ErrRefused): sending it again cannot help. A missing alert
// stays ErrNotFound, and a note over Opsgenie's 25,000 characters is
// refused at once (422).
func TestNoteFailedInProcessingIsRefused(t *testing.T) {
	for _, tt := range []struct {
		status string
		want   error
	}{{"Note could not be added", ports.ErrRefused}, {"Alert does not exist", ports.ErrNotFound}} {
		h := newHarness(t, func(c *Config) {
			c.HTTPClient = &http.Client{Transport: failedNotes{next: c.HTTPClient.Transport, status: tt.status}}
		})
		h.seed(t)
		in, err := h.client.EnsureIncident(t.Context(), testSpec(h.service(t, "ops_schedule").ID))
		mustNil(t, err)
		err = h.client.AddNote(t.Context(), in.ID, "Access request has been approved")
		if !errors.Is(err, tt.want) {
			t.Errorf("note failed in processing with %q = %v, want %v", tt.status, err, tt.want)
		}
		if tt.want == ports.ErrNotFound && errors.Is(err, ports.ErrRefused) {
			t.Errorf("note on a missing alert = %v, must not be ErrRefused", err)
		}
	}
	h := newHarness(t, nil)
	h.seed(t)
	in, err := h.client.EnsureIncident(t.Context(), testSpec(h.service(t, "ops_schedule").ID))
	mustNil(t, err)
	before := h.fake.TotalCalls()
	if err := h.client.AddNote(t.Context(), in.ID, strings.Repeat("é", 25001)); !errors.Is(err, ports.ErrRefused) {
		t.Errorf("note of 25,001 characters = %v, want ErrRefused", err)
	}
	if n := h.fake.TotalCalls() - before; n != 1 {
		t.Errorf("%d calls for an oversized note, want 1 (not retried)", n)
	}
	if err := h.client.AddNote(t.Context(), in.ID, strings.Repeat("é", 25000)); err != nil {
		t.Errorf("note of 25,000 characters = %v, want it taken", err)
	}
}

// badRequestNotes answers every note post 400, as Opsgenie does for a
// request it cannot read.
type badRequestNotes struct{ next http.RoundTripper }

func (b badRequestNotes) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/notes") {
		body := `{"message":"Request is not valid","took":0.001,"requestId":"x"}`
		return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	return b.next.RoundTrip(r)
}

// A note answered 400 (not Opsgenie's 422 for a note too long) is not
// refused for good: the pass fails and is retried.
func TestNoteBadRequestIsNotRefused(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.HTTPClient = &http.Client{Transport: badRequestNotes{next: c.HTTPClient.Transport}}
	})
	h.seed(t)
	in, err := h.client.EnsureIncident(t.Context(), testSpec(h.service(t, "ops_schedule").ID))
	mustNil(t, err)
	err = h.client.AddNote(t.Context(), in.ID, "Access request has been approved")
	if err == nil || errors.Is(err, ports.ErrRefused) {
		t.Fatalf("AddNote answered 400 = %v, want an error that is not ErrRefused", err)
	}
}
