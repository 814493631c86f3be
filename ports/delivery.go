package ports

import (
	"net/http"
	"strings"
	"unicode"

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

// FoldDeliveryKey folds a JSON object key the way encoding/json matches field
// names: every rune to the smallest of its simple case folds. Two keys
// with the same fold fill the same struct field, so a check for repeated
// keys must compare folds: strings.ToLower keeps "ſ" (long s) apart from
// "s" and "K" (Kelvin sign) apart from "k", which encoding/json does not.
func FoldDeliveryKey(k string) string {
	return strings.Map(func(r rune) rune {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				return next
			}
			r = next
		}
	}, k)
}
