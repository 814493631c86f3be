package teleport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pagergate/pagergate/domain"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestPluginDataRoundTrip(t *testing.T) {
	rec := domain.Record{
		RequestID: "r1", User: "alice@example.com", Roles: []string{"db", "web"}, Created: t0, RequestReason: "fix",
		Incidents:    []domain.IncidentRef{{Service: "Ops | Team; 100%", ServiceID: "PS1", IncidentID: "PI1"}, {Service: "B", ServiceID: "PS2", IncidentID: "PI2"}},
		ReviewsNoted: 2, ApprovalDone: true, Resolution: domain.StateDenied, ResolveReason: "no",
		Intent: domain.Intent{Effect: domain.Effect{Kind: domain.EffectResolve}, Owner: "host-1", At: t0}, Updated: t0.Add(time.Minute),
	}
	m := pluginData(rec)
	if m[KeyIncidentID] != "PI1" || m[KeyServiceID] != "PS1" || m[KeyResolution] != "denied" || m[KeyReviewsCount] != "2" {
		t.Errorf("reference keys wrong: %v", m)
	}
	got, err := decodeRecord("r1", m)
	if err != nil {
		t.Fatalf("decodeRecord() error = %v", err)
	}
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("round trip diff:\n%s", diff)
	}
	empty, err := decodeRecord("r2", nil)
	if err != nil || empty.RequestID != "r2" || len(pluginData(empty)) != 0 {
		t.Errorf("empty record: %+v, %v", empty, err)
	}
}

func TestPluginDataFromReferencePlugin(t *testing.T) {
	got, err := decodeRecord("r1", map[string]string{
		"incident_id": "PI7", "service_id": "PS7", "user": "alice", "roles": "db", "created": strconv.FormatInt(t0.Unix(), 10),
		"reviews_count": "1", "resolution": "approved", "resolve_reason": "ok",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Record{RequestID: "r1", User: "alice", Roles: []string{"db"}, Created: t0, ReviewsNoted: 1,
		Incidents: []domain.IncidentRef{{Service: "PS7", ServiceID: "PS7", IncidentID: "PI7"}}, Resolution: domain.StateApproved, ResolveReason: "ok"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diff:\n%s", diff)
	}
	if _, ok := got.Incident("PS7"); !ok {
		t.Error("reference incident not found by service ID")
	}
	other, _ := decodeRecord("r1", map[string]string{"resolution": "something"})
	if !other.Done() {
		t.Error("any resolution value must mean done")
	}
}

// The reference plugin writes created as Unix seconds; records pagergate
// wrote before it did the same hold RFC 3339. Both read.
func TestCreatedReadsInBothForms(t *testing.T) {
	for _, v := range []string{strconv.FormatInt(t0.Unix(), 10), "2026-11-21T10:00:00Z", "2026-11-21T11:00:00+01:00"} {
		got, err := decodeRecord("r1", map[string]string{KeyCreated: v})
		if err != nil || !got.Created.Equal(t0) {
			t.Errorf("created %q read as %v, %v; want %v", v, got.Created, err, t0)
		}
	}
	if m := pluginData(domain.Record{Created: t0.Add(1500 * time.Millisecond)}); m[KeyCreated] != strconv.FormatInt(t0.Unix()+1, 10) {
		t.Errorf("created written as %q, want Unix seconds", m[KeyCreated])
	}
}

// referenceReencode is what the reference plugin writes back for a value
// it read: it decodes its nine keys (created and reviews_count with a
// leading-integer scan, roles split at commas), then encodes them again
// (created as Unix seconds, reviews_count empty when 0) and uses the
// result as its compare-and-swap expectation. A value that does not
// survive this makes every write of the reference fail.
func referenceReencode(key, v string) string {
	switch key {
	case KeyCreated:
		if v == "" {
			return ""
		}
		var sec int64
		_, _ = fmt.Sscanf(v, "%d", &sec)
		return strconv.FormatInt(time.Unix(sec, 0).Unix(), 10)
	case KeyReviewsCount:
		var n int
		if v != "" {
			_, _ = fmt.Sscanf(v, "%d", &n)
		}
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	case KeyRoles:
		if v == "" {
			return ""
		}
		return strings.Join(strings.Split(v, ","), ",")
	}
	return v
}

// Every reference key pagergate writes reads back unchanged through the
// reference's codec, so the reference can update a record pagergate wrote
// (both run during a switch) and reads the same values.
func TestReferenceKeysSurviveTheReferenceCodec(t *testing.T) {
	recs := map[string]domain.Record{
		"full": {RequestID: "r1", User: "alice@example.com", Roles: []string{"db", "web"}, Created: t0, RequestReason: "fix | it; 100%",
			Incidents:    []domain.IncidentRef{{Service: "Ops", ServiceID: "PS1", IncidentID: "PI1"}, {Service: "B", ServiceID: "PS2", IncidentID: "PI2"}},
			ReviewsNoted: 12, Resolution: domain.StatePromoted, ResolveReason: "ok",
			Intent: domain.Intent{Effect: domain.Effect{Kind: domain.EffectResolve}, Owner: "host-1", At: t0}},
		"fresh": {RequestID: "r2", User: "bob", Roles: []string{"db"}, Created: t0},
	}
	refKeys := []string{KeyIncidentID, KeyServiceID, KeyUser, KeyRoles, KeyCreated, KeyRequestReason, KeyReviewsCount, KeyResolution, KeyResolveReason}
	for name, rec := range recs {
		m := fullPluginData(rec)
		for _, k := range refKeys {
			if got := referenceReencode(k, m[k]); got != m[k] {
				t.Errorf("%s: %s written as %q, the reference writes it back as %q", name, k, m[k], got)
			}
		}
	}
	m := pluginData(recs["full"])
	for k, want := range map[string]string{KeyIncidentID: "PI1", KeyServiceID: "PS1", KeyRoles: "db,web", KeyReviewsCount: "12",
		KeyResolution: "promoted", KeyCreated: strconv.FormatInt(t0.Unix(), 10)} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q as the reference writes it", k, m[k], want)
		}
	}
	// The reference's words for a resolution read as the same states.
	for word, st := range map[string]domain.State{"approved": domain.StateApproved, "denied": domain.StateDenied,
		"expired": domain.StateExpired, "promoted": domain.StatePromoted} {
		if got := parseResolution(word); got != st {
			t.Errorf("resolution %q read as %v, want %v", word, got, st)
		}
	}
}

