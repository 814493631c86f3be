package fakeopsgenie

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/config"
)

// Module starts the fake Opsgenie in-process for `pager "opsgenie-fake"
// {}`, seeded from the block, with its webhook integration delivering the
// alerts' custom actions (and closes) to the daemon's own webhook, and
// provides the Opsgenie settings that point the real Opsgenie adapter (its
// module goes next to this one) at it.
var Module = fx.Module("fakeopsgenie", fx.Provide(fromConfig, opsgenieSettings))

// Check is what `pagergate check` says of the fake Opsgenie: nothing to
// probe.
func Check(_ context.Context, _ config.PagerSettings, _ []string, report func(name string, err error, detail string)) {
	report("pager", nil, "fake Opsgenie (in-process; nothing to probe)")
}

// opsgenieSettings are the Opsgenie client's settings of the block, with
// the running fake's URL as the API URL.
func opsgenieSettings(f *config.OpsgenieFakeSettings, s *Server) *config.OpsgenieSettings {
	og := f.Opsgenie
	og.APIURL = s.URL()
	return &og
}

// optionsFrom maps the block to the fake's Options; the webhook
// integration posts to the webhook when one is configured (at its
// public_addr, as Opsgenie would, else at its listen_addr on loopback),
// with its credentials as custom headers, as an Opsgenie webhook
// integration is set up.
func optionsFrom(f *config.OpsgenieFakeSettings, w *config.WebhookSettings) (Options, error) {
	o := Options{APIKey: f.Opsgenie.APIKey.Value()}
	if w == nil {
		return o, nil
	}
	base := strings.TrimRight(w.PublicAddr, "/")
	if base == "" {
		host, port, err := net.SplitHostPort(w.ListenAddr)
		if err != nil {
			return o, fmt.Errorf("webhook listen_addr %q: %w", w.ListenAddr, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		base = "https://" + net.JoinHostPort(host, port)
	}
	o.Webhook = WebhookOptions{
		URL:          base + config.OpsgenieActionsPath,
		Headers:      map[string]string{},
		Actions:      []string{f.Opsgenie.ApproveAction, f.Opsgenie.DenyAction},
		ForwardClose: true,
	}
	if w.BasicAuth != nil {
		userPass := w.BasicAuth.User + ":" + w.BasicAuth.Password.Value()
		o.Webhook.Headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
	}
	if w.SharedSecretHeader != "" {
		o.Webhook.Headers[w.SharedSecretHeader] = w.SharedSecret.Value()
	}
	pem, err := os.ReadFile(w.TLS.CertFile)
	if err != nil {
		return o, fmt.Errorf("trust the webhook certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	o.Webhook.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return o, nil
}

func fromConfig(lc fx.Lifecycle, cfg *config.Config, f *config.OpsgenieFakeSettings, log *zap.Logger) (*Server, error) {
	opts, err := optionsFrom(f, cfg.Webhook)
	if err != nil {
		return nil, err
	}
	s := New(opts)
	if err := seedFrom(s, f); err != nil {
		return nil, err
	}
	// Bound now: the Opsgenie adapter needs the address before anything
	// starts.
	url, err := s.Start(f.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("fake opsgenie on %s: %w", f.ListenAddr, err)
	}
	lc.Append(fx.StopHook(s.Close))
	log.Named("fakeopsgenie").Warn("using the fake Opsgenie: nobody is paged", zap.String("url", url))
	return s, nil
}

// seedFrom loads the seed file, then the block's users, teams, schedules
// and on-call entries.
func seedFrom(s *Server, f *config.OpsgenieFakeSettings) error {
	if f.SeedFile != "" {
		if err := s.LoadSeedFile(f.SeedFile); err != nil {
			return fmt.Errorf("fake opsgenie seed %s: %w", f.SeedFile, err)
		}
	}
	seed := Seed{}
	for _, u := range f.Users {
		seed.Users = append(seed.Users, SeedUser{Username: u.Username, FullName: u.FullName})
	}
	for _, t := range f.Teams {
		seed.Teams = append(seed.Teams, SeedTeam{Name: t.Name, Members: t.Members})
	}
	for _, sc := range f.Schedules {
		seed.Schedules = append(seed.Schedules, SeedSchedule{Name: sc.Name, OwnerTeam: sc.OwnerTeam})
	}
	for _, o := range f.OnCalls {
		seed.OnCalls = append(seed.OnCalls, SeedOnCall{Schedule: o.Schedule, User: o.User, Team: o.Team})
	}
	if err := s.ApplySeed(seed); err != nil {
		return errors.Join(errors.New("fake opsgenie seed"), err)
	}
	return nil
}
