package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pagergate/pagergate/domain"
)

// ErrMalformed marks a delivery whose body cannot be understood (bad JSON,
// missing fields); it answers 400.
var ErrMalformed = errors.New("malformed delivery")

// reference is PagerDuty's common {id, type, summary} object.
type reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	// Email is not part of PagerDuty's user_reference; it is read when a
	// sender (the fake PagerDuty) includes it.
	Email string `json:"email"`
}

type v2Envelope struct {
	Messages *[]v2Message `json:"messages"`
}

type v2Message struct {
	ID         string       `json:"id"`
	Event      string       `json:"event"`
	CreatedOn  string       `json:"created_on"`
	Incident   *v2Incident  `json:"incident"`
	LogEntries []v2LogEntry `json:"log_entries"`
}

type v2Incident struct {
	ID          string `json:"id"`
	IncidentKey string `json:"incident_key"`
}

type v2LogEntry struct {
	Type  string     `json:"type"`
	Agent *reference `json:"agent"`
}

// ParseCustomAction parses a Custom Incident Action delivery (v2 envelope)
// into one action per "incident.custom" message, in order, all with verb.
// Messages of other events are skipped; an empty result means there is
// nothing to do. DeliveryID is the message id; the caller may override it
// with the X-Webhook-Id header. Errors wrap ErrMalformed.
func ParseCustomAction(body []byte, verb domain.Verb) ([]domain.Action, error) {
	var env v2Envelope
	if err := decodeJSON(body, &env); err != nil {
		return nil, err
	}
	if env.Messages == nil {
		return nil, fmt.Errorf("%w: no messages", ErrMalformed)
	}
	var out []domain.Action
	for i, m := range *env.Messages {
		if m.Event != "incident.custom" {
			continue
		}
		if m.Incident == nil || m.Incident.ID == "" {
			return nil, fmt.Errorf("%w: messages[%d]: no incident id", ErrMalformed, i)
		}
		agent := customAgent(m.LogEntries)
		if agent == nil || agent.ID == "" {
			return nil, fmt.Errorf("%w: messages[%d]: no log entry agent", ErrMalformed, i)
		}
		at, err := parseTime(m.CreatedOn)
		if err != nil {
			return nil, fmt.Errorf("%w: messages[%d].created_on: %v", ErrMalformed, i, err)
		}
		out = append(out, domain.Action{
			DeliveryID:  m.ID,
			Verb:        verb,
			IncidentID:  m.Incident.ID,
			IncidentKey: m.Incident.IncidentKey,
			ActorID:     agent.ID,
			ActorEmail:  agent.Email,
			OccurredAt:  at,
		})
	}
	return out, nil
}

// customAgent returns the agent of the custom_log_entry, else of the first
// log entry.
func customAgent(entries []v2LogEntry) *reference {
	for _, e := range entries {
		if e.Type == "custom_log_entry" && e.Agent != nil {
			return e.Agent
		}
	}
	if len(entries) > 0 {
		return entries[0].Agent
	}
	return nil
}

type v3Envelope struct {
	Event *v3Event `json:"event"`
}

type v3Event struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   string          `json:"occurred_at"`
	Agent        *reference      `json:"agent"`
	Data         json.RawMessage `json:"data"`
}

// v3Data covers the fields pagergate reads from the data of the event types
// it handles: incident_note (incident, content), incident_workflow_instance
// (incident, incident_workflow) and incident (id, incident_key).
type v3Data struct {
	ID               string     `json:"id"`
	IncidentKey      string     `json:"incident_key"`
	Incident         *reference `json:"incident"`
	Content          string     `json:"content"`
	IncidentWorkflow *reference `json:"incident_workflow"`
}

// v3 event types pagergate acts on.
const (
	eventAnnotated       = "incident.annotated"
	eventWorkflowStarted = "incident.workflow.started"
	eventResolved        = "incident.resolved"
)