func TestPluginDataErrors(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"created":   {KeyCreated: "yesterday"},
		"reviews":   {KeyReviewsCount: "-1"},
		"incidents": {KeyIncidents: "a|b"},
		"intent":    {KeyIntent: "x"},
		"intent ts": {KeyIntent: "x|y|z"},
	} {
		if _, err := decodeRecord("r", m); !errors.Is(err, errBadPluginData) {
			t.Errorf("%s: error = %v, want errBadPluginData", name, err)
		}
	}
}

func TestFullPluginDataNamesEveryKey(t *testing.T) {
	m := fullPluginData(domain.Record{RequestID: "r", User: "alice"})
	if len(m) != len(recordKeys) || m[KeyUser] != "alice" || m[KeyIntent] != "" {
		t.Errorf("FullPluginData() = %v", m)
	}
	if got, err := decodeRecord("r", m); err != nil || got.User != "alice" || !got.Intent.IsZero() {
		t.Errorf("empty values must read as absent: %+v, %v", got, err)
	}
}

// A service name may hold the separators of the stored intent; a peer must
// still read the claim back, or it would ignore it and act twice.
func TestIntentWithSeparatorsRoundTrips(t *testing.T) {
	for _, svc := range []string{"Ops | Platform", "a|b|c", "100% | done;", "%7C"} {
		eff := domain.Effect{Kind: domain.EffectOpenIncident, Service: svc}
		rec := domain.Record{RequestID: "r1", Intent: domain.Intent{Effect: eff, Owner: "host|1", At: t0}}
		got, err := decodeRecord("r1", pluginData(rec))
		if err != nil {
			t.Errorf("service %q: decodeRecord() error = %v", svc, err)
			continue
		}
		if diff := cmp.Diff(rec.Intent, got.Intent); diff != "" {
			t.Errorf("service %q: intent diff (-want +got):\n%s", svc, diff)
		}
	}
	// An intent written before escaping existed still reads.
	old, err := decodeRecord("r1", map[string]string{KeyIntent: "open:Ops 100%|host-1|1795255200"})
	if err != nil || old.Intent.Effect != (domain.Effect{Kind: domain.EffectOpenIncident, Service: "Ops 100%"}) || old.Intent.Owner != "host-1" {
		t.Errorf("unescaped intent = %+v, %v", old.Intent, err)
	}
	// An effect another version wrote still holds its lease.
	newer, err := decodeRecord("r1", map[string]string{KeyIntent: "escalate|host-2|1795255200"})
	if err != nil || newer.Intent.IsZero() || newer.Intent.Effect.Kind != domain.EffectUnknown || newer.Intent.Owner != "host-2" {
		t.Errorf("intent of an unknown effect = %+v, %v", newer.Intent, err)
	}
}

// The request reason is stored cut to domain.MaxReasonLen, with a mark that says
// so; the resolve reason too.
func TestPluginDataCapsReasons(t *testing.T) {
	long := strings.Repeat("ü", domain.MaxReasonLen+500)
	rec := domain.Record{RequestID: "r1", RequestReason: long, ResolveReason: long, Resolution: domain.StateApproved}
	m := pluginData(rec)
	for _, k := range []string{KeyRequestReason, KeyResolveReason} {
		if n := utf8.RuneCountInString(m[k]); n > domain.MaxReasonLen {
			t.Errorf("%s holds %d characters, want at most %d", k, n, domain.MaxReasonLen)
		}
		if !strings.HasPrefix(m[k], strings.Repeat("ü", 100)) || !strings.HasSuffix(m[k], "…") {
			t.Errorf("%s does not keep the start and mark the cut: %.40q…%q", k, m[k], m[k][len(m[k])-8:])
		}
	}
	short := domain.Record{RequestID: "r1", RequestReason: "fix prod"}
	if got := pluginData(short)[KeyRequestReason]; got != "fix prod" {
		t.Errorf("short reason stored as %q", got)
	}
}
