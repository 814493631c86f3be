package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

// TestLiteralSecrets: a secret written into the file warns, naming the key
// at file:line:col and the fix; one read by env() or file() does not.
func TestLiteralSecrets(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // one entry per warning: text it contains
	}{
		{"pagerduty literal", `pager "pagerduty" { api_key = "u+abc" }`,
			[]string{`test.hcl:1:31: pager.pagerduty.api_key is a literal secret`, `env("PAGERDUTY_API_KEY")`, `file("/etc/pagergate/api_key")`}},
		{"pagerduty env", `pager "pagerduty" { api_key = env("PAGERDUTY_API_KEY") }`, nil},
		{"pagerduty file", `pager "pagerduty" { api_key = file("/etc/pagergate/api_key") }`, nil},
		{"env in a template", `pager "pagerduty" { api_key = "${env("PAGERDUTY_API_KEY")}" }`, nil},
		{"env with a literal default", `pager "pagerduty" { api_key = env("PAGERDUTY_API_KEY", "u+abc") }`,
			[]string{"pager.pagerduty.api_key is a literal secret"}},
		{"empty", `pager "pagerduty" { api_key = "" }`, nil},
		{"heredoc", "pager \"pagerduty\" {\n  api_key = <<EOT\nu+abc\nEOT\n}", []string{"pager.pagerduty.api_key is a literal secret"}},
		{"opsgenie literal", `pager "opsgenie" { api_key = "0123" }`, []string{`pager.opsgenie.api_key is a literal secret`, `env("OPSGENIE_API_KEY")`}},
		{"the fake's own token", `pager "fake" { api_key = "fake-token" }`, nil},
		{"one literal signing secret", "webhook {\n  signing_secrets = [env(\"PAGERDUTY_WEBHOOK_SECRET\"), \"old\"]\n}",
			[]string{"test.hcl:2:21: webhook.signing_secrets is a literal secret", `signing_secrets = [env("PAGERDUTY_WEBHOOK_SECRET")] or [file(`}},
		{"shared secret", "webhook {\n  shared_secret = \"s\"\n}", []string{"webhook.shared_secret is a literal secret"}},
		{"basic auth password", "webhook {\n  basic_auth {\n    user = \"pd\"\n    password = \"pw\"\n  }\n}",
			[]string{"test.hcl:4:16: webhook.basic_auth.password is a literal secret", `env("PAGERGATE_WEBHOOK_PASSWORD")`}},
		{"a user is no secret", "webhook {\n  basic_auth {\n    user = \"pd\"\n    password = env(\"P\")\n  }\n}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := hclparse.NewParser().ParseHCL([]byte(tt.src), "test.hcl")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := warnings(literalSecrets(f))
			if len(tt.want) == 0 {
				if len(got) > 0 {
					t.Errorf("warnings %q, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("warnings %q, want one", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("warning %q lacks %q", got[0], w)
				}
			}
		})
	}
}
