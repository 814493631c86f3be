//go:build e2e || bench

// Requests and incidents: create requests on the Teleport test server and
// wait for what the fake PagerDuty and Teleport show.

package e2e

import (
	"fmt"
	"strings"

	"github.com/gravitational/teleport/api/types"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// notify returns the system annotations naming notify services.
func notify(svcs ...string) map[string][]string {
	return map[string][]string{"pagerduty_notify_service": svcs}
}

// annotations merges annotation maps.
func annotations(ms ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// approvalServices returns the annotations naming approval services.
func approvalServices(svcs ...string) map[string][]string {
	return map[string][]string{"pagerduty_services": svcs}
}

// createRequest creates a pending request and returns its ID.
func (e *env) createRequest(user string, roles []string, ann map[string][]string, reason string) string {
	e.t.Helper()
	var opts []teleporttest.ReqOpt
	if ann != nil {
		opts = append(opts, teleporttest.WithAnnotations(ann))
	}
	if reason != "" {
		opts = append(opts, teleporttest.WithReason(reason))
	}
	id, err := e.tp.CreateRequest(user, roles, opts...)
	if err != nil {
		e.t.Fatalf("create request: %v", err)
	}
	return id
}

// incidentKey is the incident_key pagergate gives a request's incidents.
func incidentKey(reqID string) string { return "teleport-access-request/" + reqID }

// incidentsFor returns the incidents with the request's incident_key.
func (e *env) incidentsFor(reqID string) []fakepd.Incident {
	return incidentsIn(e.pd, reqID)
}

func incidentsIn(pd *fakepd.Server, reqID string) []fakepd.Incident {
	var out []fakepd.Incident
	for _, inc := range pd.Incidents() {
		if inc.Key == incidentKey(reqID) {
			out = append(out, inc)
		}
	}
	return out
}

// waitIncident waits for the request's first incident.
func (e *env) waitIncident(reqID string) fakepd.Incident {
	e.t.Helper()
	var inc fakepd.Incident
	e.waitPD("incident of "+reqID, func(pd *fakepd.Server) bool {
		l := incidentsIn(pd, reqID)
		if len(l) > 0 {
			inc = l[0]
		}
		return len(l) > 0
	})
	return inc
}

// waitIncidentIn waits for the request's incident in a service (by name).
func (e *env) waitIncidentIn(reqID, service string) fakepd.Incident {
	e.t.Helper()
	id := e.serviceID(service)
	var inc fakepd.Incident
	e.waitPD("incident of "+reqID+" in "+service, func(pd *fakepd.Server) bool {
		for _, i := range incidentsIn(pd, reqID) {
			if i.ServiceID == id {
				inc = i
				return true
			}
		}
		return false
	})
	return inc
}

// waitResolved waits until every incident of the request (at least one)
// is resolved and returns the first.
func (e *env) waitResolved(reqID string) fakepd.Incident {
	e.t.Helper()
	var inc fakepd.Incident
	e.waitPD("resolved incident of "+reqID, func(pd *fakepd.Server) bool {
		l := incidentsIn(pd, reqID)
		if len(l) == 0 {
			return false
		}
		for _, i := range l {
			if i.Status != "resolved" {
				return false
			}
		}
		inc = l[0]
		return true
	})
	return inc
}

// waitNotes waits until the incident has at least n notes and returns
// their contents.
func (e *env) waitNotes(incidentID string, n int) []string {
	e.t.Helper()
	var notes []string
	e.waitPD(fmt.Sprintf("%d notes on %s", n, incidentID), func(pd *fakepd.Server) bool {
		notes = pd.Notes(incidentID)
		return len(notes) >= n
	})
	return notes
}

// waitState polls the Teleport server until the request is in state.
func (e *env) waitState(reqID string, state types.RequestState) *types.AccessRequestV3 {
	e.t.Helper()
	var r *types.AccessRequestV3
	err := poll(func() bool {
		var err error
		r, err = e.tp.Get(reqID)
		return err == nil && r.GetState() == state
	})
	if err != nil {
		got := "unknown"
		if r != nil {
			got = r.GetState().String()
		}
		e.t.Fatalf("request %s: state %s, want %s", reqID, got, state)
	}
	return r
}

// requestState returns the request's current state.
func (e *env) requestState(reqID string) types.RequestState {
	e.t.Helper()
	r, err := e.tp.Get(reqID)
	if err != nil {
		e.t.Fatalf("get request %s: %v", reqID, err)
	}
	return r.GetState()
}

// pluginData returns pagergate's plugin data on the request.
func (e *env) pluginData(reqID string) map[string]string { return e.tp.PluginData(reqID) }

// pdUserID returns the fake PagerDuty ID of a user.
func (e *env) pdUserID(email string) string {
	e.t.Helper()
	for _, u := range e.pd.Users() {
		if strings.EqualFold(u.Email, email) {
			return u.ID
		}
	}
	e.t.Fatalf("no pager user %s", email)
	return ""
}

// serviceID returns the fake PagerDuty ID of a service.
func (e *env) serviceID(name string) string {
	e.t.Helper()
	for _, s := range e.pd.Services() {
		if strings.EqualFold(s.Name, name) {
			return s.ID
		}
	}
	e.t.Fatalf("no pager service %s", name)
	return ""
}

// withReviews makes CreateRequest add existing reviews and raise the
// approval threshold above them, as a request under a multi-approver
// policy looks after some reviews.
func withReviews(revs ...types.AccessReview) teleporttest.ReqOpt {
	return func(r *types.AccessRequestV3) error {
		r.SetThresholds([]types.AccessReviewThreshold{{Name: "default", Approve: uint32(len(revs) + 1), Deny: 1}})
		for i := range revs {
			revs[i].ThresholdIndexes = []uint32{0}
		}
		r.SetReviews(revs)
		return nil
	}
}