// ParseV3 parses a v3 webhook delivery. It returns ok = false, with no
// error, for events that ask nothing of pagergate (other event types, notes
// that are not /approve or /deny commands, other workflows). cfg supplies
// ApproveWorkflow and DenyWorkflow. DeliveryID is the event id; the caller
// may override it with the X-Webhook-Id header. Errors wrap ErrMalformed.
func ParseV3(body []byte, cfg Config) (domain.Action, bool, error) {
	var env v3Envelope
	if err := decodeJSON(body, &env); err != nil {
		return domain.Action{}, false, err
	}
	ev := env.Event
	if ev == nil {
		return domain.Action{}, false, fmt.Errorf("%w: no event", ErrMalformed)
	}
	if ev.EventType == "" {
		return domain.Action{}, false, fmt.Errorf("%w: no event.event_type", ErrMalformed)
	}
	switch ev.EventType {
	case eventAnnotated, eventWorkflowStarted, eventResolved:
	default:
		return domain.Action{}, false, nil
	}
	var data v3Data
	if len(ev.Data) == 0 || bytes.Equal(ev.Data, []byte("null")) {
		return domain.Action{}, false, fmt.Errorf("%w: no event.data", ErrMalformed)
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return domain.Action{}, false, fmt.Errorf("%w: event.data: %v", ErrMalformed, err)
	}
	a := domain.Action{DeliveryID: ev.ID}
	switch ev.EventType {
	case eventAnnotated:
		verb, note, ok := noteCommand(data.Content)
		if !ok {
			return domain.Action{}, false, nil
		}
		a.Verb, a.Note = verb, note
		if data.Incident != nil {
			a.IncidentID = data.Incident.ID
		}
	case eventWorkflowStarted:
		if data.IncidentWorkflow == nil {
			return domain.Action{}, false, fmt.Errorf("%w: no event.data.incident_workflow", ErrMalformed)
		}
		verb, ok := workflowVerb(data.IncidentWorkflow.Summary, cfg)
		if !ok {
			return domain.Action{}, false, nil
		}
		a.Verb = verb
		if data.Incident != nil {
			a.IncidentID = data.Incident.ID
		}
	case eventResolved:
		a.Verb = domain.VerbManualResolve
		a.IncidentID, a.IncidentKey = data.ID, data.IncidentKey
	}
	if a.IncidentID == "" {
		return domain.Action{}, false, fmt.Errorf("%w: no incident id in %s", ErrMalformed, ev.EventType)
	}
	if ev.Agent != nil {
		a.ActorID, a.ActorEmail = ev.Agent.ID, ev.Agent.Email
	}
	if a.ActorID == "" && a.Verb != domain.VerbManualResolve {
		return domain.Action{}, false, fmt.Errorf("%w: no event.agent in %s", ErrMalformed, ev.EventType)
	}
	at, err := parseTime(ev.OccurredAt)
	if err != nil {
		return domain.Action{}, false, fmt.Errorf("%w: event.occurred_at: %v", ErrMalformed, err)
	}
	a.OccurredAt = at
	return a, true, nil
}

// Note commands, matched case-insensitively at the start of a note.
const (
	cmdApprove = "/approve"
	cmdDeny    = "/deny"
)

// noteCommand reads "/approve <reason>" or "/deny <reason>". The command
// must be followed by the end of the note or by white space.
func noteCommand(content string) (domain.Verb, string, bool) {
	s := strings.TrimLeftFunc(content, unicode.IsSpace)
	for _, c := range []struct {
		word string
		verb domain.Verb
	}{{cmdApprove, domain.VerbApprove}, {cmdDeny, domain.VerbDeny}} {
		if len(s) < len(c.word) || !strings.EqualFold(s[:len(c.word)], c.word) {
			continue
		}
		rest := s[len(c.word):]
		if rest != "" {
			r, _ := utf8.DecodeRuneInString(rest)
			if !unicode.IsSpace(r) {
				return 0, "", false
			}
		}
		return c.verb, strings.TrimSpace(rest), true
	}
	return 0, "", false
}

func workflowVerb(name string, cfg Config) (domain.Verb, bool) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return 0, false
	case cfg.ApproveWorkflow != "" && strings.EqualFold(name, strings.TrimSpace(cfg.ApproveWorkflow)):
		return domain.VerbApprove, true
	case cfg.DenyWorkflow != "" && strings.EqualFold(name, strings.TrimSpace(cfg.DenyWorkflow)):
		return domain.VerbDeny, true
	}
	return 0, false
}

// decodeJSON decodes one JSON object and rejects trailing data.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	return nil
}

// parseTime reads an RFC 3339 time; empty gives the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
