package webhook

import (
	"net/http"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/ports"
)

// Module runs the HTTPS webhook of the `webhook {}` block; include it only
// when the block is present.
var Module = fx.Module("webhook",
	fx.Provide(fromConfig),
	fx.Invoke(func(*Server) {}),
)

// ConfigFrom maps the `webhook {}` block to the adapter's Config.
func ConfigFrom(s config.WebhookSettings) Config {
	return Config{ListenAddr: s.ListenAddr, CertFile: s.TLS.CertFile, KeyFile: s.TLS.KeyFile,
		ClientCAFile: s.TLS.ClientCAFile, AllowedClientCNs: s.TLS.AllowedClientCNs,
		Credentials: CredentialsFrom(s), SharedSecretHeader: s.SharedSecretHeader,
		InsecureNoAuth: s.InsecureNoAuth, ApproveWorkflow: s.ApproveWorkflow, DenyWorkflow: s.DenyWorkflow}
}

// CredentialsFrom maps the reloadable secrets of the `webhook {}` block.
func CredentialsFrom(s config.WebhookSettings) Credentials {
	var c Credentials
	for _, sec := range s.SigningSecrets {
		c.SigningSecrets = append(c.SigningSecrets, sec.Value())
	}
	if s.BasicAuth != nil {
		c.BasicUser, c.BasicPassword = s.BasicAuth.User, s.BasicAuth.Password.Value()
	}
	c.SharedSecret = s.SharedSecret.Value()
	return c
}

// deps are what the module takes from the graph; Health is the metrics
// adapter's /healthz and /readyz handler.
type deps struct {
	fx.In
	Config  *config.Config
	Actions ports.Actions
	Health  http.Handler `name:"health"`
	Metrics ports.Metrics
	Log     *zap.Logger
	// Routes are the pager's own delivery routes, if its module has any.
	Routes []ports.DeliveryRoute `group:"webhook_routes"`
}

func fromConfig(lc fx.Lifecycle, d deps) (*Server, error) {
	c := ConfigFrom(*d.Config.Webhook)
	c.Health, c.Metrics, c.Routes = d.Health, d.Metrics, d.Routes
	s, err := New(c, d.Actions, d.Log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(s.Start, s.Stop))
	return s, nil
}
