package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

var ctx = context.Background()

var openAccessRequests = domain.Effect{Kind: domain.EffectOpenIncident, Service: "Access Requests"}

func TestIncidentOpenedOnceWhenTheSameEventArrivesTwice(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	req := notifyOnly("r1")
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).Times(1)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, s domain.IncidentSpec) (domain.Incident, error) {
			if s.Key != "teleport-access-request/r1" || s.ServiceID != "PSN" {
				t.Errorf("incident spec = %+v", s)
			}
			return domain.Incident{ID: "PI1", Key: s.Key, ServiceID: s.ServiceID, Status: "triggered"}, nil
		}).Times(1)

	for range 2 {
		if err := h.p.requests.handle(ctx, req); err != nil {
			t.Fatalf("handle() = %v", err)
		}
	}
	rec := h.record("r1")
	if len(rec.Incidents) != 1 || rec.Incidents[0].IncidentID != "PI1" || !rec.ApprovalDone || !rec.Intent.IsZero() {
		t.Errorf("record = %+v", rec)
	}
	if local, ok, _ := h.rec.GetRecord(ctx, "r1"); !ok || len(local.Incidents) != 1 {
		t.Errorf("local mirror = %+v, %v", local, ok)
	}
}

// The peer records its incident between our read and our intent write.
// The intent write is conditional on the version the plan was made on, so
// it loses and the request is planned again on the peer's record: no
// second incident. A write at a version read after the peer's (a blind
// write) would open one.
func TestAnotherReplicaWinsTheCASSoNoSecondIncident(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	req := notifyOnly("r1")
	var once sync.Once
	h.afterLoad = func(string) {
		once.Do(func() {
			h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI-PEER"}}})
		})
	}
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Times(0)

	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if rec := h.record("r1"); len(rec.Incidents) != 1 || rec.Incidents[0].IncidentID != "PI-PEER" {
		t.Errorf("record = %+v, want the peer's incident only", rec)
	}
	if n := h.reads("r1"); n < 2 {
		t.Errorf("record read %d times, want a new read after the lost write", n)
	}
}

// A peer writes between our intent and our result (it took the request
// over while our effect ran): the result write is conditional on the
// intent's version, so it loses and the pass plans again on the peer's
// record instead of overwriting it.
func TestResultWriteLosesToAPeerWriteDuringTheEffect(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	peer := domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI-PEER"}}}
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).Times(1)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).DoAndReturn(
		func(context.Context, domain.IncidentSpec) (domain.Incident, error) {
			h.setRecord(peer)
			return domain.Incident{ID: "PI1"}, nil
		}).Times(1)

	if err := h.p.requests.handle(ctx, notifyOnly("r1")); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if rec := h.record("r1"); len(rec.Incidents) != 1 || rec.Incidents[0].IncidentID != "PI-PEER" {
		t.Errorf("record = %+v, want the peer's incident kept", rec)
	}
}

// Only a lost plugin-data compare-and-swap re-plans at once (SPEC §8): a
// pager 409, or a taken key with no open incident, ends the pass with the
// error, and the scheduler retries it with backoff.
func TestPagerConflictEndsThePassInsteadOfReplanning(t *testing.T) {
	h := newHarness(t, nil)
	writes := 0
	h.tp.EXPECT().UpdateRecord(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(ctx context.Context, id string, at ports.Version, rec domain.Record) (ports.Version, error) {
			writes++
			return h.cas(ctx, id, at, rec)
		}).AnyTimes()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).Times(1)
	conflict := fmt.Errorf("create incident: PagerDuty answered 409 Conflict: %w", ports.ErrConflict)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{}, conflict).Times(1)

	err := h.p.requests.handle(ctx, notifyOnly("r1"))
	if !errors.Is(err, ports.ErrConflict) || errors.Is(err, errCASLost) {
		t.Fatalf("handle() = %v, want the pager's conflict, not a lost CAS", err)
	}
	if writes != 1 {
		t.Errorf("record written %d times in one pass, want 1 (the intent)", writes)
	}
}

