//go:build e2e && realteleport

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
)

// realOpsgenieRBAC is realRBAC with Teleport's Opsgenie plugin
// annotations: editor requests notify the schedule and the team,
// demo-role requests name the schedule whose on-call responders get
// their own requests approved.
var realOpsgenieRBAC = fmt.Sprintf(`kind: role
version: v5
metadata:
  name: editor-requester
spec:
  allow:
    request:
      roles: ['editor']
      annotations:
        teleport.dev/notify-services: [%[1]q]
        teleport.dev/teams: [%[2]q]
---
kind: role
version: v5
metadata:
  name: demo-role
spec:
  allow:
    logins: ['nobody']
---
kind: role
version: v5
metadata:
  name: demo-role-requester
spec:
  allow:
    request:
      roles: ['demo-role']
      annotations:
        teleport.dev/schedules: [%[1]q]
        teleport.dev/notify-services: [%[1]q]
---
kind: role
version: v5
metadata:
  name: %[3]s
spec:
  allow:
    rules:
    - resources: ['access_request']
      verbs: ['list', 'read', 'update']
    - resources: ['access_plugin_data']
      verbs: ['update']
---
kind: user
version: v2
metadata:
  name: %[3]s
spec:
  roles: ['%[3]s']
---
kind: user
version: v2
metadata:
  name: %[4]s
spec:
  roles: ['editor-requester', 'demo-role-requester']
---
kind: user
version: v2
metadata:
  name: %[5]s
spec:
  roles: ['editor-requester', 'demo-role-requester']
`, ogSchedule, ogTeam, pluginUser, alice, carol)

// TestRealTeleportOpsgenie runs the core flows with Opsgenie as the pager
// against a real Auth Service: the annotations come from the requesters'
// roles, as Teleport's Opsgenie plugin reads them.
func TestRealTeleportOpsgenie(t *testing.T) {
	bins := teleportBinaries(t)
	e := newOGEnv(t, nil)
	tp := startRealTeleport(t, bins)
	tp.create(realOpsgenieRBAC)
	tp.signIdentity(pluginUser, e.identity)
	d := e.start(tp.config(e.env, e.withOpsgenie()))
	checkPing(t, d)

	// A pending request: one alert, the schedule and the team responding.
	pendingID := tp.createRequest(alice, "editor", "deploy hotfix 42")
	a := e.waitAlert(pendingID)
	e.waitOG("the team joining the alert", func() bool {
		e.og.ProcessPending()
		a, _ = e.og.Alert(a.ID)
		return len(a.Responders) == 2
	})
	for _, want := range []string{alice, "editor", "deploy hotfix 42", pendingID} {
		if !strings.Contains(a.Message+"\n"+a.Description, want) {
			t.Errorf("alert lacks %q:\n%s\n%s", want, a.Message, a.Description)
		}
	}

	// An admin approves: the resolution noted once, the alert closed.
	approveID := tp.createRequest(alice, "editor", "read the logs")
	a = e.waitAlert(approveID)
	tp.tctl("request", "approve", approveID, "--reason=approved by the admin")
	e.waitClosed(approveID, "approved by the admin")

	// A deleted request counts as expired.
	expireID := tp.createRequest(alice, "editor", "expires")
	e.waitAlert(expireID)
	tp.tctl("request", "rm", expireID)
	e.waitClosed(expireID, "EXPIRED")

	// On call for the approval schedule: approved at once.
	autoID := tp.createRequest(carol, "demo-role", "on call, investigating")
	tp.waitState(autoID, "APPROVED")
	tp.wantDelegator(autoID, "opsgenie:"+carol)
	e.waitClosed(autoID, carol)

	// Not on call: pending.
	notOnCallID := tp.createRequest(alice, "demo-role", "not on call")
	e.waitAlert(notOnCallID)
	d.waitLogEntry("a decision on "+notOnCallID, func(l logEntry) bool {
		return l.str("request_id") == notOnCallID && l.str("decision") == "skip"
	})
	if got := tp.state(notOnCallID); got != "PENDING" {
		t.Errorf("not on call: request state %s, want PENDING", got)
	}

	// The on-call responder approves from the alert.
	buttonID := tp.createRequest(alice, "editor", "pager button")
	a = e.waitAlert(buttonID)
	if err := e.og.ExecuteAction(a.ID, ogApprove, carol); err != nil {
		t.Fatal(err)
	}
	tp.waitState(buttonID, "APPROVED")
	if r := tp.request(buttonID); !strings.Contains(r.Spec.ResolveReason, "Approved in Opsgenie by "+carol) {
		t.Errorf("resolve reason %q", r.Spec.ResolveReason)
	}
	tp.wantDelegator(buttonID, "opsgenie:"+carol)
	e.waitClosed(buttonID, "APPROVED")

	for _, id := range []string{pendingID, approveID, expireID, autoID, notOnCallID, buttonID} {
		if n := len(e.ogAlerts(id)); n != 1 {
			t.Errorf("request %s has %d alerts, want 1", id, n)
		}
	}
	d.stop()
}

// waitClosed waits until the request's alert is closed with one
// resolution note holding want.
func (e *ogEnv) waitClosed(reqID, want string) {
	e.t.Helper()
	e.waitOG("the alert of "+reqID+" closed", func() bool {
		e.og.ProcessPending()
		list := e.ogAlerts(reqID)
		return len(list) == 1 && list[0].Status == fakeopsgenie.StatusClosed
	})
	a := e.ogAlerts(reqID)[0]
	n := 0
	for _, s := range e.og.Notes(a.ID) {
		if strings.HasPrefix(s, "Access request ") && strings.Contains(strings.ToUpper(s), strings.ToUpper(want)) {
			n++
		}
	}
	if n != 1 {
		e.t.Errorf("request %s: %d resolution notes holding %q, want 1: %q", reqID, n, want, e.og.Notes(a.ID))
	}
}
