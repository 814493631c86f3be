package webhook

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pagergate/pagergate/domain"
)

func FuzzParseSignatures(f *testing.F) {
	body := []byte(`{"event":{"id":"x"}}`)
	f.Add(FormatSignatures([][]byte{Sign(body, "a")}))
	f.Add(FormatSignatures([][]byte{Sign(body, "a"), Sign(body, "b")}))
	f.Add("v1=,v1=00")
	f.Add("v2=abc, v1=" + FormatSignatures([][]byte{Sign(body, "c")})[3:])
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		sigs, err := ParseSignatures(header)
		if err != nil {
			return
		}
		if len(sigs) == 0 {
			t.Fatalf("ParseSignatures(%q) returned no signatures and no error", header)
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("ParseSignatures(%q) returned a %d-byte signature", header, len(s))
			}
		}
		again, err := ParseSignatures(FormatSignatures(sigs))
		if err != nil {
			t.Fatalf("re-parse of formatted signatures: %v", err)
		}
		if d := cmp.Diff(sigs, again); d != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", d)
		}
	})
}

// encodeCustom writes actions back as the custom action envelope they came
// in: v3 for an action keyed on an event id, else v2.
func encodeCustom(t *testing.T, actions []domain.Action) []byte {
	if len(actions) == 1 && len(actions[0].ReplayKeys) == 1 && strings.HasPrefix(actions[0].ReplayKeys[0], replayEvent) {
		a := actions[0]
		ev := map[string]any{"id": a.DeliveryID, "event_type": "incident.custom",
			"data": map[string]any{"id": a.IncidentID, "type": "incident"}}
		if a.ActorID != "" {
			ev["agent"] = map[string]any{"id": a.ActorID}
		}
		if !a.OccurredAt.IsZero() {
			ev["occurred_at"] = a.OccurredAt.Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(map[string]any{"event": ev})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	msgs := []map[string]any{}
	for _, a := range actions {
		m := map[string]any{
			"id": a.DeliveryID, "event": "incident.custom",
			"incident": map[string]any{"id": a.IncidentID},
		}
		if a.ActorID != "" {
			m["log_entries"] = []any{map[string]any{"type": "custom_log_entry", "agent": map[string]any{"id": a.ActorID}}}
		}
		if !a.OccurredAt.IsZero() {
			m["created_on"] = a.OccurredAt.Format(time.RFC3339Nano)
		}
		msgs = append(msgs, m)
	}
	b, err := json.Marshal(map[string]any{"messages": msgs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utcTimes(actions []domain.Action) []domain.Action {
	out := append([]domain.Action(nil), actions...)
	for i := range out {
		out[i].OccurredAt = out[i].OccurredAt.UTC()
	}
	return out
}

func FuzzParseCustomAction(f *testing.F) {
	f.Add(customBody(f, customMessage("m1", "PINC1", "teleport-access-request/r1", "PUSER1")))
	f.Add(customBody(f, customMessage("m1", "PINC1", "k", "PUSER1"), customMessage("m2", "PINC2", "", "PUSER2")))
	f.Add([]byte(`{"messages":[{"event":"incident.custom","created_on":"2025-01-02T03:04:05.1+05:30","incident":{"id":"P"},"log_entries":[{"type":"x","agent":{"id":"U","email":"u@example.com"}}]}]}`))
	f.Add([]byte(`{"event":{"id":"E1","event_type":"incident.custom","occurred_at":"2025-01-02T03:04:05Z","agent":{"id":"U"},"data":{"id":"P","type":"incident"}}}`))
	f.Add([]byte(`{"messages":[],"Messages":[{"event":"incident.custom","incident":{"id":"P"}}]}`))
	f.Add([]byte(`{"messages":[]}`))
	f.Add([]byte(`{"messages":[{"event":"incident.trigger"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, verb := range []domain.Verb{domain.VerbApprove, domain.VerbDeny} {
			actions, err := ParseCustomAction(body, verb)
			if err != nil {
				continue
			}
			for _, a := range actions {
				if a.Verb != verb || a.IncidentID == "" {
					t.Fatalf("ParseCustomAction accepted an incomplete action %+v", a)
				}
				if (a.DeliveryID == "") != (len(a.ReplayKeys) == 0) {
					t.Fatalf("replay keys %q do not match the delivery id %q", a.ReplayKeys, a.DeliveryID)
				}
			}
			again, err := ParseCustomAction(encodeCustom(t, actions), verb)
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if d := cmp.Diff(utcTimes(actions), utcTimes(again)); d != "" {
				t.Fatalf("round trip mismatch (-first +second):\n%s", d)
			}
		}
	})
}

var fuzzV3Config = Config{ApproveWorkflow: "Approve access", DenyWorkflow: "Deny access"}

// encodeV3 writes an action back as the v3 event that carries it: a
// resolve as incident.resolved, approve/deny as an annotation command.
func encodeV3(t *testing.T, a domain.Action) []byte {
	ev := map[string]any{"id": a.DeliveryID}
	if a.ActorID != "" {
		ev["agent"] = map[string]any{"id": a.ActorID}
	}
	if !a.OccurredAt.IsZero() {
		ev["occurred_at"] = a.OccurredAt.Format(time.RFC3339Nano)
	}
	switch a.Verb {
	case domain.VerbManualResolve:
		ev["event_type"] = "incident.resolved"
		ev["data"] = map[string]any{"id": a.IncidentID, "type": "incident"}
	default:
		cmd := "/approve"
		if a.Verb == domain.VerbDeny {
			cmd = "/deny"
		}
		if a.Note != "" {
			cmd += " " + a.Note
		}
		ev["event_type"] = "incident.annotated"
		ev["data"] = map[string]any{"incident": map[string]any{"id": a.IncidentID}, "content": cmd}
	}
	b, err := json.Marshal(map[string]any{"event": ev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParseV3(f *testing.F) {
	f.Add(v3Body(f, "incident.annotated", noteData("PINC1", "/approve looks fine"), "PUSER1"))
	f.Add(v3Body(f, "incident.annotated", noteData("PINC1", "/deny"), "PUSER1"))
	f.Add(v3Body(f, "incident.annotated", noteData("PINC1", "just a note"), "PUSER1"))
	f.Add(v3Body(f, "incident.workflow.started", workflowData("PINC1", "Approve access"), "PUSER1"))
	f.Add(v3Body(f, "incident.workflow.started", workflowData("PINC1", "Deny access"), "PUSER1"))
	f.Add(v3Body(f, "incident.resolved", resolvedData("PINC1", "teleport-access-request/r1"), ""))
	f.Add([]byte(`{"event":{"id":"01P","event_type":"pagey.ping","data":{"type":"ping"}}}`))
	f.Add([]byte(`{"event":{"event_type":"incident.resolved","data":null}}`))
	f.Add([]byte(`{"event":{"id":"E1","event_type":"incident.annotated","occurred_at":"2025-01-02T03:04:05Z","data":{"incident":{"id":"P"},"content":"/deny","Content":"/approve"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, ok, err := ParseV3(body, fuzzV3Config)
		if err != nil || !ok {
			if ok {
				t.Fatal("ParseV3 returned ok with an error")
			}
			if !cmp.Equal(a, domain.Action{}) {
				t.Fatalf("ParseV3 returned %+v for a non-action", a)
			}
			return
		}
		if a.IncidentID == "" || a.Verb < domain.VerbApprove || a.Verb > domain.VerbManualResolve {
			t.Fatalf("ParseV3 accepted an incomplete action %+v", a)
		}
		if a.DeliveryID == "" || len(a.ReplayKeys) != 1 || a.ReplayKeys[0] != replayEvent+a.DeliveryID {
			t.Fatalf("ParseV3 keyed %+v on anything but its event id", a)
		}
		if a.OccurredAt.IsZero() {
			t.Fatalf("ParseV3 accepted %+v without a time", a)
		}
		enc := encodeV3(t, a)
		again, ok, err := ParseV3(enc, fuzzV3Config)
		if err != nil || !ok {
			t.Fatalf("re-parse of %s: ok %v, error %v", enc, ok, err)
		}
		if d := cmp.Diff(utcTimes([]domain.Action{a}), utcTimes([]domain.Action{again})); d != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", d)
		}
	})
}

func BenchmarkVerifySignature(b *testing.B) {
	body := bytes.Repeat([]byte(`{"event":{"id":"01EVENT","event_type":"incident.annotated","data":{"content":"/approve"}}}`), 20)
	secrets := []string{"retiring-secret-0123456789abcdef", "current-secret-fedcba9876543210"}
	header := FormatSignatures([][]byte{Sign(body, "unknown"), Sign(body, secrets[1])})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifySignature(body, header, secrets); err != nil {
			b.Fatal(err)
		}
	}
}
