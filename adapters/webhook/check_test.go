package webhook

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
	"github.com/pagergate/pagergate/ports"
)

func TestCheckCertificates(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, notAfter time.Time) string {
		t.Helper()
		c, err := webhooktest.NewCA(name, now.Add(-48*time.Hour), notAfter)
		if err != nil {
			t.Fatal(err)
		}
		crt := filepath.Join(dir, name+".crt")
		if err := c.Write(crt, filepath.Join(dir, name+".key")); err != nil {
			t.Fatal(err)
		}
		return crt
	}
	good, soon, expired := write("good", now.Add(30*24*time.Hour)), write("soon", now.Add(24*time.Hour)), write("expired", now.Add(-time.Hour))
	tests := []struct {
		name string
		cfg  Config
		want []string // one line per report: "name: ok" or "name: <text of the error>"
	}{
		{"valid, no client CA", Config{CertFile: good}, []string{"webhook cert_file: ok"}},
		{"expires within a week", Config{CertFile: soon}, []string{"webhook cert_file: in 23h: renew it before (a warning)"}},
		{"expired client CA", Config{CertFile: good, ClientCAFile: expired}, []string{"webhook cert_file: ok", "webhook client_ca_file: expired at"}},
		{"missing file", Config{CertFile: filepath.Join(dir, "none.crt")}, []string{"webhook cert_file: no such file"}},
	}
	for _, tt := range tests {
		var got []string
		CheckCertificates(tt.cfg, func(name string, err error, _ string) {
			if ports.IsWarning(err) {
				got = append(got, fmt.Sprintf("%s: %v (a warning)", name, err))
				return
			}
			if err != nil {
				got = append(got, fmt.Sprintf("%s: %v", name, err))
				return
			}
			got = append(got, name+": ok")
		})
		if len(got) != len(tt.want) {
			t.Errorf("%s: CheckCertificates reported %q, want %q", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			name, text, _ := strings.Cut(tt.want[i], ": ")
			if !strings.HasPrefix(got[i], name+": ") || !strings.Contains(got[i], text) {
				t.Errorf("%s: line %d = %q, want %q", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

// TestNewRefusesAnExpiredCertificate: the daemon does not start on an
// expired certificate (PagerDuty cannot deliver to it: exit 1, restarted,
// so a renewal is picked up), and starts on one that expires soon.
func TestNewRefusesAnExpiredCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for _, tt := range []struct {
		name     string
		notAfter time.Time
		wantErr  string
	}{
		{"expired", now.Add(-time.Hour), "expired at"},
		{"soon", now.Add(24 * time.Hour), ""},
	} {
		c, err := webhooktest.NewCA(tt.name, now.Add(-48*time.Hour), tt.notAfter)
		if err != nil {
			t.Fatal(err)
		}
		crt, key := filepath.Join(dir, tt.name+".crt"), filepath.Join(dir, tt.name+".key")
		if err := c.Write(crt, key); err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{ListenAddr: "127.0.0.1:0", CertFile: crt, KeyFile: key,
			Credentials: Credentials{SigningSecrets: []string{"s"}}}, &fakeActions{}, nil)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: New = %v, want a server", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: New = %v, want an error %q", tt.name, err, tt.wantErr)
		}
	}
}
