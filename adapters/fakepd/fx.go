package fakepd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
)

// Module starts the fake PagerDuty in-process for `pager "fake" {}` (SPEC
// §11), seeded from the block, with its web page's buttons delivering to
// the daemon's own webhook, and provides the PagerDuty settings that point
// the real PagerDuty adapter (its module goes next to this one) at it.
var Module = fx.Module("fakepd", fx.Provide(fromConfig, pagerSettings))

// Check is what `pagergate check` says of the fake pager: nothing to probe.
func Check(_ context.Context, _ config.PagerSettings, _ []string, report func(name string, err error, detail string)) {
	report("pager", nil, "fake (in-process; nothing to probe)")
}

// pagerSettings are the PagerDuty client's settings of the block, with
// the running fake's URL as the API endpoint.
func pagerSettings(f *config.FakeSettings, s *Server) *config.PagerDutySettings {
	pd := f.PagerDuty
	pd.APIEndpoint = s.URL()
	return &pd
}

// optionsFrom maps the block to the fake's Options; deliveries go to the
// webhook when one is configured.
func optionsFrom(f *config.FakeSettings, w *config.WebhookSettings) (Options, error) {
	o := Options{APIKey: f.PagerDuty.APIKey.Value()}
	if w == nil {
		return o, nil
	}
	host, port, err := net.SplitHostPort(w.ListenAddr)
	if err != nil {
		return o, fmt.Errorf("webhook listen_addr %q: %w", w.ListenAddr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	o.WebhookURL = "https://" + net.JoinHostPort(host, port)
	if len(w.SigningSecrets) > 0 {
		o.WebhookSecret = w.SigningSecrets[0].Value()
	} else {
		o.WebhookMode = ModeCustomAction
	}
	if w.BasicAuth != nil {
		o.WebhookBasicUser, o.WebhookBasicPassword = w.BasicAuth.User, w.BasicAuth.Password.Value()
	}
	o.WebhookHeader, o.WebhookHeaderValue = w.SharedSecretHeader, w.SharedSecret.Value()
	o.WebhookTLSConfig, err = TrustPEMFile(w.TLS.CertFile)
	return o, err
}

// TrustPEMFile returns the client TLS configuration of deliveries that
// trusts the certificates of a PEM file (the webhook's CA, or its
// self-signed certificate) instead of the system's.
func TrustPEMFile(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust the webhook certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("trust the webhook certificate: %s holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func fromConfig(lc fx.Lifecycle, cfg *config.Config, f *config.FakeSettings, log *zap.Logger) (*Server, error) {
	opts, err := optionsFrom(f, cfg.Webhook)
	if err != nil {
		return nil, err
	}
	s := New(opts)
	// The bot user writes are made as must exist, as in a real account.
	s.AddUser(f.PagerDuty.UserEmail, "pagergate bot")
	if err := seedFrom(s, f); err != nil {
		return nil, err
	}
	// Bound now: the pager adapter needs the address before anything starts.
	url, err := s.Start(f.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("fake pagerduty on %s: %w", f.ListenAddr, err)
	}
	lc.Append(fx.StopHook(s.Close))
	log.Named("fakepd").Warn("using the fake PagerDuty: nobody is paged", zap.String("url", url))
	return s, nil
}

// seedFrom loads the block's users, services, on-call entries and seed file.
func seedFrom(s *Server, f *config.FakeSettings) error {
	if f.SeedFile != "" {
		if err := s.LoadSeedFile(f.SeedFile); err != nil {
			return fmt.Errorf("fake pager seed: %w", err)
		}
	}
	for _, u := range f.Users {
		s.AddUser(u.Email, u.Name)
	}
	for _, sv := range f.Services {
		if sv.ID != "" {
			if _, err := s.AddServiceWithID(sv.Name, sv.ID); err != nil {
				return fmt.Errorf("fake pager service %q: %w", sv.Name, err)
			}
			continue
		}
		s.AddService(sv.Name)
	}
	for _, oc := range f.OnCalls {
		s.AddUser(oc.User, "")
		level := oc.Level
		if level == 0 {
			level = 1
		}
		if err := s.AddOnCall(oc.User, oc.Service, level); err != nil {
			return fmt.Errorf("fake pager on_call %s in %q: %w", oc.User, oc.Service, err)
		}
	}
	return nil
}
