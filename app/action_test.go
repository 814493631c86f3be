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

// incident is pagergate's incident for r1 in its notify service.
var incident = domain.Incident{ID: "PI1", Key: "teleport-access-request/r1", ServiceID: "PSN", Status: domain.IncidentTriggered}

func approveBy(actor string) domain.Action {
	return actionBy(domain.VerbApprove, actor, "d1")
}

func actionBy(verb domain.Verb, actor, delivery string) domain.Action {
	return domain.Action{DeliveryID: delivery, ReplayKeys: []string{"event:" + delivery}, Verb: verb, IncidentID: "PI1",
		ActorID: actor, Note: "go ahead", OccurredAt: now}
}

// expectTarget sets up the reads that map incident PI1 to request req and
// prove it is pagergate's: the incident, the request, and (no record yet)
// the request's notify service.
func (h *harness) expectTarget(req domain.Request) {
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil)
	h.tp.EXPECT().GetRequest(gomock.Any(), req.ID).Return(req, nil)
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
}

// expectActor sets up the lookups of an approval of r1 (alice's) by u.
func (h *harness) expectActor(u domain.PagerUser) {
	h.expectTarget(notifyOnly("r1"))
	h.oc.EXPECT().GetUser(gomock.Any(), u.ID).Return(u, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil).MaxTimes(1)
}

func (h *harness) expectOnCall(userID string, on bool) {
	h.oc.EXPECT().FindService(gomock.Any(), "PSN").Return(notifySvc, nil)
	var ocs []domain.OnCall
	if on {
		ocs = []domain.OnCall{{UserID: userID, EscalationPolicyID: "EPN", Level: 1}}
	}
	h.oc.EXPECT().OnCallsNow(gomock.Any(), userID, []string{"EPN"}).Return(ocs, nil)
}

// expectNote expects one note on incident id containing want.
func (h *harness) expectNote(id, want string) {
	h.pg.EXPECT().AddNote(gomock.Any(), id, gomock.Cond(func(s string) bool { return strings.Contains(s, want) }))
}

func TestActionByOnCallResponderApproves(t *testing.T) {
	h := newHarness(t, nil)
	h.expectActor(bob)
	h.expectOnCall("PUB", true)
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
	// actions_total{verb,outcome}: the verb asked for and what it came to.
	if d, r := h.metrics.Count("actions", "approve", "done"), h.metrics.Count("actions", "approve", "replayed"); d != 1 || r != 1 {
		t.Errorf("actions{approve,done} = %d, {approve,replayed} = %d; want 1 and 1", d, r)
	}
}

// A delivery is a replay when any one of its keys was seen: a captured
// custom action re-sent with a fresh X-Webhook-Id still carries its
// message id.
func TestReplayWithOneKnownKeyIsAReplay(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(bob)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(1)
	first := approveBy("PUB")
	first.ReplayKeys = []string{"message:m1", "webhook:w1"}
	if _, err := h.p.HandleAction(ctx, first); err != nil {
		t.Fatal(err)
	}
	again := first
	again.ReplayKeys = []string{"message:m1", "webhook:w2"}
	if out, err := h.p.HandleAction(ctx, again); err != nil || out != domain.OutcomeReplayed {
		t.Fatalf("re-sent with a new header: %v, %v, want replayed", out, err)
	}
}

func TestDeliveryWithoutReplayKeyIsRefused(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	a := approveBy("PUB")
	a.ReplayKeys = nil
	if _, err := h.p.HandleAction(ctx, a); !errors.Is(err, domain.ErrNoReplayKey) {
		t.Fatalf("HandleAction() = %v, want ErrNoReplayKey", err)
	}
}

// An event dated ahead of the clock stays remembered until it is too old.
func TestFutureDeliveryIsRememberedUntilTooOld(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(bob)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	a := approveBy("PUB")
	a.OccurredAt = now.Add(10 * time.Hour)
	if _, err := h.p.HandleAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, want := h.rec.ttls["delivery/event:d1"], 82*time.Hour; got != want {
		t.Errorf("replay key kept %v, want %v", got, want)
	}
}

// A delivery dated further ahead than a duration reaches keeps its replay
// key with a positive TTL (window plus the time ahead, saturated): the
// store refuses a TTL that is not positive.
func TestFarFutureDeliveryKeepsAPositiveTTL(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(bob)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	a := approveBy("PUB")
	a.OccurredAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := h.p.HandleAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := h.rec.ttls["delivery/event:d1"]; got < 100*365*24*time.Hour {
		t.Errorf("replay key kept %v, want the longest TTL", got)
	}
}

