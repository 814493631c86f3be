package fakeopsgenie

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// answer is a decoded API answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) data() map[string]any {
	m, _ := a.body["data"].(map[string]any)
	return m
}

func (a answer) list() []any {
	l, _ := a.body["data"].([]any)
	return l
}

// call sends an API request with the fake's key, in memory.
func call(t *testing.T, s *Server, method, path string, body any) answer {
	t.Helper()
	return callKey(t, s, DefaultAPIKey, method, path, body)
}

func callKey(t *testing.T, s *Server, key, method, path string, body any) answer {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	r := httptest.NewRequest(method, path, rd)
	if key != "" {
		r.Header.Set("Authorization", "GenieKey "+key)
	}
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	a := answer{status: rec.Code, header: rec.Header()}
	if rec.Body.Len() > 0 && rec.Header().Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, rec.Body)
		}
	}
	return a
}

// newFake returns a fake with alice, bob, a team and a schedule.
func newFake(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	t.Cleanup(func() { _ = s.Close() })
	s.AddUser("alice@example.com", "Alice")
	s.AddUser("bob@example.com", "Bob")
	if _, err := s.AddTeam("ops", "alice@example.com", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddSchedule("ops_schedule", "ops"); err != nil {
		t.Fatal(err)
	}
	return s
}

// create posts an alert and returns the request ID of the 202.
func create(t *testing.T, s *Server, body map[string]any) string {
	t.Helper()
	a := call(t, s, "POST", "/v2/alerts", body)
	if a.status != http.StatusAccepted {
		t.Fatalf("POST /v2/alerts = %d %v, want 202", a.status, a.body)
	}
	id, _ := a.body["requestId"].(string)
	if id == "" || a.header.Get("X-Request-Id") != id || a.body["result"] != "Request will be processed" {
		t.Fatalf("POST /v2/alerts answer = %v %v, want a requestId in body and header", a.header, a.body)
	}
	return id
}

// status reads a request's status; it fails t unless processed.
func status(t *testing.T, s *Server, reqID string) map[string]any {
	t.Helper()
	a := call(t, s, "GET", "/v2/alerts/requests/"+reqID, nil)
	if a.status != http.StatusOK {
		t.Fatalf("request status = %d %v, want 200", a.status, a.body)
	}
	return a.data()
}
