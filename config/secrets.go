package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// secretKey is a key that holds a secret, and the environment variable
// the warning about a literal value suggests instead.
type secretKey struct {
	block  []string // the blocks around it: "webhook", "basic_auth"
	labels []string // when set, the first block's label must be one of these
	name   string
	env    string
	list   bool // a list of secrets
}

// secretKeys are the keys whose value is a credential of a real account.
// The fake pagers' keys are not: they are the fakes' own known tokens.
var secretKeys = []secretKey{
	{block: []string{"pager"}, labels: []string{PagerPagerDuty}, name: "api_key", env: MigrateAPIKeyEnv},
	{block: []string{"pager"}, labels: []string{PagerOpsgenie}, name: "api_key", env: "OPSGENIE_API_KEY"},
	{block: []string{"webhook"}, name: "signing_secrets", env: MigrateSecretEnv, list: true},
	{block: []string{"webhook"}, name: "shared_secret", env: "PAGERGATE_WEBHOOK_SHARED_SECRET"},
	{block: []string{"webhook", "basic_auth"}, name: "password", env: MigratePasswordEnv},
}

// literalSecrets warns about each secret written into the file as a
// literal: anyone who can read the file, its backups or its history can
// read the secret. The warning names the key and the fix, env() or file().
func literalSecrets(f *hcl.File) hcl.Diagnostics {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	for _, k := range secretKeys {
		for _, b := range blocksAt(body, k.block, k.labels) {
			attr, ok := b.Body.Attributes[k.name]
			if !ok || !isLiteral(attr.Expr) {
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  fmt.Sprintf("%s is a literal secret", keyPath(b, k)),
				Detail:   "whoever reads this file reads it: write " + k.fix() + " (the systemd unit reads /etc/pagergate.env)",
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	}
	return diags
}

// fix is what to write instead of a literal.
func (k secretKey) fix() string {
	env, file := fmt.Sprintf("env(%q)", k.env), fmt.Sprintf("file(\"/etc/pagergate/%s\")", k.name)
	if k.list {
		return fmt.Sprintf("%s = [%s] or [%s]", k.name, env, file)
	}
	return fmt.Sprintf("%s = %s or %s", k.name, env, file)
}

// blocksAt returns the blocks at path (types, outermost first); labels,
// when set, filters the outermost block's first label.
func blocksAt(body *hclsyntax.Body, path, labels []string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type != path[0] {
			continue
		}
		if len(labels) > 0 && (len(b.Labels) == 0 || !slices.Contains(labels, b.Labels[0])) {
			continue
		}
		if len(path) == 1 {
			out = append(out, b)
			continue
		}
		out = append(out, blocksAt(b.Body, path[1:], nil)...)
	}
	return out
}

// keyPath names the key the way the other diagnostics do: pager.pagerduty.api_key.
func keyPath(b *hclsyntax.Block, k secretKey) string {
	p := ""
	for i, t := range k.block {
		p += t + "."
		if i == 0 && len(k.labels) > 0 {
			p += b.Labels[0] + "."
		}
	}
	return p + k.name
}

// isLiteral reports whether expr holds a value written out in the file,
// or a list with one: no env(), file() or other call reads it, or env()
// falls back to a written-out default. An empty string is not a secret.
func isLiteral(expr hclsyntax.Expression) bool {
	switch e := expr.(type) {
	case *hclsyntax.FunctionCallExpr:
		return e.Name == "env" && len(e.Args) == 2 && isLiteral(e.Args[1])
	case *hclsyntax.TemplateExpr:
		if !e.IsStringLiteral() {
			return false
		}
		v, _ := e.Value(nil)
		return v.IsKnown() && !v.IsNull() && v.AsString() != ""
	case *hclsyntax.LiteralValueExpr:
		return !e.Val.IsNull()
	case *hclsyntax.TupleConsExpr:
		for _, item := range e.Exprs {
			if isLiteral(item) {
				return true
			}
		}
	}
	return false
}