func TestActionByTheRequesterIsRefusedWithANote(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(alice)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "cannot approve their own")

	_, err := h.p.HandleAction(ctx, approveBy("PUA"))
	if !errors.Is(err, domain.ErrSelfApproval) {
		t.Fatalf("HandleAction() = %v, want self-approval refusal", err)
	}
	// A refusal is final: the same delivery again is a replay.
	if out, _ := h.p.HandleAction(ctx, approveBy("PUA")); out != domain.OutcomeReplayed {
		t.Errorf("refused delivery not remembered: %v", out)
	}
	if n := h.metrics.Count("actions", "approve", "refused"); n != 1 {
		t.Errorf("actions{approve,refused} = %d, want 1", n)
	}
}

// Identity is the pager user ID: the requester's mapped pager user is the
// actor even though the emails read differently.
func TestSelfApprovalComparesPagerUserIDs(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Policy.Approvers = domain.ApproversAny
		c.Policy.UserMap = map[string]string{"gh-alice": "alice@corp.example.com"}
	})
	req := notifyOnly("r1")
	req.User = "gh-alice"
	h.expectTarget(req)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUA").Return(alice, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@corp.example.com").Return(domain.PagerUser{ID: "PUA", Email: "alice@corp.example.com"}, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "cannot approve their own")
	if _, err := h.p.HandleAction(ctx, approveBy("PUA")); !errors.Is(err, domain.ErrSelfApproval) {
		t.Fatalf("HandleAction() = %v, want self-approval refusal", err)
	}
}

// A Teleport user with a non-email name and no user_map entry resolves to no
// pager user: nobody can tell them from a responder, so approvals from the
// pager are refused; a denial still goes through.
func TestRequesterWithoutPagerUserCannotBeApprovedFromThePager(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	req := notifyOnly("r1")
	req.User = "alice" // GitHub SSO name; her PagerDuty user is alice@example.com
	h.expectTarget(req)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUA").Return(alice, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "has no PagerDuty user")
	if _, err := h.p.HandleAction(ctx, approveBy("PUA")); !errors.Is(err, domain.ErrRequesterUnmapped) {
		t.Fatalf("approve: %v, want ErrRequesterUnmapped", err)
	}

	// Same for a requester whose email the pager does not know.
	h = newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectTarget(notifyOnly("r1"))
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(domain.PagerUser{}, ports.ErrNotFound)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "has no PagerDuty user")
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrRequesterUnmapped) {
		t.Fatalf("approve of an unknown email: %v, want ErrRequesterUnmapped", err)
	}

	h = newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectTarget(req)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	if out, err := h.p.HandleAction(ctx, actionBy(domain.VerbDeny, "PUB", "d2")); err != nil || out != domain.OutcomeDone {
		t.Fatalf("deny: %v, %v", out, err)
	}
}

// user_map keys are exact Teleport names: "Gh-Alice" is another user than
// "gh-alice" and must not borrow her pager identity, or she could approve
// her own request as a responder of another name.
func TestUserMapKeysAreExactNames(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Policy.Approvers = domain.ApproversAny
		c.Policy.UserMap = map[string]string{"gh-alice": "alice@example.com"}
	})
	req := notifyOnly("r1")
	req.User = "Gh-Alice"
	h.expectTarget(req)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "has no PagerDuty user")
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrRequesterUnmapped) {
		t.Fatalf("HandleAction() = %v, want ErrRequesterUnmapped", err)
	}
}

// The same refusal again (another delivery of the same click) is not
// noted again for a while: notes are for people.
func TestSameRefusalIsNotedOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	done := notifyOnly("r1")
	done.State = domain.StateApproved
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil).AnyTimes()
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(done, nil).AnyTimes()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil).AnyTimes()
	h.expectNote("PI1", "not pending")
	for i := range 3 {
		if _, err := h.p.HandleAction(ctx, actionBy(domain.VerbApprove, "PUB", fmt.Sprint("d", i))); !errors.Is(err, domain.ErrNotPending) {
			t.Fatalf("click %d: %v", i, err)
		}
	}
	h.expectNote("PI1", "not pending") // another actor is told too
	h.oc.EXPECT().GetUser(gomock.Any(), "PUC").Return(domain.PagerUser{ID: "PUC", Email: "carol@example.com"}, nil)
	if _, err := h.p.HandleAction(ctx, actionBy(domain.VerbApprove, "PUC", "d9")); !errors.Is(err, domain.ErrNotPending) {
		t.Fatal(err)
	}
}

