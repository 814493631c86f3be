package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func pending(user string, roles []string, ann map[string][]string) Request {
	return Request{ID: "req-1", User: user, Roles: roles, State: StatePending, Annotations: ann, Created: t0}
}

func TestNotifyServices(t *testing.T) {
	opsgenie := Policy{NotifyAnnotation: "teleport.dev/notify-services",
		NotifyTargetAnnotations: []TargetAnnotation{{Key: "teleport.dev/teams", Prefix: "team:"}}}
	ann := func(v ...string) map[string][]string { return map[string][]string{"pagerduty_notify_service": v} }
	tests := []struct {
		name   string
		policy Policy
		ann    map[string][]string
		routed []string
		want   []string
	}{
		{"all values, in order", DefaultPolicy(), ann("A", "B"), nil, []string{"A", "B"}},
		{"dedup case-insensitive and blanks", DefaultPolicy(), ann("A", " a ", "", "B"), nil, []string{"A", "B"}},
		{"default service when none", Policy{DefaultNotifyService: "Fallback"}, nil, nil, []string{"Fallback"}},
		{"annotation wins over default", Policy{DefaultNotifyService: "Fallback"}, ann("A"), nil, []string{"A"}},
		{"custom key", Policy{NotifyAnnotation: "notify"}, map[string][]string{"notify": {"X"}, "pagerduty_notify_service": {"A"}}, nil, []string{"X"}},
		{"none at all", DefaultPolicy(), nil, nil, nil},
		{"rules alone", Policy{DefaultNotifyService: "Fallback"}, nil, []string{"R1", "R2"}, []string{"R1", "R2"}},
		{"annotation first, then rules, dedup across both", DefaultPolicy(), ann("A", "B"), []string{"b", "R"}, []string{"A", "B", "R"}},
		{"rules win over default", Policy{DefaultNotifyService: "Fallback"}, nil, []string{"R"}, []string{"R"}},
		{"blank rule recipients fall back to default", Policy{DefaultNotifyService: "Fallback"}, nil, []string{" "}, []string{"Fallback"}},
		{"target annotations after the notify one, prefixed, before rules", opsgenie,
			map[string][]string{"teleport.dev/notify-services": {"S1"}, "teleport.dev/teams": {" ops ", "", "Ops"}}, []string{"R"},
			[]string{"S1", "team:ops", "R"}},
		{"target annotation alone", opsgenie, map[string][]string{"teleport.dev/teams": {"ops"}}, nil, []string{"team:ops"}},
	}
	for _, tt := range tests {
		got := tt.policy.NotifyServices(pending("a@x.io", nil, tt.ann), tt.routed)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: NotifyServices() diff (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestPagerEmail(t *testing.T) {
	p := Policy{UserMap: map[string]string{"octocat": "Cat@Example.com"}}
	tests := []struct {
		user string
		want string
		ok   bool
	}{
		{"Alice@Example.com", "alice@example.com", true},
		{"octocat", "cat@example.com", true},
		{"OctoCat", "", false},
		{"Octo@Cat.io", "octo@cat.io", true},
		{"bob", "", false},
		{"@x", "", false},
		{"a@", "", false},
		{"a b@x", "", false},
		{"a@b@c", "", false},
	}
	for _, tt := range tests {
		got, ok := p.PagerEmail(tt.user)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PagerEmail(%q) = %q, %v, want %q, %v", tt.user, got, ok, tt.want, tt.ok)
		}
	}
}

func approvalReq(roles ...string) Request {
	return pending("alice@example.com", roles, map[string][]string{"pagerduty_services": {"Critical", "Other"}})
}

func TestPrecheckApprovalPasses(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Policy)
		req    Request
		want   ApprovalCandidate
	}{
		{"rule 1: services annotated, enabled", func(*Policy) {}, approvalReq("db"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 2: user_map maps a non-email name", func(p *Policy) { p.UserMap = map[string]string{"gh-alice": "alice@example.com"} },
			func() Request { r := approvalReq("db"); r.User = "gh-alice"; return r }(), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 5: every role allowed", func(p *Policy) { p.AllowedRoles = []string{"db", "web"} }, approvalReq("db", "web"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 5: denied list does not match", func(p *Policy) { p.DeniedRoles = []string{"admin"} }, approvalReq("db"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 5: denied match is case-sensitive", func(p *Policy) { p.DeniedRoles = []string{"ADMIN"} }, approvalReq("admin"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 5: allowed glob", func(p *Policy) { p.AllowedRoles = []string{"dev-*"} }, approvalReq("dev-db", "dev-"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 5: allowed regex", func(p *Policy) { p.AllowedRoles = []string{"^(db|web)-ro$"} }, approvalReq("db-ro", "web-ro"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
		{"rule 5: dots in a glob are literal", func(p *Policy) { p.DeniedRoles = []string{"admin.*"} }, approvalReq("adminX"), ApprovalCandidate{Email: "alice@example.com", Services: []string{"Critical", "Other"}}},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		tt.policy(&p)
		got, err := p.PrecheckApproval(tt.req)
		if err != nil {
			t.Errorf("%s: PrecheckApproval() error = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: PrecheckApproval() diff:\n%s", tt.name, diff)
		}
	}
}

func TestPrecheckApprovalSkips(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Policy)
		req    Request
		want   error
	}{
		{"rule 1: disabled", func(p *Policy) { p.AutoApprove = false }, approvalReq("db"), ErrAutoApproveDisabled},
		{"rule 1: no services annotation", func(*Policy) {}, pending("alice@example.com", []string{"db"}, nil), ErrNoApprovalServices},
		{"rule 2: username not an email", func(*Policy) {}, func() Request { r := approvalReq("db"); r.User = "alice"; return r }(), ErrNoPagerEmail},
		{"rule 5: role outside allowed_roles", func(p *Policy) { p.AllowedRoles = []string{"db"} }, approvalReq("db", "admin"), &RoleError{Role: "admin", Allowed: true}},
		{"rule 5: role in denied_roles", func(p *Policy) { p.DeniedRoles = []string{"admin"} }, approvalReq("admin"), &RoleError{Role: "admin"}},
		{"rule 5: allowed is case-sensitive", func(p *Policy) { p.AllowedRoles = []string{"dev"} }, approvalReq("DEV"), &RoleError{Role: "DEV", Allowed: true}},
		{"rule 5: denied glob", func(p *Policy) { p.DeniedRoles = []string{"admin-*"} }, approvalReq("db", "admin-prod"), &RoleError{Role: "admin-prod"}},
		{"rule 5: denied regex", func(p *Policy) { p.DeniedRoles = []string{"^admin-.*$"} }, approvalReq("admin-prod"), &RoleError{Role: "admin-prod"}},
		{"rule 5: a glob matches the whole name", func(p *Policy) { p.AllowedRoles = []string{"dev-*"} }, approvalReq("prod-dev-x"), &RoleError{Role: "prod-dev-x", Allowed: true}},
		{"rule 5: a regex matches the whole name", func(p *Policy) { p.AllowedRoles = []string{"^dev$"} }, approvalReq("devops"), &RoleError{Role: "devops", Allowed: true}},
		{"rule 5: a bad regex in denied_roles denies", func(p *Policy) { p.DeniedRoles = []string{"^admin($"} }, approvalReq("db"), &RoleError{Role: "db"}},
		{"rule 5: a bad regex in allowed_roles allows nothing", func(p *Policy) { p.AllowedRoles = []string{"^db($"} }, approvalReq("db"), &RoleError{Role: "db", Allowed: true}},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		tt.policy(&p)
		_, err := p.PrecheckApproval(tt.req)
		var re *RoleError
		if errors.As(tt.want, &re) {
			var got *RoleError
			if !errors.As(err, &got) || *got != *re {
				t.Errorf("%s: PrecheckApproval() error = %v, want %v", tt.name, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: PrecheckApproval() error = %v, want %v", tt.name, err, tt.want)
		}
	}
	if got := (&RoleError{Role: "x", Allowed: true}).Error(); !strings.Contains(got, "allowed_roles") {
		t.Errorf("RoleError text = %q", got)
	}
}

var (
	alice    = PagerUser{ID: "PU1", Email: "alice@example.com"}
	critical = Service{ID: "PS1", Name: "Critical", EscalationPolicyID: "EP1"}
	other    = Service{ID: "PS2", Name: "Other", EscalationPolicyID: "EP2"}
)

func facts(ocs []OnCall, incs []Incident) OnCallFacts {
	return OnCallFacts{User: alice, Services: []Service{critical, other}, OnCalls: ocs, Incidents: incs, Now: t0}
}

func TestDecideApprovalApproves(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Policy)
		f      OnCallFacts
		want   Approval
	}{
		{"rule 3: on call, any level", func(*Policy) {}, facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 3}}, nil),
			Approval{Email: "alice@example.com", Services: []string{"Critical"}, Level: 3, Reason: "alice@example.com is on call for Critical at escalation level 3"}},
		{"rule 3: level within max, lowest level reported", func(p *Policy) { p.MaxEscalationLevel = 2 },
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP2", Level: 2}, {UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}}, nil),
			Approval{Email: "alice@example.com", Services: []string{"Critical", "Other"}, Level: 1, Reason: "alice@example.com is on call for Critical, Other at escalation level 1"}},
		{"rule 3: bounded entry covering now", func(*Policy) {},
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}}, nil),
			Approval{Email: "alice@example.com", Services: []string{"Critical"}, Level: 1, Reason: "alice@example.com is on call for Critical at escalation level 1",
				ShiftEnd: t0.Add(time.Hour)}},
		{"rule 4: foreign active incident assigned", func(p *Policy) { p.RequireActiveIncident = true },
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}},
				[]Incident{{ID: "I1", Key: "db-down", ServiceID: "PS1", Status: IncidentAcknowledged, AssigneeIDs: []string{"PU1"}}}),
			Approval{Email: "alice@example.com", Services: []string{"Critical"}, Level: 1, Reason: "alice@example.com is on call for Critical at escalation level 1"}},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		tt.policy(&p)
		got, err := p.DecideApproval(tt.f)
		if err != nil {
			t.Errorf("%s: DecideApproval() error = %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: DecideApproval() diff:\n%s", tt.name, diff)
		}
	}
	if got := ApprovalNote(Approval{Reason: "r"}); got != "Auto-approved: r" {
		t.Errorf("ApprovalNote = %q", got)
	}
}

