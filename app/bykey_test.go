package app

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// A request deleted with no local record: its incidents are found by key,
// and only those that count as opened for it get the note and the
// resolve (SPEC §6: a key alone proves nothing). Counted: in the default
// notify service, in a service a record named, or with details naming
// this cluster and the request. Left alone: elsewhere with details of
// another cluster, of another request, or none.
func TestDeletedRequestResolvesOnlyIncidentsOpenedForIt(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Access Requests" })
	h.p.cluster.set(domain.Cluster{Name: "prod.example.com"})
	// A record read earlier named the service PSK.
	h.p.requests.services.learn(domain.Record{Incidents: []domain.IncidentRef{{Service: "Known", ServiceID: "PSK", IncidentID: "PI-OLD"}}})
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	open := func(id, svc string) domain.Incident {
		return domain.Incident{ID: id, Key: "teleport-access-request/r1", ServiceID: svc, Status: domain.IncidentTriggered}
	}
	ours := domain.Details(domain.Request{ID: "r1", User: "alice"}, domain.Cluster{Name: "prod.example.com"})
	h.pg.EXPECT().FindIncidents(gomock.Any(), "teleport-access-request/r1").Return([]domain.Incident{
		open("PI-DEFAULT", "PSN"), open("PI-KNOWN", "PSK"), open("PI-DETAILS", "PSD"),
		open("PI-OTHERCLUSTER", "PSO"), open("PI-OTHERREQ", "PSR"), open("PI-BARE", "PSB"), open("PI-GONE", "PSG"),
	}, nil)
	details := map[string]string{
		"PI-DETAILS":      ours,
		"PI-OTHERCLUSTER": domain.Details(domain.Request{ID: "r1"}, domain.Cluster{Name: "staging.example.com"}),
		"PI-OTHERREQ":     domain.Details(domain.Request{ID: "r2"}, domain.Cluster{Name: "prod.example.com"}),
		"PI-BARE":         "alice requested editor\nReason: r1",
	}
	h.pg.EXPECT().IncidentDetails(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id string) (string, error) {
		if id == "PI-GONE" {
			return "", ports.ErrNotFound
		}
		return details[id], nil
	}).AnyTimes()
	resolved := map[string]bool{}
	for _, id := range []string{"PI-DEFAULT", "PI-KNOWN", "PI-DETAILS"} {
		h.pg.EXPECT().ListNotes(gomock.Any(), id).Return(nil, nil)
		h.pg.EXPECT().AddNote(gomock.Any(), id, "Access request has been expired")
		h.pg.EXPECT().ResolveIncident(gomock.Any(), id).DoAndReturn(func(_ context.Context, id string) error {
			resolved[id] = true
			return nil
		})
	}
	if err := h.p.requests.handle(ctx, domain.Request{ID: "r1", State: domain.StateExpired}); err != nil {
		t.Fatal(err)
	}
	if len(resolved) != 3 {
		t.Errorf("resolved %v, want the default service's, the known service's and the one naming this cluster's request", resolved)
	}
}

// A lookup failure is retried, not taken as "not ours": that would leave
// the incident open for good.
func TestDeletedRequestLookupFailureIsRetried(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Access Requests" })
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(domain.Service{}, ports.ErrUnavailable)
	h.pg.EXPECT().FindIncidents(gomock.Any(), "teleport-access-request/r1").Return([]domain.Incident{
		{ID: "PI1", ServiceID: "PSN", Status: domain.IncidentTriggered}}, nil)
	if err := h.p.requests.handle(ctx, domain.Request{ID: "r1", State: domain.StateExpired}); err == nil {
		t.Fatal("handle() = nil, want the lookup error")
	}
	if rec, ok, _ := h.rec.GetRecord(ctx, "r1"); ok && rec.Done() {
		t.Errorf("local record = %+v, want nothing marked done", rec)
	}
}

// An open of ours cut short before its result was recorded, and the
// request resolved meanwhile: the incident found under the key in the
// intent's service is adopted (noted and resolved with the others), even
// when the record already holds another incident, and a recorded one is
// not added twice.
func TestUnrecordedIncidentIsAdoptedBesideRecordedOnes(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	other := domain.IncidentRef{Service: "Other", ServiceID: "PSO", IncidentID: "PI-A"}
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{other},
		Intent: domain.Intent{Effect: openAccessRequests, Owner: "replica-a", At: now.Add(-time.Hour)}})
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	key := "teleport-access-request/r1"
	h.pg.EXPECT().FindIncidents(gomock.Any(), key).Return([]domain.Incident{
		{ID: "PI-A", Key: key, ServiceID: "PSN", Status: domain.IncidentTriggered}, // recorded (under another service)
		{ID: "PI-NEW", Key: key, ServiceID: "PSN", Status: domain.IncidentTriggered},
	}, nil).MinTimes(1)
	h.pg.EXPECT().ListNotes(gomock.Any(), gomock.Any()).Return(nil, nil).AnyTimes()
	resolved := map[string]int{}
	for _, id := range []string{"PI-A", "PI-NEW"} {
		h.pg.EXPECT().AddNote(gomock.Any(), id, gomock.Any()).Times(1)
		h.pg.EXPECT().ResolveIncident(gomock.Any(), id).DoAndReturn(func(_ context.Context, id string) error {
			resolved[id]++
			return nil
		}).Times(1)
	}
	req := notifyOnly("r1")
	req.State, req.ResolveReason = domain.StateApproved, "ok"
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	want := []domain.IncidentRef{other, {Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI-NEW"}}
	if diff := cmp.Diff(want, h.record("r1").Incidents); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
}
