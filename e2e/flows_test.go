//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// Scenario 1: a pending request with a notify annotation opens exactly one
// incident in that service, with the request's facts and link.
func TestPendingRequestOpensIncident(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())

	id := e.createRequest(alice, []string{"editor", "auditor"}, notify(svcCritical), "deploy hotfix 42")
	inc := e.waitIncident(id)

	if inc.ServiceID != e.serviceID(svcCritical) {
		t.Errorf("incident in service %s, want %s (%s)", inc.ServiceID, e.serviceID(svcCritical), svcCritical)
	}
	if inc.Key != "teleport-access-request/"+id {
		t.Errorf("incident_key = %q, want teleport-access-request/%s", inc.Key, id)
	}
	text := inc.Title + "\n" + inc.Details
	for _, want := range []string{alice, "editor", "auditor", "deploy hotfix 42", "https://" + proxyAddr + "/web/requests/" + id} {
		if !strings.Contains(text, want) {
			t.Errorf("incident title/body lacks %q:\n%s", want, text)
		}
	}
	e.waitFor("incident_id in plugin data", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	d.waitLogEntry("with decision notify", func(l logEntry) bool {
		return l.str("decision") == "notify" && l.str("request_id") == id
	})
	if n := len(e.incidentsFor(id)); n != 1 {
		t.Errorf("%d incidents for the request, want 1", n)
	}
	if got := e.requestState(id); got != types.RequestState_PENDING {
		t.Errorf("request state %s, want PENDING", got)
	}

	// Several notify values, one repeated: one incident per service.
	multi := e.createRequest(alice, []string{"editor"}, notify(svcCritical, svcTeleport, svcCritical), "two services")
	e.waitIncidentIn(multi, svcCritical)
	e.waitIncidentIn(multi, svcTeleport)
	d.waitLogEntry("with decision notify for the second service", func(l logEntry) bool {
		return l.str("decision") == "notify" && l.str("request_id") == multi && l.str("pd_service") == svcTeleport
	})
	if n := len(e.incidentsFor(multi)); n != 2 {
		t.Errorf("%d incidents for a request naming two services, want 2", n)
	}
	if v, ok := metricValue(d.metrics(), `pagergate_incidents_total{outcome="opened"}`); !ok || v != 3 {
		t.Errorf("pagergate_incidents_total{outcome=\"opened\"} = %v (found %v), want 3", v, ok)
	}

	d.stop()
	if n := len(e.incidentsFor(id)); n != 1 {
		t.Errorf("after stop: %d incidents for the request, want 1", n)
	}
}

// Scenarios 2, 3, 4: a request resolved in Teleport (approved or denied by
// a reviewer, or deleted) gets its notes and its incident resolved.
func TestResolvedInTeleportResolvesIncident(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())

	cases := []struct {
		name    string
		resolve func(id string) error
		want    []string // note prefixes, in order
		wantIn  []string // texts the notes must hold
	}{
		{
			name:    "approved",
			resolve: func(id string) error { return e.tp.Approve(id, "reviewer@example.com", "ticket OPS-1 checked") },
			want:    []string{"[review #1]", "Access request has been approved"},
			wantIn:  []string{"reviewer@example.com", "APPROVED", "ticket OPS-1 checked"},
		},
		{
			name:    "denied",
			resolve: func(id string) error { return e.tp.Deny(id, "reviewer@example.com", "not during the freeze") },
			want:    []string{"[review #1]", "Access request has been denied"},
			wantIn:  []string{"reviewer@example.com", "DENIED", "not during the freeze"},
		},
		{
			name:    "deleted",
			resolve: e.tp.Delete,
			want:    []string{"Access request has been expired"},
		},
	}
	for _, c := range cases {
		id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "case "+c.name)
		inc := e.waitIncident(id)
		// Resolve only once pagergate recorded the incident, so the flow is
		// "pending, then resolved" and not a backlog case.
		e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
		if err := c.resolve(id); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		res := e.waitResolved(id)
		notes := e.pd.Notes(res.ID)
		if len(notes) != len(c.want) {
			t.Errorf("%s: notes = %q, want %d notes starting with %q", c.name, notes, len(c.want), c.want)
			continue
		}
		for i, p := range c.want {
			if !strings.HasPrefix(notes[i], p) {
				t.Errorf("%s: note %d = %q, want prefix %q", c.name, i, notes[i], p)
			}
		}
		all := strings.Join(notes, "\n")
		for _, s := range c.wantIn {
			if !strings.Contains(all, s) {
				t.Errorf("%s: notes lack %q:\n%s", c.name, s, all)
			}
		}
		if n := len(e.incidentsFor(id)); n != 1 {
			t.Errorf("%s: %d incidents, want 1", c.name, n)
		}
	}
	d.stop()
}

