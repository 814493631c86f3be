package config

import "reflect"

// ReloadableKeys are the keys whose changes a SIGHUP applies (SPEC §8): the
// daemon calls Load again and hands the new values to the parts that own
// them. The identity file is re-read even when its path is unchanged, and
// the log file is reopened. Any other change needs a restart; see
// RestartNeeded.
var ReloadableKeys = []string{
	"log.severity",
	"teleport.identity",
	"webhook.signing_secrets",
	"webhook.shared_secret",
	"webhook.basic_auth",
}

// RestartNeeded compares c, the running configuration, with next, the file
// loaded again on SIGHUP, and returns the blocks (or "workers") that
// changed in a way a reload cannot apply, in file order. Empty means next
// can be applied as a reload.
func (c *Config) RestartNeeded(next *Config) []string {
	a, b := reloadInvariant(c), reloadInvariant(next)
	var changed []string
	for _, s := range []struct {
		name string
		x, y any
	}{
		{"workers", a.Workers, b.Workers},
		{"teleport", a.Teleport, b.Teleport},
		{"pager", a.Pager, b.Pager},
		{"auto_approve", a.AutoApprove, b.AutoApprove},
		{"store", a.Store, b.Store},
		{"webhook", a.Webhook, b.Webhook},
		{"log", a.Log, b.Log},
		{"metrics", a.Metrics, b.Metrics},
		{"memory", a.Memory, b.Memory},
	} {
		if !reflect.DeepEqual(s.x, s.y) {
			changed = append(changed, s.name)
		}
	}
	return changed
}

// reloadInvariant is a copy of c without the ReloadableKeys.
func reloadInvariant(c *Config) Config {
	out := *c
	out.Source = ""
	out.Warnings = nil
	out.Log.Severity = ""
	out.Teleport.Identity = ""
	if c.Webhook != nil {
		w := *c.Webhook
		w.SigningSecrets = nil
		w.SharedSecret = ""
		w.BasicAuth = nil
		out.Webhook = &w
	}
	return out
}
