package fakeopsgenie

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Opsgenie's rate-limit domains the fake keeps apart.
const (
	domainAlert   = "ALERT"
	domainSearch  = "SEARCH"
	domainConfig  = "CONFIGURATION"
	domainOnCalls = "SCHEDULE_ONCALLS"
)

func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /v2/alerts", s.createAlert)
	m.HandleFunc("GET /v2/alerts", s.listAlerts)
	m.HandleFunc("GET /v2/alerts/{id}", s.getAlert)
	// One pattern for /v2/alerts/requests/{id} and /v2/alerts/{id}/notes:
	// ServeMux cannot tell them apart by pattern.
	m.HandleFunc("GET /v2/alerts/{id}/{sub}", s.getAlertSub)
	m.HandleFunc("POST /v2/alerts/{id}/notes", s.addNote)
	m.HandleFunc("POST /v2/alerts/{id}/close", s.closeAlert)
	m.HandleFunc("POST /v2/alerts/{id}/responders", s.addResponder)
	m.HandleFunc("POST /v2/alerts/{id}/actions/{action}", s.customAction)
	m.HandleFunc("GET /v2/users/{id}", s.getUser)
	m.HandleFunc("GET /v2/teams", s.listTeams)
	m.HandleFunc("GET /v2/schedules", s.listSchedules)
	m.HandleFunc("GET /v2/schedules/{id}/on-calls", s.onCalls)
	m.HandleFunc("GET /v2/integrations", s.listIntegrations)
	m.HandleFunc("GET /v2/integrations/{id}", s.getIntegration)
	return m
}

// rateDomain names the rate-limit domain of a route (Opsgenie: list
// requests count as search, on-call reads as schedule on-calls, alert
// reads and writes as alert, the rest as configuration).
func rateDomain(pattern string) string {
	switch {
	case pattern == "GET /v2/alerts":
		return domainSearch
	case strings.HasSuffix(pattern, "/on-calls"):
		return domainOnCalls
	case strings.Contains(pattern, "/v2/alerts"):
		return domainAlert
	}
	return domainConfig
}

// serveAPI applies latency, authentication, injected failures and the rate
// limit, then serves the request (or loses its answer).
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	reqID := newUUID()
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if !s.sleep(r.Context(), latency) {
		return
	}
	h, pattern := s.api.Handler(r) // for the route's name; ServeHTTP sets path values
	key := pattern
	if key == "" {
		key = r.Method + " " + r.URL.Path
	}
	s.count(key)
	if !s.authorized(r) {
		writeError(w, reqID, http.StatusUnauthorized, "Could not authenticate", nil, "")
		return
	}
	if pattern == "" {
		h.ServeHTTP(w, r) // ServeMux's 404 or 405
		return
	}
	if status, period, fail := s.gate(rateDomain(pattern)); fail {
		if status == http.StatusTooManyRequests {
			throttled(w, rateDomain(pattern), period)
		}
		writeError(w, reqID, status, statusMessage(status), nil, "")
		return
	}
	r = r.WithContext(withRequestID(r.Context(), reqID))
	if status, lost := s.lost(pattern); lost {
		s.api.ServeHTTP(httptest.NewRecorder(), r)
		writeError(w, reqID, status, statusMessage(status), nil, "")
		return
	}
	s.api.ServeHTTP(w, r)
}

func (s *Server) count(key string) {
	s.callMu.Lock()
	s.calls[key]++
	s.callMu.Unlock()
	s.notify()
}

// authorized checks "Authorization: GenieKey <key>".
func (s *Server) authorized(r *http.Request) bool {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "GenieKey") && tokenEqual(strings.TrimSpace(key), s.opts.APIKey)
}

// gate consumes an injected failure or a rate-limit token; it returns the
// status to answer instead of serving, and for a 429 the throttling period
// in seconds: 1 for injected ones (as if the per-second bucket were
// empty), 60 for the per-minute limit.
func (s *Server) gate(domain string) (int, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return s.failCode, 1, true
	}
	if s.rateLimit <= 0 {
		return 0, 0, false
	}
	now := s.now()
	win := s.windows[domain]
	if win == nil || now.Sub(win.start) >= ratePeriodSec*time.Second {
		win = &window{start: now}
		s.windows[domain] = win
	}
	if win.count >= s.rateLimit {
		return http.StatusTooManyRequests, ratePeriodSec, true
	}
	win.count++
	return 0, 0, false
}

func (s *Server) lost(pattern string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.losses {
		if l.pattern == pattern {
			s.losses = append(s.losses[:i], s.losses[i+1:]...)
			return l.status, true
		}
	}
	return 0, false
}

// throttled sets Opsgenie's rate-limit headers of a 429.
func throttled(w http.ResponseWriter, domain string, periodSec int) {
	w.Header().Set("X-RateLimit-State", "THROTTLED")
	w.Header().Set("X-RateLimit-Reason", domain)
	w.Header().Set("X-RateLimit-Period-In-Sec", strconv.Itoa(periodSec))
}

func statusMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "You are making too many requests! To avoid errors, we recommend you limit requests."
	case http.StatusNotFound:
		return "Resource not found"
	}
	return http.StatusText(status)
}

// writeData answers Opsgenie's success envelope: {"data": v, "took",
// "requestId"}, plus extra top-level fields.
func writeData(w http.ResponseWriter, r *http.Request, v any, extra map[string]any) {
	body := map[string]any{"data": v}
	for k, x := range extra {
		body[k] = x
	}
	writeBody(w, requestID(r.Context()), http.StatusOK, body)
}

// writeAccepted answers an asynchronous request: 202 with the requestId to
// poll.
func writeAccepted(w http.ResponseWriter, reqID string) {
	writeBody(w, reqID, http.StatusAccepted, map[string]any{"result": "Request will be processed"})
}

// writeError answers Opsgenie's error body; errType sets
// X-Opsgenie-Errortype.
func writeError(w http.ResponseWriter, reqID string, status int, msg string, errs map[string]string, errType string) {
	if errType != "" {
		w.Header().Set("X-Opsgenie-Errortype", errType)
	}
	body := map[string]any{"message": msg}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	writeBody(w, reqID, status, body)
}

func writeBody(w http.ResponseWriter, reqID string, status int, body map[string]any) {
	body["took"] = 0.002
	body["requestId"] = reqID
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", reqID)
	h.Set("X-Response-Time", "0.002")
	if h.Get("X-RateLimit-State") == "" {
		h.Set("X-RateLimit-State", "OK")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// invalid answers 422 like Opsgenie's validation errors.
func invalid(w http.ResponseWriter, r *http.Request, field, msg string) {
	writeError(w, requestID(r.Context()), http.StatusUnprocessableEntity,
		"Request body is not processable. Please check the errors.", map[string]string{field: msg}, "")
}

// readJSON decodes a JSON body (at most maxBodyBytes) into v; on failure
// it answers 400 and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(data) > maxBodyBytes {
		writeError(w, requestID(r.Context()), http.StatusBadRequest, "Could not read the request body", nil, "")
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, v); err != nil {
		writeError(w, requestID(r.Context()), http.StatusBadRequest, "Invalid JSON body: "+err.Error(), nil, "")
		return false
	}
	return true
}

// queryInt reads a non-negative integer query parameter (def when absent);
// ok is false when it is not a number.
func queryInt(r *http.Request, name string, def int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}
