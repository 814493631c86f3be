package pagerduty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/pagergate/pagergate/domain"
)

// maxPaginated is PagerDuty's ceiling on classic pagination: offset plus
// limit may not exceed 10,000 records; a query with more matches cannot be
// read to its end.
const maxPaginated = 10000

// servicesPerQuery bounds the service_ids[] of one list call, so the URL
// stays short whatever the number of services.
const servicesPerQuery = 25

// OpenIncidents lists the triggered and acknowledged incidents of the
// services (GET /incidents with statuses[], service_ids[] and
// date_range=all, every page), at most max (max <= 0: no cap but
// PagerDuty's). more reports that incidents were left out, by max or by
// PagerDuty's pagination ceiling. Service IDs that cannot be PagerDuty IDs
// are skipped.
func (c *Client) OpenIncidents(ctx context.Context, serviceIDs []string, max int) ([]domain.Incident, bool, error) {
	var ids []string
	for _, id := range serviceIDs {
		if validID(id) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var out []domain.Incident
	for chunk := range slices.Chunk(ids, servicesPerQuery) {
		for offset := uint(0); ; {
			if offset+c.limit > maxPaginated {
				return out, true, nil
			}
			resp, err := c.pd.ListIncidentsWithContext(ctx, pd.ListIncidentsOptions{
				Limit: c.limit, Offset: offset, DateRange: "all", Statuses: activeStatuses, ServiceIDs: chunk,
			})
			if err != nil {
				return nil, false, fmt.Errorf("list open incidents: %w", c.fail(ctx, err))
			}
			for _, in := range resp.Incidents {
				inc := toIncident(in)
				// The filters are PagerDuty's; the caller's trust rests on
				// them, so they are checked again here.
				if !inc.Active() || !slices.Contains(chunk, inc.ServiceID) {
					continue
				}
				if max > 0 && len(out) >= max {
					return out, true, nil
				}
				out = append(out, inc)
			}
			if !resp.More || len(resp.Incidents) == 0 {
				break
			}
			offset += uint(len(resp.Incidents))
		}
	}
	return out, false, nil
}

// IncidentDetails returns the details of an incident's body (GET
// /incidents/{id}?include[]=body: PagerDuty returns the body only when
// asked). Details sent as a JSON object come back as its JSON text.
func (c *Client) IncidentDetails(ctx context.Context, id string) (string, error) {
	if !validID(id) {
		return "", idError("incident", id)
	}
	var out struct {
		Incident struct {
			Body *struct {
				Details json.RawMessage `json:"details"`
			} `json:"body"`
		} `json:"incident"`
	}
	if err := c.doJSON(ctx, http.MethodGet, "/incidents/"+id+"?include%5B%5D=body", nil, &out); err != nil {
		return "", fmt.Errorf("get details of incident %s: %w", id, err)
	}
	b := out.Incident.Body
	if b == nil || len(b.Details) == 0 || string(b.Details) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(b.Details, &s) == nil {
		return s, nil
	}
	return string(b.Details), nil
}
