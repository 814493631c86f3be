package app

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"go.uber.org/mock/gomock"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

var prod = domain.Cluster{Name: "prod", ProxyAddr: "teleport.example.com"}

// openIncident is an incident pagergate opened in cluster c for the
// request, as the pager lists it.
func openIncident(id, requestID, serviceID string) domain.Incident {
	return domain.Incident{ID: id, Key: domain.IncidentKey(requestID), ServiceID: serviceID, Status: domain.IncidentTriggered}
}

func details(requestID string, c domain.Cluster) string {
	return domain.Details(notifyOnly(requestID), c)
}

func withDefaultService(c *Config) { c.Policy.DefaultNotifyService = "Access Requests" }

// synced dispatches a sync of prod with no pending request, Teleport
// listing the requests given.
func (h *harness) synced(listed ...domain.Request) {
	h.t.Helper()
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(scanOf(listed...)).Times(1)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Cluster: prod})
}

// A peer opened r1's incident; this replica never saw r1 and its store is
// empty. r1 is deleted while the watcher is away, so after the reconnect
// only the pager knows the incident: the orphan scan finds it in the
// default notify service, checks that it is this cluster's and that the
// request is gone, and resolves it as a deletion, with one note. Another
// cluster's incident in the same service, an incident whose request still
// exists and one without our key are left alone.
func TestDeletedWhileDisconnectedIsResolvedAfterTheReconnect(t *testing.T) {
	h := newHarness(t, withDefaultService)
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	open := []domain.Incident{
		{ID: "PIH", ServiceID: "PSN", Status: domain.IncidentTriggered, Key: "disk-full"},
		openIncident("PI2", "r2", "PSN"), // another Teleport cluster's
		openIncident("PI3", "r3", "PSN"), // r3 was created after the list
		openIncident("PI1", "r1", "PSN"),
	}
	h.pg.EXPECT().OpenIncidents(gomock.Any(), []string{"PSN"}, maxOrphanIncidents).Return(open, false, nil).Times(1)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI2").Return(details("r2", domain.Cluster{Name: "staging"}), nil).Times(1)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI3").Return(details("r3", prod), nil).Times(1)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI1").Return(details("r1", prod), nil).Times(1)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r3").Return(notifyOnly("r3"), nil).Times(1)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(domain.Request{}, ports.ErrNotFound).Times(1)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return(nil, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been expired").Times(1)
	var resolved atomic.Int32
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").DoAndReturn(func(context.Context, string) error {
		resolved.Add(1)
		return nil
	}).Times(1)
	h.tp.EXPECT().UpdateRecord(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	h.p.Start()
	h.synced()
	waitFor(t, "the orphan's incident resolved and the queue empty", func() bool { return resolved.Load() == 1 && h.p.sched.Pending() == 0 })
	if rec, _, _ := h.rec.GetRecord(ctx, "r1"); rec.Resolution != domain.StateExpired || len(rec.Incidents) != 1 {
		t.Errorf("local record of r1 = %+v, want expired with its incident", rec)
	}

	// The next reconnect does not read the other cluster's incident again,
	// and r1's incident is closed.
	h.pg.EXPECT().OpenIncidents(gomock.Any(), []string{"PSN"}, maxOrphanIncidents).Return(open[:3], false, nil).Times(1)
	waitFor(t, "the orphan scan finished", func() bool { return !h.scanning() })
	h.synced(notifyOnly("r3"))
	if err := h.stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A peer that got the deletion event posted the note already: the scan's
// resolution checks for the note's marker and does not post it again; an
// incident already resolved is fine.
func TestOrphanNoteIsNotPostedTwice(t *testing.T) {
	h := newHarness(t, withDefaultService)
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().OpenIncidents(gomock.Any(), []string{"PSN"}, maxOrphanIncidents).
		Return([]domain.Incident{openIncident("PI1", "r1", "PSN")}, false, nil)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI1").Return(details("r1", prod), nil)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(domain.Request{}, ports.ErrNotFound)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return([]string{"Access request has been expired"}, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Return(nil)
	h.p.Start()
	h.synced()
	waitFor(t, "r1 resolved from its local record after the restart", func() bool {
		rec, _, _ := h.rec.GetRecord(ctx, "r1")
		return rec.Done() && h.p.sched.Pending() == 0
	})
	if err := h.stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// Any doubt leaves the incident open until the next sync: Teleport not
// answering, the details not readable, the cluster name not known yet.
// The local store's services are scanned too.
func TestOrphanScanFailsSafe(t *testing.T) {
	h := newHarness(t, nil)
	h.rec.PutRecord(ctx, domain.Record{RequestID: "r9", Incidents: []domain.IncidentRef{{Service: "Critical", ServiceID: "PSC", IncidentID: "PI9"}}})
	h.tp.EXPECT().GetRequest(gomock.Any(), "r9").Return(domain.Request{}, ports.ErrUnavailable).AnyTimes()
	open := []domain.Incident{openIncident("PI1", "r1", "PSC"), openIncident("PI2", "r2", "PSC")}
	h.pg.EXPECT().OpenIncidents(gomock.Any(), []string{"PSC"}, maxOrphanIncidents).Return(open, false, nil).Times(2)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI1").Return(details("r1", prod), nil).Times(2)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI2").Return("", ports.ErrUnavailable).Times(2)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(domain.Request{}, ports.ErrUnavailable).Times(2)
	h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), gomock.Any()).Times(0)
	h.p.Start()
	// No cluster name: no scan at all.
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).Return(nil)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced})
	waitFor(t, "the scan without a cluster name finished", func() bool { return !h.scanning() })
	h.synced()
	waitFor(t, "the first orphan scan finished", func() bool { return !h.scanning() })
	h.synced()
	if err := h.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.rec.GetRecord(ctx, "r1"); ok {
		t.Error("a request Teleport did not answer about got a local record")
	}
}

