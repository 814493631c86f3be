package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/mocks"
	"github.com/pagergate/pagergate/ports"
)

func TestRunHandlesWatcherEventsInOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	w := mocks.NewMockWatcher(gomock.NewController(t))
	req := notifyOnly("r1")
	approved := req
	approved.State = domain.StateApproved
	resolved := make(chan struct{})
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", "Access request has been approved")
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").DoAndReturn(func(context.Context, string) error { close(resolved); return nil })

	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).Return(nil)
	ctx, cancel := context.WithCancel(context.Background())
	w.EXPECT().Watch(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, out chan<- domain.Event) error {
		out <- domain.Event{Kind: domain.EventSynced}
		out <- domain.Event{Kind: domain.EventPut, Request: req}
		// This runs in Run's goroutine: no t.Fatal here; an error ends Run
		// and fails the test below.
		if !eventually(func() bool { return len(h.record("r1").Incidents) == 1 && h.p.sched.Pending() == 0 }) {
			return errors.New("the pending request's incident was not recorded")
		}
		out <- domain.Event{Kind: domain.EventPut, Request: approved}
		<-ctx.Done()
		return ctx.Err()
	})
	h.p.Start()
	done := make(chan error)
	go func() { done <- h.p.Run(ctx, w) }()
	select {
	case <-resolved:
	case err := <-done:
		t.Fatalf("Run() = %v before the approved request's incident was resolved", err)
	case <-time.After(waitLimit):
		t.Fatalf("not within %v: the approved request's incident resolved", waitLimit)
	}
	waitFor(t, "the queue empty after the resolution", func() bool { return h.p.sched.Pending() == 0 })
	cancel()
	if err := receive(t, done, "Run returned after its context ended"); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if err := h.stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if rec := h.record("r1"); rec.Resolution != domain.StateApproved {
		t.Errorf("record = %+v", rec)
	}
}

func TestRunReturnsAFatalWatcherError(t *testing.T) {
	h := newHarness(t, nil)
	w := mocks.NewMockWatcher(gomock.NewController(t))
	w.EXPECT().Watch(gomock.Any(), gomock.Any()).Return(errors.New("all credentials expired"))
	if err := h.p.Run(context.Background(), w); err == nil || !strings.Contains(err.Error(), "credentials expired") {
		t.Fatalf("Run() = %v", err)
	}
}

func TestStopDrainsInFlightWorkAndRefusesNewWork(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	entered, release := make(chan struct{}), make(chan struct{})
	h.oc.EXPECT().FindService(gomock.Any(), gomock.Any()).Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).DoAndReturn(func(context.Context, domain.IncidentSpec) (domain.Incident, error) {
		close(entered)
		select { // a pass of the mock: the test's receive below reports a hang
		case <-release:
		case <-time.After(waitLimit):
		}
		return domain.Incident{ID: "PI1"}, nil
	})
	h.p.Start()
	h.p.sched.Submit(notifyOnly("r1"))
	receive(t, entered, "the effect began")
	stopped := make(chan error)
	go func() { stopped <- h.p.Stop(context.Background()) }()
	close(release)
	if err := receive(t, stopped, "Stop returned once the effect ended"); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if rec := h.record("r1"); len(rec.Incidents) != 1 {
		t.Errorf("in-flight effect not finished: %+v", rec)
	}
	before := h.p.sched.Pending()
	h.p.sched.Submit(notifyOnly("r9"))
	if got := h.p.sched.Pending(); got != before {
		t.Errorf("Pending() = %d after a submit to a stopped service, want %d", got, before)
	}
}

func TestStopDeadlineCancelsEffects(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	entered := make(chan struct{})
	h.oc.EXPECT().FindService(gomock.Any(), gomock.Any()).Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, _ domain.IncidentSpec) (domain.Incident, error) {
		close(entered)
		<-ctx.Done()
		return domain.Incident{}, ctx.Err()
	})
	h.p.Start()
	h.p.sched.Submit(notifyOnly("r1"))
	receive(t, entered, "the effect began")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop() = %v, want the deadline error", err)
	}
	if rec := h.record("r1"); rec.Intent.IsZero() {
		t.Error("the interrupted effect's intent must stay recorded for the next start")
	}
}

