package opsgenie

import (
	"strings"

	"github.com/opsgenie/opsgenie-go-sdk-v2/alert"
)

// Target kinds: what a notify service is in Opsgenie.
const (
	targetSchedule = "schedule"
	targetTeam     = "team"
)

// target is a notify target: an Opsgenie schedule or team.
type target struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// serviceID is the target as a domain service ID: "<kind>:<id>".
func (t target) serviceID() string { return t.Kind + ":" + t.ID }

// parseServiceID reads a domain service ID made by serviceID.
func parseServiceID(s string) (target, bool) {
	kind, id, ok := strings.Cut(s, ":")
	if !ok || id == "" || (kind != targetSchedule && kind != targetTeam) {
		return target{}, false
	}
	return target{Kind: kind, ID: id}, true
}

// splitRef splits a FindService reference: "team:<x>", "schedule:<x>" or a
// bare schedule name or ID.
func splitRef(ref string) (kind, ident string) {
	ref = strings.TrimSpace(ref)
	if k, v, ok := strings.Cut(ref, ":"); ok && (k == targetTeam || k == targetSchedule) {
		return k, strings.TrimSpace(v)
	}
	return targetSchedule, ref
}

func (t target) responder() alert.Responder {
	kind := alert.ScheduleResponder
	if t.Kind == targetTeam {
		kind = alert.TeamResponder
	}
	return alert.Responder{Type: kind, Id: t.ID}
}
