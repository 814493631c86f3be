package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader carries the v3 webhook signatures.
const SignatureHeader = "X-PagerDuty-Signature"

// Signature errors; all answer 401.
var (
	ErrSignatureMissing   = errors.New("missing " + SignatureHeader)
	ErrSignatureMalformed = errors.New("malformed " + SignatureHeader)
	ErrSignatureMismatch  = errors.New("no signature matches a configured secret")
)

// ParseSignatures reads the v1 signatures of an X-PagerDuty-Signature
// header ("v1=<hex>,v1=<hex>"; several during secret rotation). Entries of
// other versions are skipped so a future scheme does not break delivery.
// It fails with ErrSignatureMissing when no v1 signature is present and
// with ErrSignatureMalformed when one is not 32 hex-encoded bytes.
func ParseSignatures(header string) ([][]byte, error) {
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		version, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%w: entry without '='", ErrSignatureMalformed)
		}
		if version != "v1" {
			continue
		}
		sig, err := hex.DecodeString(value)
		if err != nil || len(sig) != sha256.Size {
			return nil, fmt.Errorf("%w: v1 value is not a hex SHA-256 HMAC", ErrSignatureMalformed)
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return nil, ErrSignatureMissing
	}
	return sigs, nil
}

// FormatSignatures writes signatures as an X-PagerDuty-Signature value.
func FormatSignatures(sigs [][]byte) string {
	parts := make([]string, len(sigs))
	for i, s := range sigs {
		parts[i] = "v1=" + hex.EncodeToString(s)
	}
	return strings.Join(parts, ",")
}

// Sign returns the v1 signature of body with secret (hex HMAC-SHA256).
func Sign(body []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks that at least one v1 signature of header is the
// HMAC-SHA256 of body with one of secrets. Every pair is compared in
// constant time.
func VerifySignature(body []byte, header string, secrets []string) error {
	if strings.TrimSpace(header) == "" {
		return ErrSignatureMissing
	}
	sigs, err := ParseSignatures(header)
	if err != nil {
		return err
	}
	match := false
	for _, secret := range secrets {
		want := Sign(body, secret)
		for _, got := range sigs {
			if hmac.Equal(want, got) {
				match = true
			}
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	return nil
}
