package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pagergate/pagergate/domain"
)

func TestParseSignatures(t *testing.T) {
	a := Sign([]byte("body"), "a")
	b := Sign([]byte("body"), "b")
	tests := []struct {
		header string
		want   [][]byte
	}{
		{FormatSignatures([][]byte{a}), [][]byte{a}},
		{FormatSignatures([][]byte{a, b}), [][]byte{a, b}},
		{" " + FormatSignatures([][]byte{a}) + " , " + FormatSignatures([][]byte{b}) + " ", [][]byte{a, b}},
		{"v2=whatever," + FormatSignatures([][]byte{b}), [][]byte{b}},
	}
	for _, tt := range tests {
		got, err := ParseSignatures(tt.header)
		if err != nil {
			t.Errorf("ParseSignatures(%q) error %v", tt.header, err)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("ParseSignatures(%q) mismatch (-want +got):\n%s", tt.header, d)
		}
	}
	errTests := []struct {
		header string
		want   error
	}{
		{"", ErrSignatureMissing},
		{" , ", ErrSignatureMissing},
		{"v0=" + strings.Repeat("00", 32), ErrSignatureMissing},
		{"V1=" + FormatSignatures([][]byte{a})[3:], ErrSignatureMissing}, // versions are lower case
		{"v1", ErrSignatureMalformed},
		{"v1=abc", ErrSignatureMalformed},
		{"v1=" + strings.Repeat("zz", 32), ErrSignatureMalformed},
		{"v1=" + strings.Repeat("00", 31), ErrSignatureMalformed},
		{FormatSignatures([][]byte{a}) + ",v1=", ErrSignatureMalformed},
	}
	for _, tt := range errTests {
		if _, err := ParseSignatures(tt.header); !errors.Is(err, tt.want) {
			t.Errorf("ParseSignatures(%q) error = %v, want %v", tt.header, err, tt.want)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"event":{"id":"x"}}`)
	good := FormatSignatures([][]byte{Sign(body, "s1")})
	if err := VerifySignature(body, good, []string{"s0", "s1"}); err != nil {
		t.Errorf("VerifySignature(good) = %v", err)
	}
	if err := VerifySignature(body, good, []string{"s0"}); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("VerifySignature(other secret) = %v, want %v", err, ErrSignatureMismatch)
	}
	if err := VerifySignature(body, good, nil); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("VerifySignature(no secrets) = %v, want %v", err, ErrSignatureMismatch)
	}
	if err := VerifySignature(body, "", []string{"s1"}); !errors.Is(err, ErrSignatureMissing) {
		t.Errorf("VerifySignature(no header) = %v, want %v", err, ErrSignatureMissing)
	}
	// A known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
	const vector = "v1=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if err := VerifySignature([]byte("The quick brown fox jumps over the lazy dog"), vector, []string{"key"}); err != nil {
		t.Errorf("VerifySignature(known vector) = %v", err)
	}
}

func TestNoteCommand(t *testing.T) {
	tests := []struct {
		content string
		verb    domain.Verb
		note    string
		ok      bool
	}{
		{"/approve", domain.VerbApprove, "", true},
		{"/approve  ok by me ", domain.VerbApprove, "ok by me", true},
		{"/Approve\tok", domain.VerbApprove, "ok", true},
		{"\n /deny no", domain.VerbDeny, "no", true},
		{"/DENY", domain.VerbDeny, "", true},
		{"/approved", 0, "", false},
		{"/deny-all", 0, "", false},
		{"please /approve", 0, "", false},
		{"approve", 0, "", false},
		{"/appr", 0, "", false},
		{"", 0, "", false},
	}
	for _, tt := range tests {
		verb, note, ok := noteCommand(tt.content)
		if verb != tt.verb || note != tt.note || ok != tt.ok {
			t.Errorf("noteCommand(%q) = %v, %q, %v; want %v, %q, %v", tt.content, verb, note, ok, tt.verb, tt.note, tt.ok)
		}
	}
}

var sameTime = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func TestParseCustomAction(t *testing.T) {
	body := []byte(`{"messages":[
	  {"id":"m1","event":"incident.custom","created_on":"2025-01-02T03:04:05+01:00",
	   "incident":{"id":"PINC1","incident_key":"teleport-access-request/r1"},
	   "log_entries":[{"type":"annotate_log_entry","agent":{"id":"POTHER"}},
	                  {"type":"custom_log_entry","agent":{"id":"PUSER1","type":"user_reference","email":"bob@example.com"}}]},
	  {"id":"m2","event":"incident.custom","incident":{"id":"PINC2"},
	   "log_entries":[{"type":"trigger_log_entry","agent":{"id":"PFIRST"}}]},
	  {"id":"m4","event":"incident.custom","incident":{"id":"PINC4"}},
	  {"id":"m3","event":"incident.acknowledge","incident":{"id":"PINC3"}}]}`)
	got, err := ParseCustomAction(body, domain.VerbDeny)
	if err != nil {
		t.Fatal(err)
	}
	// The body's incident_key and email are not read: the incident and the
	// actor's email come from PagerDuty.
	want := []domain.Action{
		{DeliveryID: "m1", ReplayKeys: []string{"message:m1"}, Verb: domain.VerbDeny, IncidentID: "PINC1",
			ActorID: "PUSER1", OccurredAt: time.Date(2025, 1, 2, 2, 4, 5, 0, time.UTC)},
		{DeliveryID: "m2", ReplayKeys: []string{"message:m2"}, Verb: domain.VerbDeny, IncidentID: "PINC2", ActorID: "PFIRST"},
		{DeliveryID: "m4", ReplayKeys: []string{"message:m4"}, Verb: domain.VerbDeny, IncidentID: "PINC4"},
	}
	if d := cmp.Diff(want, got, sameTime); d != "" {
		t.Errorf("ParseCustomAction mismatch (-want +got):\n%s", d)
	}
	for _, bad := range []string{``, `[]`, `null`, `{}`, `{"messages":null}`, `{"messages":{}}`,
		`{"messages":[{"event":"incident.custom","created_on":"soon","incident":{"id":"P"},"log_entries":[{"agent":{"id":"U"}}]}]}`,
		`{"messages":[],"event":{"id":"e","data":{"id":"P","type":"incident"}}}`,
		`{"event":{"id":"e","event_type":"incident.custom","data":{"type":"incident"}}}`,
		`{"messages":[` + strings.Repeat(`{"event":"incident.custom","id":"m","incident":{"id":"P"}},`, 10) + `{}]}`,
	} {
		if _, err := ParseCustomAction([]byte(bad), domain.VerbApprove); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCustomAction(%s) error = %v, want ErrMalformed", bad, err)
		}
	}
}

// A custom-action delivery carries at most maxMessages messages: that many
// are read, one more is malformed.
func TestCustomActionMessagesAtTheCap(t *testing.T) {
	msgs := make([]map[string]any, maxMessages+1)
	for i := range msgs {
		msgs[i] = customMessage(fmt.Sprint("m", i), fmt.Sprint("P", i), "k", "U")
	}
	got, err := ParseCustomAction(customBody(t, msgs[:maxMessages]...), domain.VerbApprove)
	if err != nil || len(got) != maxMessages {
		t.Errorf("ParseCustomAction(%d messages) = %d actions, %v; want %d, nil", maxMessages, len(got), err, maxMessages)
	}
	if _, err := ParseCustomAction(customBody(t, msgs...), domain.VerbApprove); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseCustomAction(%d messages) error = %v, want ErrMalformed", maxMessages+1, err)
	}
}

// PagerDuty's current docs point Custom Incident Actions at the v3 payload:
// the event's data is the incident, its agent the clicker.
func TestParseCustomActionV3Envelope(t *testing.T) {
	body := []byte(`{"event":{"id":"01EV","event_type":"incident.custom","resource_type":"incident",
	  "occurred_at":"2025-01-02T03:04:05.678Z","agent":{"id":"PUSER1","type":"user_reference"},
	  "data":{"id":"PINC1","type":"incident","incident_key":"teleport-access-request/r1","service":{"id":"PSVC"}}}}`)
	got, err := ParseCustomAction(body, domain.VerbApprove)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Action{{DeliveryID: "01EV", ReplayKeys: []string{"event:01EV"}, Verb: domain.VerbApprove, IncidentID: "PINC1",
		ActorID: "PUSER1", OccurredAt: time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)}}
	if d := cmp.Diff(want, got, sameTime); d != "" {
		t.Errorf("v3 custom action mismatch (-want +got):\n%s", d)
	}
	ref := []byte(`{"event":{"id":"01EW","event_type":"incident.custom","agent":{"id":"PUSER1"},"data":{"incident":{"id":"PINC2"},"type":"incident_action"}}}`)
	if got, err := ParseCustomAction(ref, domain.VerbDeny); err != nil || len(got) != 1 || got[0].IncidentID != "PINC2" {
		t.Errorf("v3 custom action naming its incident: %+v, %v", got, err)
	}
}

// encoding/json keeps the last of two equal keys and matches names in any
// case: a body with repeated keys could be one delivery here and another one
// to whatever else reads it, so it is refused.
func TestRepeatedKeysAreMalformed(t *testing.T) {
	for _, bad := range []string{
		`{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U"},"data":{"incident":{"id":"P"},"content":"/deny","content":"/approve"}}}`,
		`{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U"},"data":{"incident":{"id":"P"},"content":"/deny","Content":"/approve"}}}`,
		`{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U","ID":"ALICE"},"data":{"incident":{"id":"P"},"content":"/approve"}}}`,
		`{"event":{"id":"e"},"EVENT":{"id":"f"}}`,
		`{"messages":[{"id":"m","event":"incident.custom","incident":{"id":"P","id":"Q"}}]}`,
		// encoding/json folds "ſ" (long s) into "s" and "K" (Kelvin) into "k".
		`{"messages":[{"id":"m","event":"incident.custom","incident":{"id":"P"}}],"meſſages":[{"id":"n","event":"incident.custom","incident":{"id":"Q"}}]}`,
		`{"messages":[{"id":"m","event":"incident.custom","incident":{"id":"P","incident_key":"a","incident_Key":"b"}}]}`,
	} {
		if _, _, err := ParseV3([]byte(bad), Config{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseV3(%s) error = %v, want ErrMalformed", bad, err)
		}
		if _, err := ParseCustomAction([]byte(bad), domain.VerbDeny); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCustomAction(%s) error = %v, want ErrMalformed", bad, err)
		}
	}
	// Deep in a sender's free-form details, keys differing in case are fine.
	ok := `{"messages":[{"id":"m","event":"incident.custom","incident":{"id":"P","first_trigger_log_entry":{"channel":{"details":{"Host":"a","host":"b"}}}}}]}`
	if _, err := ParseCustomAction([]byte(ok), domain.VerbDeny); err != nil {
		t.Errorf("free-form details refused: %v", err)
	}
}

func TestParseV3WithoutAgent(t *testing.T) {
	cfg := Config{ApproveWorkflow: "Approve access"}
	body := []byte(`{"event":{"id":"e","event_type":"incident.workflow.started","occurred_at":"2025-01-02T03:04:05Z","agent":null,
	  "data":{"incident":{"id":"P"},"incident_workflow":{"summary":"Approve access"}}}}`)
	a, ok, err := ParseV3(body, cfg)
	if err != nil || !ok || a.ActorID != "" || a.Verb != domain.VerbApprove || a.IncidentID != "P" {
		t.Fatalf("ParseV3(workflow without agent) = %+v, %v, %v; want an approval with no actor", a, ok, err)
	}
}

func TestParseV3Errors(t *testing.T) {
	cfg := Config{ApproveWorkflow: "Approve access"}
	for _, bad := range []string{
		``, `{`, `{}`, `{"event":null}`, `{"event":{"id":"e"}}`,
		`{"event":{"id":"e","event_type":"incident.resolved"}}`,
		`{"event":{"id":"e","event_type":"incident.resolved","data":null}}`,
		`{"event":{"id":"e","event_type":"incident.resolved","occurred_at":"2025-01-02T03:04:05Z","data":{}}}`,
		`{"event":{"id":"e","event_type":"incident.resolved","data":[]}}`,
		`{"event":{"id":"e","event_type":"incident.annotated","agent":{"id":"U"},"data":{"content":"/approve"}}}`,
		`{"event":{"event_type":"incident.annotated","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U"},"data":{"incident":{"id":"P"},"content":"/approve"}}}`,
		`{"event":{"id":"e","event_type":"incident.annotated","agent":{"id":"U"},"data":{"incident":{"id":"P"},"content":"/approve"}}}`,
		`{"event":{"id":"e","event_type":"incident.workflow.started","agent":{"id":"U"},"data":{"incident":{"id":"P"}}}}`,
		`{"event":{"id":"e","event_type":"incident.workflow.started","agent":{"id":"U"},"data":{"incident_workflow":{"summary":"Approve access"}}}}`,
		// Only a resolved incident's own data names the incident by its id:
		// the id of an annotation or a workflow run is no incident.
		`{"event":{"id":"e","event_type":"incident.annotated","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U"},"data":{"id":"NOTE1","content":"/approve"}}}`,
		`{"event":{"id":"e","event_type":"incident.workflow.started","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U"},"data":{"id":"RUN1","incident_workflow":{"summary":"Approve access"}}}}`,
	} {
		if _, ok, err := ParseV3([]byte(bad), cfg); !errors.Is(err, ErrMalformed) || ok {
			t.Errorf("ParseV3(%s) = ok %v, error %v; want ErrMalformed", bad, ok, err)
		}
	}
	// Ignored events are not validated further.
	for _, ignored := range []string{
		`{"event":{"event_type":"pagey.ping"}}`,
		`{"event":{"id":"e","event_type":"service.updated","data":{"id":"PSVC"}}}`,
		`{"event":{"id":"e","event_type":"incident.annotated","agent":{"id":"U"},"data":{"incident":{"id":"P"},"content":"hello"}}}`,
	} {
		if _, ok, err := ParseV3([]byte(ignored), cfg); ok || err != nil {
			t.Errorf("ParseV3(%s) = ok %v, error %v; want ignored", ignored, ok, err)
		}
	}
	// Without configured workflow names no workflow acts.
	wf := []byte(`{"event":{"id":"e","event_type":"incident.workflow.started","agent":{"id":"U"},"data":{"incident":{"id":"P"},"incident_workflow":{"summary":""}}}}`)
	if _, ok, err := ParseV3(wf, Config{}); ok || err != nil {
		t.Errorf("ParseV3(unnamed workflow) = ok %v, error %v; want ignored", ok, err)
	}
	if _, ok, _ := ParseV3(bytes.Replace(wf, []byte(`"summary":""`), []byte(`"summary":"Approve access"`), 1), Config{}); ok {
		t.Error("a workflow acted without approve_workflow configured")
	}
}
