//go:build e2e || bench

// The core flows with Opsgenie as the pager: the real binary with pager
// "opsgenie" against the fake Opsgenie on loopback, whose webhook
// integration delivers its custom actions (and closes) to the daemon's
// webhook through the front door, with basic auth as a custom header.

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// Seeded names of the fake Opsgenie.
const (
	ogSchedule = "ops_schedule"      // carol on call (level 1)
	ogCritical = "critical_schedule" // bob on call (level 1), dave at the second escalation step
	ogTeam     = "ops"               // carol and dave
	ogApprove  = "Approve access"
	ogDeny     = "Deny access"
	ogPath     = "/opsgenie/actions"
)

// ogEnv is an env whose pager is the fake Opsgenie.
type ogEnv struct {
	*env
	og *fakeopsgenie.Server
}

// newOGEnv builds the world with a fake Opsgenie; mod changes its options.
func newOGEnv(t *testing.T, mod func(*fakeopsgenie.Options)) *ogEnv {
	t.Helper()
	e := newEnv(t, envOpts{})
	opts := fakeopsgenie.Options{Webhook: fakeopsgenie.WebhookOptions{
		URL: e.webhookURL + ogPath,
		Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(basicUser+":"+basicPass)),
			"X-Pagergate-Secret": "e2e-shared"},
		Actions:      []string{ogApprove, ogDeny},
		ForwardClose: true,
		TLSConfig:    e.pdTLSConfig,
		Timeout:      5 * time.Second,
		RetryDelays:  []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond},
	}}
	if mod != nil {
		mod(&opts)
	}
	og := fakeopsgenie.New(opts)
	t.Cleanup(func() { _ = og.Close() })
	seedOG(t, og)
	if _, err := og.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("fake opsgenie: %v", err)
	}
	return &ogEnv{env: e, og: og}
}

func seedOG(t *testing.T, og *fakeopsgenie.Server) {
	t.Helper()
	for _, u := range []string{alice, bob, carol, dave} {
		og.AddUser(u, strings.TrimSuffix(u, "@example.com"))
	}
	steps := []error{}
	_, err := og.AddTeam(ogTeam, carol, dave)
	steps = append(steps, err)
	_, err = og.AddSchedule(ogSchedule, ogTeam)
	steps = append(steps, err)
	_, err = og.AddSchedule(ogCritical, "")
	steps = append(steps, err, og.AddOnCall(carol, ogSchedule), og.AddOnCall(bob, ogCritical),
		og.AddEscalationOnCall(ogCritical, "critical escalation",
			fakeopsgenie.Rule{DelayMinutes: 0, User: bob}, fakeopsgenie.Rule{DelayMinutes: 10, User: dave}))
	for _, err := range steps {
		if err != nil {
			t.Fatalf("seed fake opsgenie: %v", err)
		}
	}
}

// withOpsgenie makes the daemon use the env's fake Opsgenie, with basic
// auth and a shared-secret header on the webhook; lines go into the pager
// block.
func (e *ogEnv) withOpsgenie(lines ...string) configOpt {
	return func(c *daemonConfig) {
		c.PagerBlock = append([]string{
			`pager "opsgenie" {`,
			`  api_key         = ` + q(fakeopsgenie.DefaultAPIKey),
			`  api_url         = ` + q(e.og.URL()),
			`  request_timeout = "5s"`,
			`  rate_limit      = 6000`,
		}, lines...)
		c.PagerBlock = append(c.PagerBlock, "}")
		c.WebhookAuth = []string{
			`shared_secret_header = "X-Pagergate-Secret"`,
			`shared_secret        = "e2e-shared"`,
			`basic_auth {`, `  user     = ` + q(basicUser), `  password = ` + q(basicPass), `}`,
		}
	}
}

// ogNotify returns Teleport's Opsgenie annotations naming schedules and
// teams to notify.
func ogNotify(schedules []string, teams ...string) map[string][]string {
	m := map[string][]string{"teleport.dev/notify-services": schedules}
	if len(teams) > 0 {
		m["teleport.dev/teams"] = teams
	}
	return m
}

// ogAlerts returns the alerts (open or closed) with the request's alias.
func (e *ogEnv) ogAlerts(reqID string) []fakeopsgenie.Alert {
	var out []fakeopsgenie.Alert
	for _, a := range e.og.Alerts() {
		if a.Alias == incidentKey(reqID) {
			out = append(out, a)
		}
	}
	return out
}

