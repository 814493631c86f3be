package opsgenie

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// ActionClose is the action of Opsgenie's webhook integration when an
// alert is closed (by hand, or by pagergate itself once the request is
// resolved).
const ActionClose = "Close"

// Deliveries reads what Opsgenie's webhook integration posts when an
// alert's custom action is executed (its "alert action" payload): the
// action's name, and the alert's ID, the acting user's ID and the alert's
// update time (nanoseconds since the epoch). Opsgenie signs nothing and
// sends neither a delivery ID nor a note text: the webhook authenticates
// the integration (basic auth or a custom header), and a delivery is
// remembered by alert ID, action, update time and user together. The
// alias, message, username and the rest are never read: the use case reads
// the alert and the user from Opsgenie.
type Deliveries struct {
	// Approve and Deny are the custom actions' names (exact).
	Approve, Deny string
}

// Route is the webhook route of the deliveries, at path.
func (d Deliveries) Route(path string) ports.DeliveryRoute {
	return ports.DeliveryRoute{Path: path, Parse: d.Parse}
}

// alertAction is the part of the payload that is read.
type alertAction struct {
	Action *string `json:"action"`
	Alert  *struct {
		AlertID   string       `json:"alertId"`
		UserID    string       `json:"userId"`
		UpdatedAt *json.Number `json:"updatedAt"`
	} `json:"alert"`
}

// replayPrefix marks the replay keys of Opsgenie deliveries.
const replayPrefix = "opsgenie:"

// Parse maps a delivery to its action: Approve and Deny to approve and
// deny, Close to a manual resolve; any other action is nothing for
// pagergate (no action). A payload without an action, alert ID or update
// time, or with a repeated key, is malformed.
func (d Deliveries) Parse(_ http.Header, body []byte) ([]domain.Action, error) {
	if err := noRepeatedKeys(body); err != nil {
		return nil, err
	}
	var p alertAction
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("alert action payload: %w", err)
	}
	if p.Action == nil || p.Alert == nil {
		return nil, errors.New("alert action payload without action or alert")
	}
	verb, ok := d.verb(*p.Action)
	if !ok {
		return nil, nil
	}
	a := p.Alert
	if !validAlertID(a.AlertID) {
		return nil, fmt.Errorf("alert.alertId %q is not an alert ID", a.AlertID)
	}
	if a.UpdatedAt == nil {
		return nil, errors.New("alert.updatedAt is missing")
	}
	ns, err := strconv.ParseInt(a.UpdatedAt.String(), 10, 64)
	if err != nil || ns <= 0 {
		return nil, fmt.Errorf("alert.updatedAt %q is not a time in nanoseconds", a.UpdatedAt.String())
	}
	key := strings.Join([]string{a.AlertID, *p.Action, strconv.FormatInt(ns, 10), a.UserID}, "/")
	return []domain.Action{{
		DeliveryID: "og-" + a.AlertID + "-" + strconv.FormatInt(ns, 10),
		ReplayKeys: []string{replayPrefix + key},
		Verb:       verb, IncidentID: a.AlertID, ActorID: a.UserID,
		OccurredAt: time.Unix(0, ns),
	}}, nil
}

func (d Deliveries) verb(action string) (domain.Verb, bool) {
	switch action {
	case "":
		return 0, false
	case d.Approve:
		return domain.VerbApprove, true
	case d.Deny:
		return domain.VerbDeny, true
	case ActionClose:
		return domain.VerbManualResolve, true
	}
	return 0, false
}

// noRepeatedKeys refuses a payload that is not one JSON object, or that
// repeats a key in it or in its alert: two readers could take different
// values of a repeated key.
func noRepeatedKeys(body []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Errorf("alert action payload: %w", err)
	}
	if err := uniqueKeys(body); err != nil {
		return err
	}
	if alert, ok := top["alert"]; ok {
		return uniqueKeys(alert)
	}
	return nil
}

// uniqueKeys reports a key repeated (in any case, folded as encoding/json
// folds it) at the top of a JSON object; a value that is no object has none.
func uniqueKeys(obj []byte) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("alert action payload: %w", err)
		}
		k, _ := t.(string)
		if seen[ports.FoldDeliveryKey(k)] {
			return fmt.Errorf("alert action payload repeats the key %q", k)
		}
		seen[ports.FoldDeliveryKey(k)] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("alert action payload: %w", err)
		}
	}
	return nil
}
