package config

import (
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// keyPathAt returns the key path (like "pager.pagerduty.api_key") of the
// innermost attribute or block of body that contains pos, or "".
func keyPathAt(body hcl.Body, pos hcl.Pos) string {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return ""
	}
	var path []string
	for b != nil {
		var next *hclsyntax.Body
		for _, a := range b.Attributes {
			if a.SrcRange.ContainsOffset(pos.Byte) {
				return strings.Join(append(path, a.Name), ".")
			}
		}
		for _, blk := range b.Blocks {
			if blk.Range().ContainsOffset(pos.Byte) {
				path = append(path, blk.Type)
				path = append(path, blk.Labels...)
				next = blk.Body
				break
			}
		}
		b = next
	}
	return strings.Join(path, ".")
}

// missingArgument finds the name in gohcl's "Missing required argument"
// detail.
var missingArgument = regexp.MustCompile(`^The argument "([^"]+)" is required`)

// explainDecodeDiags names the key path in the detail of each decoding
// diagnostic (gohcl's and the functions') and drops the "value must be
// known" echo gohcl adds after a failed function call.
func explainDecodeDiags(body hcl.Body, diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Summary == "Unsuitable value type" && strings.Contains(d.Detail, "value must be known") && diags.HasErrors() && len(diags) > 1 {
			continue
		}
		if d.Subject != nil && !atFileStart(body, *d.Subject) {
			p := keyPathAt(body, d.Subject.Start)
			if m := missingArgument.FindStringSubmatch(d.Detail); m != nil {
				p = strings.TrimPrefix(p+"."+m[1], ".")
			}
			if p != "" && !strings.Contains(d.Detail, p) {
				c := *d
				c.Detail = p + ": " + d.Detail
				d = &c
			}
		}
		out = append(out, d)
	}
	return out
}

// atFileStart reports whether r is the empty range at the start of the
// file, where gohcl reports a missing top-level block or argument.
func atFileStart(body hcl.Body, r hcl.Range) bool {
	return r.Empty() && r.Start.Byte == body.MissingItemRange().Start.Byte
}
