package fakepd

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// recorder counts answers by status as soon as the status is written, so a
// client that got its answer always finds it counted.
type recorder struct {
	http.ResponseWriter
	s     *Server
	route string
	wrote bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.wrote = true
		r.s.callMu.Lock()
		m := r.s.byStatus[r.route]
		if m == nil {
			m = map[int]int{}
			r.s.byStatus[r.route] = m
		}
		m[status]++
		r.s.callMu.Unlock()
		r.s.notify()
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// serveAPI runs one REST request through counting, latency, faults,
// authentication and the rate limit, then the route.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.api.Handler(r)
	route := pattern
	if route == "" || route == "/" {
		route = r.Method + " " + r.URL.Path
	}
	rec := &recorder{ResponseWriter: w, s: s, route: route}

	s.callMu.Lock()
	s.calls[route]++
	s.callMu.Unlock()
	s.notify()
	s.mu.Lock()
	if s.url == "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		s.base = scheme + r.Host
	}
	latency := s.latency
	s.mu.Unlock()

	if !s.wait(r.Context(), latency) {
		if r.Context().Err() == nil {
			writeError(rec, statusError(http.StatusServiceUnavailable))
		}
		return
	}
	if s.injectFault(rec, r) {
		return
	}
	if !tokenOK(r.Header.Get("Authorization"), s.opts.APIKey) {
		writeError(rec, statusError(http.StatusUnauthorized))
		return
	}
	if s.rateLimited(rec) {
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)
	s.api.ServeHTTP(rec, r)
}

// injectFault answers with a scheduled or random failure; it reports
// whether it did.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	status, wait, hang := 0, time.Second, false
	switch f := s.faults; {
	case s.failNext > 0:
		s.failNext--
		status = s.failStatus
	case f.Timeout:
		hang = true
	case f.Rate429 > 0 || f.Rate500 > 0:
		x := s.rng.Float64()
		if x < f.Rate429 {
			status, wait = http.StatusTooManyRequests, f.RetryAfter
		} else if x < f.Rate429+f.Rate500 {
			status = http.StatusInternalServerError
		}
	}
	s.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
			writeError(w, statusError(http.StatusServiceUnavailable))
		}
		return true
	}
	if status == 0 {
		return false
	}
	if status == http.StatusTooManyRequests {
		retryAfter(w, wait)
	}
	writeError(w, statusError(status))
	return true
}

// rateLimited applies the per-minute limit with PagerDuty's headers; it
// reports whether the request was refused.
func (s *Server) rateLimited(w http.ResponseWriter) bool {
	s.mu.Lock()
	limit := s.rateLimit
	if limit <= 0 {
		s.mu.Unlock()
		return false
	}
	now := s.now()
	if s.winStart.IsZero() || now.Sub(s.winStart) >= time.Minute || now.Before(s.winStart) {
		s.winStart, s.winCount = now, 0
	}
	s.winCount++
	count := s.winCount
	reset := s.winStart.Add(time.Minute).Sub(now)
	s.mu.Unlock()

	h := w.Header()
	h.Set("ratelimit-limit", strconv.Itoa(limit))
	h.Set("ratelimit-remaining", strconv.Itoa(max(0, limit-count)))
	h.Set("ratelimit-reset", strconv.Itoa(ceilSeconds(reset)))
	if count <= limit {
		return false
	}
	retryAfter(w, reset)
	writeError(w, statusError(http.StatusTooManyRequests))
	return true
}

func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /abilities", s.getAbilities)
	m.HandleFunc("GET /users", s.listUsers)
	m.HandleFunc("GET /users/{id}", s.getUser)
	m.HandleFunc("GET /services", s.listServices)
	m.HandleFunc("GET /services/{id}", s.getService)
	m.HandleFunc("GET /escalation_policies", s.listPolicies)
	m.HandleFunc("GET /escalation_policies/{id}", s.getPolicy)
	m.HandleFunc("GET /oncalls", s.listOnCalls)
	m.HandleFunc("GET /incidents", s.listIncidents)
	m.HandleFunc("POST /incidents", s.createIncident)
	m.HandleFunc("PUT /incidents", s.manageIncidents)
	m.HandleFunc("GET /incidents/{id}", s.getIncident)
	m.HandleFunc("PUT /incidents/{id}", s.updateIncident)
	m.HandleFunc("GET /incidents/{id}/notes", s.listNotes)
	m.HandleFunc("POST /incidents/{id}/notes", s.createNote)
	m.HandleFunc("GET /extensions", s.listExtensions)
	m.HandleFunc("POST /extensions", s.createExtension)
	m.HandleFunc("GET /extensions/{id}", s.getExtension)
	m.HandleFunc("PUT /extensions/{id}", s.updateExtension)
	m.HandleFunc("DELETE /extensions/{id}", s.deleteExtension)
	m.HandleFunc("POST /extensions/{id}/enable", s.enableExtension)
	m.HandleFunc("GET /priorities", s.listPriorities)
	m.HandleFunc("GET /extension_schemas", s.listSchemas)
	m.HandleFunc("GET /extension_schemas/{id}", s.getSchema)
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, statusError(http.StatusNotFound))
	})
	return m
}

// fromUser returns the user named by the From header of a write; s.mu must
// be held.
func (s *Server) fromUserLocked(r *http.Request) (*user, *apiError) {
	from := strings.TrimSpace(r.Header.Get("From"))
	if from == "" {
		return nil, &apiError{status: http.StatusBadRequest, code: CodeMissingArgument, message: "Missing Arguments",
			errors: []string{"The From header is required and must be the email of a PagerDuty user"}}
	}
	u := s.userByEmailLocked(from)
	if u == nil {
		return nil, invalid("Requester User Not Found: the From header must be the email of a PagerDuty user")
	}
	return u, nil
}

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) *apiError {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge, code: CodeInvalidInput, message: "Request Entity Too Large"}
		}
		return invalid("unreadable body")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return invalid("request body is empty")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid("malformed JSON: " + err.Error())
	}
	return nil
}

// listParam returns the values of a list parameter, sent as name[] (or
// name).
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range append(append([]string(nil), q[name+"[]"]...), q[name]...) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// page is the classic offset pagination of a list request.
type page struct {
	limit, offset int
	total         bool
}

func parsePage(q url.Values) (page, *apiError) {
	p := page{limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, invalid("limit must be a non-negative integer")
		}
		if n > 0 {
			p.limit = min(n, maxLimit)
		}
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, invalid("offset must be a non-negative integer")
		}
		p.offset = n
	}
	if p.offset+p.limit > maxRecords {
		// PagerDuty serves at most 10000 records through classic pagination.
		return p, invalid("offset + limit must not exceed 10000")
	}
	p.total = q.Get("total") == "true"
	return p, nil
}

// paged cuts items to the page and returns the list answer with limit,
// offset, more and total (null unless total=true was asked).
func paged[T any](p page, key string, items []T, render func(T) any) map[string]any {
	n := len(items)
	lo := min(p.offset, n)
	hi := min(lo+p.limit, n)
	out := make([]any, 0, hi-lo)
	for _, it := range items[lo:hi] {
		out = append(out, render(it))
	}
	var total any
	if p.total {
		total = n
	}
	return map[string]any{
		"limit":  p.limit,
		"offset": p.offset,
		"more":   hi < n,
		"total":  total,
		key:      out,
	}
}

// ref is a {id, type} reference in a request body.
type ref struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}