// An incident that already holds the 2000 notes PagerDuty allows refuses
// the review and resolution notes for good: they are skipped, logged and
// counted, and the approved request still gets its incident resolved.
func TestIncidentFullOfNotesIsStillResolved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig())

	id := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "incident full of notes")
	inc := e.waitIncident(id)
	e.waitFor("incident recorded", func() bool { return e.pluginData(id)["incident_id"] == inc.ID })
	if _, err := e.pd.FillNotes(inc.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.tp.Approve(id, "reviewer@example.com", "ticket OPS-2 checked"); err != nil {
		t.Fatal(err)
	}
	res := e.waitResolved(id)
	if res.ID != inc.ID {
		t.Errorf("resolved incident %s, want %s", res.ID, inc.ID)
	}
	notes := e.pd.Notes(inc.ID)
	if len(notes) != 2000 {
		t.Errorf("incident holds %d notes, want PagerDuty's maximum of 2000", len(notes))
	}
	for _, n := range notes {
		if strings.HasPrefix(n, "[review #1]") || strings.HasPrefix(n, "Access request has been") {
			t.Errorf("note %q was posted past the maximum", n)
		}
	}
	for _, note := range []string{"[review #1]", "Access request has been"} {
		d.waitLogEntry("refusal of "+note, func(l logEntry) bool {
			return l.str("msg") == "note refused by the pager, skipped" && l.str("level") == "warn" &&
				l.str("request_id") == id && l.str("pd_incident_id") == inc.ID && l.str("note") == note
		})
	}
	if v, ok := metricValue(d.metrics(), "pagergate_notes_refused_total"); !ok || v != 2 {
		t.Errorf("pagergate_notes_refused_total = %v (found %v), want 2", v, ok)
	}
	e.waitFor("resolution recorded", func() bool { return e.pluginData(id)["resolution"] != "" })
	d.stop()
}

// Scenario 5: several reviews become notes once each, in order, also across
// a restart. teleporttest resolves a request on every review (its
// thresholds are 1), so the request starts with two approving reviews of a
// three-approval policy and the third review approves it.
func TestReviewsNotedOnceInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{Enterprise: true})
	cfg := e.writeConfig(withApprovalMode("review"))
	d := e.start(cfg)

	now := time.Now().UTC().Truncate(time.Second)
	id, err := e.tp.CreateRequest(alice, []string{"editor"},
		teleporttest.WithAnnotations(notify(svcTeleport)), teleporttest.WithReason("needs three approvals"),
		withReviews(
			types.AccessReview{Author: "first@example.com", ProposedState: types.RequestState_APPROVED, Reason: "first ok", Created: now},
			types.AccessReview{Author: "second@example.com", ProposedState: types.RequestState_APPROVED, Reason: "second ok", Created: now.Add(time.Second)},
		))
	if err != nil {
		t.Fatal(err)
	}
	inc := e.waitIncident(id)
	notes := e.waitNotes(inc.ID, 2)
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "[review #1]") || !strings.Contains(notes[0], "first@example.com") ||
		!strings.HasPrefix(notes[1], "[review #2]") || !strings.Contains(notes[1], "second@example.com") {
		t.Fatalf("notes = %q, want review #1 by first, review #2 by second", notes)
	}
	e.waitFor("reviews_count 2 in plugin data", func() bool { return e.pluginData(id)["reviews_count"] == "2" })

	// A restart sees the same two reviews and notes nothing again.
	d.stop()
	d = e.start(cfg)
	if got := e.pd.Notes(inc.ID); len(got) != 2 {
		t.Fatalf("after restart: notes = %q, want the same 2", got)
	}

	if err := e.tp.Approve(id, "third@example.com", "third ok"); err != nil {
		t.Fatal(err)
	}
	e.waitResolved(id)
	notes = e.pd.Notes(inc.ID)
	want := []string{"[review #1]", "[review #2]", "[review #3]", "Access request has been approved"}
	if len(notes) != len(want) {
		t.Fatalf("notes = %q, want %d", notes, len(want))
	}
	for i, p := range want {
		if !strings.HasPrefix(notes[i], p) {
			t.Errorf("note %d = %q, want prefix %q", i, notes[i], p)
		}
	}

	d.stop()
	d = e.start(cfg)
	d.waitLogEntry("ready", func(l logEntry) bool { return l.str("msg") == "ready" })
	if got := e.pd.Notes(inc.ID); len(got) != len(want) {
		t.Errorf("after second restart: %d notes, want %d: %q", len(got), len(want), got)
	}
	d.stop()
}

