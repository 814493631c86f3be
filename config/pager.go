package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// Pager kinds of PagerSettings.Kind.
const (
	PagerPagerDuty = "pagerduty"
	PagerFake      = "fake"
)

// PagerSettings is the one `pager "<kind>" {}` block: the keys every kind
// shares, and the kind's own settings in Vendor.
type PagerSettings struct {
	// Kind is the block's label, such as PagerPagerDuty.
	Kind string
	// Name is the pager's name in reasons and notes ("Approved in
	// PagerDuty by …"); the kind's.
	Name string
	// PluginName is Teleport's name of the pager's plugin ("pagerduty",
	// "opsgenie"): the access monitoring rules addressed to pagergate
	// name it (notification.name), and delegators start with it
	// ("pagerduty:<email>"); the kind's.
	PluginName string
	// NotifyServiceAnnotation names the request annotation listing the
	// services to notify. The default is the kind's
	// ("pagerduty_notify_service" for PagerDuty).
	NotifyServiceAnnotation string
	// NotifyTargetAnnotations are further annotations naming notify
	// services, each value prefixed (Opsgenie's teams annotation, values
	// read as "team:<value>"); the kind's.
	NotifyTargetAnnotations []TargetAnnotation
	// ServicesAnnotation names the request annotation listing the
	// approval services. The default is the kind's ("pagerduty_services"
	// for PagerDuty).
	ServicesAnnotation string
	// DefaultNotifyService (a service name or ID) is notified when a
	// request has no notify annotation; empty means no incident then.
	DefaultNotifyService string
	// Priority is a priority name set on new incidents; empty for none.
	Priority string
	// Urgency is the urgency of new incidents, for kinds that have one
	// (PagerDuty: "high", "low" or empty for the service's own rule).
	Urgency string
	// Vendor holds the kind's own settings, with its defaults applied:
	// *PagerDutySettings for "pagerduty", *FakeSettings for "fake".
	Vendor any
}

// TargetAnnotation is a request annotation whose values name notify
// services as Prefix + value.
type TargetAnnotation struct {
	Annotation, Prefix string
}

