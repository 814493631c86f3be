package teleport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Plugin data keys of a request's record. The first group is the reference
// plugin's, so a fleet can switch over; the second is pagergate's own.
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
	KeyShift     = "pagergate_shift"
	KeyIntent    = "pagergate_intent"
	KeyUpdated   = "pagergate_updated"
)

// recordKeys are every plugin data key a record is written to.
var recordKeys = []string{
	KeyIncidentID, KeyServiceID, KeyUser, KeyRoles, KeyCreated, KeyRequestReason,
	KeyReviewsCount, KeyResolution, KeyResolveReason,
	KeyIncidents, KeyApproval, KeyShift, KeyIntent, KeyUpdated,
}

// LoadRecord returns the request's record, read from its plugin data, and
// the version UpdateRecord compares against (see ports.AccessRequests).
// Parts that cannot be read are logged and left zero: a damaged record
// must not stop the request's life, and the next write replaces it.
func (c *Client) LoadRecord(ctx context.Context, id string) (domain.Record, ports.Version, error) {
	raw, err := c.getPluginData(ctx, id)
	if err != nil {
		return domain.Record{}, "", err
	}
	rec, err := decodeRecord(id, raw)
	if err != nil {
		c.log.Warn("plugin data partly unreadable", zap.String("request_id", id), zap.Error(err))
	}
	return rec, versionOf(raw), nil
}

// UpdateRecord replaces the request's record if its plugin data is still
// what version at says (compare-and-swap over every key of the record and
// every key at held), and returns the new version.
func (c *Client) UpdateRecord(ctx context.Context, id string, at ports.Version, rec domain.Record) (ports.Version, error) {
	expect, err := expectOf(at)
	if err != nil {
		return "", fmt.Errorf("update record of %s: %w", id, err)
	}
	set := fullPluginData(rec)
	if err := c.updatePluginData(ctx, id, set, expect); err != nil {
		return "", err
	}
	return versionOf(set), nil
}

// versionOf is the version of stored plugin data: its non-empty entries
// (Teleport stores "" as absent), "" when there are none. JSON writes map
// keys sorted, so equal data gives equal versions.
func versionOf(m map[string]string) ports.Version {
	kept := make(map[string]string, len(m))
	for k, v := range m {
		if v != "" {
			kept[k] = v
		}
	}
	if len(kept) == 0 {
		return ""
	}
	b, _ := json.Marshal(kept) // a map of strings always encodes
	return ports.Version(b)
}

// expectOf reads a version back into the plugin data it stands for (nil
// for the zero version).
func expectOf(v ports.Version) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("version is not one LoadRecord returned: %w", err)
	}
	return m, nil
}

// fullPluginData is pluginData with every key of recordKeys present, ""
// for the absent ones. Written with compare-and-swap, it makes the
// comparison cover the whole record, not only the keys that have values
// (Teleport checks only the keys an update names; "" means absent).
func fullPluginData(r domain.Record) map[string]string {
	m := pluginData(r)
	for _, k := range recordKeys {
		if _, ok := m[k]; !ok {
			m[k] = ""
		}
	}
	return m
}

// pluginData returns the record as Teleport plugin data (non-empty keys
// only).
func pluginData(r domain.Record) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if len(r.Incidents) > 0 {
		set(KeyIncidentID, r.Incidents[0].IncidentID)
		set(KeyServiceID, r.Incidents[0].ServiceID)
		set(KeyIncidents, encodeIncidents(r.Incidents))
	}
	set(KeyUser, r.User)
	set(KeyRoles, strings.Join(r.Roles, ","))
	if !r.Created.IsZero() {
		// Unix seconds in decimal, as the reference plugin writes and reads
		// it: it re-encodes what it read as its compare-and-swap
		// expectation, so any other form makes every write of its fail.
		set(KeyCreated, strconv.FormatInt(r.Created.Unix(), 10))
	}
	set(KeyRequestReason, domain.CapReason(r.RequestReason))
	if r.ReviewsNoted > 0 {
		set(KeyReviewsCount, strconv.Itoa(r.ReviewsNoted))
	}
	if r.Resolution != domain.StateUnknown {
		set(KeyResolution, r.Resolution.Word())
	}
	set(KeyResolveReason, domain.CapReason(r.ResolveReason))
	if r.ApprovalDone {
		set(KeyApproval, "done")
	}
	if !r.Shift.IsZero() {
		set(KeyShift, encodeShift(r.Shift))
	}
	if !r.Intent.IsZero() {
		// The effect names a service, which may hold the separator.
		set(KeyIntent, escape(r.Intent.Effect.String())+"|"+escape(r.Intent.Owner)+"|"+strconv.FormatInt(r.Intent.At.Unix(), 10))
	}
	if !r.Updated.IsZero() {
		set(KeyUpdated, strconv.FormatInt(r.Updated.Unix(), 10))
	}
	return m
}

