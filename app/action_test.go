package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

var incident = domain.Incident{ID: "PI1", Key: "teleport-access-request/r1", ServiceID: "PSN", Status: domain.IncidentTriggered}

func approveBy(actor string) domain.Action {
	return domain.Action{DeliveryID: "d1", Verb: domain.VerbApprove, IncidentID: "PI1", ActorID: actor, Note: "go ahead", OccurredAt: now}
}

// expectActor sets up the lookups of an action by actor on incident PI1 of r1.
func (h *harness) expectActor(u domain.PagerUser) {
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil)
	h.oc.EXPECT().GetUser(gomock.Any(), u.ID).Return(u, nil)
}

func TestActionByOnCallResponderApproves(t *testing.T) {
	h := newHarness(t, nil)
	h.expectActor(bob)
	h.oc.EXPECT().FindService(gomock.Any(), "PSN").Return(notifySvc, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUB", []string{"EPN"}).Return([]domain.OnCall{{UserID: "PUB", EscalationPolicyID: "EPN", Level: 1}}, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), domain.Verdict{RequestID: "r1", State: domain.StateApproved, Mode: domain.ModeSetState,
		Reason: "Approved in PagerDuty by bob@example.com: go ahead", Delegator: "pagerduty:bob@example.com"})

	out, err := h.p.HandleAction(ctx, approveBy("PUB"))
	if err != nil || out != domain.OutcomeDone {
		t.Fatalf("HandleAction() = %v, %v", out, err)
	}
}

func TestReplayedDeliveryChangesNothing(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(bob)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(1)
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); err != nil {
		t.Fatal(err)
	}
	out, err := h.p.HandleAction(ctx, approveBy("PUB"))
	if err != nil || out != domain.OutcomeReplayed {
		t.Fatalf("second HandleAction() = %v, %v, want replayed", out, err)
	}
}

func TestActionByTheRequesterIsRefusedWithANote(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(alice)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Cond(func(s string) bool { return strings.Contains(s, "cannot approve their own") }))

	_, err := h.p.HandleAction(ctx, approveBy("PUA"))
	if !errors.Is(err, domain.ErrSelfApproval) {
		t.Fatalf("HandleAction() = %v, want self-approval refusal", err)
	}
	// A refusal is final: the same delivery again is a replay.
	if out, _ := h.p.HandleAction(ctx, approveBy("PUA")); out != domain.OutcomeReplayed {
		t.Errorf("refused delivery not remembered: %v", out)
	}
}

func TestActionByRespondersNotOnCallIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.expectActor(bob)
	h.oc.EXPECT().FindService(gomock.Any(), "PSN").Return(notifySvc, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUB", []string{"EPN"}).Return(nil, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Cond(func(s string) bool { return strings.Contains(s, "not on call") }))

	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrActorNotOnCall) {
		t.Fatalf("HandleAction() = %v, want not-on-call refusal", err)
	}
}

func TestTransientFailureLetsThePagerRetry(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil).Times(2)
	gomock.InOrder(
		h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(domain.Request{}, ports.ErrUnavailable),
		h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil),
	)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("first HandleAction() = %v, want unavailable", err)
	}
	if out, err := h.p.HandleAction(ctx, approveBy("PUB")); err != nil || out != domain.OutcomeDone {
		t.Fatalf("retried HandleAction() = %v, %v", out, err)
	}
}

func TestActionOnResolvedRequestIsAConflict(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil)
	done := notifyOnly("r1")
	done.State = domain.StateApproved
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(done, nil)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrNotPending) {
		t.Fatalf("HandleAction() = %v, want not pending", err)
	}
}

func TestForeignIncidentAndOldDeliveryAreRejected(t *testing.T) {
	h := newHarness(t, nil)
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(domain.Incident{ID: "PI1", Key: "db-down"}, nil)
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrUnknownIncident) {
		t.Fatalf("HandleAction(foreign incident) = %v", err)
	}
	old := approveBy("PUB")
	old.DeliveryID, old.OccurredAt = "d2", now.Add(-73*time.Hour)
	if _, err := h.p.HandleAction(ctx, old); !errors.Is(err, domain.ErrDeliveryTooOld) {
		t.Fatalf("HandleAction(old) = %v", err)
	}
}

func TestManualResolve(t *testing.T) {
	resolve := domain.Action{DeliveryID: "d9", Verb: domain.VerbManualResolve, IncidentID: "PI1", ActorID: "PUB", OccurredAt: now}

	ignore := newHarness(t, nil)
	ignore.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil)
	ignore.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil)
	ignore.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	if out, err := ignore.p.HandleAction(ctx, resolve); err != nil || out != domain.OutcomeIgnored {
		t.Fatalf("on_manual_resolve=ignore: %v, %v", out, err)
	}

	deny := newHarness(t, func(c *Config) {
		c.Policy.OnManualResolve = domain.ManualResolveDeny
		c.Policy.Approvers = domain.ApproversAny
	})
	deny.expectActor(bob)
	deny.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v domain.Verdict) error {
		if v.State != domain.StateDenied || !strings.Contains(v.Reason, "incident resolved in PagerDuty") {
			t.Errorf("verdict = %+v", v)
		}
		return nil
	})
	if out, err := deny.p.HandleAction(ctx, resolve); err != nil || out != domain.OutcomeDone {
		t.Fatalf("on_manual_resolve=deny: %v, %v", out, err)
	}
}

func TestActionOnAnIncidentWeOpenedNeedsNoIncidentLookup(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.oc.EXPECT().FindService(gomock.Any(), "PSN").Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil)
	if err := h.p.handle(ctx, notifyOnly("r1")); err != nil {
		t.Fatal(err)
	}
	h.pg.EXPECT().GetIncident(gomock.Any(), gomock.Any()).Times(0)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUB", []string{"EPN"}).Return([]domain.OnCall{{UserID: "PUB", EscalationPolicyID: "EPN", Level: 1}}, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	if out, err := h.p.HandleAction(ctx, approveBy("PUB")); err != nil || out != domain.OutcomeDone {
		t.Fatalf("HandleAction() = %v, %v", out, err)
	}
}

func TestRouteCacheIsBounded(t *testing.T) {
	c := newRouteCache()
	for i := range maxRoutes + 10 {
		c.put(fmt.Sprint(i), route{requestID: fmt.Sprint("r", i)})
	}
	if _, ok := c.get("0"); ok {
		t.Error("the oldest entry was kept past the bound")
	}
	if r, ok := c.get(fmt.Sprint(maxRoutes + 9)); !ok || r.requestID != fmt.Sprint("r", maxRoutes+9) {
		t.Errorf("newest entry = %+v, %v", r, ok)
	}
	c.mu.Lock()
	n := len(c.m)
	c.mu.Unlock()
	if n != maxRoutes {
		t.Errorf("cache holds %d entries, want %d", n, maxRoutes)
	}
}