// A refusal note the pager refuses for good (the incident is full) is not
// sent again for the same click: each delivery would cost a call for
// nothing.
func TestRefusalNoteRefusedForGoodIsNotResent(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	done := notifyOnly("r1")
	done.State = domain.StateApproved
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil).AnyTimes()
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(done, nil).AnyTimes()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil).AnyTimes()
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil).AnyTimes()
	h.pg.EXPECT().AddNote(gomock.Any(), "PI1", gomock.Any()).Return(fmt.Errorf("add note: %w", ports.ErrRefused)).Times(1)
	for i := range 3 {
		if _, err := h.p.HandleAction(ctx, actionBy(domain.VerbApprove, "PUB", fmt.Sprint("d", i))); !errors.Is(err, domain.ErrNotPending) {
			t.Fatalf("click %d: %v", i, err)
		}
	}
}

func TestActionByRespondersNotOnCallIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.expectActor(bob)
	h.expectOnCall("PUB", false)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "not on call")

	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrActorNotOnCall) {
		t.Fatalf("HandleAction() = %v, want not-on-call refusal", err)
	}
}

// A responder the pager does not know is refused under either approvers
// setting; under on_call, who is on call is not even asked for them.
func TestActorThePagerDoesNotKnowIsRefused(t *testing.T) {
	for _, approvers := range []string{domain.ApproversAny, domain.ApproversOnCall} {
		t.Run(approvers, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Policy.Approvers = approvers })
			h.expectTarget(notifyOnly("r1"))
			h.oc.EXPECT().GetUser(gomock.Any(), "PGHOST").Return(domain.PagerUser{}, ports.ErrNotFound)
			h.oc.EXPECT().FindService(gomock.Any(), "PSN").Times(0)
			h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
			h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
			h.expectNote("PI1", "not a PagerDuty user")
			if _, err := h.p.HandleAction(ctx, approveBy("PGHOST")); !errors.Is(err, domain.ErrActorUnknown) {
				t.Fatalf("HandleAction() = %v, want ErrActorUnknown", err)
			}
		})
	}
}

func TestTransientFailureLetsThePagerRetry(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil).Times(2)
	gomock.InOrder(
		h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(domain.Request{}, ports.ErrUnavailable),
		h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil),
	)
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	a := approveBy("PUB")
	a.ReplayKeys = []string{"message:m1", "webhook:w1"}
	if _, err := h.p.HandleAction(ctx, a); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("first HandleAction() = %v, want unavailable", err)
	}
	if out, err := h.p.HandleAction(ctx, a); err != nil || out != domain.OutcomeDone {
		t.Fatalf("retried HandleAction() = %v, %v", out, err)
	}
}

func TestActionOnResolvedRequestChangesNothingWithANote(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	done := notifyOnly("r1")
	done.State = domain.StateApproved
	h.expectTarget(done)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.expectNote("PI1", "not pending")
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrNotPending) {
		t.Fatalf("HandleAction() = %v, want not pending", err)
	}
}

func TestUnknownIncidentAndOldDeliveryChangeNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(domain.Incident{ID: "PI1", Key: "db-down"}, nil)
	h.expectNote("PI1", "not an access request incident")
	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrUnknownIncident) {
		t.Fatalf("HandleAction(unrelated incident) = %v", err)
	}
	gone := actionBy(domain.VerbApprove, "PUB", "d3")
	gone.IncidentID = "PGONE"
	h.pg.EXPECT().GetIncident(gomock.Any(), "PGONE").Return(domain.Incident{}, ports.ErrNotFound)
	if _, err := h.p.HandleAction(ctx, gone); !errors.Is(err, domain.ErrUnknownIncident) {
		t.Fatalf("HandleAction(missing incident) = %v", err) // and no note: there is nothing to note on
	}
	old := actionBy(domain.VerbApprove, "PUB", "d2")
	old.OccurredAt = now.Add(-73 * time.Hour)
	if _, err := h.p.HandleAction(ctx, old); !errors.Is(err, domain.ErrDeliveryTooOld) {
		t.Fatalf("HandleAction(old) = %v", err)
	}
}