// Teleport's CompareFailed on the request update ("too many concurrent
// writes") is not a lost plugin-data CAS either.
func TestTeleportRequestConflictEndsThePass(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil).Times(1)
	h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil).Times(1)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUA", []string{"EPC"}).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1}}, nil).Times(1)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Return(fmt.Errorf("set state: %w: too many concurrent writes", ports.ErrConflict)).Times(1)

	if err := h.p.requests.handle(ctx, withApproval("r1")); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("handle() = %v, want the request update's conflict", err)
	}
}

// A peer's intent younger than the lease, to the last nanosecond, makes
// us wait.
func TestPeerHoldingAFreshIntentMakesUsWait(t *testing.T) {
	for _, age := range []time.Duration{time.Second, time.Minute - time.Nanosecond} {
		h := newHarness(t, func(c *Config) { c.IntentLease = time.Minute })
		h.setRecord(domain.Record{RequestID: "r1", Intent: domain.Intent{Effect: openAccessRequests, Owner: "replica-b", At: now.Add(-age)}})
		h.tp.EXPECT().UpdateRecord(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
		h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Times(0)

		if err := h.p.requests.handle(ctx, notifyOnly("r1")); !errors.Is(err, errBusy) {
			t.Fatalf("intent %v old: handle() = %v, want errBusy", age, err)
		}
	}
}

// A peer's intent as old as the lease is stale: taken over.
func TestStalePeerIntentIsTakenOver(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IntentLease = time.Minute })
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", Intent: domain.Intent{Effect: openAccessRequests, Owner: "replica-b", At: now.Add(-time.Minute)}})
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil)

	if err := h.p.requests.handle(ctx, notifyOnly("r1")); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if rec := h.record("r1"); len(rec.Incidents) != 1 {
		t.Errorf("record = %+v", rec)
	}
}

func TestPagerErrorsAreRetriedUntilExactlyOneIncident(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	gomock.InOrder(
		h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{}, ports.ErrUnavailable),
		h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{}, ports.ErrUnavailable),
		h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil),
	)
	h.p.Start()
	defer h.stop(ctx)
	h.p.sched.Submit(notifyOnly("r1"))
	waitFor(t, "the incident opened after the retries", func() bool { return h.p.sched.Pending() == 0 })
	if rec := h.record("r1"); len(rec.Incidents) != 1 || rec.Incidents[0].IncidentID != "PI1" {
		t.Errorf("record = %+v", rec)
	}
}

func TestUnknownNotifyServiceIsAnErrorNotASkip(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(domain.Service{}, ports.ErrNotFound)
	err := h.p.requests.handle(ctx, notifyOnly("r1"))
	if !errors.Is(err, ports.ErrNotFound) || !strings.Contains(err.Error(), "Access Requests") {
		t.Fatalf("handle() = %v, want not found naming the service", err)
	}
	if rec := h.record("r1"); len(rec.Incidents) != 0 || rec.ApprovalDone {
		t.Errorf("record = %+v", rec)
	}
}

func TestOnCallRequesterIsAutoApprovedAndNoted(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil)
	h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUA", []string{"EPC"}).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1}}, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v domain.Verdict) error {
		if v.State != domain.StateApproved || v.Mode != domain.ModeSetState || v.Delegator != "pagerduty:alice@example.com" ||
			!strings.Contains(v.Reason, "on call for Critical at escalation level 1") {
			t.Errorf("verdict = %+v", v)
		}
		return nil
	})
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Any()).DoAndReturn(func(_ context.Context, _, text string) error {
		if !strings.HasPrefix(text, domain.ApprovalMarker) {
			t.Errorf("note = %q", text)
		}
		return nil
	})
	if err := h.p.requests.handle(ctx, withApproval("r1")); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if !h.record("r1").ApprovalDone {
		t.Error("approval not recorded")
	}
}

func TestReviewModeOnEnterprise(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.p.cluster.set(domain.Cluster{AdvancedWorkflows: true})
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
	h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 2}}, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v domain.Verdict) error {
		if v.Mode != domain.ModeReview {
			t.Errorf("mode = %s, want review", v.Mode)
		}
		return nil
	})
	req := request("r1", map[string][]string{"pagerduty_services": {"Critical"}})
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() = %v", err)
	}
}

