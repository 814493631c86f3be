package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsgenie/opsgenie-go-sdk-v2/alert"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/opsgenie/httpretry"
	"github.com/pagergate/pagergate/ports"
)

// Opsgenie's limits on alert fields.
const (
	maxMessage     = 130
	maxDescription = 15000
	searchLimit    = 100
	searchCeiling  = 20000 // offset + limit of alert searches
)

// Opsgenie's alert statuses.
const (
	alertOpen   = "open"
	alertClosed = "closed"
)

// errQueued says Opsgenie accepted an asynchronous request but had not
// processed it within Config.StatusWait.
var errQueued = errors.New("request accepted by Opsgenie but not processed yet")

// alertInfo is the adapter's view of an Opsgenie alert.
type alertInfo struct {
	ID           string
	TinyID       string
	Alias        string
	Message      string
	Description  string
	Status       string
	Acknowledged bool
	Owner        string // username
	Responders   []target
}

func (a alertInfo) has(t target) bool {
	return slices.ContainsFunc(a.Responders, func(r target) bool { return r.Kind == t.Kind && r.ID == t.ID })
}

func fromResponders(rs []alert.Responder) []target {
	var out []target
	for _, r := range rs {
		switch r.Type {
		case alert.ScheduleResponder:
			out = append(out, target{Kind: targetSchedule, ID: r.Id, Name: r.Name})
		case alert.TeamResponder:
			out = append(out, target{Kind: targetTeam, ID: r.Id, Name: r.Name})
		}
	}
	return out
}

// alertSpec is an alert to open.
type alertSpec struct {
	Alias       string
	Message     string
	Description string
	Priority    string
	Target      target
}

// openAlert creates the alert, or finds the open alert with its alias
// (Opsgenie dedups by alias account-wide and only raises its count), and
// makes sure the target responds to it: a team joins an existing alert; a
// schedule cannot be added to one (Opsgenie adds users and teams only).
func (c *Client) openAlert(ctx context.Context, s alertSpec) (alertInfo, error) {
	req := &alert.CreateAlertRequest{
		Message:     truncate(s.Message, maxMessage),
		Alias:       s.Alias,
		Description: truncate(s.Description, maxDescription),
		Responders:  []alert.Responder{s.Target.responder()},
		Actions:     c.alertActions(),
		Tags:        c.cfg.Tags,
		Source:      c.cfg.Source,
		User:        c.cfg.User,
		Priority:    alert.Priority(s.Priority),
	}
	res, err := c.alerts.Create(ctx, req)
	if err != nil {
		return alertInfo{}, fmt.Errorf("create alert %s: %w", s.Alias, c.fail(ctx, err))
	}
	st, err := c.await(ctx, res.RequestId)
	if err != nil {
		return alertInfo{}, fmt.Errorf("create alert %s: %w", s.Alias, err)
	}
	a, err := c.getAlert(ctx, st.AlertID)
	if err != nil {
		return alertInfo{}, err
	}
	if a.has(s.Target) {
		return a, nil
	}
	if s.Target.Kind != targetTeam {
		c.log.Warn("schedule not added to the open alert of another notify target: Opsgenie adds users and teams only",
			zap.String("og_alert_id", a.ID), zap.String("og_schedule", s.Target.ID))
		return a, nil
	}
	if err := c.addResponder(ctx, a.ID, s.Target); err != nil {
		return alertInfo{}, err
	}
	a.Responders = append(a.Responders, s.Target)
	return a, nil
}

func (c *Client) addResponder(ctx context.Context, alertID string, t target) error {
	res, err := c.alerts.AddResponder(ctx, &alert.AddResponderRequest{
		IdentifierType: alert.ALERTID, IdentifierValue: alertID, Responder: t.responder(),
		User: c.cfg.User, Source: c.cfg.Source,
	})
	if err != nil {
		return fmt.Errorf("add responder to alert %s: %w", alertID, c.fail(ctx, err))
	}
	if err := c.accepted(ctx, "responder", alertID, res.RequestId); err != nil {
		return fmt.Errorf("add responder to alert %s: %w", alertID, err)
	}
	return nil
}

// await polls the status of an asynchronous request until Opsgenie has
// processed it (404 RequestNotProcessed until then), for at most
// Config.StatusWait. A processed request that failed is an error;
// ports.ErrNotFound when its alert does not exist.
func (c *Client) await(ctx context.Context, requestID string) (*alert.RequestStatusResult, error) {
	deadline := time.Now().Add(c.cfg.StatusWait)
	wait := min(25*time.Millisecond, c.cfg.StatusWait)
	for {
		st, err := c.alerts.GetRequestStatus(ctx, &alert.GetRequestStatusRequest{RequestId: requestID})
		if err == nil {
			return st, requestError(st)
		}
		if ae, ok := asAPIError(err); !ok || ae.status != 404 || ae.errType != "RequestNotProcessed" {
			return nil, fmt.Errorf("read status of request %s: %w", requestID, c.fail(ctx, err))
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("request %s: %w: %w", requestID, errQueued, ports.ErrUnavailable)
		}
		if err := httpretry.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("request %s: %w: %w", requestID, ports.ErrUnavailable, err)
		}
		wait = min(wait*2, time.Second)
	}
}

// requestFailed is a request Opsgenie processed and refused.
type requestFailed struct {
	action, status string
}

