package config

import (
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// AutoApproveSettings is the `auto_approve {}` block, the on-call approval
// policy of every pager kind (SPEC §4). It used to be written inside the
// pager block, where it is still read, with a warning.
type AutoApproveSettings struct {
	// Enabled turns on-call auto-approval on. Default true.
	Enabled bool
	// MaxEscalationLevel is the deepest escalation level that counts;
	// 0 (the default) means any level.
	MaxEscalationLevel int
	// RequireActiveIncident also requires a triggered or acknowledged
	// incident assigned to the requester. Default false.
	RequireActiveIncident bool
	// BindToShift ends an auto-approved grant with the on-call shift that
	// allowed it: a Teleport lock on the request at the shift's end
	// (SPEC §17). Default false.
	BindToShift bool
	// AllowedRoles, when not empty, must match every requested role.
	// Entries match like Teleport role conditions: exact and
	// case-sensitive, "*" as a wildcard, "^...$" as a regular expression.
	AllowedRoles []string
	// DeniedRoles are never auto-approved (matched like AllowedRoles).
	DeniedRoles []string
	// UserMap maps Teleport user names (exact, case-sensitive) to pager
	// user emails; users not in it are looked up by their name as an
	// email.
	UserMap map[string]string
}

// AutoApprove is the `auto_approve {}` block (SPEC §4).
type AutoApprove struct {
	Enabled               *bool             `hcl:"enabled,optional"`
	MaxEscalationLevel    int               `hcl:"max_escalation_level,optional"`
	RequireActiveIncident bool              `hcl:"require_active_incident,optional"`
	BindToShift           bool              `hcl:"bind_to_shift,optional"`
	AllowedRoles          []string          `hcl:"allowed_roles,optional"`
	DeniedRoles           []string          `hcl:"denied_roles,optional"`
	UserMap               map[string]string `hcl:"user_map,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

func (c *checker) autoApprove(a *AutoApprove, path string, d AutoApproveSettings) AutoApproveSettings {
	if a == nil {
		return d
	}
	b := block{body: a.Body, def: a.DefRange, path: path}
	out := AutoApproveSettings{
		Enabled:               d.Enabled,
		MaxEscalationLevel:    a.MaxEscalationLevel,
		RequireActiveIncident: a.RequireActiveIncident,
		BindToShift:           a.BindToShift,
		AllowedRoles:          a.AllowedRoles,
		DeniedRoles:           a.DeniedRoles,
		UserMap:               a.UserMap,
	}
	if a.Enabled != nil {
		out.Enabled = *a.Enabled
	}
	if a.MaxEscalationLevel < 0 {
		c.errorf(b.value("max_escalation_level"), "Invalid value",
			"%s must be 0 (any level) or more; got %d.", b.key("max_escalation_level"), a.MaxEscalationLevel)
		out.MaxEscalationLevel = d.MaxEscalationLevel
	}
	if out.BindToShift && !out.Enabled {
		c.diags = append(c.diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "bind_to_shift without auto-approval",
			Detail: b.key("bind_to_shift") + " binds only grants pagergate approves automatically, and " + b.key("enabled") +
				" is false: it binds nothing new (grants bound before still end with their shift).",
			Subject: b.value("bind_to_shift").Ptr(),
		})
	}
	c.roleLists(a, b)
	c.userMap(a.UserMap, b)
	return out
}

// roleLists checks allowed_roles and denied_roles: no empty entry, no role
// in both, and every "^...$" entry a valid regular expression (entries
// match role names as Teleport role conditions do, SPEC §4 rule 5).
func (c *checker) roleLists(a *AutoApprove, b block) {
	allowed := map[string]bool{}
	for _, r := range a.AllowedRoles {
		allowed[r] = true
	}
	for _, r := range a.DeniedRoles {
		if allowed[r] {
			c.errorf(b.value("denied_roles"), "Overlapping roles",
				"Role %q is in both %s and %s.", r, b.key("allowed_roles"), b.key("denied_roles"))
		}
	}
	for _, name := range []string{"allowed_roles", "denied_roles"} {
		list := a.AllowedRoles
		if name == "denied_roles" {
			list = a.DeniedRoles
		}
		for _, r := range list {
			if strings.TrimSpace(r) == "" {
				c.errorf(b.value(name), "Empty value", "%s must not hold an empty role name.", b.key(name))
				break
			}
			if len(r) >= 2 && strings.HasPrefix(r, "^") && strings.HasSuffix(r, "$") {
				if _, err := regexp.Compile(r); err != nil {
					c.errorf(b.value(name), "Invalid role pattern",
						"%s entry %q is not a valid regular expression: %v. Entries match role names like Teleport role conditions: exact, \"*\" as a wildcard, or \"^...$\" as a regular expression.",
						b.key(name), r, err)
				}
			}
		}
	}
}

// userMap checks user_map: no empty names, and no two keys that differ
// only by case (keys are exact Teleport user names; two such keys would
// look like one entry to a reader but map two users).
func (c *checker) userMap(m map[string]string, b block) {
	keys := make([]string, 0, len(m))
	for from, to := range m {
		if from == "" || to == "" {
			c.errorf(b.value("user_map"), "Empty value", "%s must not hold empty names.", b.key("user_map"))
			return
		}
		keys = append(keys, from)
	}
	sort.Strings(keys)
	seen := map[string]string{}
	for _, k := range keys {
		fold := strings.ToLower(k)
		if prev, ok := seen[fold]; ok {
			c.errorf(b.value("user_map"), "Ambiguous user_map keys",
				"%s has keys %q and %q, which differ only by case. Keys are exact Teleport user names; keep the one that is the user's name.",
				b.key("user_map"), prev, k)
			continue
		}
		seen[fold] = k
	}
}