// waitOG waits for a condition on the fake Opsgenie.
func (e *ogEnv) waitOG(what string, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.og.WaitFor(ctx, func(*fakeopsgenie.Server) bool { return cond() }); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitAlert waits for the request's alert and returns it.
func (e *ogEnv) waitAlert(reqID string) fakeopsgenie.Alert {
	e.t.Helper()
	var a fakeopsgenie.Alert
	e.waitOG("the alert of "+reqID, func() bool {
		e.og.ProcessPending()
		list := e.ogAlerts(reqID)
		if len(list) > 0 {
			a = list[0]
		}
		return len(list) > 0
	})
	return a
}

// notesWith counts the alert's notes containing sub.
func (e *ogEnv) notesWith(alertID, sub string) int {
	n := 0
	for _, s := range e.og.Notes(alertID) {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// An alert per request (one for a schedule and a team: Opsgenie's alias is
// per account), with Teleport's alias, the schedule and the team as
// responders; each review noted once; the resolution noted once and the
// alert closed; the check passes against the fake.
func TestOpsgenieIncidentReviewsResolution(t *testing.T) {
	t.Parallel()
	e := newOGEnv(t, nil)
	cfg := e.writeConfig(e.withOpsgenie())
	if d := e.run(cfg, []string{"check", "-c", cfg}); d.wait(30*time.Second) != 0 {
		t.Fatalf("check failed:\n%s", d.stderrText()+d.logText())
	}
	d := e.start(cfg)
	defer d.stop()

	id, err := e.tp.CreateRequest(alice, []string{"editor"}, teleporttest.WithAnnotations(ogNotify([]string{ogSchedule}, ogTeam)),
		teleporttest.WithReason("need it"), withReviews(types.AccessReview{Author: "reviewer1@example.com",
			ProposedState: types.RequestState_APPROVED, Reason: "looks fine", Created: time.Now().UTC()}))
	if err != nil {
		t.Fatal(err)
	}
	a := e.waitAlert(id)
	e.waitOG("the team joining the alert", func() bool {
		e.og.ProcessPending()
		a, _ = e.og.Alert(a.ID)
		return len(a.Responders) == 2
	})
	if !strings.Contains(a.Description, id) || a.Responders[0].Type != "schedule" || a.Responders[1].Type != "team" {
		t.Errorf("alert = %+v; want the request in the description, the schedule and the team as responders", a)
	}
	e.waitOG("the review note", func() bool { e.og.ProcessPending(); return e.notesWith(a.ID, "looks fine") > 0 })
	if err := e.tp.Deny(id, "reviewer2", "not today"); err != nil {
		t.Fatal(err)
	}
	e.waitOG("the alert closed", func() bool {
		e.og.ProcessPending()
		list := e.ogAlerts(id)
		return len(list) == 1 && list[0].Status == fakeopsgenie.StatusClosed
	})
	if n := e.notesWith(a.ID, "looks fine"); n != 1 {
		t.Errorf("review noted %d times, want once: %q", n, e.og.Notes(a.ID))
	}
	if n := e.notesWith(a.ID, "has been denied"); n != 1 {
		t.Errorf("resolution noted %d times, want once: %q", n, e.og.Notes(a.ID))
	}
	if n := len(e.ogAlerts(id)); n != 1 {
		t.Errorf("%d alerts for the request, want 1", n)
	}
}

// On call for an approval schedule (teleport.dev/schedules): approved,
// delegated as opsgenie:<email>; not on call, or only at an escalation
// step past max_escalation_level: left for humans.
func TestOpsgenieAutoApproval(t *testing.T) {
	t.Parallel()
	e := newOGEnv(t, nil)
	d := e.start(e.writeConfig(e.withOpsgenie(`default_notify_service = "`+ogSchedule+`"`), withApprovalMode("set_state"),
		withAutoApprove("max_escalation_level = 1")))
	defer d.stop()

	onCall := e.createRequest(carol, []string{"editor"}, map[string][]string{"teleport.dev/schedules": {ogSchedule}}, "")
	notOnCall := e.createRequest(alice, []string{"editor"}, map[string][]string{"teleport.dev/schedules": {ogSchedule}}, "")
	escalated := e.createRequest(dave, []string{"editor"}, map[string][]string{"teleport.dev/schedules": {ogCritical}}, "")
	e.waitState(onCall, types.RequestState_APPROVED)
	if got := e.tp.Delegator(onCall); got != "opsgenie:"+carol {
		t.Errorf("delegator = %q, want opsgenie:%s", got, carol)
	}
	a := e.waitAlert(onCall)
	e.waitOG("the approval note", func() bool { e.og.ProcessPending(); return e.notesWith(a.ID, "on call") > 0 })
	for _, id := range []string{notOnCall, escalated} {
		e.waitAlert(id)
		d.waitLogEntry("the decision on "+id, func(l logEntry) bool {
			return l.str("request_id") == id && l.str("decision") == "skip"
		})
		if s := e.requestState(id); s != types.RequestState_PENDING {
			t.Errorf("request %s is %s, want pending", id, s)
		}
	}
}

// Approve and deny from the alert's buttons, through Opsgenie's webhook
// integration: the on-call responder of the alert's schedule approves;
// anyone else, and the requester, is refused with a note on the alert;
// the same delivery again is a replay; a delivery without the credentials
// is refused; a close by hand denies under on_manual_resolve = "deny".
func TestOpsgenieActionsFromTheAlert(t *testing.T) {
	t.Parallel()
	e := newOGEnv(t, nil)
	d := e.start(e.writeConfig(e.withOpsgenie(), withApprovalMode("set_state"), withWebhook(`on_manual_resolve = "deny"`)))
	defer d.stop()

	approved := e.createRequest(alice, []string{"editor"}, ogNotify([]string{ogSchedule}), "")
	a := e.waitAlert(approved)
	if err := e.og.ExecuteAction(a.ID, ogApprove, bob); err != nil { // on call elsewhere
		t.Fatal(err)
	}
	e.waitOG("the refusal note", func() bool { e.og.ProcessPending(); return e.notesWith(a.ID, "refused to approve") > 0 })
	if err := e.og.ExecuteAction(a.ID, ogApprove, carol); err != nil {
		t.Fatal(err)
	}
	r := e.waitState(approved, types.RequestState_APPROVED)
	if !strings.Contains(r.GetResolveReason(), "Approved in Opsgenie by "+carol) || e.tp.Delegator(approved) != "opsgenie:"+carol {
		t.Errorf("resolve reason %q, delegator %q", r.GetResolveReason(), e.tp.Delegator(approved))
	}

	own := e.createRequest(carol, []string{"editor"}, ogNotify([]string{ogSchedule}), "")
	oa := e.waitAlert(own)
	if err := e.og.ExecuteAction(oa.ID, ogApprove, carol); err != nil {
		t.Fatal(err)
	}
	e.waitOG("the self-approval refusal", func() bool { e.og.ProcessPending(); return e.notesWith(oa.ID, "cannot approve their own") > 0 })

	// The click's delivery again (same body): a replay; without basic
	// auth: 401.
	var body []byte
	for _, dl := range e.og.Deliveries() {
		if dl.AlertID == a.ID && dl.Actor == carol {
			body = dl.Body
		}
	}
	status, answer, err := e.postWebhook(ogPath, body, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(basicUser+":"+basicPass)),
		"X-Pagergate-Secret": "e2e-shared"})
	if err != nil || status != http.StatusOK || !strings.Contains(answer, "replayed") {
		t.Errorf("the delivery again: %d %q %v, want 200 replayed", status, answer, err)
	}
	status, _, err = e.postWebhook(ogPath, body, map[string]string{"X-Pagergate-Secret": "e2e-shared"})
	if err != nil || status != http.StatusUnauthorized {
		t.Errorf("without basic auth: %d %v, want 401", status, err)
	}

	closed := e.createRequest(alice, []string{"editor"}, ogNotify([]string{ogSchedule}), "")
	ca := e.waitAlert(closed)
	if err := e.og.CloseByHand(ca.ID, carol); err != nil {
		t.Fatal(err)
	}
	e.waitState(closed, types.RequestState_DENIED)
	if n := e.requestState(own); n != types.RequestState_PENDING {
		t.Errorf("self-approved request is %s", n)
	}
}

// kill -9 at random moments while requests flow and half are denied once
// their alert is up: every request ends with exactly one alert, the denied
// ones closed with their resolution noted once, the others open without.
func TestOpsgenieKillNine(t *testing.T) {
	t.Parallel()
	const n = 30
	e := newOGEnv(t, nil)
	cfg := e.writeConfig(e.withOpsgenie(`default_notify_service = "`+ogSchedule+`"`), withNoWebhook(), withWorkers(8))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ids := make([]string, n)
	flow := make(chan error, 1)
	go func() { // no t.Fatal off the test goroutine: the error comes back
		for i := range n {
			id, err := e.tp.CreateRequest(alice, []string{"editor"})
			if err != nil {
				flow <- err
				return
			}
			ids[i] = id
			if i%2 == 0 {
				err = e.og.WaitFor(ctx, func(*fakeopsgenie.Server) bool { e.og.ProcessPending(); return len(e.ogAlerts(id)) > 0 })
				if err == nil {
					err = e.tp.Deny(id, "reviewer", "kill test")
				}
				if err != nil {
					flow <- fmt.Errorf("request %d: %w", i, err)
					return
				}
			}
		}
		flow <- nil
	}()
	kills := 0
	var flowErr error
	for done := false; !done; {
		d := e.run(cfg, []string{"start", "-c", cfg})
		select {
		case flowErr = <-flow:
			done = true
		case <-time.After(time.Duration(200+rand.IntN(900)) * time.Millisecond): // a moment to die at
		}
		d.kill()
		kills++
	}
	if flowErr != nil {
		t.Fatal(flowErr)
	}
	d := e.start(cfg)
	defer d.stop()
	dup := 0
	for i, id := range ids {
		e.waitOG("request "+id+" settled", func() bool {
			e.og.ProcessPending()
			list := e.ogAlerts(id)
			return len(list) >= 1 && (i%2 == 1 || list[0].Status == fakeopsgenie.StatusClosed && e.notesWith(list[0].ID, "has been denied") >= 1)
		})
		list := e.ogAlerts(id)
		want := map[bool]int{true: 1, false: 0}[i%2 == 0]
		if len(list) != 1 || e.notesWith(list[0].ID, "has been denied") != want || (list[0].Status == fakeopsgenie.StatusClosed) != (i%2 == 0) {
			dup++
			t.Errorf("request %d: %d alerts, first %+v", i, len(list), list[0])
		}
	}
	t.Logf("%d requests, %d kills, %d duplicates or misses", n, kills, dup)
}

// pager "opsgenie-fake" runs the fake in-process, seeded from the block,
// with its webhook integration pointed at the daemon's own webhook: a
// click on its page approves.
func TestOpsgenieFakeKind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	cfg := e.writeConfig(func(c *daemonConfig) {
		c.PagerBlock = []string{`pager "opsgenie-fake" {`,
			`  default_notify_service = "` + ogSchedule + `"`,
			`  user "` + alice + `" {`, `  }`,
			`  user "` + carol + `" {`, `    full_name = "Carol"`, `  }`,
			`  schedule "` + ogSchedule + `" {`, `  }`,
			`  on_call {`, `    schedule = "` + ogSchedule + `"`, `    user = "` + carol + `"`, `  }`,
			`}`}
		c.WebhookAuth = []string{`public_addr = ` + q(e.webhookURL),
			`basic_auth {`, `  user     = ` + q(basicUser), `  password = ` + q(basicPass), `}`}
	}, withApprovalMode("set_state"))
	d := e.start(cfg)
	defer d.stop()
	url := d.waitLogEntry("the fake's address", func(l logEntry) bool { return l.str("msg") == "using the fake Opsgenie: nobody is paged" }).str("url")

	id := e.createRequest(alice, []string{"editor"}, nil, "")
	var alertID string
	e.waitFor("the alert in the in-process fake", func() bool {
		var list struct {
			Data []struct{ ID, Alias string }
		}
		if err := ogGet(url+"/v2/alerts?query=status:open", &list); err != nil {
			return false
		}
		for _, a := range list.Data {
			if a.Alias == incidentKey(id) {
				alertID = a.ID
			}
		}
		return alertID != ""
	})
	form := "alert=" + alertID + "&action=" + strings.ReplaceAll(ogApprove, " ", "+") + "&user=" + carol
	resp, err := http.Post(url+"/_ui/action", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := e.waitState(id, types.RequestState_APPROVED)
	if !strings.Contains(r.GetResolveReason(), "Approved in Opsgenie by "+carol) {
		t.Errorf("resolve reason %q", r.GetResolveReason())
	}
}

// ogGet reads the fake's API with its default key into v.
func ogGet(url string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "GenieKey "+fakeopsgenie.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