func (e *requestFailed) Error() string {
	return fmt.Sprintf("request %s failed in Opsgenie: %s", e.action, e.status)
}

// Unwrap is ports.ErrNotFound when the request's alert does not exist.
func (e *requestFailed) Unwrap() error {
	if strings.Contains(strings.ToLower(e.status), "does not exist") {
		return ports.ErrNotFound
	}
	return nil
}

// requestError is the error of a processed request that failed.
func requestError(st *alert.RequestStatusResult) error {
	if st.IsSuccess {
		return nil
	}
	return &requestFailed{action: st.Action, status: st.Status}
}

// accepted is the result of a write Opsgenie accepted (202): only a
// processing failure is an error; a request still queued, or whose status
// could not be read, will be processed, so the write counts as done.
func (c *Client) accepted(ctx context.Context, what, alertID, requestID string) error {
	_, err := c.await(ctx, requestID)
	var rf *requestFailed
	if err == nil || errors.As(err, &rf) {
		return err
	}
	c.log.Debug("write accepted, outcome not read", zap.String("what", what), zap.String("og_alert_id", alertID), zap.Error(err))
	return nil
}

// getAlert reads an alert by ID.
func (c *Client) getAlert(ctx context.Context, id string) (alertInfo, error) {
	if !validAlertID(id) {
		return alertInfo{}, fmt.Errorf("alert ID %q: %w", id, ports.ErrNotFound)
	}
	a, err := c.alerts.Get(ctx, &alert.GetAlertRequest{IdentifierType: alert.ALERTID, IdentifierValue: id})
	if err != nil {
		return alertInfo{}, fmt.Errorf("get alert %s: %w", id, c.fail(ctx, err))
	}
	return alertInfo{
		ID: a.Id, TinyID: a.TinyId, Alias: a.Alias, Message: a.Message, Description: a.Description,
		Status: a.Status, Acknowledged: a.Acknowledged, Owner: a.Owner, Responders: fromResponders(a.Responders),
	}, nil
}

// searchAlerts calls each with the alerts matching an Opsgenie search
// query, oldest first, until each returns false or the search ends. It
// reports whether Opsgenie's 20,000-alert ceiling cut the search short.
func (c *Client) searchAlerts(ctx context.Context, query string, each func(alertInfo) bool) (bool, error) {
	for offset := 0; ; offset += searchLimit {
		if offset+searchLimit > searchCeiling {
			return true, nil
		}
		res, err := c.alerts.List(ctx, &alert.ListAlertRequest{
			Query: query, Offset: offset, Limit: searchLimit, Sort: alert.CreatedAt, Order: alert.Asc,
		})
		if err != nil {
			return false, fmt.Errorf("search alerts %q: %w", query, c.fail(ctx, err))
		}
		for _, a := range res.Alerts {
			info := alertInfo{ID: a.Id, TinyID: a.TinyID, Alias: a.Alias, Message: a.Message, Status: a.Status,
				Acknowledged: a.Acknowledged, Owner: a.Owner, Responders: fromResponders(a.Responders)}
			if !each(info) {
				return false, nil
			}
		}
		if len(res.Alerts) < searchLimit {
			return false, nil
		}
	}
}

// openAlertByAlias finds the open alert with the alias (Opsgenie's alias
// search finds open alerts only).
func (c *Client) openAlertByAlias(ctx context.Context, alias string) (alertInfo, bool, error) {
	var found alertInfo
	ok := false
	_, err := c.searchAlerts(ctx, "alias: "+strconv.Quote(alias), func(a alertInfo) bool {
		if a.Alias == alias && a.Status == alertOpen {
			found, ok = a, true
			return false
		}
		return true
	})
	return found, ok, err
}

// closeAlert closes an alert (with a note when note is not empty); an
// alert already closed is success. A close Opsgenie accepted but did not
// process in time counts as done: it is queued.
func (c *Client) closeAlert(ctx context.Context, id, note string) error {
	if !validAlertID(id) {
		return fmt.Errorf("alert ID %q: %w", id, ports.ErrNotFound)
	}
	res, err := c.alerts.Close(ctx, &alert.CloseAlertRequest{
		IdentifierType: alert.ALERTID, IdentifierValue: id, User: c.cfg.User, Source: c.cfg.Source, Note: note,
	})
	if err != nil {
		return fmt.Errorf("close alert %s: %w", id, c.fail(ctx, err))
	}
	err = c.accepted(ctx, "close", id, res.RequestId)
	var rf *requestFailed
	if errors.As(err, &rf) && strings.Contains(strings.ToLower(rf.status), "already closed") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("close alert %s: %w", id, err)
	}
	return nil
}

// alertActions returns the custom actions to put on new alerts.
func (c *Client) alertActions() []string {
	c.actionsMu.Lock()
	defer c.actionsMu.Unlock()
	return slices.Clone(c.actions)
}

// registerActions adds custom action names for new alerts.
func (c *Client) registerActions(names []string) {
	c.actionsMu.Lock()
	defer c.actionsMu.Unlock()
	for _, n := range names {
		if n != "" && !slices.Contains(c.actions, n) {
			c.actions = append(c.actions, n)
		}
	}
}

// validAlertID reports whether s can be put in a URL path as an alert ID
// (the SDK does not escape path values).
func validAlertID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	return !strings.ContainsAny(s, "/?#%\\ ")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
