package webhook

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"strings"
	"testing"

	"github.com/pagergate/pagergate/domain"
)

const (
	secretA = "secret-a-0123456789"
	secretB = "secret-b-9876543210"
)

func annotatedApprove(t *testing.T) []byte {
	return v3Body(t, "incident.annotated", noteData("PINC1", "/approve looks fine"), "PUSER1")
}

func TestSignature(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA, secretB}
	e.start(cfg)
	c := e.client()
	body := annotatedApprove(t)

	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"first secret", e.signed(body, secretA), http.StatusOK},
		{"second secret", e.signed(body, secretB), http.StatusOK},
		{"rotation, two signatures, new first", e.signed(body, secretB, "retired-secret"), http.StatusOK},
		{"rotation, two signatures, new last", e.signed(body, "retired-secret", secretA), http.StatusOK},
		{"wrong secret", e.signed(body, "wrong"), http.StatusUnauthorized},
		{"missing", nil, http.StatusUnauthorized},
		{"empty", map[string]string{SignatureHeader: ""}, http.StatusUnauthorized},
		{"malformed hex", map[string]string{SignatureHeader: "v1=zz"}, http.StatusUnauthorized},
		{"other version only", map[string]string{SignatureHeader: "v0=" + strings.Repeat("ab", 32)}, http.StatusUnauthorized},
		{"signature of another body", e.signed([]byte(`{"event":{}}`), secretA), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.actions.calls())
			got := e.post(c, PathV3, body, tt.headers)
			if got.status != tt.want {
				t.Fatalf("status = %d (%s), want %d", got.status, got.raw, tt.want)
			}
			calls := len(e.actions.calls()) - before
			if tt.want != http.StatusOK && calls != 0 {
				t.Errorf("HandleAction called %d times on a refused delivery", calls)
			}
			if tt.want == http.StatusOK && calls != 1 {
				t.Errorf("HandleAction called %d times, want 1", calls)
			}
		})
	}
	// A tampered body with a once-valid signature is refused.
	headers := e.signed(body, secretA)
	tampered := []byte(strings.Replace(string(body), "PINC1", "PINC2", 1))
	if got := e.post(c, PathV3, tampered, headers); got.status != http.StatusUnauthorized {
		t.Errorf("tampered body: status = %d, want 401", got.status)
	}
	for _, entry := range e.logs.All() {
		for _, f := range entry.Context {
			for _, secret := range []string{secretA, secretB, headers[SignatureHeader][3:20]} {
				if strings.Contains(f.String, secret) {
					t.Errorf("log %q field %s holds a secret or signature", entry.Message, f.Key)
				}
			}
		}
	}
}

func TestSigningSecretsOnlyLeaveCustomActionsUnauthenticated(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA}
	e.start(cfg)
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	got := e.post(e.client(), PathApprove, body, e.signed(body, secretA))
	if got.status != http.StatusUnauthorized || got.body["error"] != "no authentication configured for this route" {
		t.Fatalf("answer = %d %q, want 401 no authentication configured for this route", got.status, got.raw)
	}
	if n := len(e.actions.calls()); n != 0 {
		t.Errorf("HandleAction called %d times", n)
	}
}

func TestMutualTLS(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.ClientCAFile, cfg.AllowedClientCNs = e.caFile, pagerDutyCNs
	e.start(cfg)
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	foreign := newCA(t, "foreign CA")

	tests := []struct {
		name    string
		certs   []tls.Certificate
		want    int
		wantErr string
	}{
		{"pagerduty US", []tls.Certificate{e.clientCA.clientCert(t, pkix.Name{CommonName: "webhooks.pagerduty.com"})}, http.StatusOK, ""},
		{"pagerduty EU", []tls.Certificate{e.clientCA.clientCert(t, pkix.Name{CommonName: "webhooks.eu.pagerduty.com"})}, http.StatusOK, ""},
		{"allowed CN with other subject fields", []tls.Certificate{e.clientCA.clientCert(t, pkix.Name{CommonName: "webhooks.pagerduty.com", Organization: []string{"PagerDuty, Inc."}, Country: []string{"US"}})}, http.StatusOK, ""},
		{"no certificate", nil, http.StatusUnauthorized, "client certificate required"},
		{"wrong CN", []tls.Certificate{e.clientCA.clientCert(t, pkix.Name{CommonName: "evil.example.com"})}, http.StatusUnauthorized, "client certificate common name not allowed"},
		{"allowed name outside the CN", []tls.Certificate{e.clientCA.clientCert(t, pkix.Name{CommonName: "evil.example.com", OrganizationalUnit: []string{"webhooks.pagerduty.com"}})}, http.StatusUnauthorized, "client certificate common name not allowed"},
		{"CN suffix", []tls.Certificate{e.clientCA.clientCert(t, pkix.Name{CommonName: "evil.webhooks.pagerduty.com"})}, http.StatusUnauthorized, "client certificate common name not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.post(e.client(tt.certs...), PathApprove, body, nil)
			if got.status != tt.want || (tt.wantErr != "" && got.body["error"] != tt.wantErr) {
				t.Fatalf("answer = %d %s, want %d %q", got.status, got.raw, tt.want, tt.wantErr)
			}
		})
	}

	t.Run("certificate from a foreign CA", func(t *testing.T) {
		// Present the certificate even though the server asks for another CA.
		cert := foreign.clientCert(t, pkix.Name{CommonName: "webhooks.pagerduty.com"})
		c := e.clientTLS(&tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		}})
		req, _ := http.NewRequest(http.MethodPost, e.url(PathApprove), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("status = %d, want a TLS handshake failure", resp.StatusCode)
		}
	})
	if n := len(e.actions.calls()); n != 3 {
		t.Errorf("HandleAction called %d times, want 3 (the accepted certificates)", n)
	}
	// Health probes work without a client certificate.
	resp, err := e.client().Get(e.url(PathHealthz))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz without client certificate = %d, want 200", resp.StatusCode)
	}
}

