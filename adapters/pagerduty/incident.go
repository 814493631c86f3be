package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// dedupMessage is what PagerDuty answers (400) when an open incident with
// the same incident_key exists in the service.
const dedupMessage = "matching dedup key already exists"

var activeStatuses = []string{domain.IncidentTriggered, domain.IncidentAcknowledged}

// EnsureIncident opens an incident (POST /incidents) or, when PagerDuty
// says an open one with the same incident_key exists in the service,
// returns that one. On a warm path this is one call.
func (c *Client) EnsureIncident(ctx context.Context, spec domain.IncidentSpec) (domain.Incident, error) {
	if !validID(spec.ServiceID) {
		return domain.Incident{}, idError("service", spec.ServiceID)
	}
	opts := &pd.CreateIncidentOptions{
		Title:       spec.Title,
		Service:     &pd.APIReference{ID: spec.ServiceID, Type: "service_reference"},
		IncidentKey: spec.Key,
		Urgency:     spec.Urgency,
	}
	if spec.Details != "" {
		opts.Body = &pd.APIDetails{Type: "incident_body", Details: spec.Details}
	}
	if spec.Priority != "" {
		ref, err := c.priority(ctx, spec.Priority)
		switch {
		case errors.Is(err, ports.ErrNotFound):
			// An incident without its priority beats no incident.
			c.log.Warn("priority unknown, incident opened without it",
				zap.String("priority", spec.Priority), zap.String("pd_service", spec.ServiceID))
		case err != nil:
			return domain.Incident{}, err
		default:
			opts.Priority = ref
		}
	}

	// Two rounds: if the open duplicate got resolved between our POST and
	// our lookup, the second POST opens a fresh incident.
	for range 2 {
		in, err := c.pd.CreateIncidentWithContext(ctx, c.cfg.UserEmail, opts)
		if err == nil {
			inc := toIncident(*in)
			if inc.ServiceID == "" {
				inc.ServiceID = spec.ServiceID
			}
			c.log.Debug("incident created", zap.String("pd_incident_id", inc.ID), zap.String("pd_service", spec.ServiceID))
			return inc, nil
		}
		if ae, ok := asAPIError(err); !ok || ae.status != http.StatusBadRequest || !ae.has(dedupMessage) {
			return domain.Incident{}, fmt.Errorf("create incident in service %s: %w", spec.ServiceID, c.fail(ctx, err))
		}
		open, found, err := c.openIncident(ctx, spec.Key, spec.ServiceID)
		if err != nil {
			return domain.Incident{}, err
		}
		if found {
			c.log.Debug("incident already open", zap.String("pd_incident_id", open.ID), zap.String("pd_service", spec.ServiceID))
			open.Existing = true
			return open, nil
		}
	}
	return domain.Incident{}, fmt.Errorf("create incident in service %s: key %s is taken but no open incident has it: %w",
		spec.ServiceID, spec.Key, ports.ErrConflict)
}

// openIncident finds the triggered or acknowledged incident with the key in
// the service.
func (c *Client) openIncident(ctx context.Context, key, serviceID string) (domain.Incident, bool, error) {
	list, err := c.listIncidents(ctx, pd.ListIncidentsOptions{
		IncidentKey: key,
		ServiceIDs:  []string{serviceID},
		DateRange:   "all",
		Statuses:    activeStatuses,
	})
	if err != nil {
		return domain.Incident{}, false, fmt.Errorf("find open incident %s: %w", key, err)
	}
	for _, in := range list {
		if in.Key == key && in.Active() && (in.ServiceID == "" || in.ServiceID == serviceID) {
			return in, true, nil
		}
	}
	return domain.Incident{}, false, nil
}