func TestActionsAreProvisionedOncePerService(t *testing.T) {
	hooks := []domain.ActionHook{{Name: "Approve access", URL: "https://pg/pagerduty/actions/approve"}}
	h := newHarness(t, func(c *Config) { c.ActionHooks = hooks })
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), gomock.Any()).Return(notifySvc, nil).Times(3)
	h.pg.EXPECT().EnsureActions(gomock.Any(), "PSN", hooks).Return(errors.New("403")).Times(1)
	h.pg.EXPECT().EnsureActions(gomock.Any(), "PSN", hooks).Return(nil).Times(1)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI"}, nil).Times(3)
	for _, id := range []string{"r1", "r2", "r3"} {
		if err := h.p.requests.handle(ctx, notifyOnly(id)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApprovalSkipsAndFailures(t *testing.T) {
	t.Run("requester not a pager user", func(t *testing.T) {
		h := newHarness(t, nil)
		h.allowCAS()
		h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(domain.PagerUser{}, ports.ErrNotFound)
		h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
		if err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}})); err != nil {
			t.Fatal(err)
		}
		if !h.record("r1").ApprovalDone {
			t.Error("skip not recorded")
		}
		// SPEC §13: every decision is one info line, a skip with its reason.
		skips := h.logs.FilterMessage("request left for humans").FilterField(zap.String("decision", "skip")).AllUntimed()
		if len(skips) != 1 || skips[0].Level != zapcore.InfoLevel || !strings.Contains(skips[0].ContextMap()["reason"].(string), "pager user") {
			t.Errorf("skip logged as %+v, want one info line with the reason", skips)
		}
	})
	t.Run("unknown approval service", func(t *testing.T) {
		h := newHarness(t, nil)
		h.allowCAS()
		h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
		h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(domain.Service{}, ports.ErrNotFound)
		h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
		if err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}})); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("user lookup failure is retried", func(t *testing.T) {
		h := newHarness(t, nil)
		h.allowCAS()
		h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(domain.PagerUser{}, ports.ErrUnavailable)
		if err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}})); !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("handle() = %v", err)
		}
	})
	t.Run("permission refused by teleport", func(t *testing.T) {
		h := newHarness(t, nil)
		h.allowCAS()
		h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
		h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
		h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1}}, nil)
		h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Return(&ports.PermissionError{Permission: "access_request: update", Err: errors.New("denied")})
		err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}}))
		var pe *ports.PermissionError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "access_request: update") {
			t.Fatalf("handle() = %v, want the permission error", err)
		}
		if h.record("r1").ApprovalDone {
			t.Error("approval recorded despite refusal")
		}
	})
	t.Run("require_active_incident ignores our own incident", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.Policy.RequireActiveIncident = true })
		h.allowCAS()
		h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
		h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
		h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1}}, nil)
		h.oc.EXPECT().ActiveIncidents(gomock.Any(), "PUA", []string{"PSC"}).Return([]domain.Incident{
			{ID: "PI1", Key: "teleport-access-request/r1", ServiceID: "PSC", Status: "triggered", AssigneeIDs: []string{"PUA"}}}, nil)
		h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
		if err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}})); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("already approved counts as done", func(t *testing.T) {
		h := newHarness(t, nil)
		h.allowCAS()
		h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil)
		h.oc.EXPECT().FindService(gomock.Any(), "Critical").Return(critSvc, nil)
		h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return([]domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1}}, nil)
		h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Return(ports.ErrAlreadyReviewed)
		if err := h.p.requests.handle(ctx, request("r1", map[string][]string{"pagerduty_services": {"Critical"}})); err != nil {
			t.Fatal(err)
		}
		if !h.record("r1").ApprovalDone {
			t.Error("approval not recorded")
		}
	})
}

func TestResolveFailureIsRetriedAndResolvedIncidentsAreFine(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.setRecord(domain.Record{RequestID: "r1", ApprovalDone: true, Incidents: []domain.IncidentRef{
		{Service: "A", ServiceID: "PSA", IncidentID: "PI1"}, {Service: "B", ServiceID: "PSB", IncidentID: "PI2"}}})
	req := request("r1", map[string][]string{"pagerduty_notify_service": {"A", "B"}})
	req.State = domain.StateApproved
	h.pg.EXPECT().AddNote(gomock.Any(), gomock.Any(), gomock.Any()).Times(2)
	h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI1").Return(nil).Times(2)
	gomock.InOrder(
		h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI2").Return(ports.ErrUnavailable),
		h.pg.EXPECT().ResolveIncident(gomock.Any(), "PI2").Return(ports.ErrNotFound),
	)
	// On the retry the notes are checked, not posted again.
	h.pg.EXPECT().ListNotes(gomock.Any(), gomock.Any()).Return([]string{"Access request has been approved"}, nil).Times(2)
	if err := h.p.requests.handle(ctx, req); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("first handle() = %v", err)
	}
	if err := h.p.requests.handle(ctx, req); err != nil {
		t.Fatalf("second handle() = %v", err)
	}
	if !h.record("r1").Done() {
		t.Error("not resolved")
	}
}