func TestOnCallLookupFailureMeansNoApproval(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
	h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return(nil, ports.ErrUnavailable)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)

	if err := h.p.requests.handle(ctx, withApproval("r1")); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("handle() = %v, want unavailable", err)
	}
	if h.record("r1").ApprovalDone {
		t.Error("approval decision recorded despite the failed lookup")
	}
}

func TestNotOnCallLeavesRequestForHumans(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.MaxEscalationLevel = 1 })
	h.allowCAS()
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
	h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 2}}, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)

	if err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}})); err != nil {
		t.Fatalf("handle() = %v", err)
	}
	if !h.record("r1").ApprovalDone {
		t.Error("skip decision not recorded")
	}
}

func TestReviewsAreNotedOnceEachInOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := notifyOnly("r1")
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved, Reason: "first"}}
	gomock.InOrder(
		h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "[review #1] Review by bob") })),
		h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "[review #2] Review by carol") })),
	)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.Reviews = append(req.Reviews, domain.Review{Author: "carol", State: domain.StateDenied})
	for range 2 {
		if err := h.p.requests.handle(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.record("r1").ReviewsNoted; got != 2 {
		t.Errorf("ReviewsNoted = %d, want 2", got)
	}
}

// A review note the pager refuses is not taken as noted: the pass fails
// (retried), nothing is counted, and the next pass notes it.
func TestFailedReviewNoteIsRetriedNotCounted(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := notifyOnly("r1")
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved, Reason: "first"}}
	review := gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "[review #1]") })
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", review).Return(ports.ErrUnavailable)
	if err := h.p.requests.handle(ctx, req); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("handle() with the note refused = %v, want the pager's error", err)
	}
	if got, n := h.record("r1").ReviewsNoted, h.metrics.Count("notes", "review"); got != 0 || n != 0 {
		t.Fatalf("after a refused note: ReviewsNoted = %d, counted %d; want 0, 0", got, n)
	}
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return(nil, nil).MaxTimes(1) // our intent is left: a recovery
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", review).Return(nil)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() again = %v", err)
	}
	if got, n := h.record("r1").ReviewsNoted, h.metrics.Count("notes", "review"); got != 1 || n != 1 {
		t.Errorf("after the retry: ReviewsNoted = %d, counted %d; want 1, 1", got, n)
	}
}

// A review the snapshot does not hold (an intent planned on a newer one)
// is no note and no panic.
func TestReviewBeyondTheSnapshotIsNoNote(t *testing.T) {
	h := newHarness(t, nil)
	req := notifyOnly("r1")
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved}}
	rec := domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}}
	h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	if err := h.p.requests.incidents.noteReview(ctx, req, rec, 1, false); err != nil {
		t.Errorf("noteReview(#2 of 1) = %v, want nil", err)
	}
}

func TestResolutionHappensOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := notifyOnly("r1")
	req.State, req.ResolveReason = domain.StateDenied, "not today"
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been denied\nReason: not today").Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Times(1)
	for range 2 {
		if err := h.p.requests.handle(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if rec := h.record("r1"); rec.Resolution != domain.StateDenied || rec.ResolveReason != "not today" {
		t.Errorf("record = %+v", rec)
	}
}

// A review note the pager refuses for good on every incident is passed
// over (ReviewsNoted moves on, it is never tried again) but not counted as
// noted nor logged as "review noted": nothing was posted.
func TestReviewNoteRefusedForGoodIsNotCountedAsNoted(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := notifyOnly("r1")
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved, Reason: "first"}}
	review := gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "[review #1]") })
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", review).Return(fmt.Errorf("add note: %w", ports.ErrRefused)).Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("handle() with the review note refused for good = %v, want the pass done", err)
	}
	if got, n := h.record("r1").ReviewsNoted, h.metrics.Count("notes", "review"); got != 1 || n != 0 {
		t.Errorf("ReviewsNoted = %d, counted %d; want 1 (passed over), 0 (nothing posted)", got, n)
	}
	if n := h.logs.FilterMessage("review noted").Len(); n != 0 {
		t.Errorf(`"review noted" logged %d times for a refused note, want 0`, n)
	}
	if n := h.metrics.Count("notes_refused"); n != 1 {
		t.Errorf("notes_refused = %d, want 1", n)
	}
}