// An incident in another service carrying r1's incident_key is not
// pagergate's: PagerDuty dedups the key per service only, so anyone who can
// open incidents anywhere could otherwise approve r1. Every verb and
// approvers setting must change nothing.
func TestForeignIncidentWithTheRequestKeyChangesNothing(t *testing.T) {
	foreign := domain.Incident{ID: "PIX", Key: "teleport-access-request/r1", ServiceID: "PSX", Status: domain.IncidentTriggered}
	foreignSvc := domain.Service{ID: "PSX", Name: "Sandbox", EscalationPolicyID: "EPX"}
	for _, tc := range []struct {
		name   string
		verb   domain.Verb
		mutate func(*Config)
	}{
		{"approve, on_call", domain.VerbApprove, nil},
		{"approve, any", domain.VerbApprove, func(c *Config) { c.Policy.Approvers = domain.ApproversAny }},
		{"deny, any", domain.VerbDeny, func(c *Config) { c.Policy.Approvers = domain.ApproversAny }},
		{"manual resolve, deny", domain.VerbManualResolve, func(c *Config) { c.Policy.OnManualResolve = domain.ManualResolveDeny }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mutate)
			h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", ServiceID: "PSN", IncidentID: "PI1"}}})
			h.pg.EXPECT().GetIncident(gomock.Any(), "PIX").Return(foreign, nil)
			h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil)
			h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
			// The foreign service's own on-call responder is the actor.
			h.oc.EXPECT().FindService(gomock.Any(), "PSX").Return(foreignSvc, nil).AnyTimes()
			h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Return([]domain.OnCall{{UserID: "PUB", EscalationPolicyID: "EPX"}}, nil).AnyTimes()
			h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil).AnyTimes()
			h.oc.EXPECT().FindUserByEmail(gomock.Any(), gomock.Any()).Return(alice, nil).AnyTimes()
			h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
			h.expectNote("PIX", "not opened by pagergate")
			a := actionBy(tc.verb, "PUB", "d1")
			a.IncidentID = "PIX"
			if _, err := h.p.HandleAction(ctx, a); !errors.Is(err, domain.ErrForeignIncident) {
				t.Fatalf("HandleAction() = %v, want ErrForeignIncident", err)
			}
		})
	}
}

// The record proves an incident is pagergate's even when the request's
// notify services no longer name its service.
func TestRecordedIncidentIsTheRequests(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Old name", ServiceID: "PSN", IncidentID: "PI1"}}})
	req := request("r1", nil) // no notify annotation any more
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(incident, nil)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(req, nil)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any())
	if out, err := h.p.HandleAction(ctx, approveBy("PUB")); err != nil || out != domain.OutcomeDone {
		t.Fatalf("HandleAction() = %v, %v", out, err)
	}
}

func TestDeliveryWithoutActorChangesNothing(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectTarget(notifyOnly("r1"))
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "names no responder")
	if _, err := h.p.HandleAction(ctx, approveBy("")); !errors.Is(err, domain.ErrNoActor) {
		t.Fatalf("HandleAction() = %v, want ErrNoActor", err)
	}
}

func TestManualResolve(t *testing.T) {
	resolve := actionBy(domain.VerbManualResolve, "PUB", "d9")
	resolve.Note = ""

	ignore := newHarness(t, nil) // no lookups at all
	ignore.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	if out, err := ignore.p.HandleAction(ctx, resolve); err != nil || out != domain.OutcomeIgnored {
		t.Fatalf("on_manual_resolve=ignore: %v, %v", out, err)
	}

	deny := newHarness(t, func(c *Config) {
		c.Policy.OnManualResolve = domain.ManualResolveDeny
		c.Policy.Approvers = domain.ApproversAny
	})
	deny.expectTarget(notifyOnly("r1"))
	deny.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	deny.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v domain.Verdict) error {
		if v.State != domain.StateDenied || !strings.Contains(v.Reason, "incident resolved in PagerDuty") {
			t.Errorf("verdict = %+v", v)
		}
		return nil
	})
	if out, err := deny.p.HandleAction(ctx, resolve); err != nil || out != domain.OutcomeDone {
		t.Fatalf("on_manual_resolve=deny: %v, %v", out, err)
	}

	// Any other incident resolving is none of pagergate's business: no note.
	other := actionBy(domain.VerbManualResolve, "PUB", "d10")
	other.IncidentID = "PDB"
	deny.pg.EXPECT().GetIncident(gomock.Any(), "PDB").Return(domain.Incident{ID: "PDB", Key: "db-down"}, nil)
	if out, err := deny.p.HandleAction(ctx, other); err != nil || out != domain.OutcomeIgnored {
		t.Fatalf("unrelated incident resolved: %v, %v", out, err)
	}
}

