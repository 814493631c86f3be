package webhook

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/ports"
)

// Path tricks (unclean paths redirect, other cases and encodings miss),
// other methods, partial credentials, and PagerDuty's routes next to a
// pager's own never reach the use case.
func TestPathAndMethodTricksNeverReachTheUseCase(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Routes = []ports.DeliveryRoute{vendorRoute}
	cfg.Credentials = Credentials{BasicUser: "og", BasicPassword: "pw"}
	e.srv = e.start(cfg)
	c := e.client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	body := `"approve P1"`
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
	}{
		{"POST", "/vendor/actions", nil},
		{"POST", "//vendor/actions", nil},
		{"POST", "/vendor/actions/", nil},
		{"POST", "/vendor/./actions", nil},
		{"POST", "/x/../vendor/actions", nil},
		{"POST", "/VENDOR/actions", nil},
		{"POST", "/vendor%2factions", nil},
		{"POST", "/%76endor/actions", nil},
		{"GET", "/vendor/actions", map[string]string{"X-HTTP-Method-Override": "POST"}},
		{"HEAD", "/vendor/actions", nil},
		{"PUT", "/vendor/actions", nil},
		{"POST", "/vendor/actions", map[string]string{"Authorization": basic("og", "")}},
		{"POST", "/vendor/actions", map[string]string{"Authorization": basic("", "pw")}},
		{"POST", "/vendor/actions", map[string]string{"Authorization": basic("OG", "pw")}},
		{"POST", "/vendor/actions", map[string]string{"Authorization": "Bearer pw"}},
		// PagerDuty's routes are not served when the pager has its own.
		{"POST", PathApprove, map[string]string{"Authorization": basic("og", "pw")}},
		{"POST", PathDeny, map[string]string{"Authorization": basic("og", "pw")}},
		{"POST", PathV3, map[string]string{"Authorization": basic("og", "pw")}},
	} {
		req, _ := http.NewRequest(tc.method, "https://"+e.srv.Addr()+tc.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Key", "k-"+tc.method+tc.path)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		if a := e.do(c, req); a.status < 300 {
			t.Errorf("%s %s %v answered %d", tc.method, tc.path, tc.hdr, a.status)
		}
	}
	for _, p := range []string{PathApprove, PathDeny, PathV3} {
		if a := e.post(c, p, []byte(body), map[string]string{"Authorization": basic("og", "pw")}); a.status != http.StatusNotFound {
			t.Errorf("%s next to a pager's own route answered %d, want 404", p, a.status)
		}
	}
	if n := len(e.actions.calls()); n != 0 {
		t.Fatalf("%d actions reached the use case", n)
	}
}

// With PagerDuty's routes, a pager's own path is not served, signing
// secrets alone leave the custom actions closed, and an Opsgenie-shaped
// body signed for v3 is malformed.
func TestOtherPagerKindsDeliveriesNeverReachTheUseCase(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Credentials = Credentials{SigningSecrets: []string{"sec"}}
	e.srv = e.start(cfg)
	c := e.client()
	og := []byte(`{"action":"Approve","alert":{"alertId":"a1","userId":"u1","updatedAt":1}}`)
	for _, p := range []string{"/opsgenie/actions", PathApprove, PathDeny} {
		h := e.signed(og, "sec")
		h[DeliveryHeader] = "w-" + p
		if a := e.post(c, p, og, h); a.status < 400 {
			t.Errorf("%s answered %d", p, a.status)
		}
	}
	// An Opsgenie-shaped body signed for v3 is nothing for pagergate.
	if a := e.post(c, PathV3, og, e.signed(og, "sec")); a.status != http.StatusBadRequest {
		t.Errorf("v3 with an Opsgenie body answered %d, want 400", a.status)
	}
	if n := len(e.actions.calls()); n != 0 {
		t.Fatalf("%d actions reached the use case", n)
	}
}
