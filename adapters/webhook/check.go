package webhook

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/pagergate/pagergate/ports"
)

// RenewWithin is how long before it expires a webhook certificate is
// worth a warning (in `pagergate check` and at start): PagerDuty cannot
// deliver to an expired one, and it is renewed by hand more often than
// not.
const RenewWithin = 7 * 24 * time.Hour

// CheckCertificates reports, one line each, whether the server
// certificate and the client CA (when set) can be read and are unexpired:
// one that expires within RenewWithin is a warning (ports.Warning), the
// check still passes; only an unreadable or expired one fails.
func CheckCertificates(cfg Config, report ports.CheckReport) {
	files := []struct{ name, path string }{{"webhook cert_file", cfg.CertFile}}
	if cfg.ClientCAFile != "" {
		files = append(files, struct{ name, path string }{"webhook client_ca_file", cfg.ClientCAFile})
	}
	for _, f := range files {
		exp, err := CertificateExpiry(f.path)
		if err == nil {
			err = expiryError(f.path, exp)
		}
		report(f.name, err, fmt.Sprintf("%s valid until %s", f.path, exp.Format(time.RFC3339)))
	}
}

// expiryError is nil for a certificate valid for RenewWithin more, a
// warning (ports.Warning) for one that expires sooner, and an error for
// one that has expired.
func expiryError(path string, exp time.Time) error {
	left := time.Until(exp)
	switch {
	case left < 0:
		return fmt.Errorf("%s expired at %s", path, exp.Format(time.RFC3339))
	case left < RenewWithin:
		return ports.Warning(fmt.Errorf("%s expires at %s, in %dh: renew it before", path,
			exp.Format(time.RFC3339), int(left.Hours())))
	}
	return nil
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