func TestActionOnAnIncidentWeOpenedNeedsNoIncidentLookup(t *testing.T) {
	h := newHarness(t, nil)
	h.allowCAS()
	h.oc.EXPECT().FindService(gomock.Any(), "Access Requests").Return(notifySvc, nil)
	h.pg.EXPECT().EnsureIncident(gomock.Any(), gomock.Any()).Return(domain.Incident{ID: "PI1"}, nil)
	if err := h.p.requests.handle(ctx, notifyOnly("r1")); err != nil {
		t.Fatal(err)
	}
	h.pg.EXPECT().GetIncident(gomock.Any(), gomock.Any()).Times(0)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil)
	h.expectOnCall("PUB", true)
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

// Whether the responder is on call is the pager's answer for the
// incident's service, and nothing else. A lookup that fails is a transient
// error (fail closed: nothing applied, the delivery forgotten so the
// pager's retry is taken); a service gone or without an escalation policy,
// or on-call entries of another user, another policy or another time, mean
// not on call (refused).
func TestResponderOnCallFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		svc    domain.Service
		svcErr error
		ask    bool // OnCallsNow is asked
		ocs    []domain.OnCall
		ocsErr error
		want   error
	}{
		{name: "on-call lookup fails", svc: notifySvc, ask: true, ocsErr: ports.ErrUnavailable, want: ports.ErrUnavailable},
		{name: "service lookup fails", svcErr: ports.ErrUnavailable, want: ports.ErrUnavailable},
		{name: "service gone", svcErr: ports.ErrNotFound, want: domain.ErrActorNotOnCall},
		{name: "service without escalation policy", svc: domain.Service{ID: "PSN", Name: "Access Requests"}, want: domain.ErrActorNotOnCall},
		{name: "another user on call", svc: notifySvc, ask: true, want: domain.ErrActorNotOnCall,
			ocs: []domain.OnCall{{UserID: "PUC", EscalationPolicyID: "EPN", Level: 1}}},
		{name: "on call for another policy", svc: notifySvc, ask: true, want: domain.ErrActorNotOnCall,
			ocs: []domain.OnCall{{UserID: "PUB", EscalationPolicyID: "EPX", Level: 1}}},
		{name: "shift over", svc: notifySvc, ask: true, want: domain.ErrActorNotOnCall,
			ocs: []domain.OnCall{{UserID: "PUB", EscalationPolicyID: "EPN", Level: 1, Start: now.Add(-time.Hour), End: now}}},
		{name: "shift not begun", svc: notifySvc, ask: true, want: domain.ErrActorNotOnCall,
			ocs: []domain.OnCall{{UserID: "PUB", EscalationPolicyID: "EPN", Level: 1, Start: now.Add(time.Second)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.expectActor(bob)
			h.oc.EXPECT().FindService(gomock.Any(), "PSN").Return(tt.svc, tt.svcErr)
			if tt.ask {
				h.oc.EXPECT().OnCallsNow(gomock.Any(), "PUB", []string{"EPN"}).Return(tt.ocs, tt.ocsErr)
			}
			h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
			_, final := domain.ActionStatus(0, tt.want)
			if final {
				h.expectNote("PI1", "not on call")
			}

			out, err := h.p.HandleAction(ctx, approveBy("PUB"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("HandleAction() = %v, %v; want %v", out, err, tt.want)
			}
			if _, gotFinal := domain.ActionStatus(out, err); gotFinal != final {
				t.Errorf("final = %v, want %v", gotFinal, final)
			}
			if remembered := h.rec.has("delivery/event:d1"); remembered != final {
				t.Errorf("delivery remembered = %v, want %v (a failed lookup lets the pager retry)", remembered, final)
			}
		})
	}
}

// An incident whose service is unknown (a record from before services
// were recorded, and a pager that names none) has nobody on call: the
// on-call lookup is not even asked for an empty service.
func TestIncidentWithoutServiceHasNobodyOnCall(t *testing.T) {
	h := newHarness(t, nil)
	h.setRecord(domain.Record{RequestID: "r1", Incidents: []domain.IncidentRef{{Service: "Access Requests", IncidentID: "PI1"}}})
	noService := incident
	noService.ServiceID = ""
	h.pg.EXPECT().GetIncident(gomock.Any(), "PI1").Return(noService, nil)
	h.tp.EXPECT().GetRequest(gomock.Any(), "r1").Return(notifyOnly("r1"), nil)
	h.oc.EXPECT().GetUser(gomock.Any(), "PUB").Return(bob, nil)
	h.oc.EXPECT().FindUserByEmail(gomock.Any(), "alice@example.com").Return(alice, nil)
	h.oc.EXPECT().FindService(gomock.Any(), gomock.Any()).Times(0)
	h.oc.EXPECT().OnCallsNow(gomock.Any(), gomock.Any(), gomock.Any()).Times(0)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(0)
	h.expectNote("PI1", "not on call")

	if _, err := h.p.HandleAction(ctx, approveBy("PUB")); !errors.Is(err, domain.ErrActorNotOnCall) {
		t.Fatalf("HandleAction() = %v, want not-on-call refusal", err)
	}
}

// The replay window is inclusive: a delivery exactly ReplayWindow old is
// still taken, one a nanosecond older is too old and changes nothing.
func TestReplayWindowEdge(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Policy.Approvers = domain.ApproversAny
		c.ReplayWindow = time.Hour
	})
	tooOld := approveBy("PUB")
	tooOld.OccurredAt = now.Add(-time.Hour - time.Nanosecond)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(1)
	if _, err := h.p.HandleAction(ctx, tooOld); !errors.Is(err, domain.ErrDeliveryTooOld) {
		t.Fatalf("HandleAction(window + 1ns) = %v, want too old", err)
	}
	h.expectActor(bob)
	edge := actionBy(domain.VerbApprove, "PUB", "d2")
	edge.OccurredAt = now.Add(-time.Hour)
	if out, err := h.p.HandleAction(ctx, edge); err != nil || out != domain.OutcomeDone {
		t.Fatalf("HandleAction(window) = %v, %v; want done", out, err)
	}
}

