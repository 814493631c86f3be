package webhook

import (
	"encoding/base64"
	"strings"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/domain"
)

// ActionHooks returns the approve and deny custom actions the pager
// provisions on each notify service (webhook.provision_actions): they
// point at PathApprove and PathDeny under public_addr and carry the
// credentials this server checks (basic auth, the shared-secret header).
// Without provision_actions or public_addr there are none.
func ActionHooks(s config.WebhookSettings) []domain.ActionHook {
	if !s.ProvisionActions || s.PublicAddr == "" {
		return nil
	}
	headers := map[string]string{}
	if s.BasicAuth != nil {
		userPass := s.BasicAuth.User + ":" + s.BasicAuth.Password.Value()
		headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
	}
	if s.SharedSecretHeader != "" {
		headers[s.SharedSecretHeader] = s.SharedSecret.Value()
	}
	base := strings.TrimRight(s.PublicAddr, "/")
	return []domain.ActionHook{
		{Name: "Approve access", URL: base + PathApprove, Headers: headers},
		{Name: "Deny access", URL: base + PathDeny, Headers: headers},
	}
}