func TestMutualTLSCustomAllowList(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.ClientCAFile, cfg.AllowedClientCNs = e.caFile, pagerDutyCNs
	cfg.AllowedClientCNs = []string{"pagergate-fake"}
	e.start(cfg)
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	if got := e.post(e.client(e.clientCA.clientCert(t, pkix.Name{CommonName: "pagergate-fake"})), PathDeny, body, nil); got.status != http.StatusOK {
		t.Errorf("listed CN: status = %d, want 200", got.status)
	}
	if got := e.post(e.client(e.clientCA.clientCert(t, pkix.Name{CommonName: "webhooks.pagerduty.com"})), PathDeny, body, nil); got.status != http.StatusUnauthorized {
		t.Errorf("default CN not in the configured list: status = %d, want 401", got.status)
	}
}

func TestBasicAuth(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.BasicUser, cfg.BasicPassword = "pd", "hunter22"
	e.start(cfg)
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	tests := []struct {
		name       string
		user, pass string
		set        bool
		want       int
	}{
		{"good", "pd", "hunter22", true, http.StatusOK},
		{"wrong password", "pd", "hunter23", true, http.StatusUnauthorized},
		{"wrong user", "pe", "hunter22", true, http.StatusUnauthorized},
		{"password prefix", "pd", "hunter2", true, http.StatusUnauthorized},
		{"missing", "", "", false, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.url(PathApprove), strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			if tt.set {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			got := e.do(e.client(), req)
			if got.status != tt.want {
				t.Fatalf("status = %d (%s), want %d", got.status, got.raw, tt.want)
			}
			if tt.want == http.StatusUnauthorized {
				if got.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if strings.Contains(got.raw, "hunter") {
					t.Errorf("answer %q echoes the password", got.raw)
				}
			}
		})
	}
}

func TestSharedSecretHeader(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SharedSecretHeader, cfg.SharedSecret = "X-Pagergate-Token", "tok-123456"
	e.start(cfg)
	body := v3Body(t, "incident.resolved", resolvedData("PINC1", "teleport-access-request/r1"), "PUSER1")
	for _, tt := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"good", map[string]string{"X-Pagergate-Token": "tok-123456"}, http.StatusOK},
		{"wrong", map[string]string{"X-Pagergate-Token": "tok-123457"}, http.StatusUnauthorized},
		{"missing", nil, http.StatusUnauthorized},
		{"other header", map[string]string{"X-Other": "tok-123456"}, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := e.post(e.client(), PathV3, body, tt.headers)
			if got.status != tt.want {
				t.Fatalf("status = %d (%s), want %d", got.status, got.raw, tt.want)
			}
			if strings.Contains(got.raw, "tok-") {
				t.Errorf("answer %q echoes the secret", got.raw)
			}
		})
	}
	// The shared header also covers custom actions.
	cbody := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	if got := e.post(e.client(), PathApprove, cbody, map[string]string{"X-Pagergate-Token": "tok-123456"}); got.status != http.StatusOK {
		t.Errorf("custom action with shared header: status = %d, want 200", got.status)
	}
}

func TestEveryConfiguredMethodMustPass(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA}
	cfg.BasicUser, cfg.BasicPassword = "pd", "pw-123"
	cfg.ClientCAFile, cfg.AllowedClientCNs = e.caFile, pagerDutyCNs
	e.start(cfg)
	body := annotatedApprove(t)
	good := e.client(e.clientCA.clientCert(t, pkix.Name{CommonName: "webhooks.pagerduty.com"}))
	send := func(c *http.Client, basic bool, secret string) int {
		req, _ := http.NewRequest(http.MethodPost, e.url(PathV3), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(SignatureHeader, FormatSignatures([][]byte{Sign(body, secret)}))
		if basic {
			req.SetBasicAuth("pd", "pw-123")
		}
		return e.do(c, req).status
	}
	if got := send(good, true, secretA); got != http.StatusOK {
		t.Errorf("all methods pass: status = %d, want 200", got)
	}
	if got := send(good, false, secretA); got != http.StatusUnauthorized {
		t.Errorf("no basic auth: status = %d, want 401", got)
	}
	if got := send(good, true, "wrong"); got != http.StatusUnauthorized {
		t.Errorf("bad signature: status = %d, want 401", got)
	}
	if got := send(e.client(), true, secretA); got != http.StatusUnauthorized {
		t.Errorf("no client certificate: status = %d, want 401", got)
	}
	if n := len(e.actions.calls()); n != 1 {
		t.Errorf("HandleAction called %d times, want 1", n)
	}
}

