package domain

import (
	"slices"
	"strings"
)

// Annotation keys of the reference plugin.
const (
	DefaultNotifyAnnotation   = "pagerduty_notify_service"
	DefaultServicesAnnotation = "pagerduty_services"
)

// DefaultPagerName is the pager's name in reasons and notes when the
// configuration names none; DefaultPagerID its short name in delegators.
const (
	DefaultPagerName = "PagerDuty"
	DefaultPagerID   = "pagerduty"
)

// Approvers values (SPEC §6).
const (
	ApproversOnCall = "on_call"
	ApproversAny    = "any"
)

// Manual resolve policies (SPEC §6a).
const (
	ManualResolveIgnore = "ignore"
	ManualResolveDeny   = "deny"
)

// Policy is the part of the configuration the core decides with.
type Policy struct {
	NotifyAnnotation string
	// NotifyTargetAnnotations are further annotations naming notify
	// services, read after NotifyAnnotation, each value prefixed with its
	// Prefix (Opsgenie's teams: "teleport.dev/teams", "team:").
	NotifyTargetAnnotations []TargetAnnotation
	ServicesAnnotation      string
	DefaultNotifyService    string

	AutoApprove           bool
	MaxEscalationLevel    int // 0 = any level
	RequireActiveIncident bool
	// BindToShift ends an auto-approved grant with the on-call shift that
	// allowed it (SPEC §17).
	BindToShift  bool
	AllowedRoles []string
	DeniedRoles  []string
	// UserMap maps Teleport usernames to pager emails.
	UserMap map[string]string

	Approvers       string // ApproversOnCall or ApproversAny
	OnManualResolve string // ManualResolveIgnore or ManualResolveDeny

	// PagerName is the pager's display name in verdict reasons, notes and
	// refusals ("Approved in PagerDuty by …"); "" says "the pager".
	PagerName string
	// PagerID is the pager's short name in delegators
	// ("pagerduty:<email>"); "" is DefaultPagerID.
	PagerID string
}

// TargetAnnotation is an annotation whose values name notify services,
// each written as Prefix + value (the form OnCall.FindService takes).
type TargetAnnotation struct {
	Key, Prefix string
}

// pagerID is PagerID or its default.
func (p Policy) pagerID() string {
	if p.PagerID == "" {
		return DefaultPagerID
	}
	return p.PagerID
}

// DefaultPolicy returns the policy of an empty configuration.
func DefaultPolicy() Policy {
	return Policy{
		NotifyAnnotation:   DefaultNotifyAnnotation,
		ServicesAnnotation: DefaultServicesAnnotation,
		AutoApprove:        true,
		Approvers:          ApproversOnCall,
		OnManualResolve:    ManualResolveIgnore,
		PagerName:          DefaultPagerName,
	}
}

// in names where an action happened: "in <pager>".
func (p Policy) in() string {
	if p.PagerName == "" {
		return "in the pager"
	}
	return "in " + p.PagerName
}

// NotifyServices returns where the request's incidents are opened: every
// value of the notify annotation, then of the NotifyTargetAnnotations
// (prefixed), then every service the routing rules added
// (Routing.Services), de-duplicated (case-insensitively) in that order; if
// all are empty, the default service; else none.
func (p Policy) NotifyServices(r Request, routed []string) []string {
	out := p.routedServices(r, routed)
	if len(out) == 0 && strings.TrimSpace(p.DefaultNotifyService) != "" {
		out = []string{strings.TrimSpace(p.DefaultNotifyService)}
	}
	return out
}

// routedServices returns the notify annotation's services, then the
// rules', de-duplicated: NotifyServices without the default.
func (p Policy) routedServices(r Request, routed []string) []string {
	key := p.NotifyAnnotation
	if key == "" {
		key = DefaultNotifyAnnotation
	}
	out := slices.Clip(r.Annotations[key])
	for _, t := range p.NotifyTargetAnnotations {
		for _, v := range r.Annotations[t.Key] {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, t.Prefix+v)
			}
		}
	}
	return dedupFold(append(out, routed...))
}

// ApprovalServices returns the services whose on-call responders may have
// their own requests auto-approved.
func (p Policy) ApprovalServices(r Request) []string {
	key := p.ServicesAnnotation
	if key == "" {
		key = DefaultServicesAnnotation
	}
	return dedupFold(r.Annotations[key])
}

// PagerEmail returns the pager email of a Teleport user: the user map entry
// if any (keys are exact Teleport user names: case-sensitive, as Teleport
// user names are), else the username itself when it looks like an email.
func (p Policy) PagerEmail(user string) (string, bool) {
	if v, ok := p.UserMap[user]; ok {
		return strings.ToLower(strings.TrimSpace(v)), true
	}
	if LooksLikeEmail(user) {
		return strings.ToLower(user), true
	}
	return "", false
}

// LooksLikeEmail reports whether s has the shape local@domain.
func LooksLikeEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n") &&
		strings.Count(s, "@") == 1
}

func dedupFold(in []string) []string {
	var out []string
	seen := make(map[string]bool, len(in))
	for _, v := range in {
		v = strings.TrimSpace(v)
		k := strings.ToLower(v)
		if v == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, v)
	}
	return out
}
