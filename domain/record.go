package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// IncidentRef is one incident opened for a request.
type IncidentRef struct {
	Service    string // as named by the annotation or the default
	ServiceID  string
	IncidentID string
}

// Intent is an effect that was started but whose result is not recorded yet
// (SPEC §7: record the intent, do the effect, record the result).
type Intent struct {
	Effect string // an EffectKind's Key()
	Owner  string // the replica that holds it
	At     time.Time
}

// Record is what pagergate remembers about one request, mirrored in Teleport
// plugin data (cluster-wide truth) and in the local store.
type Record struct {
	RequestID     string
	User          string
	Roles         []string
	Created       time.Time
	RequestReason string

	Incidents    []IncidentRef
	ReviewsNoted int
	// ApprovalDone: the auto-approval decision was taken (approved or skipped).
	ApprovalDone bool
	// Resolution is set once the incidents were noted and resolved.
	Resolution    State
	ResolveReason string
	Intent        Intent
	Updated       time.Time
}

// Done reports whether nothing is left to do for the request.
func (r Record) Done() bool { return r.Resolution != StateUnknown }

// Incident returns the incident opened in a service (matched
// case-insensitively by the annotation's name).
func (r Record) Incident(service string) (IncidentRef, bool) {
	for _, in := range r.Incidents {
		if strings.EqualFold(in.Service, service) || in.ServiceID == service {
			return in, true
		}
	}
	return IncidentRef{}, false
}

// Plugin data keys. The first group is the reference plugin's, so a fleet
// can switch over; the second is pagergate's own.
const (
	KeyIncidentID    = "incident_id"
	KeyServiceID     = "service_id"
	KeyUser          = "user"
	KeyRoles         = "roles"
	KeyCreated       = "created"
	KeyRequestReason = "request_reason"
	KeyReviewsCount  = "reviews_count"
	KeyResolution    = "resolution"
	KeyResolveReason = "resolve_reason"

	KeyIncidents = "pagergate_incidents"
	KeyApproval  = "pagergate_approval"
	KeyIntent    = "pagergate_intent"
	KeyUpdated   = "pagergate_updated"
)

// PluginDataKeys are every plugin data key pagergate reads or writes.
var PluginDataKeys = []string{
	KeyIncidentID, KeyServiceID, KeyUser, KeyRoles, KeyCreated, KeyRequestReason,
	KeyReviewsCount, KeyResolution, KeyResolveReason,
	KeyIncidents, KeyApproval, KeyIntent, KeyUpdated,
}

// FullPluginData is PluginData with every key of PluginDataKeys present, ""
// for the absent ones. Written with compare-and-swap, it makes the
// comparison cover the whole record, not only the keys that have values
// (Teleport checks only the keys an update names; "" means absent).
func (r Record) FullPluginData() map[string]string {
	m := r.PluginData()
	for _, k := range PluginDataKeys {
		if _, ok := m[k]; !ok {
			m[k] = ""
		}
	}
	return m
}

// PluginData returns the record as Teleport plugin data.
func (r Record) PluginData() map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if len(r.Incidents) > 0 {
		set(KeyIncidentID, r.Incidents[0].IncidentID)
		set(KeyServiceID, r.Incidents[0].ServiceID)
		parts := make([]string, 0, len(r.Incidents))
		for _, in := range r.Incidents {
			parts = append(parts, escape(in.Service)+"|"+escape(in.ServiceID)+"|"+escape(in.IncidentID))
		}
		set(KeyIncidents, strings.Join(parts, ";"))
	}
	set(KeyUser, r.User)
	set(KeyRoles, strings.Join(r.Roles, ","))
	if !r.Created.IsZero() {
		set(KeyCreated, r.Created.UTC().Format(time.RFC3339))
	}
	set(KeyRequestReason, CapReason(r.RequestReason))
	if r.ReviewsNoted > 0 {
		set(KeyReviewsCount, strconv.Itoa(r.ReviewsNoted))
	}
	if r.Resolution != StateUnknown {
		set(KeyResolution, r.Resolution.Word())
	}
	set(KeyResolveReason, CapReason(r.ResolveReason))
	if r.ApprovalDone {
		set(KeyApproval, "done")
	}
	if r.Intent.Effect != "" {
		// The effect names a service, which may hold the separator.
		set(KeyIntent, escape(r.Intent.Effect)+"|"+escape(r.Intent.Owner)+"|"+strconv.FormatInt(r.Intent.At.Unix(), 10))
	}
	if !r.Updated.IsZero() {
		set(KeyUpdated, strconv.FormatInt(r.Updated.Unix(), 10))
	}
	return m
}

