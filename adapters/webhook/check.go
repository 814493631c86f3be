package webhook

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// RenewWithin is how long before it expires a webhook certificate fails
// `pagergate check`: PagerDuty cannot deliver to an expired one, and the
// certificate is renewed by hand more often than not.
const RenewWithin = 7 * 24 * time.Hour

// CheckCertificates reports, one line each, whether the server
// certificate and the client CA (when set) are valid for RenewWithin more.
// report is called with a nil error for a passing line.
func CheckCertificates(cfg Config, report func(name string, err error, detail string)) {
	files := []struct{ name, path string }{{"webhook cert_file", cfg.CertFile}}
	if cfg.ClientCAFile != "" {
		files = append(files, struct{ name, path string }{"webhook client_ca_file", cfg.ClientCAFile})
	}
	for _, f := range files {
		exp, err := CertificateExpiry(f.path)
		left := time.Until(exp)
		switch {
		case err != nil:
		case left < 0:
			err = fmt.Errorf("%s expired at %s", f.path, exp.Format(time.RFC3339))
		case left < RenewWithin:
			err = fmt.Errorf("%s expires at %s, within %s", f.path, exp.Format(time.RFC3339), RenewWithin)
		}
		report(f.name, err, fmt.Sprintf("%s valid until %s", f.path, exp.Format(time.RFC3339)))
	}
}

// CertificateExpiry returns the NotAfter of the first certificate in a PEM
// file: the server certificate of a cert_file (its chain follows it), the
// first CA of a client_ca_file.
func CertificateExpiry(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return time.Time{}, fmt.Errorf("%s holds no PEM certificate", path)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", path, err)
		}
		return cert.NotAfter, nil
	}
}
