package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"

	"github.com/pagergate/pagergate/domain"
)

// refIncident is an incident as the reference plugin records it: its
// service known by ID only.
var refIncident = domain.IncidentRef{Service: "PSN", ServiceID: "PSN", IncidentID: "PI-REF"}

// A request the reference plugin paged: its record names the service by
// ID, the notify annotation by name. pagergate resolves the name (cached
// lookup) and adopts the recorded incident: no POST that PagerDuty would
// refuse as a duplicate key, and one note and one resolve at the end.
func TestReferenceRecordIsAdoptedWithoutOpeningAgain(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", User: "alice@example.com", Roles: []string{"db"}, Created: now,
		Incidents: []domain.IncidentRef{refIncident}})
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Times(0)
	req := notifyOnly("r1")
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	want := []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI-REF"}}
	if diff := cmp.Diff(want, h.record("r1").Incidents); diff != "" {
		t.Errorf("incidents after adoption (-want +got):\n%s", diff)
	}

	req.State, req.ResolveReason = domain.StateApproved, "ok"
	h.pg.EXPECT().AddNote(gomock.Any(), "PI-REF", gomock.Any()).Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI-REF").Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle(approved) = %v", err)
	}
	if got := h.metrics.Count("incidents", "opened") + h.metrics.Count("incidents", "adopted"); got != 0 {
		t.Errorf("incidents counted as opened or adopted: %d, want 0 (nothing was posted)", got)
	}
}

// The reference opens the incident while our open is in flight: PagerDuty
// refuses our POST (same key) and EnsureIncident returns the reference's
// incident, which the reference records (by service ID) before our result
// write, so that write loses. Re-planned, the record holds the incident
// once: noted once, resolved once, and counted as adopted, not opened.
func TestIncidentOpenedMeanwhileByTheReferenceIsHeldOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, s domain.IncidentSpec) (domain.Incident, error) {
			peer := h.record("r1") // the reference's write keeps our keys
			peer.Incidents = []domain.IncidentRef{refIncident}
			h.setRecord(peer)
			return domain.Incident{ID: "PI-REF", Key: s.Key, ServiceID: "PSN", Status: domain.IncidentTriggered, Existing: true}, nil
		}).Times(1)
	req := notifyOnly("r1")
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if n := len(h.record("r1").Incidents); n != 1 {
		t.Fatalf("record holds %d incidents, want 1: %+v", n, h.record("r1").Incidents)
	}
	if h.metrics.Count("incidents", "adopted") != 1 || h.metrics.Count("incidents", "opened") != 0 {
		t.Errorf("incident outcomes: adopted %d, opened %d; want 1, 0",
			h.metrics.Count("incidents", "adopted"), h.metrics.Count("incidents", "opened"))
	}
	req.State = domain.StateApproved
	h.pg.EXPECT().AddNote(gomock.Any(), "PI-REF", gomock.Any()).Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI-REF").Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle(approved) = %v", err)
	}
}

// A peer writes the record (the reference counting reviews, a replica
// taking a look) between our read and our result write, while our resolve
// is in flight: the result write loses and the request is planned again.
// The intent is still ours, so the resolve is redone as a recovery: the
// note marker is looked for first and the note is not posted twice.
func TestPeerWriteDuringResolveDoesNotRepostTheNote(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true,
		Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := notifyOnly("r1")
	req.State, req.ResolveReason = domain.StateApproved, "ok"
	var mu sync.Mutex
	var notes []string
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Any()).DoAndReturn(func(_ context.Context, _, text string) error {
		mu.Lock()
		notes = append(notes, text)
		mu.Unlock()
		peer := h.record("r1") // our intent is in it: a merge keeps it
		peer.Updated = now.Add(1)
		h.setRecord(peer)
		return nil
	}).Times(1)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").DoAndReturn(func(context.Context, string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), notes...), nil
	}).MinTimes(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").MinTimes(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if rec := h.record("r1"); rec.Resolution != domain.StateApproved || !rec.Intent.IsZero() {
		t.Errorf("record = %+v, want resolved and no intent left", rec)
	}
	if h.reads("r1") < 2 {
		t.Errorf("record read %d times, want a second plan after the lost write", h.reads("r1"))
	}
}

// referencePeer acts as the reference plugin does on a resolved request
// (its resolveIncident): with compare-and-swap, it takes the resolve when
// the record has an incident and no resolution, then notes and resolves.
// The record it reads is the one stored at that moment.
func referencePeer(h *harness, id string, notes *int) {
	rec := h.record(id)
	if len(rec.Incidents) == 0 || rec.Resolution != domain.StateUnknown {
		return // "already resolved": it leaves it
	}
	rec.Resolution = domain.StateApproved
	h.setRecord(rec)
	*notes++
}

// Both plugins handle the approval at once (SPEC §5: one note, exactly
// once). The reference looks while our resolve is in flight: our intent
// already carries the resolution, which the reference reads as resolved,
// so it leaves the note to us. Had it looked first, it would have taken
// the resolve and we would find the record done.
func TestReferenceBesideUsDoesNotNoteTheResolutionAgain(t *testing.T) {
	for name, refFirst := range map[string]bool{"reference during our resolve": false, "reference first": true} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.allowCAS()
			h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{refIncident}})
			req := notifyOnly("r1")
			req.State = domain.StateApproved
			notes := 0
			if refFirst {
				referencePeer(h, "r1", &notes)
			}
			h.pg.EXPECT().AddNote(gomock.Any(), "PI-REF", gomock.Any()).DoAndReturn(func(context.Context, string, string) error {
				notes++
				referencePeer(h, "r1", &notes)
				return nil
			}).MaxTimes(1)
			h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI-REF").MaxTimes(1)
			if err := h.p.requests.handle(ctx, req); err != nil {
				t.Fatalf("handle() = %v", err)
			}
			if notes != 1 {
				t.Errorf("resolution noted %d times, want 1", notes)
			}
			if rec := h.record("r1"); !rec.Done() {
				t.Errorf("record = %+v, want done", rec)
			}
		})
	}
}

// The process stopped during a resolve: the record holds the resolution
// (written with the intent) and the intent. The request is not done: the
// next pass finishes the resolve, looking for the note first.
func TestInterruptedResolveIsFinished(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Resolution: domain.StateApproved,
		Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}},
		Intent:    domain.Intent{Effect: domain.Effect{Kind: domain.EffectResolve}, Owner: "replica-a", At: now.Add(-time.Minute)}})
	req := notifyOnly("r1")
	req.State = domain.StateApproved
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return([]string{domain.ResolutionNote(domain.StateApproved, "")}, nil)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if rec := h.record("r1"); !rec.Done() || !rec.Intent.IsZero() {
		t.Errorf("record = %+v, want done", rec)
	}
}

// A recorded incident with no service name at all, only its ID, is
// adopted under the notify service's name like one named by its ID.
func TestIncidentRecordedWithoutServiceNameIsAdopted(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{ServiceID: "PSN", IncidentID: "PI-REF"}}})
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Times(0)
	if err := h.p.requests.handle(ctx, notifyOnly("r1")); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	want := []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI-REF"}}
	if diff := cmp.Diff(want, h.record("r1").Incidents); diff != "" {
		t.Errorf("incidents after adoption (-want +got):\n%s", diff)
	}
}
