package webhook

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
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
		{"expires within a week", Config{CertFile: soon}, []string{"webhook cert_file: within 168h"}},
		{"expired client CA", Config{CertFile: good, ClientCAFile: expired}, []string{"webhook cert_file: ok", "webhook client_ca_file: expired at"}},
		{"missing file", Config{CertFile: filepath.Join(dir, "none.crt")}, []string{"webhook cert_file: no such file"}},
	}
	for _, tt := range tests {
		var got []string
		CheckCertificates(tt.cfg, func(name string, err error, _ string) {
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
