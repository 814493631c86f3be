package opsgenie

import (
	"testing"

	"github.com/pagergate/pagergate/ports/pagertest"
)

// The Opsgenie adapter on the fake Opsgenie passes the pager conformance
// suite. Opsgenie keeps one open alert per alias in the account, and finds
// alerts by alias only while they are open.
func TestConformance(t *testing.T) {
	pagertest.Run(t, func(t *testing.T) (pagertest.Pager, pagertest.Vendor) {
		h := newHarness(t, nil)
		return h.client, vendor{fake: h.fake}
	}, pagertest.Capabilities{OneIncidentPerKey: true, ResolvedFoundByKey: false})
}
