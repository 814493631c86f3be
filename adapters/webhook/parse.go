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
	"github.com/pagergate/pagergate/ports"
)

// ErrMalformed marks a delivery whose body cannot be understood (bad JSON,
// repeated keys, missing fields); it answers 400.
var ErrMalformed = errors.New("malformed delivery")

// Replay key prefixes (domain.Action.ReplayKeys): one namespace per kind of
// id, shared by every route, so a body re-sent to another route is a
// replay too.
const (
	replayEvent   = "event:"   // v3 event.id
	replayMessage = "message:" // v2 messages[].id
	replayWebhook = "webhook:" // X-Webhook-Id header (unsigned deliveries only)
)

// reference is PagerDuty's common {id, type, summary} object. An email a
// sender adds is ignored: the actor's email is read from PagerDuty.
type reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
}

type v2Message struct {
	ID         string       `json:"id"`
	Event      string       `json:"event"`
	CreatedOn  string       `json:"created_on"`
	Incident   *reference   `json:"incident"`
	LogEntries []v2LogEntry `json:"log_entries"`
}

type v2LogEntry struct {
	Type  string     `json:"type"`
	Agent *reference `json:"agent"`
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
// (incident, incident_workflow) and incident (id, type).
type v3Data struct {
	ID               string     `json:"id"`
	Type             string     `json:"type"`
	Incident         *reference `json:"incident"`
	Content          string     `json:"content"`
	IncidentWorkflow *reference `json:"incident_workflow"`
}

// envelope is either delivery format; exactly one of its fields is set.
type envelope struct {
	Messages *[]v2Message `json:"messages"`
	Event    *v3Event     `json:"event"`
}

// maxMessages bounds the messages of one v2 delivery: PagerDuty sends one
// per delivery, and each costs lookups.
const maxMessages = 10

// ParseCustomAction parses a Custom Incident Action delivery, in the v2
// envelope (one action per "incident.custom" message, in order; other
// messages are skipped) or in the v3 envelope (the event's data is the
// incident or names it; its agent is the clicker). Every action gets verb,
// the route's. An empty result means there is nothing to do. ReplayKeys hold
// the message or event id; the caller adds the X-Webhook-Id header. An
// action without agent has ActorID "". Errors wrap ErrMalformed.
func ParseCustomAction(body []byte, verb domain.Verb) ([]domain.Action, error) {
	env, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	if env.Event != nil {
		a, err := customV3(env.Event, verb)
		if err != nil {
			return nil, err
		}
		return []domain.Action{a}, nil
	}
	if len(*env.Messages) > maxMessages {
		return nil, fmt.Errorf("%w: %d messages, at most %d", ErrMalformed, len(*env.Messages), maxMessages)
	}
	var out []domain.Action
	for i, m := range *env.Messages {
		if m.Event != "incident.custom" {
			continue
		}
		if m.Incident == nil || m.Incident.ID == "" {
			return nil, fmt.Errorf("%w: messages[%d]: no incident id", ErrMalformed, i)
		}
		at, err := parseTime(m.CreatedOn)
		if err != nil {
			return nil, fmt.Errorf("%w: messages[%d].created_on: %v", ErrMalformed, i, err)
		}
		a := domain.Action{DeliveryID: m.ID, Verb: verb, IncidentID: m.Incident.ID, OccurredAt: at}
		if m.ID != "" {
			a.ReplayKeys = []string{replayMessage + m.ID}
		}
		if agent := customAgent(m.LogEntries); agent != nil {
			a.ActorID = agent.ID
		}
		out = append(out, a)
	}
	return out, nil
}

// customV3 reads a custom action in the v3 envelope.
func customV3(ev *v3Event, verb domain.Verb) (domain.Action, error) {
	data, err := eventData(ev)
	if err != nil {
		return domain.Action{}, err
	}
	a := domain.Action{DeliveryID: ev.ID, Verb: verb, IncidentID: incidentOf(data)}
	if a.IncidentID == "" {
		return domain.Action{}, fmt.Errorf("%w: no incident in event.data", ErrMalformed)
	}
	if ev.ID != "" {
		a.ReplayKeys = []string{replayEvent + ev.ID}
	}
	if ev.Agent != nil {
		a.ActorID = ev.Agent.ID
	}
	if a.OccurredAt, err = parseTime(ev.OccurredAt); err != nil {
		return domain.Action{}, fmt.Errorf("%w: event.occurred_at: %v", ErrMalformed, err)
	}
	return a, nil
}

// incidentOf is the incident a v3 event's data is (type incident) or names.
func incidentOf(d v3Data) string {
	if d.Type == "incident" {
		return d.ID
	}
	if d.Incident != nil {
		return d.Incident.ID
	}
	return ""
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

// v3 event types pagergate acts on.
const (
	eventAnnotated       = "incident.annotated"
	eventWorkflowStarted = "incident.workflow.started"
	eventResolved        = "incident.resolved"
)

// ParseV3 parses a v3 webhook delivery. It returns ok = false, with no
// error, for events that ask nothing of pagergate (other event types, notes
// that are not /approve or /deny commands, other workflows). cfg supplies
// ApproveWorkflow and DenyWorkflow. An event with no agent (automation)
// gives ActorID "". DeliveryID and ReplayKeys are the event id, which the
// signature covers. Errors wrap ErrMalformed.
func ParseV3(body []byte, cfg Config) (domain.Action, bool, error) {
	env, err := decodeEnvelope(body)
	if err != nil {
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
	data, err := eventData(ev)
	if err != nil {
		return domain.Action{}, false, err
	}
	a, ok, err := v3Action(ev.EventType, data, cfg)
	if !ok || err != nil {
		return domain.Action{}, false, err
	}
	if ev.ID == "" {
		return domain.Action{}, false, fmt.Errorf("%w: no event.id", ErrMalformed)
	}
	a.DeliveryID, a.ReplayKeys = ev.ID, []string{replayEvent + ev.ID}
	if ev.Agent != nil {
		a.ActorID = ev.Agent.ID
	}
	if ev.OccurredAt == "" {
		return domain.Action{}, false, fmt.Errorf("%w: no event.occurred_at", ErrMalformed)
	}
	if a.OccurredAt, err = parseTime(ev.OccurredAt); err != nil {
		return domain.Action{}, false, fmt.Errorf("%w: event.occurred_at: %v", ErrMalformed, err)
	}
	return a, true, nil
}

// v3Action reads the verb, note and incident of an event pagergate acts on.
func v3Action(eventType string, data v3Data, cfg Config) (domain.Action, bool, error) {
	var a domain.Action
	switch eventType {
	case eventAnnotated:
		verb, note, ok := noteCommand(data.Content)
		if !ok {
			return a, false, nil
		}
		a.Verb, a.Note = verb, note
	case eventWorkflowStarted:
		if data.IncidentWorkflow == nil {
			return a, false, fmt.Errorf("%w: no event.data.incident_workflow", ErrMalformed)
		}
		verb, ok := workflowVerb(data.IncidentWorkflow.Summary, cfg)
		if !ok {
			return a, false, nil
		}
		a.Verb = verb
	case eventResolved:
		a.Verb = domain.VerbManualResolve
	}
	if a.IncidentID = incidentOf(data); a.IncidentID == "" && eventType == eventResolved {
		a.IncidentID = data.ID // an incident event's data is the incident
	}
	if a.IncidentID == "" {
		return a, false, fmt.Errorf("%w: no incident id in %s", ErrMalformed, eventType)
	}
	return a, true, nil
}

func eventData(ev *v3Event) (v3Data, error) {
	var data v3Data
	if len(ev.Data) == 0 || bytes.Equal(ev.Data, []byte("null")) {
		return data, fmt.Errorf("%w: no event.data", ErrMalformed)
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return data, fmt.Errorf("%w: event.data: %v", ErrMalformed, err)
	}
	return data, nil
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

// decodeEnvelope decodes a delivery: one JSON object with either messages
// (v2) or event (v3), never both, and no repeated keys.
func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := checkKeys(body); err != nil {
		return env, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		return env, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return env, fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	switch {
	case env.Messages != nil && env.Event != nil:
		return env, fmt.Errorf("%w: both messages and event", ErrMalformed)
	case env.Messages == nil && env.Event == nil:
		return env, fmt.Errorf("%w: no messages and no event", ErrMalformed)
	}
	return env, nil
}

// envelopeDepth is how deep (in objects) PagerDuty's own fields go in the
// parts of a delivery pagergate reads; deeper objects may hold a sender's
// free-form details.
const envelopeDepth = 4

// checkKeys refuses a JSON text with a key repeated in one object, and, in
// the envelope's objects, two keys that differ only in case, folded as
// encoding/json folds them (ports.FoldDeliveryKey: "ſ" is "s"): encoding/json
// keeps the last of two equal keys and matches names case-insensitively, so
// such a body could read as one delivery here and as another elsewhere.
func checkKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object, wantKey bool
		keys            map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k, _ := tok.(string)
			if len(stack) <= envelopeDepth {
				k = ports.FoldDeliveryKey(k)
			}
			if top.keys[k] {
				return fmt.Errorf("%w: key %q repeated", ErrMalformed, tok)
			}
			top.keys[k], top.wantKey = true, false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// parseTime reads an RFC 3339 time; empty gives the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
