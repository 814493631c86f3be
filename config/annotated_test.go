package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAnnotatedParses(t *testing.T) {
	t.Setenv("PAGERDUTY_API_KEY", "pd-key")
	t.Setenv("PAGERDUTY_WEBHOOK_SECRET", "wh-secret")
	cfg := mustParse(t, Annotated())

	d := Defaults()
	if pdOf(cfg).APIKey.Value() != "pd-key" || cfg.Webhook == nil || len(cfg.Webhook.SigningSecrets) != 1 {
		t.Fatalf("secrets from env() not used: %+v", cfg)
	}
	// Every value the annotated file spells out is the default.
	want := d
	want.Source = "test.hcl"
	want.Teleport.Addr = "teleport.example.com:443"
	want.Teleport.Identity = "/var/lib/pagergate/identity"
	want.Teleport.RefreshIdentity = true
	pdOf(&want).APIKey = "pd-key"
	pdOf(&want).UserEmail = "teleport-bot@example.com"
	want.AutoApprove.AllowedRoles = []string{}
	want.AutoApprove.DeniedRoles = []string{}
	want.AutoApprove.UserMap = map[string]string{}
	want.Webhook.PublicAddr = "https://pagergate.example.com:8443"
	want.Webhook.SigningSecrets = []Secret{"wh-secret"}
	want.Webhook.TLS.CertFile = "/var/lib/pagergate/server.crt"
	want.Webhook.TLS.KeyFile = "/var/lib/pagergate/server.key"
	if diff := cmp.Diff(&want, cfg); diff != "" {
		t.Errorf("Annotated() parsed (-want +got):\n%s", diff)
	}
}

func TestAnnotatedWithoutEnvFails(t *testing.T) {
	_, err := Parse([]byte(Annotated()), "annotated.hcl")
	de := diagError(t, err)
	if !strings.Contains(de.Error(), "PAGERDUTY_API_KEY is not set") {
		t.Errorf("error = %v, want the unset variable named", err)
	}
}

// TestAnnotatedShowsEveryKey walks the schema and requires each key to
// appear in Annotated, set or in a comment.
func TestAnnotatedShowsEveryKey(t *testing.T) {
	text := Annotated()
	var keys []string
	var walk func(reflect.Type)
	seen := map[reflect.Type]bool{}
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || seen[ty] {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			f := ty.Field(i)
			name, kind, _ := strings.Cut(f.Tag.Get("hcl"), ",")
			switch kind {
			case "", "optional":
				if name != "" {
					keys = append(keys, name+`\s*=`)
				}
			case "block":
				keys = append(keys, name+`\s`)
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(File{}))
	// The kinds' own keys sit in the pager block's remain body.
	walk(reflect.TypeOf(PagerDuty{}))
	walk(reflect.TypeOf(Fake{}))
	walk(reflect.TypeOf(Opsgenie{}))
	walk(reflect.TypeOf(OpsgenieFake{}))
	if len(keys) < 40 {
		t.Fatalf("schema walk found only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		re := regexp.MustCompile(`(?m)^[ #]*` + k)
		if !re.MatchString(text) {
			t.Errorf("Annotated() does not show %s", k)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:        `"30s"`,
		10 * time.Minute:        `"10m"`,
		168 * time.Hour:         `"168h"`,
		90 * time.Minute:        `"1h30m"`,
		time.Hour + time.Second: `"1h0m1s"`,
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %s, want %s", d, got, want)
		}
	}
}