// A note the pager refuses for good (an incident at its maximum of notes)
// is skipped, logged once and counted: the other incident is still noted,
// both are resolved and the request settles. Retrying could never post it.
func TestRefusedNoteDoesNotBlockTheResolution(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{
		{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}, {Service: "Databases", ServiceID: "PSD", IncidentID: "PI2"}}})
	req := notifyOnly("r1")
	req.State, req.ResolveReason = domain.StateDenied, "not today"
	note := "Access request has been denied\nReason: not today"
	full := fmt.Errorf("add note to incident PI1: %w: PagerDuty answered 400 Bad Request: An incident can have at most 2000 notes", ports.ErrRefused)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", note).Return(full).Times(1)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI2", note).Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI2").Times(1)
	for range 2 {
		if err := h.p.requests.handle(ctx, req); err != nil {
			t.Fatalf("handle() with a note refused for good = %v, want the request settled", err)
		}
	}
	if rec := h.record("r1"); rec.Resolution != domain.StateDenied || !rec.Done() {
		t.Errorf("record = %+v, want resolved (denied) and done", rec)
	}
	if n := h.metrics.Count("notes_refused"); n != 1 {
		t.Errorf("notes_refused = %d, want 1", n)
	}
	warns := h.logs.FilterMessage("note refused by the pager, skipped").FilterField(zap.String("request_id", "r1")).
		FilterField(zap.String("pd_incident_id", "PI1")).AllUntimed()
	if len(warns) != 1 || warns[0].Level != zap.WarnLevel {
		t.Errorf("refusal logged %d times (%+v), want one warning naming r1 and PI1", len(warns), warns)
	}
}

// A note that fails transiently still fails the pass: nothing is resolved
// and the pass is retried until the note is posted.
func TestUnavailableNoteStillBlocksTheResolution(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := notifyOnly("r1")
	req.State = domain.StateApproved
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been approved").Return(fmt.Errorf("add note: %w", ports.ErrUnavailable))
	h.pg.EXPECT().ResolveIncident(gomock.Any(), gomock.Any()).Times(0)
	if err := h.p.requests.handle(ctx, req); !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrRefused) {
		t.Fatalf("handle() with the note unavailable = %v, want ErrUnavailable (retried)", err)
	}
	if rec := h.record("r1"); rec.Done() {
		t.Errorf("record = %+v, want the resolve still to do", rec)
	}
	if n := h.metrics.Count("notes_refused"); n != 0 {
		t.Errorf("notes_refused = %d after a transient failure, want 0", n)
	}
}

// A pager that keeps one incident per request (Opsgenie's alert per
// alias) lists it once per notify service: each note is posted on it once,
// and it is resolved once.
func TestSharedIncidentIsNotedAndResolvedOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{
		{Service: "Access Requests", ServiceID: "schedule:s1", IncidentID: "alert-1"},
		{Service: "team:ops", ServiceID: "team:t1", IncidentID: "alert-1"},
	}})
	req := notifyOnly("r1")
	req.Annotations["pagerduty_notify_service"] = []string{"Access Requests", "team:ops"}
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved}}
	h.pg.EXPECT().AddNote(gomock.Any(), "alert-1", gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "[review #1]") })).Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.State = domain.StateApproved
	h.pg.EXPECT().AddNote(gomock.Any(), "alert-1", gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "Access request has been approved") })).Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "alert-1").Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := h.metrics.Count("incidents", string(ports.IncidentResolved)); got != 1 {
		t.Errorf("incidents counted resolved = %d, want 1", got)
	}
}

func TestCrashAfterNoteDoesNotPostItTwice(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	// Our own intent survived a crash: the note may or may not be posted.
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true,
		Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}, {Service: "B", ServiceID: "PSB", IncidentID: "PI2"}},
		Intent:    domain.Intent{Effect: domain.Effect{Kind: domain.EffectNoteReview, Review: 0}, Owner: "replica-a", At: now.Add(-time.Second)}})
	req := notifyOnly("r1")
	req.Annotations["pagerduty_notify_service"] = []string{"Access Requests", "B"}
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved}}
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return([]string{"[review #1] Review by bob: APPROVED"}, nil)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI2").Return(nil, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI2", gomock.Any()).Times(1)
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatal(err)
	}
	if rec := h.record("r1"); rec.ReviewsNoted != 1 || !rec.Intent.IsZero() {
		t.Errorf("record = %+v", rec)
	}
}