func TestDecideApprovalRefuses(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Policy)
		f      OnCallFacts
		want   error
	}{
		{"rule 3: no on-call entry", func(*Policy) {}, facts(nil, nil), ErrNotOnCall},
		{"rule 3: on call only for another policy", func(*Policy) {}, facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP9", Level: 1}}, nil), ErrNotOnCall},
		{"rule 3: entry of another user", func(*Policy) {}, facts([]OnCall{{UserID: "PU2", EscalationPolicyID: "EP1", Level: 1}}, nil), ErrNotOnCall},
		{"rule 3: entry ended", func(*Policy) {}, facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, End: t0}}, nil), ErrNotOnCall},
		{"rule 3: entry not started", func(*Policy) {}, facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1, Start: t0.Add(time.Minute)}}, nil), ErrNotOnCall},
		{"rule 3: above max level", func(p *Policy) { p.MaxEscalationLevel = 1 }, facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 2}}, nil), ErrAboveMaxLevel},
		{"rule 4: only our own incident", func(p *Policy) { p.RequireActiveIncident = true },
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}},
				[]Incident{{ID: "I1", Key: IncidentKey("req-1"), ServiceID: "PS1", Status: IncidentTriggered, AssigneeIDs: []string{"PU1"}}}), ErrNoActiveIncident},
		{"rule 4: resolved incident", func(p *Policy) { p.RequireActiveIncident = true },
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}},
				[]Incident{{ID: "I1", Key: "k", ServiceID: "PS1", Status: IncidentResolved, AssigneeIDs: []string{"PU1"}}}), ErrNoActiveIncident},
		{"rule 4: incident assigned to someone else", func(p *Policy) { p.RequireActiveIncident = true },
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}},
				[]Incident{{ID: "I1", Key: "k", ServiceID: "PS1", Status: IncidentTriggered, AssigneeIDs: []string{"PU2"}}}), ErrNoActiveIncident},
		{"rule 4: incident in an unlisted service", func(p *Policy) { p.RequireActiveIncident = true },
			facts([]OnCall{{UserID: "PU1", EscalationPolicyID: "EP1", Level: 1}},
				[]Incident{{ID: "I1", Key: "k", ServiceID: "PS9", Status: IncidentTriggered, AssigneeIDs: []string{"PU1"}}}), ErrNoActiveIncident},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		tt.policy(&p)
		got, err := p.DecideApproval(tt.f)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: DecideApproval() = %+v, %v, want error %v", tt.name, got, err, tt.want)
		}
	}
}
