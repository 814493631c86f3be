package opsgenie

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/fakeopsgenie"
	"github.com/pagergate/pagergate/domain"
)

var testDeliveries = Deliveries{Approve: "Approve access", Deny: "Deny access"}

// receiver is a webhook endpoint that keeps the bodies the fake's webhook
// integration posts.
func receiver(t *testing.T) (string, func() [][]byte) {
	t.Helper()
	bodies := make(chan []byte, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/opsgenie/actions", func() [][]byte {
		var out [][]byte
		for {
			select {
			case b := <-bodies:
				out = append(out, b)
			default:
				return out
			}
		}
	}
}

// What the fake's webhook integration posts for a click, and for a close
// by hand, parses into the action on that alert by that user at that time;
// nothing else of the payload is read.
func TestDeliveriesOfTheFakeParse(t *testing.T) {
	url, got := receiver(t)
	fake := fakeopsgenie.New(fakeopsgenie.Options{Webhook: fakeopsgenie.WebhookOptions{URL: url, ForwardClose: true}})
	t.Cleanup(func() { _ = fake.Close() })
	bob := fake.AddUser("bob@example.com", "Bob")
	a, err := fake.AddAlert(fakeopsgenie.AlertSeed{Message: "m", Alias: "teleport-access-request/r1", Actions: []string{"Approve access", "Deny access"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"Approve access", "Deny access"} {
		if err := fake.ExecuteAction(a.ID, action, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if err := fake.CloseByHand(a.ID, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := fake.WaitDeliveries(ctx, 3); err != nil {
		t.Fatalf("deliveries: %v", err)
	}
	bodies := got()
	if len(bodies) != 3 {
		t.Fatalf("%d deliveries, want 3", len(bodies))
	}
	keys := map[string]bool{}
	verbs := map[domain.Verb]bool{}
	for i, b := range bodies { // deliveries run concurrently: any order
		acts, err := testDeliveries.Parse(nil, b)
		if err != nil || len(acts) != 1 {
			t.Fatalf("Parse(delivery %d) = %v, %v\n%s", i, acts, err, b)
		}
		act := acts[0]
		if act.IncidentID != a.ID || act.ActorID != bob.ID || act.Note != "" ||
			time.Since(act.OccurredAt) > time.Minute || len(act.ReplayKeys) != 1 {
			t.Errorf("delivery %d = %+v; want an action on %s by %s, now", i, act, a.ID, bob.ID)
		}
		verbs[act.Verb] = true
		keys[act.ReplayKeys[0]] = true
	}
	if !verbs[domain.VerbApprove] || !verbs[domain.VerbDeny] || !verbs[domain.VerbManualResolve] {
		t.Errorf("verbs %v, want approve, deny and manual resolve", verbs)
	}
	if len(keys) != 3 {
		t.Errorf("replay keys %v: want one per click", keys)
	}
}

// The replay key is what the sender cannot change after the fact: the
// same delivery again has the same key; another alert, action, time or
// user makes another.
func TestDeliveryReplayKey(t *testing.T) {
	body := func(alertID, action, user string, updatedAt int64) []byte {
		b, _ := json.Marshal(map[string]any{"action": action, "alert": map[string]any{
			"alertId": alertID, "userId": user, "updatedAt": updatedAt, "alias": "teleport-access-request/x", "username": "mallory@example.com"}})
		return b
	}
	key := func(b []byte) string {
		acts, err := testDeliveries.Parse(nil, b)
		if err != nil || len(acts) != 1 {
			t.Fatalf("Parse(%s) = %v, %v", b, acts, err)
		}
		return acts[0].ReplayKeys[0]
	}
	base := key(body("a1", "Approve access", "u1", 1700000000123456789))
	if again := key(body("a1", "Approve access", "u1", 1700000000123456789)); again != base {
		t.Errorf("the same delivery twice: keys %q, %q", base, again)
	}
	for _, other := range [][]byte{
		body("a2", "Approve access", "u1", 1700000000123456789),
		body("a1", "Deny access", "u1", 1700000000123456789),
		body("a1", "Approve access", "u1", 1700000000123456790),
		body("a1", "Approve access", "u2", 1700000000123456789),
	} {
		if key(other) == base {
			t.Errorf("%s has the key of another delivery", other)
		}
	}
	acts, _ := testDeliveries.Parse(nil, body("a1", "Approve access", "", 1700000000123456789))
	if acts[0].ActorID != "" || !acts[0].OccurredAt.Equal(time.Unix(0, 1700000000123456789)) {
		t.Errorf("no user: %+v, want ActorID \"\" and the update time", acts[0])
	}
}

func TestDeliveriesRefused(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":              `approve`,
		"not an object":         `["Approve access"]`,
		"no action":             `{"alert":{"alertId":"a1","updatedAt":1}}`,
		"no alert":              `{"action":"Approve access"}`,
		"no alert ID":           `{"action":"Approve access","alert":{"updatedAt":1}}`,
		"path in alert ID":      `{"action":"Approve access","alert":{"alertId":"../x","updatedAt":1}}`,
		"no update time":        `{"action":"Approve access","alert":{"alertId":"a1"}}`,
		"update time not a ns":  `{"action":"Approve access","alert":{"alertId":"a1","updatedAt":1.5}}`,
		"repeated action":       `{"action":"Deny access","action":"Approve access","alert":{"alertId":"a1","updatedAt":1}}`,
		"repeated alert ID":     `{"action":"Approve access","alert":{"alertId":"a1","AlertID":"a2","updatedAt":1}}`,
		"trailing second value": `{"action":"Approve access","alert":{"alertId":"a1","updatedAt":1}} {}`,
		// encoding/json reads "uſerId" (long s) into userId: a repeat too.
		"repeated user folded": `{"action":"Approve access","alert":{"alertId":"a1","userId":"u1","uſerId":"u2","updatedAt":1}}`,
	} {
		if acts, err := testDeliveries.Parse(nil, []byte(body)); err == nil {
			t.Errorf("%s: Parse(%s) = %+v, want an error", name, body, acts)
		}
	}
	for _, action := range []string{"Acknowledge", "AddNote", "approve access", ""} {
		body := `{"action":"` + action + `","alert":{"alertId":"a1","updatedAt":1}}`
		if acts, err := testDeliveries.Parse(nil, []byte(body)); err != nil || len(acts) != 0 {
			t.Errorf("action %q: %+v, %v; want nothing for pagergate", action, acts, err)
		}
	}
	if !strings.HasPrefix(testDeliveries.Route("/opsgenie/actions").Path, "/opsgenie/") {
		t.Error("route path")
	}
}