func TestDeletedRequestIsResolvedFromTheLocalRecord(t *testing.T) {
	h := newHarness(t, nil)
	h.rec.PutRecord(ctx, domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	h.tp.EXPECT().UpdateRecord(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return(nil, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been expired")
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1")
	if err := h.p.requests.handle(ctx, domain.Request{ID: "r1", State: domain.StateExpired}); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ := h.rec.GetRecord(ctx, "r1"); rec.Resolution != domain.StateExpired {
		t.Errorf("local record = %+v", rec)
	}
}

func TestDeletedRequestWithoutLocalRecordIsFoundByKey(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.DefaultNotifyService = "Access Requests" })
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().FindIncidents(gomock.Any(), "teleport-access-request/r1").Return([]domain.Incident{
		{ID: "PI1", ServiceID: "PSN", Status: domain.IncidentTriggered}, {ID: "PI0", Status: domain.IncidentResolved}}, nil)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI1").Return(nil, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Any())
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1")
	if err := h.p.requests.handle(ctx, domain.Request{ID: "r1", State: domain.StateExpired}); err != nil {
		t.Fatal(err)
	}
}

func TestReconcileSchedulesBacklogAndRequestsClosedWhileAway(t *testing.T) {
	var readyCalls atomic.Int32 // OnReady: once, after the first sync only
	h := newHarness(t, func(c *Config) { c.OnReady = func() { readyCalls.Add(1) } })
	h.allowCAS()
	// r2 was open when we stopped, then deleted while we were away.
	h.rec.PutRecord(ctx, domain.Record{RequestID: "r2", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI2"}}})
	h.tp.EXPECT().GetRequest(gomock.Any(), "r2").Return(domain.Request{}, ports.ErrNotFound)
	// r3 was approved while we were away, and the local store never knew it
	// (a new store file): the scan of resolved requests finds it.
	r3 := notifyOnly("r3")
	r3.State = domain.StateApproved
	h.setRecord(domain.Record{RequestID: "r3", ApprovalDone: true, Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI3"}}})
	first := h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(scanOf(notifyOnly("r1"), r3)).Times(1)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI3", "Access request has been approved")
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI3")
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil)
	h.pg.EXPECT().ListNotes(gomock.Any(), "PI2").Return(nil, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI2", gomock.Any())
	resolved := make(chan struct{})
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI2").DoAndReturn(func(context.Context, string) error { close(resolved); return nil })

	if h.p.Ready() == nil || readyCalls.Load() != 0 {
		t.Fatalf("ready before the first sync (OnReady called %d times)", readyCalls.Load())
	}
	h.p.Start()
	defer h.stop(ctx)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Pending: domain.NewBacklog([]domain.Request{notifyOnly("r1")})})
	if err := h.p.Ready(); err != nil || readyCalls.Load() != 1 {
		t.Fatalf("Ready() after sync = %v, OnReady called %d times, want 1", err, readyCalls.Load())
	}
	receive(t, resolved, "PI2 of the request closed while away resolved")
	waitFor(t, "the backlog's passes finished", func() bool { return h.p.sched.Pending() == 0 })
	if rec := h.record("r1"); len(rec.Incidents) != 1 {
		t.Errorf("backlog request record = %+v", rec)
	}
	if rec := h.record("r3"); rec.Resolution != domain.StateApproved {
		t.Errorf("request resolved while away: record = %+v", rec)
	}
	// A reconnect scans again, but a request settled since is not read.
	reads := h.reads("r3")
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(scanOf(notifyOnly("r1"), r3)).Times(1).After(first)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Pending: domain.NewBacklog([]domain.Request{notifyOnly("r1")})})
	waitFor(t, "the passes after the reconnect finished", func() bool { return h.p.sched.Pending() == 0 })
	if got := h.reads("r3"); got != reads {
		t.Errorf("settled request read %d more times after the reconnect, want 0", got-reads)
	}
	if n := readyCalls.Load(); n != 1 {
		t.Errorf("OnReady called %d times after a reconnect, want once in all", n)
	}
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventDisconnected, Err: errors.New("stream reset")})
	if !errors.Is(h.p.Ready(), ErrDisconnected) {
		t.Errorf("Ready() after disconnect = %v", h.p.Ready())
	}
}

