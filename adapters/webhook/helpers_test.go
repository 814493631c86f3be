package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
	"github.com/pagergate/pagergate/ports/metricstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeActions records actions and answers with outcome/err, or with fn.
type fakeActions struct {
	mu      sync.Mutex
	got     []domain.Action
	outcome domain.Outcome
	err     error
	fn      func(ctx context.Context, a domain.Action) (domain.Outcome, error)
}

var _ ports.Actions = (*fakeActions)(nil)

func (f *fakeActions) HandleAction(ctx context.Context, a domain.Action) (domain.Outcome, error) {
	f.mu.Lock()
	f.got = append(f.got, a)
	fn, outcome, err := f.fn, f.outcome, f.err
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, a)
	}
	if outcome == 0 && err == nil {
		outcome = domain.OutcomeDone
	}
	return outcome, err
}

func (f *fakeActions) calls() []domain.Action {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]domain.Action(nil), f.got...)
}

// fakeMetrics counts by name and labels joined with "|".
type fakeMetrics struct{ metricstest.Recorder }

func (m *fakeMetrics) get(key string) int {
	f := strings.Split(key, "|")
	return m.Count(f[0], f[1:]...)
}

// env holds certificates and files for one test server.
type env struct {
	t        *testing.T
	dir      string
	serverCA *testCA
	clientCA *testCA
	certFile string
	keyFile  string
	caFile   string
	actions  *fakeActions
	metrics  *fakeMetrics
	logs     *observer.ObservedLogs
	srv      *Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), actions: &fakeActions{}, metrics: &fakeMetrics{}}
	e.serverCA = newCA(t, "server CA")
	e.clientCA = newCA(t, "client CA")
	c, k, _ := e.serverCA.issue(t, pkix.Name{CommonName: "localhost"}, true)
	e.certFile = writeFile(t, e.dir, "server.crt", c)
	e.keyFile = writeFile(t, e.dir, "server.key", k)
	e.caFile = writeFile(t, e.dir, "client-ca.pem", e.clientCA.pem)
	return e
}

// okHealth stands in for the metrics adapter's health handler.
var okHealth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path+"\n") })

// config returns a config with the server certificate and a loopback
// address filled in.
func (e *env) config() Config {
	return Config{ListenAddr: "127.0.0.1:0", CertFile: e.certFile, KeyFile: e.keyFile, Metrics: e.metrics, Health: okHealth}
}

func (e *env) start(cfg Config) *Server {
	e.t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	srv, err := New(cfg, e.actions, zap.New(core))
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	if err := srv.Start(); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			e.t.Errorf("Stop: %v", err)
		}
	})
	e.srv = srv
	return srv
}

// client returns an HTTPS client trusting the server CA, presenting certs.
func (e *env) client(certs ...tls.Certificate) *http.Client {
	return e.clientTLS(&tls.Config{Certificates: certs})
}

func (e *env) clientTLS(cfg *tls.Config) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(e.serverCA.ca.Cert)
	cfg.RootCAs = pool
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (e *env) url(path string) string { return "https://" + e.srv.Addr() + path }

type answer struct {
	status int
	body   map[string]string
	raw    string
	header http.Header
	closed bool // the server asked to close the connection
}

// post sends body as JSON with the extra headers ("Content-Type" may be
// overridden).
func (e *env) post(c *http.Client, path string, body []byte, headers map[string]string) answer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url(path), bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.do(c, req)
}

func (e *env) do(c *http.Client, req *http.Request) answer {
	e.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, raw: string(raw), header: resp.Header, closed: resp.Close}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			e.t.Fatalf("answer %q is not a JSON object: %v", raw, err)
		}
	}
	return a
}

func (e *env) signed(body []byte, secrets ...string) map[string]string {
	sigs := make([][]byte, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(body, s)
	}
	return map[string]string{SignatureHeader: FormatSignatures(sigs)}
}

// Payload builders in PagerDuty's shapes.

func customBody(t testing.TB, msgs ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"messages": msgs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func customMessage(id, incidentID, key, agentID string) map[string]any {
	return map[string]any{
		"id":         id,
		"event":      "incident.custom",
		"created_on": "2025-01-02T03:04:05Z",
		"incident": map[string]any{
			"id": incidentID, "incident_key": key, "status": "triggered",
			"title": "Access request from alice for editor",
		},
		"log_entries": []any{
			map[string]any{"type": "custom_log_entry", "summary": "Approve access",
				"agent": map[string]any{"id": agentID, "type": "user_reference"}},
		},
	}
}

func v3Body(t testing.TB, eventType string, data any, agentID string) []byte {
	t.Helper()
	ev := map[string]any{
		"id":            "01EVENT" + strings.ReplaceAll(eventType, ".", ""),
		"event_type":    eventType,
		"resource_type": "incident",
		"occurred_at":   "2025-01-02T03:04:05.678Z",
		"client":        map[string]any{"name": "PagerDuty"},
		"data":          data,
	}
	if agentID != "" {
		ev["agent"] = map[string]any{"id": agentID, "type": "user_reference", "summary": "Bob"}
	} else {
		ev["agent"] = nil
	}
	b, err := json.Marshal(map[string]any{"event": ev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func incidentRef(id string) map[string]any {
	return map[string]any{"id": id, "type": "incident_reference", "summary": "Access request"}
}

func noteData(incidentID, content string) map[string]any {
	return map[string]any{"incident": incidentRef(incidentID), "id": "PNOTE1", "content": content,
		"trimmed": false, "type": "incident_note"}
}

func workflowData(incidentID, name string) map[string]any {
	return map[string]any{
		"id": "PWFI1", "type": "incident_workflow_instance", "summary": "instance",
		"incident_workflow": map[string]any{"id": "PWF1", "summary": name, "type": "incident_workflow_reference"},
		"workflow_trigger":  map[string]any{"id": "trig", "summary": "Manual", "type": "workflow_trigger_reference"},
		"incident":          incidentRef(incidentID),
		"service":           map[string]any{"id": "PSVC1", "type": "service_reference"},
	}
}

func resolvedData(incidentID, key string) map[string]any {
	return map[string]any{"id": incidentID, "type": "incident", "status": "resolved",
		"incident_key": key, "title": "Access request", "resolve_reason": nil}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// receive returns the next value of ch; the test fails when none comes
// within 5 s, saying what did not happen.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// pagerDutyCNs are the client certificate names the configuration accepts
// by default.
var pagerDutyCNs = config.Defaults().Webhook.TLS.AllowedClientCNs