// priority resolves a priority name or ID to a reference (GET /priorities,
// cached); ports.ErrNotFound when the account has no such priority.
func (c *Client) priority(ctx context.Context, nameOrID string) (*pd.APIReference, error) {
	type prio struct{ ID, Name string }
	list, ok := cacheGet[[]prio](ctx, c, keyPriorities)
	if !ok {
		all, err := allPages(func(offset uint) ([]prio, bool, error) {
			resp, err := c.pd.ListPrioritiesWithContext(ctx, pd.ListPrioritiesOptions{Limit: c.limit, Offset: offset})
			if err != nil {
				return nil, false, c.fail(ctx, err)
			}
			out := make([]prio, 0, len(resp.Priorities))
			for _, p := range resp.Priorities {
				out = append(out, prio{ID: p.ID, Name: p.Name})
			}
			return out, resp.More, nil
		})
		if err != nil {
			return nil, fmt.Errorf("list priorities: %w", err)
		}
		list = all
		cachePut(ctx, c, keyPriorities, list)
	}
	for _, p := range list {
		if p.ID == nameOrID || strings.EqualFold(p.Name, nameOrID) {
			return &pd.APIReference{ID: p.ID, Type: "priority_reference"}, nil
		}
	}
	return nil, fmt.Errorf("priority %q: %w", nameOrID, ports.ErrNotFound)
}

// GetIncident returns an incident by ID.
func (c *Client) GetIncident(ctx context.Context, id string) (domain.Incident, error) {
	if !validID(id) {
		return domain.Incident{}, idError("incident", id)
	}
	in, err := c.pd.GetIncidentWithContext(ctx, id)
	if err != nil {
		return domain.Incident{}, fmt.Errorf("get incident %s: %w", id, c.fail(ctx, err))
	}
	return toIncident(*in), nil
}

// FindIncidents returns every incident (any status, any date) with the
// incident_key.
func (c *Client) FindIncidents(ctx context.Context, key string) ([]domain.Incident, error) {
	list, err := c.listIncidents(ctx, pd.ListIncidentsOptions{IncidentKey: key, DateRange: "all"})
	if err != nil {
		return nil, fmt.Errorf("find incidents %s: %w", key, err)
	}
	out := list[:0]
	for _, in := range list {
		if in.Key == key {
			out = append(out, in)
		}
	}
	return out, nil
}

// listIncidents lists incidents over all pages.
func (c *Client) listIncidents(ctx context.Context, o pd.ListIncidentsOptions) ([]domain.Incident, error) {
	return allPages(func(offset uint) ([]domain.Incident, bool, error) {
		o.Limit, o.Offset = c.limit, offset
		resp, err := c.pd.ListIncidentsWithContext(ctx, o)
		if err != nil {
			return nil, false, c.fail(ctx, err)
		}
		out := make([]domain.Incident, 0, len(resp.Incidents))
		for _, in := range resp.Incidents {
			out = append(out, toIncident(in))
		}
		return out, resp.More, nil
	})
}

// AddNote posts a note on an incident as Config.UserEmail, exactly once:
// when an attempt's outcome is unknown, it looks for the note on the
// incident before it posts again.
func (c *Client) AddNote(ctx context.Context, incidentID, text string) error {
	if !validID(incidentID) {
		return idError("incident", incidentID)
	}
	// go-pagerduty takes the From header of a note from User.Summary.
	note := pd.IncidentNote{User: pd.APIObject{Summary: c.cfg.UserEmail}, Content: text}
	// PagerDuty has no dedup key for notes: a post whose answer was lost is
	// looked for on the incident before it is sent again (SPEC §8).
	return c.transport.Once(ctx, c.cfg.MaxRetries, func(ctx context.Context) error {
		if _, err := c.pd.CreateIncidentNoteWithContext(ctx, incidentID, note); err != nil {
			return fmt.Errorf("add note to incident %s: %w", incidentID, c.refusal(ctx, incidentID, c.fail(ctx, err)))
		}
		return nil
	}, outcomeUnknown, func(ctx context.Context) (bool, error) {
		notes, err := c.ListNotes(ctx, incidentID)
		return slices.Contains(notes, text), err
	})
}

