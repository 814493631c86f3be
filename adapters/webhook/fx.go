package webhook

import (
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
	c := Config{ListenAddr: s.ListenAddr, CertFile: s.TLS.CertFile, KeyFile: s.TLS.KeyFile,
		ClientCAFile: s.TLS.ClientCAFile, AllowedClientCNs: s.TLS.AllowedClientCNs,
		SharedSecretHeader: s.SharedSecretHeader, SharedSecret: s.SharedSecret.Value(),
		InsecureNoAuth: s.InsecureNoAuth, ApproveWorkflow: s.ApproveWorkflow, DenyWorkflow: s.DenyWorkflow}
	for _, sec := range s.SigningSecrets {
		c.SigningSecrets = append(c.SigningSecrets, sec.Value())
	}
	if s.BasicAuth != nil {
		c.BasicUser, c.BasicPassword = s.BasicAuth.User, s.BasicAuth.Password.Value()
	}
	return c
}

func fromConfig(lc fx.Lifecycle, cfg *config.Config, actions ports.Actions, ready ports.Readiness, m ports.Metrics, log *zap.Logger) (*Server, error) {
	c := ConfigFrom(*cfg.Webhook)
	c.Metrics = m
	s, err := New(c, actions, ready, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(s.Start, s.Stop))
	return s, nil
}
