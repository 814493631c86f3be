package fakepd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	bot   = "bot@example.com"
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

// env is a seeded fake behind an httptest server.
type env struct {
	t    *testing.T
	fake *Server
	srv  *httptest.Server
	svc  string // ID of service "Teleport"
	alID string
	boID string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	f := New(opts)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := f.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	f.AddUser(bot, "Teleport Bot")
	al := f.AddUser(alice, "Alice")
	bo := f.AddUser(bob, "Bob")
	sv := f.AddService("Teleport")
	if err := f.AddOnCall(alice, "Teleport", 1); err != nil {
		t.Fatalf("AddOnCall: %v", err)
	}
	if err := f.AddOnCall(bob, "teleport", 2); err != nil {
		t.Fatalf("AddOnCall: %v", err)
	}
	return &env{t: t, fake: f, srv: srv, svc: sv.ID, alID: al.ID, boID: bo.ID}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends an API request with the right token; headers are pairs.
func (e *env) do(method, path string, body any, headers ...string) answer {
	e.t.Helper()
	hs := append([]string{"Authorization", "Token token=" + DefaultAPIKey}, headers...)
	return e.doRaw(method, path, body, hs...)
}

func (e *env) doRaw(method, path string, body any, headers ...string) answer {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.pagerduty+json;version=2")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			e.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return a
}

// openIncident creates an incident through the API.
func (e *env) openIncident(key, title string) answer {
	e.t.Helper()
	return e.do("POST", "/incidents", map[string]any{"incident": map[string]any{
		"type": "incident", "title": title, "incident_key": key,
		"service": map[string]any{"id": e.svc, "type": "service_reference"},
		"body":    map[string]any{"type": "incident_body", "details": "details of " + title},
	}}, "From", bot)
}

func (e *env) mustOpen(key, title string) string {
	e.t.Helper()
	a := e.openIncident(key, title)
	if a.status != http.StatusCreated {
		e.t.Fatalf("POST /incidents = %d %s, want 201", a.status, a.raw)
	}
	return str(a.body, "incident", "id")
}

// wantError checks PagerDuty's error envelope.
func wantError(t *testing.T, a answer, status, code int, detail string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status = %d (%s), want %d", a.status, a.raw, status)
	}
	got, _ := a.body["error"].(map[string]any)
	if got == nil {
		t.Fatalf("body %s has no error envelope", a.raw)
	}
	if c, _ := got["code"].(float64); int(c) != code {
		t.Errorf("error code = %v, want %d (%s)", got["code"], code, a.raw)
	}
	if msg, _ := got["message"].(string); msg == "" {
		t.Errorf("error message is empty (%s)", a.raw)
	}
	if detail != "" && !strings.Contains(a.raw, detail) {
		t.Errorf("errors of %s do not contain %q", a.raw, detail)
	}
}

// str walks nested JSON objects and returns the string at the path.
func str(v any, path ...string) string {
	for _, p := range path {
		if l, ok := v.([]any); ok {
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(l) {
				return ""
			}
			v = l[i]
			continue
		}
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func list(v map[string]any, key string) []any {
	l, _ := v[key].([]any)
	return l
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
