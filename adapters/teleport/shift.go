package teleport

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gravitational/teleport/api/types"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
)

// shiftJSON is the stored form of a record's shift binding (key
// pagergate_shift): times in Unix seconds, 0 for none.
type shiftJSON struct {
	End      int64    `json:"end"`
	Until    int64    `json:"until,omitempty"`
	Locked   int64    `json:"locked,omitempty"`
	UserID   string   `json:"user_id"`
	Email    string   `json:"email"`
	Policies []string `json:"policies,omitempty"`
	Services []string `json:"services,omitempty"`
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func encodeShift(s domain.Shift) string {
	b, _ := json.Marshal(shiftJSON{End: unix(s.End), Until: unix(s.Until), Locked: unix(s.Locked),
		UserID: s.UserID, Email: s.Email, Policies: s.Policies, Services: s.Services}) // plain fields always encode
	return string(b)
}

func decodeShift(v string) (domain.Shift, error) {
	var j shiftJSON
	if err := json.Unmarshal([]byte(v), &j); err != nil {
		return domain.Shift{}, fmt.Errorf("%s %q: %w", KeyShift, v, err)
	}
	return domain.Shift{End: fromUnix(j.End), Until: fromUnix(j.Until), Locked: fromUnix(j.Locked),
		UserID: j.UserID, Email: j.Email, Policies: j.Policies, Services: j.Services}, nil
}

// ListRecords returns the record of every request holding plugin data of
// this plugin, in one GetPluginData call (no resource named: Teleport
// answers every entry of the kind; its entries expire an hour after their
// request's access, so the list stays as bounded as the requests).
func (c *Client) ListRecords(ctx context.Context) ([]domain.Record, error) {
	api, err := c.conn("list plugin data")
	if err != nil {
		return nil, err
	}
	data, err := api.GetPluginData(ctx, types.PluginDataFilter{Kind: types.KindAccessRequest, Plugin: c.cfg.PluginName})
	if err != nil {
		return nil, translate(ctx, err, "list plugin data", PermPluginData)
	}
	out := make([]domain.Record, 0, len(data))
	for _, d := range data {
		e := d.Entries()[c.cfg.PluginName]
		if e == nil || len(e.Data) == 0 {
			continue
		}
		rec, err := decodeRecord(d.GetName(), e.Data)
		if err != nil {
			c.log.Warn("plugin data partly unreadable", zap.String("request_id", d.GetName()), zap.Error(err))
		}
		out = append(out, rec)
	}
	return out, nil
}