// The scan stops at its bound, but incidents known to be another
// cluster's do not count, so this cluster's orphans behind them are found.
func TestForeignIncidentsDoNotUseTheScanBound(t *testing.T) {
	h := newHarness(t, withDefaultService)
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	var open []domain.Incident
	for i := range maxOrphanChecks {
		id := "f" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		open = append(open, openIncident("P"+id, id, "PSN"))
		h.pg.EXPECT().IncidentDetails(gomock.Any(), "P"+id).Return(details(id, domain.Cluster{Name: "staging"}), nil).Times(1)
	}
	open = append(open, openIncident("PI1", "r1", "PSN"))
	first := h.pg.EXPECT().OpenIncidents(gomock.Any(), []string{"PSN"}, maxOrphanIncidents).Return(open, false, nil).Times(1)
	h.pg.EXPECT().OpenIncidents(gomock.Any(), []string{"PSN"}, maxOrphanIncidents).Return(open, false, nil).Times(1).After(first)
	h.pg.EXPECT().IncidentDetails(gomock.Any(), "PI1").Return(details("r1", prod), nil).Times(1)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(domain.Request{}, ports.ErrNotFound).Times(1)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return(nil, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been expired")
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1")
	h.p.Start()
	h.synced()
	// The first scan spent its bound on the other cluster's incidents.
	waitFor(t, "the first orphan scan finished", func() bool { return !h.scanning() })
	if _, ok, _ := h.rec.GetRecord(ctx, "r1"); ok {
		t.Fatal("the first scan went past its bound")
	}
	h.synced()
	waitFor(t, "r1 resolved by the second scan", func() bool {
		rec, _, _ := h.rec.GetRecord(ctx, "r1")
		return rec.Done() && h.p.sched.Pending() == 0
	})
	if err := h.stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) scanning() bool {
	return h.p.recon.orphans.busy()
}

// A scan that fails half-way feeds no orphan scan: the requests on the
// pages not read would look deleted, and their incidents be resolved.
func TestPartialScanSchedulesNoOrphanScan(t *testing.T) {
	h := newHarness(t, withDefaultService)
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.pg.EXPECT().OpenIncidents(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	h.p.Start()
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, fn func(domain.Request)) error {
		fn(notifyOnly("r1")) // the first page, then the connection drops
		return ports.ErrUnavailable
	}).Times(1)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Cluster: prod})
	if h.scanning() {
		t.Error("an orphan scan was scheduled from a partial list")
	}
	if err := h.stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// The orphan scan covers at most maxOrphanServices notify services: the
// default one first, then those of the local open records, then those of
// the records read since start; each once.
func TestOrphanScanServicesAreBounded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Access Requests" })
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	for i := range maxOrphanServices + 10 {
		h.p.requests.services.learn(domain.Record{Incidents: []domain.IncidentRef{{ServiceID: fmt.Sprintf("PS%03d", i), IncidentID: "PI"}}})
	}
	got := h.p.recon.orphans.servicesToScan(ctx, []string{"PLOCAL", "PSN", ""})
	if len(got) != maxOrphanServices {
		t.Fatalf("%d services scanned, want %d", len(got), maxOrphanServices)
	}
	if got[0] != "PSN" || got[1] != "PLOCAL" || got[2] != "PS000" {
		t.Errorf("services scanned start %v, want the default, the local record's, then the known", got[:3])
	}
}
