package world

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
)

// Names of the seeded world: the same names for PagerDuty's services and
// Opsgenie's schedules.
const (
	Requester       = "alice@example.com"
	OnCallCritical  = "bob@example.com"   // on call for ServiceCritical
	OnCallTeleport  = "carol@example.com" // on call for ServiceTeleport
	ServiceTeleport = "Teleport Access Requests"
	ServiceCritical = "My Critical Service"
)

// Pagers the world can run.
const (
	PagerDuty = "pagerduty"
	Opsgenie  = "opsgenie"
)

// World is the servers around the daemon and the files it reads.
type World struct {
	Dir      string
	Teleport *teleporttest.Server
	// Pager is the fake pager.
	Pager fakePager
	// Config is the daemon's configuration file; Log is its log file.
	Config, Log string
}

// fakePager is a vendor's fake as the tour drives it.
type fakePager interface {
	// Name is the vendor's name; URL the fake's web page.
	Name() string
	// Words are the vendor's words for a page and for closing it
	// ("incident", "resolved"; "alert", "closed").
	Words() (page, closed string)
	URL() string
	// SetWebhookURL points the fake's deliveries at the daemon's webhook
	// (https://host:port) once it listens.
	SetWebhookURL(base string)
	// SetRequestForm puts a "new access request" form on the fake's web
	// page, offering users, that calls create.
	SetRequestForm(users []string, roles string, create CreateRequest)
	// Annotations name the notify service and the approval services of
	// a request, in the vendor's conventions.
	Annotations(notify, approval string) map[string][]string
	// Incident waits for the request's incident (resolved, when asked).
	Incident(ctx contextT, reqID string, resolved bool) (Incident, error)
	// Approve clicks Approve on the incident as user and says what the
	// webhook answered.
	Approve(ctx contextT, incidentID, user string) (string, error)
	// config is the daemon's pager block, the webhook's authentication
	// lines, and the secrets they read with file("NAME"), by NAME: the
	// demo writes them next to the configuration, as an operator should,
	// and names them by absolute path in the file.
	config() (pager, webhookAuth string, secrets map[string]string)
	Close()
}

// CreateRequest creates an access request in the demo's Teleport and
// returns its ID.
type CreateRequest func(ctx contextT, user string, roles []string, reason string) (string, error)

// Incident is what the tour shows of an incident or alert.
type Incident struct {
	ID, Title string
	Notes     []string
}

// New builds the world in dir around the fake of pager (PagerDuty or
// Opsgenie). Close stops its servers.
func New(dir, pager string) (*World, error) {
	w := &World{Dir: dir, Config: filepath.Join(dir, "pagergate.hcl"), Log: filepath.Join(dir, "pagergate.log")}
	var err error
	w.Teleport, err = teleporttest.New(teleporttest.Options{ClusterName: "demo.example.com", ProxyAddr: "teleport.example.com:443"})
	if err != nil {
		return nil, fmt.Errorf("teleport test server: %w", err)
	}
	// The rights of deploy/teleport-roles-community.yaml's pagergate role.
	w.Teleport.AddUser("pagergate", teleporttest.Perms{UpdateRequests: true, ReadRequests: true, PluginData: true,
		ReadRules: true, ReadUsers: true, Locks: true})
	cert, err := webhooktest.NewCA("pagergate demo webhook", time.Now().Add(-time.Minute), time.Now().Add(30*24*time.Hour))
	if err == nil {
		err = cert.Write(filepath.Join(dir, "webhook.crt"), filepath.Join(dir, "webhook.key"))
	}
	if err == nil {
		err = w.Teleport.WriteIdentityFile(filepath.Join(dir, "identity"), "pagergate", 24*time.Hour)
	}
	if err == nil {
		switch pager {
		case PagerDuty, "":
			w.Pager, err = startPagerDuty(cert)
		case Opsgenie:
			w.Pager, err = startOpsgenie(cert)
		default:
			err = fmt.Errorf("no pager %q in the demo: %q or %q", pager, PagerDuty, Opsgenie)
		}
	}
	if err == nil {
		pagerBlock, auth, secrets := w.Pager.config()
		// Absolute paths, like the file's others: a copy of the file
		// elsewhere (to try pagergate by hand) still finds the secrets.
		abs := strings.NewReplacer(`file("`, `file("`+dir+string(filepath.Separator))
		pagerBlock, auth = abs.Replace(pagerBlock), abs.Replace(auth)
		for name, value := range secrets {
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o600)
			}
		}
		if err == nil {
			err = os.WriteFile(w.Config, fmt.Appendf(nil, configText, dir, w.Teleport.Addr(), pagerBlock, auth), 0o600)
		}
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close stops the servers.
func (w *World) Close() {
	if w.Pager != nil {
		w.Pager.Close()
	}
	if w.Teleport != nil {
		w.Teleport.Close()
	}
}

// configText is the daemon's configuration: %[1]s is the directory, %[2]s
// the Teleport address, %[3]s the pager block, %[4]s the webhook's
// authentication. The listeners take free ports; the daemon logs which.
const configText = `# written by pagergate-demo
teleport {
  addr     = "%[2]s"
  identity = "%[1]s/identity"
}

%[3]s
store "bbolt" {
  path = "%[1]s/state.db"
}

webhook {
  listen_addr = "127.0.0.1:0"
%[4]s  tls {
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