// maxNotes is how many notes PagerDuty takes on one incident (its API
// reference for POST /incidents/{id}/notes).
const maxNotes = 2000

// refusal marks a note PagerDuty answered 400 as ports.ErrRefused when
// the incident is seen to hold maxNotes: sending it again cannot help.
// Any other 400 (such as a From user PagerDuty no longer knows) stays an
// error the pass retries, and every other status keeps its meaning.
func (c *Client) refusal(ctx context.Context, incidentID string, err error) error {
	ae, ok := asAPIError(err)
	if !ok || ae.status != http.StatusBadRequest || ae.Unwrap() != nil {
		return err
	}
	if notes, lerr := c.ListNotes(ctx, incidentID); lerr != nil || len(notes) < maxNotes {
		return err
	}
	return fmt.Errorf("%w: the incident holds PagerDuty's %d notes: %w", ports.ErrRefused, maxNotes, err)
}

// outcomeUnknown reports whether a failed write may have taken effect: its
// answer was lost (transport failure, timeout) or was 408 or 5xx. A 429 or
// another 4xx says it did not.
func outcomeUnknown(err error) bool {
	if ae, ok := asAPIError(err); ok {
		return ae.status == http.StatusRequestTimeout || ae.status >= 500
	}
	return errors.Is(err, ports.ErrUnavailable)
}

// ListNotes returns the texts of an incident's notes, oldest first.
func (c *Client) ListNotes(ctx context.Context, incidentID string) ([]string, error) {
	if !validID(incidentID) {
		return nil, idError("incident", incidentID)
	}
	notes, err := c.pd.ListIncidentNotesWithContext(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list notes of incident %s: %w", incidentID, c.fail(ctx, err))
	}
	type timed struct {
		at   time.Time
		text string
	}
	list := make([]timed, 0, len(notes))
	for _, n := range notes {
		at, _ := time.Parse(time.RFC3339, n.CreatedAt)
		list = append(list, timed{at: at, text: n.Content})
	}
	// Notes without a readable time keep their place relative to each other.
	slices.SortStableFunc(list, func(a, b timed) int { return a.at.Compare(b.at) })
	out := make([]string, len(list))
	for i, n := range list {
		out[i] = n.text
	}
	return out, nil
}

// ResolveIncident resolves an incident (PUT /incidents, as
// Config.UserEmail). An incident already resolved is success.
func (c *Client) ResolveIncident(ctx context.Context, incidentID string) error {
	if !validID(incidentID) {
		return idError("incident", incidentID)
	}
	_, err := c.pd.ManageIncidentsWithContext(ctx, c.cfg.UserEmail, []pd.ManageIncidentsOptions{
		{ID: incidentID, Status: domain.IncidentResolved},
	})
	if err == nil {
		return nil
	}
	err = c.fail(ctx, err)
	if ae, ok := asAPIError(err); ok && ae.status == http.StatusBadRequest {
		// PagerDuty refuses to resolve a resolved incident; check that this
		// is why.
		in, gerr := c.GetIncident(ctx, incidentID)
		if gerr == nil && in.Status == domain.IncidentResolved {
			return nil
		}
		if gerr != nil {
			err = errors.Join(err, gerr)
		}
	}
	return fmt.Errorf("resolve incident %s: %w", incidentID, err)
}

func toIncident(in pd.Incident) domain.Incident {
	out := domain.Incident{
		ID:        in.ID,
		Key:       in.IncidentKey,
		ServiceID: in.Service.ID,
		Status:    in.Status,
		Title:     in.Title,
		HTMLURL:   in.HTMLURL,
	}
	for _, a := range in.Assignments {
		if a.Assignee.ID != "" {
			out.AssigneeIDs = append(out.AssigneeIDs, a.Assignee.ID)
		}
	}
	return out
}
