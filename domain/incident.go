package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTitleLen is PagerDuty's limit on an incident title.
const MaxTitleLen = 255

// MaxReasonLen caps, in characters, the request reason copied into incident
// details and into plugin data. A reason is a sentence or a ticket link;
// the requester controls it, and without a cap a megabyte reason would be
// paged to phones and rewritten in full by every compare-and-swap of the
// record (twice per effect), near the item size limits of Teleport's
// backends (400 KB on DynamoDB). The full reason stays in Teleport.
const MaxReasonLen = 2048

// Title returns the incident title of a request, cut to MaxTitleLen runes.
func Title(r Request) string {
	t := fmt.Sprintf("Access request from %s for %s", r.User, strings.Join(r.Roles, ", "))
	return truncate(t, MaxTitleLen)
}

// RequestLink returns the web UI link of a request, or "" when the proxy
// address is unknown.
func RequestLink(proxyAddr, requestID string) string {
	p := strings.TrimSpace(proxyAddr)
	if p == "" {
		return ""
	}
	p = strings.TrimPrefix(strings.TrimPrefix(p, "https://"), "http://")
	p = strings.TrimRight(p, "/")
	return "https://" + p + "/web/requests/" + requestID
}

// Details returns the incident body of a request.
func Details(r Request, c Cluster) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	line("User", r.User)
	line("Roles", strings.Join(r.Roles, ", "))
	line("Resources", strings.Join(r.Resources, ", "))
	line("Reason", CapReason(r.Reason))
	if n := utf8.RuneCountInString(r.Reason); n > MaxReasonLen {
		fmt.Fprintf(&b, "(Reason cut to %d of %d characters; the full reason is in Teleport.)\n", MaxReasonLen, n)
	}
	line("Created", formatTime(r.Created))
	line("Expires", formatTime(r.Expires))
	line("Cluster", c.Name)
	line("Request ID", r.ID)
	line("Suggested reviewers", strings.Join(r.SuggestedReviewers, ", "))
	line("Link", RequestLink(c.ProxyAddr, r.ID))
	return strings.TrimRight(b.String(), "\n")
}

// OpenedIn reports whether incident details (as Details wrote them) name
// the cluster and the request: one "Request ID" line, with that ID, right
// after the line "Cluster: <cluster>". Several Teleport clusters may page
// the same services with the same incident_key scheme, so a key alone does
// not say whose request it is. Free text (the reason) comes before these
// lines and a request's ID is only known once it exists, so a requester
// cannot forge the pair; a second "Request ID" line makes the details
// ambiguous and they are not taken as ours. Details without a cluster
// (opened before the cluster name was known, or by another tool) are not
// ours either.
func OpenedIn(details, cluster, requestID string) bool {
	if cluster == "" || requestID == "" {
		return false
	}
	lines := strings.Split(details, "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Request ID: ") {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	return at > 0 && lines[at] == "Request ID: "+requestID && lines[at-1] == "Cluster: "+cluster
}

// IncidentOptions are the optional incident fields from the configuration.
type IncidentOptions struct {
	Urgency  string
	Priority string
}

// NewIncidentSpec returns what to open in a service for a request.
func NewIncidentSpec(r Request, c Cluster, serviceID string, o IncidentOptions) IncidentSpec {
	return IncidentSpec{
		ServiceID: serviceID,
		Key:       IncidentKey(r.ID),
		Title:     Title(r),
		Details:   Details(r, c),
		Urgency:   o.Urgency,
		Priority:  o.Priority,
	}
}

// ReviewNote returns the incident note of the n-th review (0-based). The
// marker at its start lets a note be recognised after a crash.
func ReviewNote(n int, rv Review) string {
	s := fmt.Sprintf("%s Review by %s: %s at %s", ReviewMarker(n), rv.Author, rv.State, formatTime(rv.Created))
	if rv.Reason != "" {
		s += "\nReason: " + rv.Reason
	}
	return s
}

// ReviewMarker is the tag that starts the note of the n-th review.
func ReviewMarker(n int) string { return fmt.Sprintf("[review #%d]", n+1) }

// ResolutionNote returns the note posted before an incident is resolved.
func ResolutionNote(state State, reason string) string {
	s := "Access request has been " + state.Word()
	if reason != "" {
		s += "\nReason: " + reason
	}
	return s
}

// ResolutionMarker starts every resolution note.
const ResolutionMarker = "Access request has been "

// ApprovalMarker starts every auto-approval note.
const ApprovalMarker = "Auto-approved: "

// CapReason cuts a reason to MaxReasonLen characters, the last one an
// ellipsis when it was cut.
func CapReason(s string) string { return truncate(s, MaxReasonLen) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
