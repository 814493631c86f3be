package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
)

// testCA is a throw-away certificate authority for tests.
type testCA struct {
	ca  *webhooktest.Cert
	pem []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca, err := webhooktest.NewCA(name, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{ca: ca, pem: ca.CertPEM()}
}

// issue signs a leaf certificate; server certificates get loopback SANs.
func (ca *testCA) issue(t *testing.T, subject pkix.Name, server bool) (certPEM, keyPEM []byte, leaf *x509.Certificate) {
	t.Helper()
	usage := webhooktest.Client
	if server {
		usage = webhooktest.Server
	}
	c, err := ca.ca.Issue(subject, usage, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c.CertPEM(), c.KeyPEM(), c.Cert
}

func (ca *testCA) clientCert(t *testing.T, subject pkix.Name) tls.Certificate {
	t.Helper()
	c, err := ca.ca.Issue(subject, webhooktest.Client, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c.TLS()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
