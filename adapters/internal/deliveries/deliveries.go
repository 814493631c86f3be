// Package deliveries is the contract between the webhook adapter, which
// owns the HTTPS listener and its one set of authentication rules, and a
// pager adapter whose vendor delivers actions (approve, deny, resolved by
// hand) in a format of its own. The pager adapter provides Routes (its
// module puts them in the fx group "webhook_routes"); the webhook serves
// each at its path behind the same checks as PagerDuty's routes: the
// configured authentication (mutual TLS, basic auth, the shared-secret
// header), a JSON content type and the body limit, then Parse, then the
// actions use case, with the same answers (2xx for every final result,
// 503 for a transient failure).
//
// It is a library of the adapters, not an adapter: standard library and
// domain only.
package deliveries

import (
	"errors"
	"net/http"

	"github.com/pagergate/pagergate/domain"
)

// Group is the fx value group the routes are provided in.
const Group = "webhook_routes"

// Route is one vendor's delivery format, served at POST Path.
type Route struct {
	// Path is the route, such as "/opsgenie/actions".
	Path string
	// Parse turns an authenticated delivery into actions. Each action
	// carries ReplayKeys made of what the sender cannot change after the
	// fact, and the incident and actor IDs as the vendor names them; the
	// body's other fields are never trusted (the use case reads the
	// incident and the actor from the pager). No action: nothing for
	// pagergate (answered 2xx, ignored). An error wrapping ErrMalformed
	// is answered 400.
	Parse func(header http.Header, body []byte) ([]domain.Action, error)
}

// ErrMalformed says a delivery cannot be read.
var ErrMalformed = errors.New("malformed delivery")
