package fakeopsgenie

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// term is one `field: value` of an alert search query.
type term struct{ field, value string }

// queryFields are the search fields the fake understands.
var queryFields = []string{"status", "alias", "owner", "teams", "responders", "tag", "message", "acknowledged", "priority", "alertid", "tinyid"}

// parseQuery parses the subset of Opsgenie's alert search syntax the fake
// supports: terms `field: value` or `field=value` joined by AND; values
// may be double-quoted. Anything else is an error (Opsgenie answers 422).
func parseQuery(q string) ([]term, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	var out []term
	for _, part := range splitAnd(q) {
		i := strings.IndexAny(part, ":=")
		if i <= 0 {
			return nil, fmt.Errorf("invalid search term %q", part)
		}
		field := strings.ToLower(strings.TrimSpace(part[:i]))
		value := strings.TrimSpace(part[i+1:])
		quoted := strings.HasPrefix(value, `"`)
		if uq, err := strconv.Unquote(value); err == nil && quoted {
			value = uq
		} else if quoted || strings.ContainsAny(value, " \t") {
			return nil, fmt.Errorf("invalid search term %q (quote values with spaces; only AND joins terms)", part)
		}
		if !slices.Contains(queryFields, field) || value == "" {
			return nil, fmt.Errorf("invalid search term %q", part)
		}
		out = append(out, term{field: field, value: value})
	}
	return out, nil
}

// splitAnd splits a query on AND outside double quotes.
func splitAnd(q string) []string {
	var parts []string
	inQuote, start := false, 0
	for i := 0; i < len(q); i++ {
		switch {
		case q[i] == '"' && (i == 0 || q[i-1] != '\\'):
			inQuote = !inQuote
		case !inQuote && i+5 <= len(q) && strings.EqualFold(q[i:i+5], " and "):
			parts = append(parts, strings.TrimSpace(q[start:i]))
			start = i + 5
			i += 4
		}
	}
	return append(parts, strings.TrimSpace(q[start:]))
}

// matchLocked reports whether the alert matches every term.
func (s *Server) matchLocked(a *alert, terms []term) bool {
	for _, t := range terms {
		if !s.matchTermLocked(a, t) {
			return false
		}
	}
	return true
}

func (s *Server) matchTermLocked(a *alert, t term) bool {
	v := lower(t.value)
	switch t.field {
	case "status":
		return a.Status == v
	case "alias":
		// Opsgenie: searching by alias finds only the open alert.
		return a.Status == StatusOpen && a.Alias == t.value
	case "owner":
		return lower(a.Owner) == v
	case "acknowledged":
		return strconv.FormatBool(a.Acknowledged) == v
	case "priority":
		return strings.EqualFold(a.Priority, t.value)
	case "alertid":
		return a.ID == t.value
	case "tinyid":
		return a.TinyID == t.value
	case "tag":
		return slices.ContainsFunc(a.Tags, func(x string) bool { return lower(x) == v })
	case "message":
		return strings.Contains(lower(a.Message), v)
	case "teams", "responders":
		return slices.ContainsFunc(a.Responders, func(r Responder) bool {
			return (t.field == "responders" || r.Type == KindTeam) && lower(s.responderNameLocked(r)) == v
		})
	}
	return false
}

func (s *Server) responderNameLocked(r Responder) string {
	switch r.Type {
	case KindUser:
		return usernameOf(s.userLocked(r.ID))
	case KindTeam:
		if t := s.teamLocked(r.ID); t != nil {
			return t.Name
		}
	case KindSchedule:
		if sc := s.scheduleLocked(r.ID); sc != nil {
			return sc.Name
		}
	}
	return ""
}

