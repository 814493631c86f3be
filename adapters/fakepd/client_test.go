package fakepd

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/PagerDuty/go-pagerduty"
)

// TestGoPagerDutyClient drives the fake with the official Go client, so
// the JSON shapes decode the way they do against PagerDuty.
func TestGoPagerDutyClient(t *testing.T) {
	e := newEnv(t, Options{})
	pd := pagerduty.NewClient(DefaultAPIKey, pagerduty.WithAPIEndpoint(e.srv.URL))
	pd.HTTPClient = e.srv.Client()
	ctx := ctxT(t)

	abil, err := pd.ListAbilitiesWithContext(ctx)
	if err != nil || !slices.Contains(abil.Abilities, "teams") {
		t.Fatalf("ListAbilities = %v, %v", abil, err)
	}
	users, err := pd.ListUsersWithContext(ctx, pagerduty.ListUsersOptions{Query: "alice"})
	if err != nil || len(users.Users) != 1 || users.Users[0].Email != alice {
		t.Fatalf("ListUsers = %+v, %v", users, err)
	}
	for i := range 30 {
		e.fake.AddService("svc " + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	svcs, err := pd.ListServicesPaginated(ctx, pagerduty.ListServiceOptions{Limit: 7})
	if err != nil || len(svcs) != 31 {
		t.Fatalf("ListServicesPaginated = %d services, %v; want 31", len(svcs), err)
	}
	svc, err := pd.GetServiceWithContext(ctx, e.svc, &pagerduty.GetServiceOptions{Includes: []string{"escalation_policies"}})
	if err != nil || svc.Name != "Teleport" || len(svc.EscalationPolicy.EscalationRules) != 2 {
		t.Fatalf("GetService = %+v, %v", svc, err)
	}
	pol, err := pd.GetEscalationPolicyWithContext(ctx, svc.EscalationPolicy.ID, &pagerduty.GetEscalationPolicyOptions{})
	if err != nil || pol.EscalationRules[0].Targets[0].ID != e.alID {
		t.Fatalf("GetEscalationPolicy = %+v, %v", pol, err)
	}
	ocs, err := pd.ListOnCallsWithContext(ctx, pagerduty.ListOnCallOptions{UserIDs: []string{e.boID}, EscalationPolicyIDs: []string{pol.ID}})
	if err != nil || len(ocs.OnCalls) != 1 || ocs.OnCalls[0].EscalationLevel != 2 || ocs.OnCalls[0].Start != "" {
		t.Fatalf("ListOnCalls = %+v, %v", ocs, err)
	}

	opts := &pagerduty.CreateIncidentOptions{
		Title: "Access request from carol", IncidentKey: "teleport-access-request/r1",
		Service: &pagerduty.APIReference{ID: e.svc, Type: "service_reference"},
		Body:    &pagerduty.APIDetails{Type: "incident_body", Details: "User: carol"},
	}
	inc, err := pd.CreateIncidentWithContext(ctx, bot, opts)
	if err != nil || inc.Status != "triggered" || inc.IncidentKey != opts.IncidentKey || len(inc.Assignments) != 1 {
		t.Fatalf("CreateIncident = %+v, %v", inc, err)
	}
	_, err = pd.CreateIncidentWithContext(ctx, bot, opts)
	var aerr pagerduty.APIError
	if !errors.As(err, &aerr) || aerr.StatusCode != http.StatusBadRequest || aerr.APIError.ErrorObject.Code != CodeArgumentsError ||
		!slices.Contains(aerr.APIError.ErrorObject.Errors, ErrTextDedup) {
		t.Fatalf("duplicate CreateIncident error = %v", err)
	}
	list, err := pd.ListIncidentsWithContext(ctx, pagerduty.ListIncidentsOptions{
		IncidentKey: opts.IncidentKey, Statuses: []string{"triggered", "acknowledged"}, DateRange: "all",
	})
	if err != nil || len(list.Incidents) != 1 || list.Incidents[0].ID != inc.ID {
		t.Fatalf("ListIncidents = %+v, %v", list, err)
	}
	got, err := pd.GetIncidentWithContext(ctx, inc.ID)
	// go-pagerduty cannot ask for include[]=body: PagerDuty leaves the body out.
	if err != nil || got.Body.Details != "" || got.Service.ID != e.svc {
		t.Fatalf("GetIncident = %+v, %v", got, err)
	}
	note := pagerduty.IncidentNote{Content: "approved", User: pagerduty.APIObject{Summary: bot}}
	if _, err := pd.CreateIncidentNoteWithContext(ctx, inc.ID, note); err != nil {
		t.Fatalf("CreateIncidentNote = %v", err)
	}
	notes, err := pd.ListIncidentNotesWithContext(ctx, inc.ID)
	if err != nil || len(notes) != 1 || notes[0].Content != "approved" {
		t.Fatalf("ListIncidentNotes = %+v, %v", notes, err)
	}
	resolve := []pagerduty.ManageIncidentsOptions{{ID: inc.ID, Status: "resolved"}}
	if _, err := pd.ManageIncidentsWithContext(ctx, bot, resolve); err != nil {
		t.Fatalf("ManageIncidents = %v", err)
	}
	_, err = pd.ManageIncidentsWithContext(ctx, bot, resolve)
	if !errors.As(err, &aerr) || !slices.Contains(aerr.APIError.ErrorObject.Errors, ErrTextAlreadyResolved) {
		t.Fatalf("second resolve error = %v", err)
	}
	_, err = pd.GetIncidentWithContext(ctx, "PNOPE")
	if !errors.As(err, &aerr) || !aerr.NotFound() {
		t.Fatalf("GetIncident(unknown) error = %v, want NotFound", err)
	}

	schemas, err := pd.ListExtensionSchemasWithContext(ctx, pagerduty.ListExtensionSchemaOptions{})
	if err != nil || len(schemas.ExtensionSchemas) == 0 || schemas.ExtensionSchemas[0].Key != "custom_webhook" {
		t.Fatalf("ListExtensionSchemas = %+v, %v", schemas, err)
	}
	// go-pagerduty v1.8.0 sends extensions without the {"extension": ...}
	// wrapper the API requires: refused, as by PagerDuty.
	bare := &pagerduty.Extension{
		Name: "Approve access", EndpointURL: "https://gate.example.com/pagerduty/actions/approve",
		ExtensionSchema:  pagerduty.APIObject{ID: CustomWebhookSchemaID, Type: "extension_schema_reference"},
		ExtensionObjects: []pagerduty.APIObject{{ID: e.svc, Type: "service_reference"}},
	}
	if _, err := pd.CreateExtensionWithContext(ctx, bare); !errors.As(err, &aerr) || aerr.StatusCode != http.StatusBadRequest {
		t.Fatalf("CreateExtension without wrapper = %v, want a 400", err)
	}
	if a := e.do("POST", "/extensions", map[string]any{"extension": bare}); a.status != http.StatusCreated {
		t.Fatalf("POST /extensions = %d %s", a.status, a.raw)
	}
	exts, err := pd.ListExtensionsWithContext(ctx, pagerduty.ListExtensionOptions{ExtensionObjectID: e.svc})
	if err != nil || len(exts.Extensions) != 1 || exts.Extensions[0].EndpointURL != bare.EndpointURL {
		t.Fatalf("ListExtensions = %+v, %v", exts, err)
	}
}
