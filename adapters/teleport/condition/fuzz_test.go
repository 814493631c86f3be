package condition

import (
	"strings"
	"testing"
)

// FuzzParse: any text either is refused with a reason or parses into a
// condition that evaluates against requests without panicking, giving the
// same answer twice.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`contains_all(set("access"), access_request.spec.roles) && contains_any(user.traits["team"], set("dev"))`,
		`access_request.spec.system_annotations.env.contains("prod") || !is_empty(access_request.spec.suggested_reviewers)`,
		`regexp.match(email.local(user.traits["email"]), "^a.*$")`,
		`between(access_request.spec.creation_time, time.RFC3339("2025-01-01T00:00:00Z"), access_request.spec.expiry)`,
		`strings.split(strings.lower(set(access_request.spec.user)), "@").add("x").remove("y").contains("x")`,
		`has_labels(access_request.spec.requested_resources, "env", "dev")`,
		`(((true)))`, `!`, `a.b[`, `set(1, 2.5)`, `"x" == true`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse(src)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("Parse(%q): an error without a reason", src)
			}
			return
		}
		for _, in := range []struct{ name string }{{"alice"}, {"bob"}} {
			input := alice
			if in.name == "bob" {
				input = bob
			}
			a, errA := c.Match(input)
			b, errB := c.Match(input)
			if a != b || (errA == nil) != (errB == nil) {
				t.Fatalf("Match(%s) of %q is not stable: %v/%v, %v/%v", in.name, src, a, b, errA, errB)
			}
		}
	})
}