// ErrBadPluginData says stored plugin data could not be read.
var ErrBadPluginData = errors.New("bad plugin data")

// RecordFromPluginData reads a record from plugin data written by pagergate
// or by the reference plugin.
func RecordFromPluginData(id string, m map[string]string) (Record, error) {
	r := Record{RequestID: id, User: m[KeyUser], RequestReason: m[KeyRequestReason], ResolveReason: m[KeyResolveReason]}
	if v := m[KeyRoles]; v != "" {
		r.Roles = strings.Split(v, ",")
	}
	var errs []error
	if v := m[KeyCreated]; v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", KeyCreated, err))
		}
		r.Created = t
	}
	if v := m[KeyReviewsCount]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s %q: not a count", KeyReviewsCount, v))
		}
		r.ReviewsNoted = n
	}
	if v := m[KeyResolution]; v != "" {
		r.Resolution = parseResolution(v)
	}
	if v := m[KeyIncidents]; v != "" {
		for _, part := range strings.Split(v, ";") {
			f := strings.Split(part, "|")
			if len(f) != 3 {
				errs = append(errs, fmt.Errorf("%s %q: want service|service_id|incident_id", KeyIncidents, part))
				continue
			}
			r.Incidents = append(r.Incidents, IncidentRef{Service: unescape(f[0]), ServiceID: unescape(f[1]), IncidentID: unescape(f[2])})
		}
	} else if m[KeyIncidentID] != "" {
		// Written by the reference plugin: one incident, service known by ID.
		r.Incidents = []IncidentRef{{Service: m[KeyServiceID], ServiceID: m[KeyServiceID], IncidentID: m[KeyIncidentID]}}
	}
	r.ApprovalDone = m[KeyApproval] != ""
	if v := m[KeyIntent]; v != "" {
		in, err := parseIntent(v)
		if err != nil {
			errs = append(errs, err)
		}
		r.Intent = in
	}
	if v := m[KeyUpdated]; v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.Updated = time.Unix(sec, 0).UTC()
		}
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("%w for request %s: %w", ErrBadPluginData, id, errors.Join(errs...))
	}
	return r, nil
}

// parseResolution reads a resolution written by pagergate or by the
// reference plugin, which writes its own words: any value means done.
func parseResolution(v string) State {
	st := ParseState(v)
	if st != StateUnknown && st != StatePending {
		return st
	}
	if strings.EqualFold(v, "approved") || strings.EqualFold(v, "denied") {
		return ParseState(v)
	}
	return StateExpired
}

// parseIntent reads "effect|owner|unix" (effect and owner escaped).
func parseIntent(v string) (Intent, error) {
	f := strings.Split(v, "|")
	if len(f) != 3 {
		return Intent{}, fmt.Errorf("%s %q: want effect|owner|unix", KeyIntent, v)
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	in := Intent{Effect: unescape(f[0]), Owner: unescape(f[1]), At: time.Unix(sec, 0).UTC()}
	if err != nil {
		return in, fmt.Errorf("%s %q: %w", KeyIntent, v, err)
	}
	return in, nil
}

var escaper = strings.NewReplacer("%", "%25", "|", "%7C", ";", "%3B")
var unescaper = strings.NewReplacer("%7C", "|", "%3B", ";", "%25", "%")

func escape(s string) string   { return escaper.Replace(s) }
func unescape(s string) string { return unescaper.Replace(s) }
