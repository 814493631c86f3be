package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

func TestNewErrors(t *testing.T) {
	e := newEnv(t)
	missing := e.dir + "/missing.pem"
	notPEM := writeFile(t, e.dir, "junk.pem", []byte("junk"))
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"no certificate", func(c *Config) { c.CertFile, c.KeyFile = "", ""; c.SigningSecrets = []string{"s"} }, []string{"cert_file and key_file are required"}},
		{"no address", func(c *Config) { c.ListenAddr = "" }, []string{"listen_addr is required"}},
		{"mutual TLS without client names", func(c *Config) { c.ClientCAFile, c.AllowedClientCNs = e.caFile, nil }, []string{"allowed_client_cns"}},
		{"unreadable certificate", func(c *Config) { c.CertFile = missing; c.SigningSecrets = []string{"s"} }, []string{missing}},
		{"unreadable client CA", func(c *Config) { c.ClientCAFile, c.AllowedClientCNs = missing, pagerDutyCNs }, []string{"client CA", "missing.pem"}},
		{"client CA without PEM", func(c *Config) { c.ClientCAFile, c.AllowedClientCNs = notPEM, pagerDutyCNs }, []string{notPEM}},
		{"basic auth without password", func(c *Config) { c.BasicUser = "u" }, []string{"basic_auth needs a password"}},
		{"shared header without secret", func(c *Config) { c.SharedSecretHeader = "X-T" }, []string{"shared_secret_header needs shared_secret"}},
		{"empty signing secret", func(c *Config) { c.SigningSecrets = []string{""} }, []string{"signing_secrets[0] is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.config()
			tt.mutate(&cfg)
			_, err := New(cfg, e.actions, nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := Config{ListenAddr: ":8443"}.withDefaults()
	want := Config{ListenAddr: ":8443", BodyLimit: 256 << 10, HandlerTimeout: 4 * time.Second}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("withDefaults() mismatch (-want +got):\n%s", d)
	}
}

func TestStartBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newEnv(t)
	cfg := e.config()
	cfg.ListenAddr = ln.Addr().String()
	cfg.SigningSecrets = []string{secretA}
	srv, err := New(cfg, e.actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil {
		srv.Stop(context.Background())
		t.Fatal("Start on a busy port succeeded")
	}
	if err := srv.Stop(context.Background()); err != nil {
		t.Errorf("Stop of a server that never started: %v", err)
	}
}

func insecureEnv(t *testing.T, mutate func(*Config)) *env {
	e := newEnv(t)
	cfg := e.config()
	cfg.InsecureNoAuth = true
	if mutate != nil {
		mutate(&cfg)
	}
	e.start(cfg)
	return e
}

func TestRoutes(t *testing.T) {
	e := insecureEnv(t, func(c *Config) { c.ApproveWorkflow, c.DenyWorkflow = "Approve access", "Deny access" })
	c := e.client()
	at := time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)
	customAt := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		path  string
		body  []byte
		want  string // status word
		calls []domain.Action
	}{
		{"custom approve", PathApprove, customBody(t, customMessage("m1", "PINC1", "teleport-access-request/r1", "PUSER1")), "done",
			[]domain.Action{{DeliveryID: "m1", ReplayKeys: []string{"message:m1"}, Verb: domain.VerbApprove, IncidentID: "PINC1", ActorID: "PUSER1", OccurredAt: customAt}}},
		{"custom deny", PathDeny, customBody(t, customMessage("m2", "PINC1", "teleport-access-request/r1", "PUSER2")), "done",
			[]domain.Action{{DeliveryID: "m2", ReplayKeys: []string{"message:m2"}, Verb: domain.VerbDeny, IncidentID: "PINC1", ActorID: "PUSER2", OccurredAt: customAt}}},
		{"custom, other event", PathApprove, customBody(t, map[string]any{"id": "m3", "event": "incident.trigger", "incident": map[string]any{"id": "PINC1"}}), "ignored", nil},
		{"note /approve", PathV3, v3Body(t, "incident.annotated", noteData("PINC1", "/approve looks fine"), "PUSER1"), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentannotated", ReplayKeys: []string{"event:01EVENTincidentannotated"}, Verb: domain.VerbApprove, IncidentID: "PINC1", ActorID: "PUSER1", Note: "looks fine", OccurredAt: at}}},
		{"note /DENY", PathV3, v3Body(t, "incident.annotated", noteData("PINC1", "  /DENY\nnot now"), "PUSER1"), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentannotated", ReplayKeys: []string{"event:01EVENTincidentannotated"}, Verb: domain.VerbDeny, IncidentID: "PINC1", ActorID: "PUSER1", Note: "not now", OccurredAt: at}}},
		{"other note", PathV3, v3Body(t, "incident.annotated", noteData("PINC1", "looking into it"), "PUSER1"), "ignored", nil},
		{"note /approved", PathV3, v3Body(t, "incident.annotated", noteData("PINC1", "/approved by me"), "PUSER1"), "ignored", nil},
		{"approve workflow", PathV3, v3Body(t, "incident.workflow.started", workflowData("PINC1", "Approve access"), "PUSER1"), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentworkflowstarted", ReplayKeys: []string{"event:01EVENTincidentworkflowstarted"}, Verb: domain.VerbApprove, IncidentID: "PINC1", ActorID: "PUSER1", OccurredAt: at}}},
		{"deny workflow", PathV3, v3Body(t, "incident.workflow.started", workflowData("PINC1", "deny access"), "PUSER1"), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentworkflowstarted", ReplayKeys: []string{"event:01EVENTincidentworkflowstarted"}, Verb: domain.VerbDeny, IncidentID: "PINC1", ActorID: "PUSER1", OccurredAt: at}}},
		{"approve workflow without agent", PathV3, v3Body(t, "incident.workflow.started", workflowData("PINC1", "Approve access"), ""), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentworkflowstarted", ReplayKeys: []string{"event:01EVENTincidentworkflowstarted"}, Verb: domain.VerbApprove, IncidentID: "PINC1", OccurredAt: at}}},
		{"custom approve, v3 envelope", PathApprove, v3Body(t, "incident.custom", resolvedData("PINC1", "k"), "PUSER1"), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentcustom", ReplayKeys: []string{"event:01EVENTincidentcustom"}, Verb: domain.VerbApprove, IncidentID: "PINC1", ActorID: "PUSER1", OccurredAt: at}}},
		{"other workflow", PathV3, v3Body(t, "incident.workflow.started", workflowData("PINC1", "Page the CTO"), "PUSER1"), "ignored", nil},
		{"resolved", PathV3, v3Body(t, "incident.resolved", resolvedData("PINC1", "teleport-access-request/r1"), "PUSER1"), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentresolved", ReplayKeys: []string{"event:01EVENTincidentresolved"}, Verb: domain.VerbManualResolve, IncidentID: "PINC1", ActorID: "PUSER1", OccurredAt: at}}},
		{"resolved without agent", PathV3, v3Body(t, "incident.resolved", resolvedData("PINC1", "k"), ""), "done",
			[]domain.Action{{DeliveryID: "01EVENTincidentresolved", ReplayKeys: []string{"event:01EVENTincidentresolved"}, Verb: domain.VerbManualResolve, IncidentID: "PINC1", OccurredAt: at}}},
		{"ping", PathV3, []byte(`{"event":{"id":"01P","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2025-01-02T03:04:05Z","agent":null,"client":null,"data":{"message":"Hello from your friend Pagey!","type":"ping"}}}`), "ignored", nil},
		{"triggered", PathV3, v3Body(t, "incident.triggered", resolvedData("PINC1", "k"), ""), "ignored", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.actions.mu.Lock()
			e.actions.got = nil
			e.actions.mu.Unlock()
			got := e.post(c, tt.path, tt.body, nil)
			if got.status != http.StatusOK || got.body["status"] != tt.want {
				t.Fatalf("answer = %d %s, want 200 %q", got.status, got.raw, tt.want)
			}
			if d := cmp.Diff(tt.calls, e.actions.calls()); d != "" {
				t.Errorf("HandleAction calls mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestReplayKeysAndTime(t *testing.T) {
	e := insecureEnv(t, nil)
	c := e.client()

	// Unsigned: the message id and the X-Webhook-Id header both.
	e.post(c, PathApprove, customBody(t, customMessage("m1", "PINC1", "k", "PUSER1")), map[string]string{DeliveryHeader: "hook-1"})
	// Several messages in one delivery keep distinct header keys.
	e.post(c, PathDeny, customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"), customMessage("m2", "PINC2", "k2", "PUSER1")), map[string]string{DeliveryHeader: "hook-2"})
	// No time in the payload: the arrival time.
	before := time.Now()
	noTime := []byte(`{"messages":[{"id":"m9","event":"incident.custom","incident":{"id":"PINC9"}}]}`)
	e.post(c, PathDeny, noTime, nil)
	// An unsigned v3 delivery (transport authentication only): event id and header.
	e.post(c, PathV3, v3Body(t, "incident.annotated", noteData("PINC3", "/deny"), "PUSER1"), map[string]string{DeliveryHeader: "hook-3"})

	calls := e.actions.calls()
	if len(calls) != 5 {
		t.Fatalf("calls = %d, want 5", len(calls))
	}
	var keys [][]string
	for _, a := range calls {
		keys = append(keys, a.ReplayKeys)
	}
	want := [][]string{
		{"message:m1", "webhook:hook-1"},
		{"message:m1", "webhook:hook-2/0"}, {"message:m2", "webhook:hook-2/1"},
		{"message:m9"},
		{"event:01EVENTincidentannotated", "webhook:hook-3"},
	}
	if d := cmp.Diff(want, keys); d != "" {
		t.Errorf("replay keys mismatch (-want +got):\n%s", d)
	}
	if calls[0].DeliveryID != "hook-1" {
		t.Errorf("delivery id %q, want the header", calls[0].DeliveryID)
	}
	if at := calls[3].OccurredAt; at.Before(before) || at.After(time.Now()) {
		t.Errorf("OccurredAt without payload time = %v, want the arrival time", at)
	}

	// Without any delivery id: 400.
	got := e.post(c, PathDeny, []byte(`{"messages":[{"event":"incident.custom","incident":{"id":"PINC9"}}]}`), nil)
	if got.status != http.StatusBadRequest {
		t.Errorf("no delivery id: status = %d, want 400", got.status)
	}
}

// A signed v3 delivery is keyed on its signed event id only: the header is
// not signed, so a captured body re-sent under a fresh X-Webhook-Id must
// carry the same keys and be taken as a replay.
func TestSignedV3IsKeyedOnItsEventID(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{"s1"}
	e.start(cfg)
	c := e.client()
	body := v3Body(t, "incident.annotated", noteData("PINC1", "/approve"), "PUSER1")
	for _, hook := range []string{"hook-1", "hook-2", ""} {
		h := e.signed(body, "s1")
		if hook != "" {
			h[DeliveryHeader] = hook
		}
		if got := e.post(c, PathV3, body, h); got.status != http.StatusOK {
			t.Fatalf("answer = %d %s", got.status, got.raw)
		}
	}
	for i, a := range e.actions.calls() {
		if d := cmp.Diff([]string{"event:01EVENTincidentannotated"}, a.ReplayKeys); d != "" {
			t.Errorf("delivery %d replay keys (-want +got):\n%s", i, d)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	e := insecureEnv(t, func(c *Config) { c.BodyLimit = 1024 })
	c := e.client()
	good := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	big := []byte(`{"messages":[],"pad":"` + strings.Repeat("x", 2000) + `"}`)
	// Far past the limit: the server must still answer 413, not reset the
	// connection while the client is writing.
	huge := []byte(`{"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		chunked     bool
		want        int
	}{
		{"content type with parameters", "POST", PathApprove, "application/json; charset=utf-8", good, false, http.StatusOK},
		{"text/plain", "POST", PathApprove, "text/plain", good, false, http.StatusUnsupportedMediaType},
		{"form", "POST", PathV3, "application/x-www-form-urlencoded", good, false, http.StatusUnsupportedMediaType},
		{"no content type", "POST", PathDeny, "", good, false, http.StatusUnsupportedMediaType},
		{"oversized", "POST", PathApprove, "application/json", big, false, http.StatusRequestEntityTooLarge},
		{"oversized, chunked", "POST", PathApprove, "application/json", big, true, http.StatusRequestEntityTooLarge},
		{"1 MiB", "POST", PathV3, "application/json", huge, false, http.StatusRequestEntityTooLarge},
		{"1 MiB again on a new connection", "POST", PathV3, "application/json", huge, false, http.StatusRequestEntityTooLarge},
		{"1 MiB, chunked", "POST", PathV3, "application/json", huge, true, http.StatusRequestEntityTooLarge},
		{"not JSON", "POST", PathApprove, "application/json", []byte(`{"messages":`), false, http.StatusBadRequest},
		{"trailing data", "POST", PathApprove, "application/json", append(append([]byte{}, good...), []byte(`{}`)...), false, http.StatusBadRequest},
		{"no messages", "POST", PathApprove, "application/json", []byte(`{}`), false, http.StatusBadRequest},
		{"no incident id", "POST", PathApprove, "application/json", customBody(t, customMessage("m1", "", "k", "PUSER1")), false, http.StatusBadRequest},
		{"no agent", "POST", PathApprove, "application/json", []byte(`{"messages":[{"id":"m","event":"incident.custom","incident":{"id":"P"},"log_entries":[]}]}`), false, http.StatusOK},
		{"repeated key", "POST", PathApprove, "application/json", []byte(`{"messages":[{"id":"m","event":"incident.custom","incident":{"id":"P","ID":"Q"}}]}`), false, http.StatusBadRequest},
		{"both envelopes", "POST", PathApprove, "application/json", []byte(`{"messages":[],"event":{"id":"e"}}`), false, http.StatusBadRequest},
		{"no event", "POST", PathV3, "application/json", []byte(`{"messages":[]}`), false, http.StatusBadRequest},
		{"v3 bad time", "POST", PathV3, "application/json", []byte(`{"event":{"id":"e","event_type":"incident.resolved","occurred_at":"yesterday","data":{"id":"P"}}}`), false, http.StatusBadRequest},
		{"GET on an action route", "GET", PathApprove, "", nil, false, http.StatusMethodNotAllowed},
		{"POST on healthz", "POST", PathHealthz, "application/json", nil, false, http.StatusMethodNotAllowed},
		{"unknown path", "POST", "/pagerduty/v2", "application/json", good, false, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.body != nil {
				body = strings.NewReader(string(tt.body))
			} else {
				body = strings.NewReader("")
			}
			req, _ := http.NewRequest(tt.method, e.url(tt.path), body)
			if tt.chunked {
				req.ContentLength = -1
				req.Body = struct {
					*strings.Reader
					closer
				}{body, closer{}}
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			got := e.do(c, req)
			if got.status != tt.want {
				t.Fatalf("status = %d (%s), want %d", got.status, got.raw, tt.want)
			}
			// ServeMux's own 404 and 405 answer in text.
			if tt.want != http.StatusOK && got.body["error"] == "" && strings.TrimSpace(got.raw) == "" {
				t.Errorf("error answer %q has no reason", got.raw)
			}
		})
	}
	if n := len(e.actions.calls()); n != 2 {
		t.Errorf("HandleAction called %d times, want 2", n)
	}
}

type closer struct{}

func (closer) Close() error { return nil }

// Every final result answers 2xx with the outcome and reason in the body:
// PagerDuty drops a delivery answered with any other 4xx and disables the
// extension after 3 drops in a row, switching the buttons off for everyone.
func TestResultMapping(t *testing.T) {
	e := insecureEnv(t, nil)
	c := e.client()
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	secretish := errors.New("token=abc123 leaked")
	tests := []struct {
		name    string
		outcome domain.Outcome
		err     error
		want    int
		status  string // "status" of a 2xx, "error" otherwise
		reason  string
	}{
		{"done", domain.OutcomeDone, nil, 200, "done", ""},
		{"replayed", domain.OutcomeReplayed, nil, 200, "replayed", ""},
		{"ignored", domain.OutcomeIgnored, nil, 200, "ignored", ""},
		{"self approval", 0, domain.ErrSelfApproval, 200, "refused", domain.ErrSelfApproval.Error()},
		{"not on call", 0, domain.ErrActorNotOnCall, 200, "refused", domain.ErrActorNotOnCall.Error()},
		{"requester unmapped", 0, domain.ErrRequesterUnmapped, 200, "refused", domain.ErrRequesterUnmapped.Error()},
		{"unknown incident", 0, domain.ErrUnknownIncident, 200, "unknown_incident", domain.ErrUnknownIncident.Error()},
		{"foreign incident", 0, domain.ErrForeignIncident, 200, "foreign_incident", domain.ErrForeignIncident.Error()},
		{"not pending", 0, fmt.Errorf("%w: it is approved", domain.ErrNotPending), 200, "not_pending", "request is not pending: it is approved"},
		{"too old", 0, domain.ErrDeliveryTooOld, 200, "too_old", domain.ErrDeliveryTooOld.Error()},
		{"no actor", 0, domain.ErrNoActor, 200, "no_actor", domain.ErrNoActor.Error()},
		{"unavailable", 0, fmt.Errorf("teleport: %w", ports.ErrUnavailable), 503, "temporarily unavailable, retry later", ""},
		{"deadline", 0, fmt.Errorf("pd: %w", context.DeadlineExceeded), 503, "temporarily unavailable, retry later", ""},
		{"other error", 0, secretish, 500, "internal error", ""},
		{"no outcome", 0, nil, 500, "internal error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.actions.mu.Lock()
			e.actions.outcome, e.actions.err = tt.outcome, tt.err
			if tt.outcome == 0 && tt.err == nil {
				e.actions.fn = func(context.Context, domain.Action) (domain.Outcome, error) { return 0, nil }
			} else {
				e.actions.fn = nil
			}
			e.actions.mu.Unlock()
			got := e.post(c, PathApprove, body, nil)
			field := "status"
			if tt.want != http.StatusOK {
				field = "error"
			}
			if got.status != tt.want || got.body[field] != tt.status || got.body["reason"] != tt.reason {
				t.Errorf("answer = %d %s, want %d {%q:%q, reason %q}", got.status, got.raw, tt.want, field, tt.status, tt.reason)
			}
			if ra := got.header.Get("Retry-After"); (tt.want == http.StatusServiceUnavailable) != (ra != "") {
				t.Errorf("Retry-After %q on a %d", ra, got.status)
			}
			if strings.Contains(got.raw, "abc123") {
				t.Errorf("answer leaks the error: %s", got.raw)
			}
		})
	}
	if n := e.logs.FilterMessage("webhook action handled").Len(); n != len(tests) {
		t.Errorf("action log lines = %d, want %d", n, len(tests))
	}
	refused := e.logs.FilterMessage("webhook action handled").FilterField(zap.String("outcome", "refused")).Len()
	if refused != 3 {
		t.Errorf("log lines with outcome refused = %d, want 3", refused)
	}
}

func TestSeveralMessagesAnswerTheWorstResult(t *testing.T) {
	e := insecureEnv(t, nil)
	e.actions.fn = func(_ context.Context, a domain.Action) (domain.Outcome, error) {
		switch a.IncidentID {
		case "PREPLAY":
			return domain.OutcomeReplayed, nil
		case "PDOWN":
			return 0, ports.ErrUnavailable
		}
		return domain.OutcomeDone, nil
	}
	c := e.client()
	got := e.post(c, PathApprove, customBody(t, customMessage("a", "PREPLAY", "k", "U"), customMessage("b", "PDONE", "k", "U")), nil)
	if got.status != 200 || got.body["status"] != "done" {
		t.Errorf("replayed + done = %d %s, want 200 done", got.status, got.raw)
	}
	got = e.post(c, PathApprove, customBody(t, customMessage("c", "PDOWN", "k", "U"), customMessage("d", "PDONE", "k", "U")), nil)
	if got.status != http.StatusServiceUnavailable {
		t.Errorf("unavailable + done = %d %s, want 503 so PagerDuty retries", got.status, got.raw)
	}
	if n := len(e.actions.calls()); n != 4 {
		t.Errorf("HandleAction called %d times, want 4 (every message)", n)
	}
}

func TestHandlerTimeout(t *testing.T) {
	e := insecureEnv(t, func(c *Config) { c.HandlerTimeout = 50 * time.Millisecond })
	e.actions.fn = func(ctx context.Context, _ domain.Action) (domain.Outcome, error) {
		<-ctx.Done()
		return 0, fmt.Errorf("lookup: %w", ctx.Err())
	}
	got := e.post(e.client(), PathApprove, customBody(t, customMessage("m1", "PINC1", "k", "U")), nil)
	if got.status != http.StatusServiceUnavailable {
		t.Errorf("status = %d (%s), want 503", got.status, got.raw)
	}
}

// /healthz and /readyz are the health handler's (the metrics adapter's,
// in the daemon): GET and HEAD reach it, other methods are 405, and
// without one both are not found.
func TestHealthRoutesReachTheHealthHandler(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA}
	e.start(cfg)
	c := e.client()
	for _, path := range []string{PathHealthz, PathReadyz} {
		req, _ := http.NewRequest(http.MethodGet, e.url(path), nil)
		if got := e.do(c, req); got.status != 200 || strings.TrimSpace(got.raw) != "ok "+path {
			t.Errorf("GET %s = %d %q, want the health handler's answer", path, got.status, got.raw)
		}
		req, _ = http.NewRequest(http.MethodHead, e.url(path), nil)
		if got := e.do(c, req); got.status != 200 {
			t.Errorf("HEAD %s = %d, want 200", path, got.status)
		}
	}
	if got := e.post(c, PathReadyz, nil, nil); got.status != http.StatusMethodNotAllowed || got.header.Get("Allow") == "" {
		t.Errorf("POST /readyz = %d (Allow %q), want 405 with Allow", got.status, got.header.Get("Allow"))
	}
	if n := e.metrics.get("webhook_requests|/healthz|200"); n != 2 {
		t.Errorf("metric healthz 200 = %d, want 2", n)
	}

	bare := newEnv(t)
	cfg = bare.config()
	cfg.SigningSecrets, cfg.Health = []string{secretA}, nil
	bare.start(cfg)
	req, _ := http.NewRequest(http.MethodGet, bare.url(PathHealthz), nil)
	if got := bare.do(bare.client(), req); got.status != http.StatusNotFound {
		t.Errorf("GET /healthz without a health handler = %d, want 404", got.status)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA}
	e.start(cfg)
	c := e.client()
	body := annotatedApprove(t)
	e.post(c, PathV3, body, e.signed(body, secretA))
	e.post(c, PathV3, body, e.signed(body, "wrong"))
	e.post(c, "/nope", body, nil)
	for key, want := range map[string]int{
		"webhook_requests|/pagerduty/v3|200": 1,
		"webhook_requests|/pagerduty/v3|401": 1,
		"webhook_requests|other|404":         1,
	} {
		if got := e.metrics.get(key); got != want {
			t.Errorf("count %s = %d, want %d", key, got, want)
		}
	}
	if n := e.logs.FilterMessage("webhook delivery not authenticated").Len(); n != 1 {
		t.Errorf("auth failure warnings = %d, want 1", n)
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA}
	srv := e.start(cfg)
	c := e.client()
	body := annotatedApprove(t)
	status := func(secret string) int { return e.post(c, PathV3, body, e.signed(body, secret)).status }

	if got := status(secretA); got != 200 {
		t.Fatalf("before reload: %d", got)
	}
	srv.Reload(Credentials{SigningSecrets: []string{secretB}})
	if got := status(secretA); got != 401 {
		t.Errorf("old secret after reload: %d, want 401", got)
	}
	if got := status(secretB); got != 200 {
		t.Errorf("new secret after reload: %d, want 200", got)
	}
	// A reload with an empty secret is refused.
	srv.Reload(Credentials{SigningSecrets: []string{""}})
	if got := status(secretB); got != 200 {
		t.Errorf("after a refused reload: %d, want 200 with the kept secret", got)
	}
	// A reload that leaves a route without any method fails closed.
	srv.Reload(Credentials{})
	if got := status(secretB); got != 401 {
		t.Errorf("after a reload without secrets: %d, want 401", got)
	}
	srv.Reload(Credentials{SigningSecrets: []string{secretB}})
	// Basic auth can be added.
	srv.Reload(Credentials{SigningSecrets: []string{secretB}, BasicUser: "pd", BasicPassword: "pw-1"})
	if got := status(secretB); got != 401 {
		t.Errorf("signature without the new basic auth: %d, want 401", got)
	}

	// The certificate is re-read: a new connection sees the new one.
	certPEM, keyPEM, leaf := e.serverCA.issue(t, pkix.Name{CommonName: "localhost"}, true)
	writeFile(t, e.dir, "server.crt", certPEM)
	writeFile(t, e.dir, "server.key", keyPEM)
	srv.Reload(Credentials{SigningSecrets: []string{secretB}})
	resp, err := e.client().Get(e.url(PathHealthz))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].SerialNumber; got.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("served certificate serial = %v, want the reloaded %v", got, leaf.SerialNumber)
	}
	// An unreadable certificate keeps the previous one.
	writeFile(t, e.dir, "server.crt", []byte("junk"))
	srv.Reload(Credentials{SigningSecrets: []string{secretB}})
	if got := status(secretB); got != 200 {
		t.Errorf("after a bad certificate reload: %d, want 200", got)
	}
}

func TestStopWaitsForInFlight(t *testing.T) {
	e := insecureEnv(t, nil)
	entered := make(chan struct{})
	release := make(chan struct{})
	e.actions.fn = func(context.Context, domain.Action) (domain.Outcome, error) {
		close(entered)
		select { // the server's goroutine: the test's receives report a hang
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return domain.OutcomeDone, nil
	}
	c := e.client()
	body := customBody(t, customMessage("m1", "PINC1", "k", "U"))
	answered := make(chan answer, 1) // no t.Fatal in this goroutine: a failed post answers status 0
	go func() {
		resp, err := c.Post(e.url(PathApprove), "application/json", bytes.NewReader(body))
		if err != nil {
			answered <- answer{raw: err.Error()}
			return
		}
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode}
	}()
	receive(t, entered, "the delivery reached the actions")
	stopped := make(chan error, 1)
	addr := e.srv.Addr()
	go func() { stopped <- e.srv.Stop(context.Background()) }()
	// Once the listener is closed, shutdown is under way.
	waitFor(t, "the listener to close", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a delivery was in flight", err)
	case got := <-answered:
		t.Fatalf("answered %d before release", got.status)
	default:
	}
	close(release)
	if got := receive(t, answered, "the in-flight delivery answered"); got.status != 200 {
		t.Errorf("in-flight delivery answered %d %s, want 200", got.status, got.raw)
	}
	if err := receive(t, stopped, "Stop returned after the delivery"); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// A body of exactly BodyLimit bytes is read; one byte more is a 413 that
// keeps the connection (only a body past the drain bound closes it).
func TestBodyLimitEdge(t *testing.T) {
	const limit = 1024
	e := insecureEnv(t, func(c *Config) { c.BodyLimit = limit })
	c := e.client()
	// HTTP/1.1, where closing the connection shows in the answer.
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2, tr.TLSNextProto = false, map[string]func(string, *tls.Conn) http.RoundTripper{}
	msg := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	pad := func(n int) []byte { return append([]byte(strings.Repeat(" ", n-len(msg))), msg...) }
	if got := e.post(c, PathApprove, pad(limit), nil); got.status != http.StatusOK {
		t.Errorf("body of exactly %d bytes: status = %d (%s), want 200", limit, got.status, got.raw)
	}
	got := e.post(c, PathApprove, pad(limit+1), nil)
	if got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("body of %d bytes: status = %d, want 413", limit+1, got.status)
	}
	if got.closed {
		t.Error("a body just over the limit closed the connection, want it kept")
	}
	huge := pad(limit + drainLimit + 1)
	if got := e.post(c, PathApprove, huge, nil); got.status != http.StatusRequestEntityTooLarge || !got.closed {
		t.Errorf("a body past the drain bound: status %d, connection closed %v; want 413, closed", got.status, got.closed)
	}
}

// Of several 2xx answers the most telling is given whatever the order,
// and of equally telling ones the first.
func TestSeveralMessagesAnswerTheMostTellingInAnyOrder(t *testing.T) {
	e := insecureEnv(t, nil)
	e.actions.fn = func(_ context.Context, a domain.Action) (domain.Outcome, error) {
		switch a.IncidentID {
		case "PREPLAY":
			return domain.OutcomeReplayed, nil
		case "PSETTLED":
			return 0, domain.ErrNotPending
		case "PSELF":
			return 0, domain.ErrSelfApproval
		}
		return domain.OutcomeDone, nil
	}
	c := e.client()
	got := e.post(c, PathApprove, customBody(t, customMessage("a", "PDONE", "k", "U"), customMessage("b", "PREPLAY", "k", "U")), nil)
	if got.status != 200 || got.body["status"] != "done" {
		t.Errorf("done + replayed = %d %s, want 200 done", got.status, got.raw)
	}
	notPending, _ := domain.ActionStatus(0, domain.ErrNotPending)
	got = e.post(c, PathApprove, customBody(t, customMessage("c", "PSETTLED", "k", "U"), customMessage("d", "PSELF", "k", "U")), nil)
	if got.status != 200 || got.body["status"] != notPending {
		t.Errorf("not pending + self-approval = %d %s, want 200 %s (the first)", got.status, got.raw, notPending)
	}
}
