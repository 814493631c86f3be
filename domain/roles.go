package domain

import (
	"regexp"
	"strings"
)

// MatchRole reports whether a role name matches one entry of allowed_roles
// or denied_roles, the way Teleport's role conditions match role names
// (SPEC §4 rule 5): an entry that starts with "^" and ends with "$" is a
// regular expression over the whole name; otherwise "*" matches any run of
// characters and everything else is literal. Matching is case-sensitive.
// An error says the entry is not a valid regular expression.
func MatchRole(entry, role string) (bool, error) {
	if !isRoleRegex(entry) && !strings.Contains(entry, "*") {
		return entry == role, nil
	}
	re, err := RolePattern(entry)
	if err != nil {
		return false, err
	}
	return re.MatchString(role), nil
}

// RolePattern compiles a role list entry (see MatchRole).
func RolePattern(entry string) (*regexp.Regexp, error) {
	if isRoleRegex(entry) {
		return regexp.Compile(entry)
	}
	return regexp.Compile("^" + strings.ReplaceAll(regexp.QuoteMeta(entry), `\*`, "(.*)") + "$")
}

func isRoleRegex(entry string) bool {
	return len(entry) >= 2 && strings.HasPrefix(entry, "^") && strings.HasSuffix(entry, "$")
}

// anyRoleMatches reports whether role matches an entry of list. An entry
// that cannot be read counts as onError: a broken deny entry denies, a
// broken allow entry allows nothing (fail closed).
func anyRoleMatches(list []string, role string, onError bool) bool {
	for _, entry := range list {
		ok, err := MatchRole(entry, role)
		if err != nil {
			ok = onError
		}
		if ok {
			return true
		}
	}
	return false
}
