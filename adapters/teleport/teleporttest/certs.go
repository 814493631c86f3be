package teleporttest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gravitational/teleport/api/constants"
	"github.com/gravitational/teleport/api/identityfile"
	"golang.org/x/crypto/ssh"
)

// authority is one generation of the cluster's certificate authorities: the
// TLS CA that signs the server and client certificates, and the SSH CA that
// signs the SSH certificates identity files carry.
type authority struct {
	cert   *x509.Certificate
	key    crypto.Signer
	pem    []byte
	sshCA  ssh.Signer
	server tls.Certificate
	pool   *x509.CertPool
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

func newAuthority(cluster string) (*authority, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cluster, Organization: []string{cluster}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	sshKey, err := newKey()
	if err != nil {
		return nil, err
	}
	sshCA, err := ssh.NewSignerFromKey(sshKey)
	if err != nil {
		return nil, err
	}
	a := &authority{
		cert:  cert,
		key:   key,
		pem:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		sshCA: sshCA,
		pool:  x509.NewCertPool(),
	}
	a.pool.AddCert(cert)
	if a.server, err = a.issueServer(); err != nil {
		return nil, err
	}
	return a, nil
}

// issueServer issues the Auth Service certificate. The api client verifies
// it against the name teleport.cluster.local whatever address it dialed.
func (a *authority) issueServer() (tls.Certificate, error) {
	key, err := newKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: constants.APIDomain},
		DNSNames:     []string{constants.APIDomain, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// clientCreds is a user's key with its TLS and SSH certificates, PEM and
// authorized-key encoded.
type clientCreds struct {
	keyPEM  []byte
	certPEM []byte
	sshCert []byte
}

// validity returns the NotBefore/NotAfter pair for a ttl; a negative ttl
// gives a window that ended ttl ago.
func validity(ttl time.Duration) (time.Time, time.Time) {
	now := time.Now()
	if ttl <= 0 {
		end := now.Add(ttl)
		if ttl == 0 {
			end = now.Add(-time.Second)
		}
		return end.Add(-time.Hour), end
	}
	return now.Add(-time.Minute), now.Add(ttl)
}

func (a *authority) issueClient(user, cluster string, ttl time.Duration) (clientCreds, error) {
	key, err := newKey()
	if err != nil {
		return clientCreds{}, err
	}
	sn, err := serial()
	if err != nil {
		return clientCreds{}, err
	}
	notBefore, notAfter := validity(ttl)
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: user, Organization: []string{"access-plugin"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return clientCreds{}, fmt.Errorf("create client certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return clientCreds{}, err
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return clientCreds{}, err
	}
	sc := &ssh.Certificate{
		Key:             pub,
		Serial:          sn.Uint64(),
		CertType:        ssh.UserCert,
		KeyId:           user,
		ValidPrincipals: []string{user, "-teleport-internal-join"},
		ValidAfter:      uint64(notBefore.Unix()),
		ValidBefore:     uint64(notAfter.Unix()),
		Permissions:     ssh.Permissions{Extensions: map[string]string{"teleport-cluster": cluster}},
	}
	if err := sc.SignCert(rand.Reader, a.sshCA); err != nil {
		return clientCreds{}, fmt.Errorf("sign SSH certificate: %w", err)
	}
	return clientCreds{
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		sshCert: ssh.MarshalAuthorizedKey(sc),
	}, nil
}

// WriteIdentityFile writes an identity file for user, in the format tctl
// auth sign --format=file and tbot produce: private key, SSH certificate,
// TLS certificate and the cluster CA. The certificates are valid for ttl; a
// negative ttl gives certificates that expired that long ago. The file is
// replaced atomically, so a reader never sees half of it.
func (s *Server) WriteIdentityFile(path, user string, ttl time.Duration) error {
	a := s.currentAuthority()
	c, err := a.issueClient(user, s.opts.ClusterName, ttl)
	if err != nil {
		return err
	}
	caLine := fmt.Sprintf("@cert-authority %s,*.%s %s", s.opts.ClusterName, s.opts.ClusterName,
		bytes.TrimSpace(ssh.MarshalAuthorizedKey(a.sshCA.PublicKey())))
	id := &identityfile.IdentityFile{
		PrivateKey: c.keyPEM,
		Certs:      identityfile.Certs{SSH: c.sshCert, TLS: c.certPEM},
		CACerts:    identityfile.CACerts{SSH: [][]byte{[]byte(caLine + "\n")}, TLS: [][]byte{a.pem}},
	}
	data, err := identityfile.Encode(id)
	if err != nil {
		return fmt.Errorf("encode identity file: %w", err)
	}
	return writeAtomic(path, data)
}

// WriteTLSFiles writes a client certificate, its key and the cluster CA for
// user into dir (user.crt, user.key, ca.crt) and returns their paths. The
// certificate is valid for ttl; a negative ttl gives an expired one.
func (s *Server) WriteTLSFiles(dir, user string, ttl time.Duration) (crt, key, ca string, err error) {
	a := s.currentAuthority()
	c, err := a.issueClient(user, s.opts.ClusterName, ttl)
	if err != nil {
		return "", "", "", err
	}
	crt = filepath.Join(dir, user+".crt")
	key = filepath.Join(dir, user+".key")
	ca = filepath.Join(dir, "ca.crt")
	for _, f := range []struct {
		path string
		data []byte
	}{{crt, c.certPEM}, {key, c.keyPEM}, {ca, a.pem}} {
		if err := writeAtomic(f.path, f.data); err != nil {
			return "", "", "", err
		}
	}
	return crt, key, ca, nil
}

// CACert returns the PEM of the current TLS certificate authority.
func (s *Server) CACert() []byte { return s.currentAuthority().pem }

// RotateCA replaces the certificate authorities: new connections must
// present a certificate of the new CA and are served a certificate of it.
// Open connections are not touched. Credentials written afterwards belong to
// the new CA.
func (s *Server) RotateCA() error {
	a, err := newAuthority(s.opts.ClusterName)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ca = a
	s.mu.Unlock()
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
