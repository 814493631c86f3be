package boltstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pagergate/pagergate/domain"
)

// recordVersion is the version of the record encoding, stored in each
// value; a change of layout bumps it and decodeRecord reads the old ones.
const recordVersion = 1

// storedRecord is the encoding of a domain.Record (JSON, version 1). Its
// field names are part of the file format. Strings must be valid UTF-8 (as
// Teleport's are): JSON replaces invalid bytes with U+FFFD.
type storedRecord struct {
	V             int              `json:"v"`
	RequestID     string           `json:"request_id"`
	User          string           `json:"user,omitempty"`
	Roles         []string         `json:"roles,omitempty"`
	Created       time.Time        `json:"created,omitzero"`
	RequestReason string           `json:"request_reason,omitempty"`
	Incidents     []storedIncident `json:"incidents,omitempty"`
	ReviewsNoted  int              `json:"reviews_noted,omitempty"`
	ApprovalDone  bool             `json:"approval_done,omitempty"`
	// Resolution is the state name (APPROVED…); empty while unresolved.
	Resolution    string        `json:"resolution,omitempty"`
	ResolveReason string        `json:"resolve_reason,omitempty"`
	Intent        *storedIntent `json:"intent,omitempty"`
	Updated       time.Time     `json:"updated,omitzero"`
	// ResolvedAt is when the store first saw the record resolved (the
	// store's clock); retention counts from it.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

type storedIncident struct {
	Service    string `json:"service"`
	ServiceID  string `json:"service_id"`
	IncidentID string `json:"incident_id"`
}

type storedIntent struct {
	Effect string    `json:"effect"`
	Owner  string    `json:"owner"`
	At     time.Time `json:"at,omitzero"`
}

func fromRecord(r domain.Record) storedRecord {
	sr := storedRecord{
		V:             recordVersion,
		RequestID:     r.RequestID,
		User:          r.User,
		Roles:         r.Roles,
		Created:       utc(r.Created),
		RequestReason: r.RequestReason,
		ReviewsNoted:  r.ReviewsNoted,
		ApprovalDone:  r.ApprovalDone,
		ResolveReason: r.ResolveReason,
		Updated:       utc(r.Updated),
	}
	if r.Resolution != domain.StateUnknown {
		sr.Resolution = r.Resolution.String()
	}
	for _, in := range r.Incidents {
		sr.Incidents = append(sr.Incidents, storedIncident(in))
	}
	if r.Intent != (domain.Intent{}) {
		sr.Intent = &storedIntent{Effect: r.Intent.Effect.String(), Owner: r.Intent.Owner, At: utc(r.Intent.At)}
	}
	return sr
}

func (sr storedRecord) done() bool { return sr.Resolution != "" }

func (sr storedRecord) record() domain.Record {
	r := domain.Record{
		RequestID:     sr.RequestID,
		User:          sr.User,
		Roles:         sr.Roles,
		Created:       utc(sr.Created),
		RequestReason: sr.RequestReason,
		ReviewsNoted:  sr.ReviewsNoted,
		ApprovalDone:  sr.ApprovalDone,
		ResolveReason: sr.ResolveReason,
		Updated:       utc(sr.Updated),
	}
	if sr.Resolution != "" {
		r.Resolution = domain.ParseState(sr.Resolution)
	}
	for _, in := range sr.Incidents {
		r.Incidents = append(r.Incidents, domain.IncidentRef(in))
	}
	if sr.Intent != nil {
		r.Intent = domain.Intent{Effect: domain.ParseEffect(sr.Intent.Effect), Owner: sr.Intent.Owner, At: utc(sr.Intent.At)}
	}
	return r
}

func decodeRecord(v []byte) (storedRecord, error) {
	var sr storedRecord
	if err := json.Unmarshal(v, &sr); err != nil {
		return sr, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if sr.V != recordVersion {
		return sr, fmt.Errorf("%w: record encoding version %d, want %d", ErrCorrupt, sr.V, recordVersion)
	}
	if sr.Resolution != "" && domain.ParseState(sr.Resolution) == domain.StateUnknown {
		return sr, fmt.Errorf("%w: resolution %q", ErrCorrupt, sr.Resolution)
	}
	return sr, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
