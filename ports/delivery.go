package ports

import (
	"net/http"

	"github.com/pagergate/pagergate/domain"
)

// DeliveryRoute is a pager vendor's own delivery format for actions
// (approve, deny, resolved by hand), served by the webhook at POST Path
// behind the same checks as PagerDuty's routes: the configured
// authentication, a JSON content type and the body limit, then Parse, then
// the actions use case, with the same answers. A pager adapter provides
// its routes in the fx group "webhook_routes"; the webhook adapter serves
// them. Neither imports the other.
type DeliveryRoute struct {
	// Path is the route, such as "/opsgenie/actions".
	Path string
	// Parse turns an authenticated delivery into actions. Each action
	// carries ReplayKeys made of what the sender cannot change after the
	// fact, and the incident and actor IDs as the vendor names them; the
	// body's other fields are never trusted (the use case reads the
	// incident and the actor from the pager). No action: nothing for
	// pagergate (answered 2xx, ignored). An error: the delivery cannot be
	// read (answered 400).
	Parse func(header http.Header, body []byte) ([]domain.Action, error)
}
