package opsgenie

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// This file is the port layer: it maps the ports' methods onto the vendor
// layer and domain types, and nothing else.

// FindService resolves a notify target: "team:<name or ID>",
// "schedule:<name or ID>", a bare schedule name or ID, or a service ID this
// adapter returned. A schedule is its own escalation policy; a team has
// none (nobody is on call for a team).
func (c *Client) FindService(ctx context.Context, nameOrID string) (domain.Service, error) {
	ref := nameOrID
	if t, ok := parseServiceID(nameOrID); ok {
		ref = t.Kind + ":" + t.ID
	}
	t, err := c.findTarget(ctx, ref)
	if err != nil {
		return domain.Service{}, err
	}
	svc := domain.Service{ID: t.serviceID(), Name: t.Name}
	if t.Kind == targetSchedule {
		svc.EscalationPolicyID = t.serviceID()
	}
	return svc, nil
}

// FindUserByEmail finds an Opsgenie user by username (email).
func (c *Client) FindUserByEmail(ctx context.Context, email string) (domain.PagerUser, error) {
	u, err := c.userByName(ctx, email)
	if err != nil {
		return domain.PagerUser{}, err
	}
	return toUser(u), nil
}

// GetUser returns an Opsgenie user by ID.
func (c *Client) GetUser(ctx context.Context, id string) (domain.PagerUser, error) {
	u, err := c.userByID(ctx, id)
	if err != nil {
		return domain.PagerUser{}, err
	}
	return toUser(u), nil
}

func toUser(u userInfo) domain.PagerUser {
	return domain.PagerUser{ID: u.ID, Name: u.FullName, Email: u.Username}
}

// OnCallsNow returns one entry per schedule (policy) the user is on call
// for now, at the lowest level (see onCallLevel); Opsgenie gives no shift
// times, so entries have none. Policies that are not schedules have no
// on-call.
func (c *Client) OnCallsNow(ctx context.Context, userID string, policyIDs []string) ([]domain.OnCall, error) {
	u, err := c.userByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []domain.OnCall
	for _, p := range policyIDs {
		t, ok := parseServiceID(p)
		if !ok || t.Kind != targetSchedule {
			continue
		}
		level, err := c.onCallLevel(ctx, t.ID, u)
		if err != nil {
			return nil, err
		}
		if level > 0 {
			out = append(out, domain.OnCall{UserID: u.ID, EscalationPolicyID: p, Level: level})
		}
	}
	return out, nil
}

// ActiveIncidents returns the open alerts the user owns (acknowledged or
// was assigned) that one of the services responds to.
func (c *Client) ActiveIncidents(ctx context.Context, userID string, serviceIDs []string) ([]domain.Incident, error) {
	u, err := c.userByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []domain.Incident
	_, err = c.searchAlerts(ctx, "status: open AND owner: "+strconv.Quote(u.Username), func(a alertInfo) bool {
		if svc, ok := c.respondingService(a, serviceIDs); ok && strings.EqualFold(a.Owner, u.Username) {
			inc := c.toIncident(a, svc)
			inc.AssigneeIDs = []string{u.ID}
			out = append(out, inc)
		}
		return true
	})
	return out, err
}

// EnsureIncident opens the request's alert (alias = the incident key) with
// the service as responder, or returns the open alert with that alias,
// which the service then joins (see openAlert).
func (c *Client) EnsureIncident(ctx context.Context, spec domain.IncidentSpec) (domain.Incident, error) {
	t, ok := parseServiceID(spec.ServiceID)
	if !ok {
		return domain.Incident{}, fmt.Errorf("notify target ID %q: %w", spec.ServiceID, ports.ErrNotFound)
	}
	priority := c.cfg.Priority
	switch {
	case validPriority(spec.Priority):
		priority = spec.Priority
	case spec.Priority != "":
		c.log.Warn("priority is not one of P1-P5, alert opened with the configured one",
			zap.String("priority", spec.Priority), zap.String("og_priority", priority))
	}
	a, err := c.openAlert(ctx, alertSpec{Alias: c.aliasOf(spec.Key), Message: spec.Title,
		Description: spec.Details, Priority: priority, Target: t})
	if err != nil {
		return domain.Incident{}, err
	}
	return c.toIncident(a, spec.ServiceID), nil
}