// Scenario 6: a requester on call for an approval service is approved, in
// both approval modes.
func TestOnCallRequesterAutoApproved(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		enterprise bool
		mode       string
	}{
		{"enterprise review", true, "review"},
		{"community set_state", false, "set_state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{Enterprise: c.enterprise})
			d := e.start(e.writeConfig(withApprovalMode(c.mode)))

			id := e.createRequest(bob, []string{"editor"},
				annotations(notify(svcTeleport), approvalServices(svcCritical)), "fix the outage")
			r := e.waitState(id, types.RequestState_APPROVED)

			reason := r.GetResolveReason()
			if c.mode == "review" {
				revs := r.GetReviews()
				if len(revs) != 1 || revs[0].Author != "pagergate" {
					t.Fatalf("reviews = %+v, want one by pagergate", revs)
				}
				reason = revs[0].Reason
			} else if got := e.tp.Delegator(id); got != "pagerduty:"+bob {
				t.Errorf("delegator = %q, want pagerduty:%s", got, bob)
			}
			for _, want := range []string{bob, svcCritical, "level 1"} {
				if !strings.Contains(reason, want) {
					t.Errorf("approval reason %q lacks %q", reason, want)
				}
			}
			inc := e.waitResolved(id)
			notes := strings.Join(e.pd.Notes(inc.ID), "\n")
			if !strings.Contains(notes, "Auto-approved: "+bob+" is on call for "+svcCritical+" at escalation level 1") {
				t.Errorf("no auto-approval note on the incident:\n%s", notes)
			}
			if !strings.Contains(notes, "Access request has been approved") {
				t.Errorf("no resolution note:\n%s", notes)
			}
			d.stop()
		})
	}
}

// Scenario 7: requests that do not qualify stay pending and the log says
// why.
func TestNotQualifyingRequestsLeftForHumans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	if err := e.pd.AddOnCall(carol, svcTeleport, 1); err != nil {
		t.Fatal(err)
	}
	d := e.start(e.writeConfig(withApprovalMode("set_state"),
		withAutoApprove(`max_escalation_level = 1`, `allowed_roles = ["editor"]`)))

	ann := annotations(notify(svcTeleport), approvalServices(svcCritical))
	cases := []struct {
		name   string
		user   string
		roles  []string
		reason string // in the log line's reason
	}{
		{"not on call", alice, []string{"editor"}, "not on call"},
		{"on call only in another service", carol, []string{"editor"}, "not on call"},
		{"above max level", dave, []string{"editor"}, "max_escalation_level"},
		{"role not allowed", bob, []string{"admin"}, `role "admin" is not in allowed_roles`},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		ids[i] = e.createRequest(c.user, c.roles, ann, c.name)
	}
	// A qualifying request in the same run proves the setup can approve.
	okID := e.createRequest(bob, []string{"editor"}, ann, "control")
	e.waitState(okID, types.RequestState_APPROVED)

	for i, c := range cases {
		l := d.waitLogEntry(fmt.Sprintf("with decision skip for %s", c.name), func(l logEntry) bool {
			return l.str("request_id") == ids[i] && l.str("decision") == "skip"
		})
		if !strings.Contains(l.str("reason"), c.reason) {
			t.Errorf("%s: skip reason %q, want it to contain %q", c.name, l.str("reason"), c.reason)
		}
		e.waitIncident(ids[i])
		if got := e.requestState(ids[i]); got != types.RequestState_PENDING {
			t.Errorf("%s: state %s, want PENDING", c.name, got)
		}
	}
	d.stop()
	for i, c := range cases {
		if got := e.requestState(ids[i]); got != types.RequestState_PENDING {
			t.Errorf("%s: state after stop %s, want PENDING", c.name, got)
		}
	}
}