// listAlerts serves GET /v2/alerts: search, sort by createdAt (default
// order desc), offset pagination with limit <= 100 and offset + limit <=
// 20,000.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	terms, err := parseQuery(q.Get("query"))
	if err != nil {
		invalid(w, r, "query", "Invalid query: "+err.Error())
		return
	}
	offset, ok1 := queryInt(r, "offset", 0)
	limit, ok2 := queryInt(r, "limit", defaultLimit)
	sortBy, order := q.Get("sort"), q.Get("order")
	switch {
	case !ok1 || !ok2 || limit == 0 || limit > maxLimit:
		invalid(w, r, "limit", fmt.Sprintf("offset must be >= 0 and limit between 1 and %d", maxLimit))
		return
	case offset+limit > maxRecords:
		invalid(w, r, "offset", fmt.Sprintf("offset + limit can not exceed %d", maxRecords))
		return
	case sortBy != "" && sortBy != "createdAt":
		invalid(w, r, "sort", "The fake sorts by createdAt only")
		return
	case order != "" && order != "asc" && order != "desc":
		invalid(w, r, "order", "Order should be asc or desc")
		return
	}
	page, more := s.search(terms, order == "asc", offset, limit)
	paging := map[string]string{"first": pageURL(r, 0, limit)}
	if more {
		paging["next"] = pageURL(r, offset+limit, limit)
	}
	writeData(w, r, page, map[string]any{"paging": paging})
}

func (s *Server) search(terms []term, asc bool, offset, limit int) ([]map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.processDueLocked()
	var hits []*alert
	for _, a := range s.alerts {
		if s.matchLocked(a, terms) {
			hits = append(hits, a)
		}
	}
	if !asc {
		slices.Reverse(hits)
	}
	page := []map[string]any{}
	for i := offset; i < len(hits) && i < offset+limit; i++ {
		page = append(page, alertJSON(hits[i].snapshot(), false))
	}
	return page, offset+limit < len(hits)
}

func pageURL(r *http.Request, offset, limit int) string {
	q := r.URL.Query()
	q.Set("offset", strconv.Itoa(offset))
	q.Set("limit", strconv.Itoa(limit))
	u := url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

type noteJSON struct {
	Note      string `json:"note"`
	Owner     string `json:"owner"`
	CreatedAt string `json:"createdAt"`
	Offset    string `json:"offset"`
}

// listNotes serves GET /v2/alerts/{id}/notes: order (default desc),
// direction next|prev from the offset cursor, limit <= 100 (default 100).
func (s *Server) listNotes(w http.ResponseWriter, r *http.Request, ident string) {
	q := r.URL.Query()
	idType, dir, order := q.Get("identifierType"), q.Get("direction"), q.Get("order")
	limit, ok := queryInt(r, "limit", maxLimit)
	if !validIdentifierType(idType) || !ok || limit == 0 || limit > maxLimit ||
		(dir != "" && dir != "next" && dir != "prev") || (order != "" && order != "asc" && order != "desc") {
		invalid(w, r, "query", "Invalid identifierType, direction, order or limit")
		return
	}
	s.mu.Lock()
	s.processDueLocked()
	a := s.alertLocked(ident, idType)
	var notes []Note
	if a != nil {
		notes = append(notes, a.Notes...)
	}
	s.mu.Unlock()
	if a == nil {
		writeError(w, requestID(r.Context()), http.StatusNotFound, "Alert does not exist", nil, "")
		return
	}
	if order != "asc" {
		slices.Reverse(notes)
	}
	page, next := notePage(notes, q.Get("offset"), dir == "prev", limit)
	paging := map[string]string{"first": pageURL(r, 0, limit)}
	if next != "" {
		nq := r.URL.Query()
		nq.Set("offset", next)
		nq.Set("direction", firstOf(dir, "next"))
		paging["next"] = (&url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawQuery: nq.Encode()}).String()
	}
	writeData(w, r, page, map[string]any{"paging": paging})
}

// notePage returns up to limit notes after (or, with prev, before) the
// note whose offset is cursor (all when cursor is empty or unknown), and
// the cursor of the next page ("" when none).
func notePage(notes []Note, cursor string, prev bool, limit int) ([]noteJSON, string) {
	start, end := 0, len(notes)
	if i := slices.IndexFunc(notes, func(n Note) bool { return n.Offset == cursor }); i >= 0 {
		if prev {
			end = i
		} else {
			start = i + 1
		}
	}
	sel := notes[start:end]
	if prev && len(sel) > limit {
		sel = sel[len(sel)-limit:]
	}
	more := len(sel) > limit
	if more {
		sel = sel[:limit]
	}
	out := make([]noteJSON, 0, len(sel))
	for _, n := range sel {
		out = append(out, noteJSON{Note: n.Text, Owner: n.Owner, CreatedAt: n.CreatedAt.UTC().Format(time.RFC3339Nano), Offset: n.Offset})
	}
	if !more {
		return out, ""
	}
	return out, sel[len(sel)-1].Offset
}