// The cluster comes with the watcher's sync (the daemon starts before
// Teleport answers), and readiness says why the watcher is disconnected.
func TestSyncCarriesTheClusterAndReadinessSaysWhy(t *testing.T) {
	h := newHarness(t, nil)
	h.tp.EXPECT().ScanRequests(gomock.Any(), gomock.Any()).Return(nil).AnyTimes()
	if !errors.Is(h.p.Ready(), ErrDisconnected) {
		t.Fatalf("Ready() before the first sync = %v, want ErrDisconnected", h.p.Ready())
	}
	why := errors.New("connect to teleport at 127.0.0.1:3025: connection refused")
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventDisconnected, Err: why})
	if err := h.p.Ready(); !errors.Is(err, ErrDisconnected) || !errors.Is(err, why) {
		t.Errorf("Ready() while dialing = %v, want ErrDisconnected and why", err)
	}
	if h.p.cluster.mode() != domain.ModeSetState {
		t.Errorf("Mode() before the sync = %s, want set_state", h.p.cluster.mode())
	}
	cl := domain.Cluster{Name: "prod", ProxyAddr: "teleport.example.com:443", AdvancedWorkflows: true}
	h.p.Dispatch(ctx, domain.Event{Kind: domain.EventSynced, Cluster: cl})
	if h.p.cluster.get() != cl || h.p.cluster.mode() != domain.ModeReview {
		t.Errorf("after the sync: Cluster() = %+v, Mode() = %s; want %+v, review", h.p.cluster.get(), h.p.cluster.mode(), cl)
	}
	if err := h.p.Ready(); err != nil {
		t.Errorf("Ready() after the sync = %v", err)
	}
}

// A lookup of the auto-approval that fails is an error of the pass, never
// a decision: nothing is recorded, and the retry approves once the pager
// answers. A failure taken as a skip would leave the request for humans
// for good.
func TestApprovalLookupFailureIsRetriedNotSkipped(t *testing.T) {
	for _, failing := range []string{"requester", "approval service", "on-calls", "active incidents"} {
		t.Run(failing, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Policy.RequireActiveIncident = true })
			h.allowCAS()
			down := failing // fails once, then answers
			fail := func(lookup string) error {
				if lookup != down {
					return nil
				}
				down = ""
				return fmt.Errorf("%s: %w", lookup, ports.ErrUnavailable)
			}
			h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").DoAndReturn(func(context.Context, string) (domain.PagerUser, error) {
				return alice, fail("requester")
			}).AnyTimes()
			h.oc.EXPECT().FindService(gomock.Any(), "Critical").DoAndReturn(func(context.Context, string) (domain.Service, error) {
				return critSvc, fail("approval service")
			}).AnyTimes()
			h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUA", []string{"EPC"}).DoAndReturn(func(context.Context, string, []string) ([]domain.OnCall, error) {
				return []domain.OnCall{{UserID: "PUA", EscalationPolicyID: "EPC", Level: 1}}, fail("on-calls")
			}).AnyTimes()
			h.oc.EXPECT().ActiveIncidents(gomock.Any(), "PUA", []string{"PSC"}).DoAndReturn(func(context.Context, string, []string) ([]domain.Incident, error) {
				return []domain.Incident{{ID: "PI9", Key: "db-outage", ServiceID: "PSC", Status: domain.IncidentTriggered, AssigneeIDs: []string{"PUA"}}},
					fail("active incidents")
			}).AnyTimes()
			h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(1)
			req := request("r1", map[string][]string{"pagerduty_services": {"Critical"}})

			if err := h.p.requests.handle(ctx, req); !errors.Is(err, ports.ErrUnavailable) {
				t.Fatalf("handle() with the %s lookup down = %v, want unavailable", failing, err)
			}
			if h.record("r1").ApprovalDone {
				t.Fatal("a failed lookup was recorded as a decision")
			}
			if n := h.metrics.Count("approvals", string(ports.ApprovalSkipped)); n != 0 {
				t.Errorf("%d skips counted for a failed lookup", n)
			}
			if n := h.metrics.Count("approvals", string(ports.ApprovalLookupFailed)); n != 1 {
				t.Errorf("%d lookup failures counted, want 1", n)
			}
			if err := h.p.requests.handle(ctx, req); err != nil {
				t.Fatalf("retried handle() = %v", err)
			}
			if !h.record("r1").ApprovalDone {
				t.Error("the retry did not approve")
			}
		})
	}
}
