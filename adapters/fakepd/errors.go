package fakepd

import (
	"crypto/subtle"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PagerDuty REST error codes the fake answers with (the "code" of the error
// envelope), with the messages of PagerDuty's error table (developer docs,
// REST API > Errors).
const (
	CodeInternal        = 2000
	CodeInvalidInput    = 2001
	CodeArgumentsError  = 2002
	CodeMissingArgument = 2003
	CodeAuthentication  = 2006
	CodeAccessDenied    = 2010
	CodeRateLimited     = 2020
	CodeNotFound        = 2100
)

// Error details (the "errors" of the envelope) of the conflicts PagerDuty
// reports with a 400 and CodeArgumentsError.
const (
	// ErrTextDedup answers POST /incidents when an open incident with the
	// same incident_key exists on the service.
	ErrTextDedup = "Open incident with matching dedup key already exists on this service"
	// ErrTextAlreadyResolved answers a status change of a resolved incident.
	ErrTextAlreadyResolved = "Incident Already Resolved"
)

// apiError is an error answer in PagerDuty's envelope.
type apiError struct {
	status  int
	code    int
	message string
	errors  []string
}

func (e *apiError) Error() string {
	return e.message + ": " + strings.Join(e.errors, "; ")
}

func invalid(details ...string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeInvalidInput, message: "Invalid Input Provided", errors: details}
}

func conflict(detail string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeArgumentsError, message: "Invalid Input Provided", errors: []string{detail}}
}

func notFound(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: CodeNotFound, message: "Not Found", errors: []string{what + " not found"}}
}

// statusError returns the envelope PagerDuty sends for a bare status.
func statusError(status int) *apiError {
	e := &apiError{status: status, message: http.StatusText(status)}
	switch {
	case status == http.StatusBadRequest:
		e.code, e.message = CodeInvalidInput, "Invalid Input Provided"
	case status == http.StatusUnauthorized:
		e.code, e.message = CodeAuthentication, "Authentication failed"
	case status == http.StatusForbidden:
		e.code, e.message = CodeAccessDenied, "Access Denied"
	case status == http.StatusNotFound:
		e.code = CodeNotFound
	case status == http.StatusTooManyRequests:
		e.code, e.message = CodeRateLimited, "Rate Limit Exceeded"
	case status >= 500:
		e.code, e.message = CodeInternal, "An internal error has occurred. PagerDuty team has been notified."
	}
	return e
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"message": e.message, "code": e.code}
	if len(e.errors) > 0 {
		body["errors"] = e.errors
	}
	writeJSON(w, e.status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// retryAfter sets Retry-After (whole seconds, at least 1).
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(d)))
}

func ceilSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// tokenOK checks "Authorization: Token token=<key>".
func tokenOK(header, key string) bool {
	tok, ok := strings.CutPrefix(header, "Token token=")
	if !ok {
		return false
	}
	tok = strings.Trim(tok, `"`)
	return subtle.ConstantTimeCompare([]byte(tok), []byte(key)) == 1
}