func encodeIncidents(incs []domain.IncidentRef) string {
	parts := make([]string, 0, len(incs))
	for _, in := range incs {
		parts = append(parts, escape(in.Service)+"|"+escape(in.ServiceID)+"|"+escape(in.IncidentID))
	}
	return strings.Join(parts, ";")
}

// errBadPluginData says stored plugin data could not be read.
var errBadPluginData = errors.New("bad plugin data")

// decodeRecord reads a record from plugin data written by pagergate or by
// the reference plugin. On error the readable parts are returned.
func decodeRecord(id string, m map[string]string) (domain.Record, error) {
	r := domain.Record{RequestID: id, User: m[KeyUser], RequestReason: m[KeyRequestReason], ResolveReason: m[KeyResolveReason]}
	if v := m[KeyRoles]; v != "" {
		r.Roles = strings.Split(v, ",")
	}
	var errs []error
	if v := m[KeyCreated]; v != "" {
		t, err := parseCreated(v)
		if err != nil {
			errs = append(errs, err)
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
	var err error
	if r.Incidents, err = decodeIncidents(m); err != nil {
		errs = append(errs, err)
	}
	r.ApprovalDone = m[KeyApproval] != ""
	if v := m[KeyShift]; v != "" {
		if r.Shift, err = decodeShift(v); err != nil {
			errs = append(errs, err)
		}
	}
	if v := m[KeyIntent]; v != "" {
		if r.Intent, err = parseIntent(v); err != nil {
			errs = append(errs, err)
		}
	}
	if v := m[KeyUpdated]; v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.Updated = time.Unix(sec, 0).UTC()
		}
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("%w for request %s: %w", errBadPluginData, id, errors.Join(errs...))
	}
	return r, nil
}

// parseCreated reads the creation time as the reference plugin writes it
// (Unix seconds) or as pagergate wrote it before (RFC 3339).
func parseCreated(v string) (time.Time, error) {
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(sec, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: neither Unix seconds nor RFC 3339", KeyCreated, v)
	}
	return t, nil
}

// decodeIncidents reads pagergate's incident list or, written by the
// reference plugin, its one incident (service known by ID).
func decodeIncidents(m map[string]string) ([]domain.IncidentRef, error) {
	v := m[KeyIncidents]
	if v == "" {
		if m[KeyIncidentID] == "" {
			return nil, nil
		}
		return []domain.IncidentRef{{Service: m[KeyServiceID], ServiceID: m[KeyServiceID], IncidentID: m[KeyIncidentID]}}, nil
	}
	var out []domain.IncidentRef
	var errs []error
	for _, part := range strings.Split(v, ";") {
		f := strings.Split(part, "|")
		if len(f) != 3 {
			errs = append(errs, fmt.Errorf("%s %q: want service|service_id|incident_id", KeyIncidents, part))
			continue
		}
		out = append(out, domain.IncidentRef{Service: unescape(f[0]), ServiceID: unescape(f[1]), IncidentID: unescape(f[2])})
	}
	return out, errors.Join(errs...)
}

// parseResolution reads a resolution written by pagergate or by the
// reference plugin, which writes its own words: any value means done.
func parseResolution(v string) domain.State {
	st := domain.ParseState(v)
	if st != domain.StateUnknown && st != domain.StatePending {
		return st
	}
	if strings.EqualFold(v, "approved") || strings.EqualFold(v, "denied") {
		return domain.ParseState(v)
	}
	return domain.StateExpired
}

// parseIntent reads "effect|owner|unix" (effect and owner escaped). An
// effect this build does not know reads as none.
func parseIntent(v string) (domain.Intent, error) {
	f := strings.Split(v, "|")
	if len(f) != 3 {
		return domain.Intent{}, fmt.Errorf("%s %q: want effect|owner|unix", KeyIntent, v)
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	in := domain.Intent{Effect: domain.ParseEffect(unescape(f[0])), Owner: unescape(f[1]), At: time.Unix(sec, 0).UTC()}
	if err != nil {
		return in, fmt.Errorf("%s %q: %w", KeyIntent, v, err)
	}
	return in, nil
}

var escaper = strings.NewReplacer("%", "%25", "|", "%7C", ";", "%3B")
var unescaper = strings.NewReplacer("%7C", "|", "%3B", ";", "%25", "%")

func escape(s string) string   { return escaper.Replace(s) }
func unescape(s string) string { return unescaper.Replace(s) }
