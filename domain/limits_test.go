package domain

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Every cap keeps a value at the limit whole and cuts one rune more.
func TestCapsKeepAValueAtTheLimitWhole(t *testing.T) {
	prefix := utf8.RuneCountInString("Access request from u for ")
	for _, extra := range []int{0, 1} {
		r := pending("u", []string{strings.Repeat("é", MaxTitleLen-prefix+extra)}, nil)
		got := Title(r)
		if n, cut := utf8.RuneCountInString(got), strings.HasSuffix(got, "…"); n != MaxTitleLen || cut != (extra > 0) {
			t.Errorf("title of %d runes: %d runes, cut %v; want %d, cut %v", MaxTitleLen+extra, n, cut, MaxTitleLen, extra > 0)
		}

		r.Reason = strings.Repeat("é", MaxReasonLen+extra)
		if cut := strings.Contains(Details(r, Cluster{Name: "prod"}), "(Reason cut to"); cut != (extra > 0) {
			t.Errorf("reason of %d runes: cut said %v, want %v", MaxReasonLen+extra, cut, extra > 0)
		}

		note := strings.Repeat("é", maxActionNote+extra)
		v := DefaultPolicy().ActionVerdict(Action{Verb: VerbApprove, Note: note}, r, "bob@example.com", ModeSetState)
		if whole := strings.HasSuffix(v.Reason, ": "+note); whole != (extra == 0) {
			t.Errorf("action note of %d runes: kept whole %v, want %v", maxActionNote+extra, whole, extra == 0)
		}
	}
}

// A refusal note quotes the delivery's actor ID only when it has the shape
// of a pager ID: up to 40 ASCII letters, digits and inner hyphens
// (PagerDuty's IDs, Opsgenie's UUIDs).
func TestRefusalNoteQuotesOnlyIDShapedActors(t *testing.T) {
	for id, quoted := range map[string]bool{
		"AZaz09":                               true,
		"8c6f1a2e-3b4d-4e5f-9a0b-1c2d3e4f5a6b": true,
		strings.Repeat("P", 40):                true,
		strings.Repeat("P", 41):                false,
		"-P1":                                  false, "P1-": false, "P--1": false, "": false, "-": false, "P-1": true,
		"P@1": false, "P[1": false, "P`1": false, "P{1": false, "P/1": false, "P:1": false, "PÉ1": false,
		"P 1": false, "<b>P1</b>": false,
	} {
		note := RefusalNote(Action{Verb: VerbApprove, ActorID: id}, "", ErrActorNotOnCall)
		if got := strings.Contains(note, "user "+id); got != quoted {
			t.Errorf("actor %q quoted = %v, want %v: %s", id, got, quoted, note)
		}
	}
}

// Details name a request once, right after the cluster: a "Request ID"
// line first (no cluster before it) or twice is not ours.
func TestOpenedInWantsOneRequestLineAfterTheCluster(t *testing.T) {
	for _, tt := range []struct {
		details string
		want    bool
	}{
		{"User: u\nCluster: prod\nRequest ID: r1\n", true},
		{"Request ID: r1\nCluster: prod\n", false},
		{"Request ID: r1\nCluster: prod\nRequest ID: r1\n", false},
		{"Cluster: prod\nRequest ID: r1\nCluster: prod\nRequest ID: r1\n", false},
		{"Cluster: staging\nRequest ID: r1\n", false},
	} {
		if got := OpenedIn(tt.details, "prod", "r1"); got != tt.want {
			t.Errorf("OpenedIn(%q) = %v, want %v", tt.details, got, tt.want)
		}
	}
}

// The first review is review 0: its effect key parses back.
func TestFirstReviewEffectParses(t *testing.T) {
	e := Effect{Kind: EffectNoteReview, Review: 0}
	if got := ParseEffect(e.String()); got != e {
		t.Errorf("ParseEffect(%q) = %+v, want %+v", e.String(), got, e)
	}
	if got := ParseEffect("review:-1"); got.Kind != EffectUnknown {
		t.Errorf("ParseEffect(review:-1) = %+v, want unknown", got)
	}
}

// A configured services annotation replaces the default one.
func TestApprovalServicesReadTheConfiguredAnnotation(t *testing.T) {
	r := pending("alice@example.com", nil, map[string][]string{"oncall_services": {"Ops"}, DefaultServicesAnnotation: {"Default"}})
	if got := (Policy{ServicesAnnotation: "oncall_services"}).ApprovalServices(r); !slices.Equal(got, []string{"Ops"}) {
		t.Errorf("ApprovalServices() = %v, want [Ops]", got)
	}
	if got := (Policy{}).ApprovalServices(r); !slices.Equal(got, []string{"Default"}) {
		t.Errorf("ApprovalServices() without a configured annotation = %v, want [Default]", got)
	}
}
