package webhook

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/config"
)

// The custom actions provisioned on the pager carry exactly the
// credentials the server checks: a delivery sent with their headers to
// their URL path is accepted, one without them refused.
func TestActionHooksAuthenticate(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.BasicUser, cfg.BasicPassword = "pd", "hunter22"
	cfg.SharedSecretHeader, cfg.SharedSecret = "X-Gate", "s3cret"
	e.start(cfg)
	hooks := ActionHooks(config.WebhookSettings{
		PublicAddr: "https://pagergate.example.com:8443/", ProvisionActions: true,
		BasicAuth:          &config.BasicAuthSettings{User: "pd", Password: "hunter22"},
		SharedSecretHeader: "X-Gate", SharedSecret: "s3cret",
	})
	if len(hooks) != 2 {
		t.Fatalf("ActionHooks() = %d hooks, want approve and deny", len(hooks))
	}
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	for i, want := range []string{PathApprove, PathDeny} {
		h := hooks[i]
		path, ok := strings.CutPrefix(h.URL, "https://pagergate.example.com:8443")
		if !ok || path != want {
			t.Errorf("hook %q URL = %q, want public_addr + %s", h.Name, h.URL, want)
		}
		if got := e.post(e.client(), want, body, h.Headers); got.status != http.StatusOK {
			t.Errorf("delivery with the %q hook's headers = %d (%s), want 200", h.Name, got.status, got.raw)
		}
	}
	if got := e.post(e.client(), PathApprove, body, nil); got.status != http.StatusUnauthorized {
		t.Errorf("delivery without the headers = %d, want 401", got.status)
	}
	if got := ActionHooks(config.WebhookSettings{PublicAddr: "https://x.example.com"}); got != nil {
		t.Errorf("ActionHooks without provision_actions = %v, want none", got)
	}
}