// A peer opened the incident; this replica never touched the request and
// its store is empty. The request is approved while this replica's watcher
// is disconnected, after its first scan: the scan after the reconnect
// resolves the incident (SPEC §2).
func TestResolvedWhileDisconnectedIsFoundAfterEveryReconnect(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	r1 := notifyOnly("r1")
	h.setRecord(domain.Record{RequestID: "r1", User: r1.User, ApprovalDone: true,
		Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
	first := h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).Return(nil).Times(1)
	h.p.Start()
	defer h.stop(ctx)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Pending: domain.NewBacklog([]domain.Request{r1})})
	waitFor(t, "the pass of the synced request finished", func() bool { return h.p.sched.Pending() == 0 })

	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventDisconnected, Err: errors.New("stream reset")})
	approved := r1
	approved.State = domain.StateApproved
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(scanOf(approved)).Times(1).After(first)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been approved").Times(1)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Times(1)
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced})
	waitFor(t, "the approved request's pass after the reconnect finished", func() bool { return h.p.sched.Pending() == 0 })
	if rec := h.record("r1"); rec.Resolution != domain.StateApproved {
		t.Errorf("record after the reconnect = %+v, want resolved", rec)
	}
}

// The scan of resolved requests reads nothing twice: a request a peer
// already settled is read once, then known as settled; one the local store
// knows as done is not read at all.
func TestScanOfResolvedRequestsSkipsSettledAndLocallyDone(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	var approved []domain.Request
	for _, id := range []string{"r1", "r2"} {
		r := notifyOnly(id)
		r.State = domain.StateApproved
		approved = append(approved, r)
		h.setRecord(domain.Record{RequestID: id, User: r.User, ApprovalDone: true, Resolution: domain.StateApproved,
			Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI-" + id}}})
	}
	h.rec.PutRecord(ctx, h.record("r2")) // r2 is done in the local store too
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).DoAndReturn(scanOf(approved...)).Times(2)
	h.p.Start()
	defer h.stop(ctx)
	for i := range 2 {
		h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced})
		waitFor(t, fmt.Sprintf("the passes after sync %d finished", i+1), func() bool { return h.p.sched.Pending() == 0 })
		if r1, r2 := h.reads("r1"), h.reads("r2"); r1 != 1 || r2 != 0 {
			t.Errorf("after sync %d: record reads r1 %d, r2 %d; want 1 (then settled), 0 (done locally)", i+1, r1, r2)
		}
	}
}

func TestIncidentOpenedJustBeforeACrashIsResolvedWithTheRequest(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	// The incident was opened, then the process died before recording it;
	// the request was approved before the next start.
	h.setRecord(domain.Record{RequestID: "r1", Intent: domain.Intent{Effect: openAccessRequests, Owner: "replica-a", At: now.Add(-time.Minute)}})
	req := notifyOnly("r1")
	req.State = domain.StateApproved
	req.Reviews = []domain.Review{{Author: "bob", State: domain.StateApproved, Created: now}}
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().FindIncidents(gomock.Any(), "teleport-access-request/r1").Return([]domain.Incident{
		{ID: "PI9", ServiceID: "PSN", Status: domain.IncidentTriggered},
		{ID: "PI-ELSEWHERE", ServiceID: "PSX", Status: domain.IncidentTriggered}}, nil)
	gomock.InOrder(
		h.pg.EXPECT().AddNote(gomock.Any(), "PI9", gomock.Cond(func(s string) bool { return strings.HasPrefix(s, "[review #1]") })),
		h.pg.EXPECT().AddNote(gomock.Any(), "PI9", "Access request has been approved"),
	)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI9")
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatal(err)
	}
	if rec := h.record("r1"); !rec.Done() || len(rec.Incidents) != 1 || rec.Incidents[0].IncidentID != "PI9" {
		t.Errorf("record = %+v", rec)
	}
}