func TestInsecureNoAuth(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.InsecureNoAuth = true
	e.start(cfg)
	if n := e.logs.FilterMessageSnippet("insecure_no_auth").Len(); n != 1 {
		t.Errorf("warnings about insecure_no_auth at start = %d, want 1", n)
	}
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	if got := e.post(e.client(), PathApprove, body, nil); got.status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", got.status, got.raw)
	}
	if calls := e.actions.calls(); len(calls) != 1 || calls[0].Verb != domain.VerbApprove {
		t.Errorf("calls = %+v, want one approve", calls)
	}
}

func TestTLSVersions(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.SigningSecrets = []string{secretA}
	e.start(cfg)
	body := annotatedApprove(t)

	tls12 := e.clientTLS(&tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
	req, _ := http.NewRequest(http.MethodPost, e.url(PathV3), strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, e.signed(body, secretA)[SignatureHeader])
	resp, err := tls12.Do(req)
	if err != nil {
		t.Fatalf("TLS 1.2 client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS.Version != tls.VersionTLS12 {
		t.Errorf("TLS 1.2 client: status %d, version %x", resp.StatusCode, resp.TLS.Version)
	}

	tls11 := e.clientTLS(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if resp, err := tls11.Get(e.url(PathHealthz)); err == nil {
		resp.Body.Close()
		t.Error("TLS 1.1 client was accepted")
	}
}

// Which methods may be combined is the configuration's rule; a server
// built without any method (and without insecure_no_auth) still fails
// closed: every action route refuses every delivery.
func TestNoMethodRefusesEveryRoute(t *testing.T) {
	e := newEnv(t)
	e.start(e.config())
	body := customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
	for _, path := range []string{PathApprove, PathDeny, PathV3} {
		if got := e.post(e.client(), path, body, e.signed(body, secretA)); got.status != http.StatusUnauthorized {
			t.Errorf("POST %s without any method = %d (%s), want 401", path, got.status, got.raw)
		}
	}
	if n := len(e.actions.calls()); n != 0 {
		t.Errorf("HandleAction called %d times", n)
	}
}

// Any two methods together: a delivery passing both is taken, one
// missing either is refused. The v3 signature counts as a method on the v3
// route.
func TestTwoMethodsTogetherNeedBoth(t *testing.T) {
	const mtls, basic, shared, sig = 0, 1, 2, 3
	for _, pair := range []struct {
		name string
		on   [4]bool
	}{
		{"mutual TLS and basic auth", [4]bool{mtls: true, basic: true}},
		{"mutual TLS and shared header", [4]bool{mtls: true, shared: true}},
		{"basic auth and shared header", [4]bool{basic: true, shared: true}},
		{"signature and basic auth", [4]bool{sig: true, basic: true}},
	} {
		t.Run(pair.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config()
			if pair.on[mtls] {
				cfg.ClientCAFile, cfg.AllowedClientCNs = e.caFile, pagerDutyCNs
			}
			if pair.on[basic] {
				cfg.BasicUser, cfg.BasicPassword = "pd", "pw-123"
			}
			if pair.on[shared] {
				cfg.SharedSecretHeader, cfg.SharedSecret = "X-Pagergate-Token", "tok-123456"
			}
			path, body := PathApprove, customBody(t, customMessage("m1", "PINC1", "k", "PUSER1"))
			if pair.on[sig] {
				cfg.SigningSecrets = []string{secretA}
				path, body = PathV3, annotatedApprove(t)
			}
			e.start(cfg)
			send := func(on [4]bool) int {
				c := e.client()
				if on[mtls] {
					c = e.client(e.clientCA.clientCert(t, pkix.Name{CommonName: "webhooks.pagerduty.com"}))
				}
				req, _ := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				if on[basic] {
					req.SetBasicAuth("pd", "pw-123")
				}
				if on[shared] {
					req.Header.Set("X-Pagergate-Token", "tok-123456")
				}
				if on[sig] {
					req.Header.Set(SignatureHeader, FormatSignatures([][]byte{Sign(body, secretA)}))
				}
				return e.do(c, req).status
			}
			if got := send(pair.on); got != http.StatusOK {
				t.Errorf("both methods pass: status = %d, want 200", got)
			}
			for drop := range pair.on {
				if !pair.on[drop] {
					continue
				}
				on := pair.on
				on[drop] = false
				if got := send(on); got != http.StatusUnauthorized {
					t.Errorf("without method %d: status = %d, want 401", drop, got)
				}
			}
			if n := len(e.actions.calls()); n != 1 {
				t.Errorf("HandleAction called %d times, want 1", n)
			}
		})
	}
}
