package world

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pagergate/pagergate/adapters/fakepd"
	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
)

// Names of the seeded world.
const (
	Requester       = "alice@example.com"
	OnCallCritical  = "bob@example.com"   // on call for ServiceCritical
	OnCallTeleport  = "carol@example.com" // on call for ServiceTeleport
	ServiceTeleport = "Teleport Access Requests"
	ServiceCritical = "My Critical Service"
	botEmail        = "pagergate@example.com"
	signingSecret   = "demo-signing-secret"
)

// World is the servers around the daemon and the files it reads.
type World struct {
	Dir       string
	Teleport  *teleporttest.Server
	PagerDuty *fakepd.Server
	// Config is the daemon's configuration file; Log is its log file.
	Config, Log string
}

// New builds the world in dir. Close stops its servers.
func New(dir string) (*World, error) {
	w := &World{Dir: dir, Config: filepath.Join(dir, "pagergate.hcl"), Log: filepath.Join(dir, "pagergate.log")}
	var err error
	w.Teleport, err = teleporttest.New(teleporttest.Options{ClusterName: "demo.example.com", ProxyAddr: "teleport.example.com:443"})
	if err != nil {
		return nil, fmt.Errorf("teleport test server: %w", err)
	}
	w.Teleport.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true})
	cert, err := webhooktest.NewCA("pagergate demo webhook", time.Now().Add(-time.Minute), time.Now().Add(30*24*time.Hour))
	if err == nil {
		err = cert.Write(filepath.Join(dir, "webhook.crt"), filepath.Join(dir, "webhook.key"))
	}
	if err == nil {
		err = w.Teleport.WriteIdentityFile(filepath.Join(dir, "identity"), "pagergate", 24*time.Hour)
	}
	if err == nil {
		err = w.startPagerDuty(cert)
	}
	if err == nil {
		err = os.WriteFile(w.Config, fmt.Appendf(nil, configText, dir, w.Teleport.Addr(), w.PagerDuty.URL()), 0o600)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// startPagerDuty starts the fake PagerDuty with its on-call schedule; its
// web page's buttons deliver signed v3 webhooks to the daemon, trusting
// the daemon's certificate, once the daemon's address is known.
func (w *World) startPagerDuty(cert *webhooktest.Cert) error {
	pd := fakepd.New(fakepd.Options{WebhookSecret: signingSecret, WebhookTLSConfig: cert.ClientTLS()})
	pd.AddUser(botEmail, "pagergate bot")
	pd.AddUser(Requester, "Alice (requester)")
	pd.AddUser(OnCallCritical, "Bob (on call for "+ServiceCritical+")")
	pd.AddUser(OnCallTeleport, "Carol (on call for "+ServiceTeleport+")")
	pd.AddService(ServiceTeleport)
	pd.AddService(ServiceCritical)
	err := pd.AddOnCall(OnCallCritical, ServiceCritical, 1)
	if err == nil {
		err = pd.AddOnCall(OnCallTeleport, ServiceTeleport, 1)
	}
	if err == nil {
		_, err = pd.Start("127.0.0.1:0")
	}
	w.PagerDuty = pd
	return err
}

// Close stops the servers.
func (w *World) Close() {
	if w.PagerDuty != nil {
		w.PagerDuty.Close()
	}
	if w.Teleport != nil {
		w.Teleport.Close()
	}
}

// configText is the daemon's configuration: %[1]s is the directory, %[2]s
// the Teleport address, %[3]s the fake PagerDuty's URL. The listeners take
// free ports; the daemon logs which.
const configText = `# written by pagergate-demo
teleport {
  addr     = "%[2]s"
  identity = "%[1]s/identity"
}

pager "pagerduty" {
  # The fake PagerDuty of the demo, which accepts this token.
  api_key                = "` + fakepd.DefaultAPIKey + `"
  user_email             = "` + botEmail + `"
  api_endpoint           = "%[3]s"
  default_notify_service = "` + ServiceTeleport + `"
}

store "bbolt" {
  path = "%[1]s/state.db"
}

webhook {
  listen_addr     = "127.0.0.1:0"
  signing_secrets = ["` + signingSecret + `"]
  tls {
    cert_file = "%[1]s/webhook.crt"
    key_file  = "%[1]s/webhook.key"
  }
}

metrics {
  listen_addr = "127.0.0.1:0"
}

log {
  output   = "%[1]s/pagergate.log"
  severity = "debug"
  format   = "json"
}
`