// Scenario 8: require_active_incident counts only incidents pagergate did
// not open itself.
func TestRequireActiveIncident(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.start(e.writeConfig(withApprovalMode("set_state"), withAutoApprove(`require_active_incident = true`)))

	ann := annotations(notify(svcCritical), approvalServices(svcCritical))
	first := e.createRequest(bob, []string{"editor"}, ann, "only my own page")
	own := e.waitIncident(first)
	if len(own.Assignees) != 1 || own.Assignees[0] != bob {
		t.Fatalf("pagergate's incident assigned to %v, want bob (the test relies on it)", own.Assignees)
	}
	l := d.waitLogEntry("with decision skip", func(l logEntry) bool {
		return l.str("request_id") == first && l.str("decision") == "skip"
	})
	if !strings.Contains(l.str("reason"), "no active incident") {
		t.Errorf("skip reason %q, want no active incident", l.str("reason"))
	}
	if got := e.requestState(first); got != types.RequestState_PENDING {
		t.Fatalf("state %s, want PENDING with only pagergate's own incident", got)
	}

	if _, err := e.pd.AddIncident(fakepd.IncidentSeed{Service: svcCritical, Title: "Database on fire", Assignees: []string{bob}}); err != nil {
		t.Fatal(err)
	}
	second := e.createRequest(bob, []string{"editor"}, ann, "working the database incident")
	r := e.waitState(second, types.RequestState_APPROVED)
	if !strings.Contains(r.GetResolveReason(), bob) {
		t.Errorf("reason %q lacks %s", r.GetResolveReason(), bob)
	}
	d.stop()
}

// SPEC §2 and §7: a request reviewed while pagergate was down gets its
// notes and its incident resolved at the next start, exactly once, with
// the same state file and with a fresh one ("losing the file loses no
// correctness"). With a fresh file it is the one-time scan of resolved
// requests after start (app reconciler.scanResolved) that finds it.
func TestResolvedWhileDown(t *testing.T) {
	t.Parallel()
	for _, fresh := range []bool{false, true} {
		name := "same state file"
		if fresh {
			name = "fresh state file"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			d := e.start(e.writeConfig())

			reviewed := e.createRequest(alice, []string{"editor"}, notify(svcTeleport), "reviewed while down")
			pending := e.createRequest(alice, []string{"auditor"}, notify(svcTeleport), "still pending")
			inc := e.waitIncident(reviewed)
			e.waitIncident(pending)
			for _, id := range []string{reviewed, pending} {
				e.waitFor("incident recorded for "+id, func() bool { return e.pluginData(id)["incident_id"] != "" })
			}
			d.stop()

			if err := e.tp.Approve(reviewed, "reviewer@example.com", "while pagergate was down"); err != nil {
				t.Fatal(err)
			}
			var opts []configOpt
			if fresh {
				opts = append(opts, withStorePath(filepath.Join(e.dir, "fresh.db")))
			}
			d = e.start(e.writeConfig(opts...))
			d.waitLogEntry("backlog reconciled", func(l logEntry) bool { return l.str("msg") == "backlog reconciled" })
			wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := e.pd.WaitFor(wctx, func(pd *fakepd.Server) bool {
				i, _ := pd.Incident(inc.ID)
				return i.Status == "resolved"
			}); err != nil {
				t.Fatalf("the incident of a request approved while pagergate was down is still open after the restart (%s): %v", name, err)
			}
			notes := e.pd.Notes(inc.ID)
			if len(notes) != 2 || !strings.HasPrefix(notes[0], "[review #1]") || !strings.HasPrefix(notes[1], "Access request has been approved") {
				t.Errorf("notes = %q, want the review and the resolution once each", notes)
			}
			for _, id := range []string{reviewed, pending} {
				if n := len(e.incidentsFor(id)); n != 1 {
					t.Errorf("request %s: %d incidents, want 1", id, n)
				}
			}
			d.stop()
		})
	}
}