// GetIncident returns an alert by ID.
func (c *Client) GetIncident(ctx context.Context, id string) (domain.Incident, error) {
	a, err := c.getAlert(ctx, id)
	if err != nil {
		return domain.Incident{}, err
	}
	return c.toIncident(a, ""), nil
}

// FindIncidents returns the open alert with the key's alias, if any:
// Opsgenie finds alerts by alias only while they are open.
func (c *Client) FindIncidents(ctx context.Context, key string) ([]domain.Incident, error) {
	a, ok, err := c.openAlertByAlias(ctx, c.aliasOf(key))
	if err != nil || !ok {
		return nil, err
	}
	return []domain.Incident{c.toIncident(a, "")}, nil
}

// OpenIncidents returns the open alerts (any alias) that one of the
// services responds to, at most max; more reports that some were left out.
func (c *Client) OpenIncidents(ctx context.Context, serviceIDs []string, max int) ([]domain.Incident, bool, error) {
	var out []domain.Incident
	more := false
	cut, err := c.searchAlerts(ctx, "status: open", func(a alertInfo) bool {
		svc, ok := c.respondingService(a, serviceIDs)
		if !ok {
			return true
		}
		if len(out) >= max {
			more = true
			return false
		}
		out = append(out, c.toIncident(a, svc))
		return true
	})
	return out, more || cut, err
}

// IncidentDetails returns the alert's description.
func (c *Client) IncidentDetails(ctx context.Context, id string) (string, error) {
	a, err := c.getAlert(ctx, id)
	if err != nil {
		return "", err
	}
	return a.Description, nil
}

// AddNote posts a note on an alert, exactly once (see addNote).
func (c *Client) AddNote(ctx context.Context, incidentID, text string) error {
	return c.addNote(ctx, incidentID, text)
}

// ListNotes returns the notes of an alert, oldest first.
func (c *Client) ListNotes(ctx context.Context, incidentID string) ([]string, error) {
	return c.listNotes(ctx, incidentID)
}

// ResolveIncident closes an alert; already closed is success.
func (c *Client) ResolveIncident(ctx context.Context, incidentID string) error {
	return c.closeAlert(ctx, incidentID, "")
}

// EnsureActions puts the hooks' names on new alerts as custom actions.
// Opsgenie attaches custom actions to alerts, not to services; the webhook
// integration that delivers them (URL, headers, action mappings) is set up
// in Opsgenie, so there is nothing to write here.
func (c *Client) EnsureActions(_ context.Context, _ string, hooks []domain.ActionHook) error {
	names := make([]string, 0, len(hooks))
	for _, h := range hooks {
		names = append(names, h.Name)
	}
	c.registerActions(names)
	return nil
}

// toIncident maps an alert; the incident's service is prefer when it
// responds to the alert, else its first schedule or team responder.
func (c *Client) toIncident(a alertInfo, prefer string) domain.Incident {
	inc := domain.Incident{ID: a.ID, Key: c.keyOf(a.Alias), Title: a.Message, Status: domain.IncidentResolved}
	if a.Status == alertOpen {
		inc.Status = domain.IncidentTriggered
		if a.Acknowledged {
			inc.Status = domain.IncidentAcknowledged
		}
	}
	for _, r := range a.Responders {
		if id := r.serviceID(); id == prefer || inc.ServiceID == "" {
			inc.ServiceID = id
		}
	}
	if c.cfg.WebURL != "" {
		inc.HTMLURL = c.cfg.WebURL + "/alert/detail/" + a.ID + "/details"
	}
	return inc
}

// respondingService returns the first of the services that responds to the
// alert.
func (c *Client) respondingService(a alertInfo, serviceIDs []string) (string, bool) {
	for _, s := range serviceIDs {
		if t, ok := parseServiceID(s); ok && a.has(t) {
			return s, true
		}
	}
	return "", false
}

// aliasOf maps an incident key to the alert alias (Config.AliasPrefix plus
// the request ID); other keys pass as they are.
func (c *Client) aliasOf(key string) string {
	if id := domain.RequestIDFromKey(key); id != "" {
		return c.cfg.AliasPrefix + id
	}
	return key
}

// keyOf maps an alert alias back to the incident key.
func (c *Client) keyOf(alias string) string {
	if id, ok := strings.CutPrefix(alias, c.cfg.AliasPrefix); ok && id != "" {
		return domain.IncidentKey(id)
	}
	return alias
}