// Pager is the `pager "<kind>" {}` block as decoded: the keys every kind
// shares, and the rest of the body (Remain), which the kind decodes into
// its own struct.
type Pager struct {
	Kind                    string `hcl:"kind,label"`
	NotifyServiceAnnotation string `hcl:"notify_service_annotation,optional"`
	ServicesAnnotation      string `hcl:"services_annotation,optional"`
	DefaultNotifyService    string `hcl:"default_notify_service,optional"`
	Priority                string `hcl:"priority,optional"`

	// AutoApprove here is the layout before the top-level auto_approve
	// block; it is still read, with a warning.
	AutoApprove *AutoApprove `hcl:"auto_approve,block"`

	Remain   hcl.Body  `hcl:",remain"`
	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

// pagerKind is one kind of pager block.
type pagerKind struct {
	// defaults are the kind's settings for every key left out.
	defaults func() PagerSettings
	// decode decodes what the shared keys left of the body into the
	// kind's struct.
	decode func(c *checker, body hcl.Body, b block) any
	// check checks what decode returned and returns the kind's settings
	// (for PagerSettings.Vendor) with the defaults d applied. It may set
	// the shared settings only the kind has, like out.Urgency.
	check func(c *checker, decoded any, b block, d PagerSettings, out *PagerSettings) any
	// webhook, when set, checks the webhook block against what the kind's
	// deliveries can carry (a vendor without signatures or client
	// certificates refuses those keys); w is the block, b its key path.
	webhook func(c *checker, w *Webhook, b block, out *WebhookSettings)
	// annotated, when set, is the kind's example block in `pagergate
	// configure` (commented out), after the built-in kinds'.
	annotated func() string
}

// pagerKinds are the kinds a pager block may name, by label. Each kind's
// file registers it.
var pagerKinds = map[string]pagerKind{}

func registerPager(kind string, k pagerKind) { pagerKinds[kind] = k }

// PagerKinds returns the kinds a pager block may name, sorted.
func PagerKinds() []string {
	var names []string
	for k := range pagerKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// pagerKindList is PagerKinds quoted, for messages.
func pagerKindList() string { return quoteList(PagerKinds()) }

// pager picks the one pager block, decodes its shared keys and lets its
// kind decode the rest.
func (c *checker) pager(f *File, top block) PagerSettings {
	if len(f.Pagers) == 0 {
		c.errorf(top.def, "Missing pager block",
			"Exactly one pager block is required: pager \"pagerduty\" { ... } or, for staging, pager \"fake\" { ... }; the kinds are %s.", pagerKindList())
		return Defaults().Pager
	}
	for _, p := range f.Pagers[1:] {
		c.errorf(p.DefRange, "Duplicate pager block",
			"Exactly one pager block is allowed; the first is at %s.", rangePos(f.Pagers[0].DefRange))
	}
	p := &f.Pagers[0]
	kind, ok := pagerKinds[p.Kind]
	if !ok {
		c.errorf(p.DefRange, "Unsupported pager kind", "pager %q: the kind must be one of %s.", p.Kind, pagerKindList())
		return Defaults().Pager
	}
	d := kind.defaults()
	b := block{body: p.Body, def: p.DefRange, path: "pager." + p.Kind}
	out := PagerSettings{
		Kind:                    p.Kind,
		Name:                    d.Name,
		PluginName:              d.PluginName,
		NotifyTargetAnnotations: d.NotifyTargetAnnotations,
		NotifyServiceAnnotation: c.annotation(b, "notify_service_annotation", p.NotifyServiceAnnotation, d.NotifyServiceAnnotation),
		ServicesAnnotation:      c.annotation(b, "services_annotation", p.ServicesAnnotation, d.ServicesAnnotation),
		DefaultNotifyService:    p.DefaultNotifyService,
		Priority:                p.Priority,
	}
	n := len(c.diags)
	decoded := kind.decode(c, p.Remain, b)
	if c.diags[n:].HasErrors() {
		out.Vendor = d.Vendor
		return out
	}
	out.Vendor = kind.check(c, decoded, b, d, &out)
	return out
}

// decodePager decodes the kind's part of the pager block only, for its
// diagnostics when the rest of the file failed to decode.
func (f *File) decodePager(eval *hcl.EvalContext) hcl.Diagnostics {
	if len(f.Pagers) == 0 {
		return nil
	}
	p := &f.Pagers[0]
	kind, ok := pagerKinds[p.Kind]
	if !ok || p.Remain == nil {
		return nil
	}
	c := &checker{root: f.Body, eval: eval}
	kind.decode(c, p.Remain, block{body: p.Body, def: p.DefRange, path: "pager." + p.Kind})
	return c.diags
}

// annotation returns an annotation name, or its default when left out.
func (c *checker) annotation(b block, name, raw, def string) string {
	if raw != "" {
		return raw
	}
	if has(b.body, name) {
		c.errorf(b.value(name), "Empty value", "%s must not be empty; leave it out for the default %q.", b.key(name), def)
	}
	return def
}

// decode decodes the rest of a block's body into v, with the file's
// functions; a key v has no field for is an error unless v keeps a remain
// body.
func (c *checker) decode(body hcl.Body, v any) {
	c.diags = append(c.diags, explainDecodeDiags(c.root, gohcl.DecodeBody(body, c.eval, v))...)
}

// rejectKeys reports each attribute or block of body named in schema as
// not belonging to the block b, with detail (a format taking the key path),
// and returns the rest of body.
func (c *checker) rejectKeys(body hcl.Body, schema *hcl.BodySchema, b block, summary, detail string) hcl.Body {
	content, rest, _ := body.PartialContent(schema)
	for _, a := range content.Attributes {
		c.errorf(a.Range, "Unexpected argument for "+summary, detail, b.key(a.Name))
	}
	for _, blk := range content.Blocks {
		c.errorf(blk.DefRange, "Unexpected block for "+summary, detail, b.key(blk.Type))
	}
	return rest
}

// legacyAutoApprove reads the auto_approve block written inside the pager
// block (the layout before the top-level block), with a warning; both at
// once is an error.
func (c *checker) legacyAutoApprove(f *File) *AutoApprove {
	if len(f.Pagers) == 0 || f.Pagers[0].AutoApprove == nil {
		return f.AutoApprove
	}
	inner := f.Pagers[0].AutoApprove
	if f.AutoApprove != nil {
		c.errorf(inner.DefRange, "Duplicate auto_approve block",
			"auto_approve is written both at the top level (%s) and inside the pager block; keep the top-level one.", rangePos(f.AutoApprove.DefRange))
		return f.AutoApprove
	}
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "auto_approve moved out of the pager block",
		Detail: "auto_approve inside pager \"" + f.Pagers[0].Kind + "\" is still read, but it is the approval policy of every pager: " +
			"move the block, unchanged, to the top level of the file (pagergate configure and pagergate migrate write it there).",
		Subject: inner.DefRange.Ptr(),
	})
	return inner
}

// warnings renders the warning diagnostics, one line each.
func warnings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			out = append(out, strings.TrimSpace(diagLine(d)))
		}
	}
	return out
}