// Each applied or ignored action is counted once, under its own outcome.
func TestActionsAreCountedOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Policy.Approvers = domain.ApproversAny })
	h.expectActor(bob)
	h.tp.EXPECT().Resolve(gomock.Any(), gomock.Any()).Times(1)
	if out, err := h.p.HandleAction(ctx, approveBy("PUB")); err != nil || out != domain.OutcomeDone {
		t.Fatalf("HandleAction(approve) = %v, %v", out, err)
	}
	resolve := actionBy(domain.VerbManualResolve, "PUB", "d2")
	if out, err := h.p.HandleAction(ctx, resolve); err != nil || out != domain.OutcomeIgnored {
		t.Fatalf("HandleAction(manual resolve) = %v, %v; want ignored", out, err)
	}
	ignored, _ := domain.ActionStatus(domain.OutcomeIgnored, nil)
	for _, c := range []struct {
		labels []string
		want   int
	}{
		{[]string{domain.VerbApprove.String(), string(ports.ActionDone)}, 1},
		{[]string{domain.VerbManualResolve.String(), ignored}, 1},
		{[]string{domain.VerbManualResolve.String(), string(ports.ActionDone)}, 0},
	} {
		if got := h.metrics.Count("actions", c.labels...); got != c.want {
			t.Errorf("actions%v = %d, want %d", c.labels, got, c.want)
		}
	}
}

// The notify services remembered for the orphan scan stop at
// maxKnownServices; services without an ID are not remembered.
func TestKnownServicesAreBounded(t *testing.T) {
	var s serviceSet
	s.learn(domain.Record{RequestID: "r0", Incidents: []domain.IncidentRef{{Service: "Access Requests", IncidentID: "PI0"}}})
	if n := len(s.list()); n != 0 {
		t.Fatalf("%d services remembered from an incident without service ID, want 0", n)
	}
	for i := range maxKnownServices + 5 {
		s.learn(domain.Record{RequestID: fmt.Sprint("r", i), Incidents: []domain.IncidentRef{{ServiceID: fmt.Sprint("PS", i), IncidentID: fmt.Sprint("PI", i)}}})
	}
	if n := len(s.list()); n != maxKnownServices {
		t.Errorf("%d services remembered, want %d", n, maxKnownServices)
	}
}
