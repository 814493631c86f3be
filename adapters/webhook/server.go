package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/pagergate/pagergate/ports"
)

// Server is the HTTPS webhook server: it authenticates PagerDuty deliveries
// and passes the actions they carry to ports.Actions.
type Server struct {
	cfg     Config
	actions ports.Actions
	metrics ports.Metrics
	log     *zap.Logger

	allowedCNs map[string]bool
	tlsConfig  *tls.Config
	creds      atomic.Pointer[credentials]
	cert       atomic.Pointer[tls.Certificate]

	mu   sync.Mutex
	srv  *http.Server
	addr string
	done chan struct{}
}

// credentials are the secrets Reload can swap; compared values are kept as
// SHA-256 digests so constant-time compares do not leak lengths.
type credentials struct {
	secrets    []string
	basic      bool
	basicUser  [sha256.Size]byte
	basicPass  [sha256.Size]byte
	shared     bool
	sharedHash [sha256.Size]byte
}

func newCredentials(cr Credentials) *credentials {
	c := &credentials{secrets: append([]string(nil), cr.SigningSecrets...)}
	if cr.BasicUser != "" {
		c.basic = true
		c.basicUser = sha256.Sum256([]byte(cr.BasicUser))
		c.basicPass = sha256.Sum256([]byte(cr.BasicPassword))
	}
	if cr.SharedSecret != "" {
		c.shared = true
		c.sharedHash = sha256.Sum256([]byte(cr.SharedSecret))
	}
	return c
}

// New checks cfg, loads the server certificate and the client CA, and
// returns a server that is not listening yet.
func New(cfg Config, actions ports.Actions, log *zap.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if actions == nil {
		return nil, errors.New("webhook: no actions use case")
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{
		cfg:        cfg,
		actions:    actions,
		metrics:    cfg.Metrics,
		log:        log.Named("webhook"),
		allowedCNs: make(map[string]bool, len(cfg.AllowedClientCNs)),
	}
	for _, cn := range cfg.AllowedClientCNs {
		s.allowedCNs[cn] = true
	}
	cert, err := loadCert(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	if err := expiryError(cfg.CertFile, cert.Leaf.NotAfter); ports.IsWarning(err) {
		s.log.Warn("webhook certificate expires soon", zap.Error(err))
	} else if err != nil {
		return nil, fmt.Errorf("webhook: %w: PagerDuty cannot deliver to it; renew it", err)
	}
	s.cert.Store(cert)
	s.creds.Store(newCredentials(cfg.Credentials))

	s.tlsConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	if cfg.ClientCAFile != "" {
		pool, err := loadCAPool(cfg.ClientCAFile)
		if err != nil {
			return nil, err
		}
		s.tlsConfig.ClientAuth = tls.VerifyClientCertIfGiven
		s.tlsConfig.ClientCAs = pool
	}
	return s, nil
}

func loadCert(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil && cert.Leaf == nil {
		cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: load certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

func loadCAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("webhook: read client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("webhook: client CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// Start binds the listener (a busy address is an error) and serves in a
// goroutine the server owns until Stop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("webhook: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("webhook: listen on %s: %w", s.cfg.ListenAddr, err)
	}
	if s.cfg.InsecureNoAuth {
		s.log.Warn("webhook accepts unauthenticated deliveries (insecure_no_auth = true); use only for local demos")
	}
	srv := &http.Server{
		Handler:           s.handler(),
		TLSConfig:         s.tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      s.cfg.HandlerTimeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	// TLS handshake failures (scanners, foreign client certificates) are
	// routine on an exposed port: keep them at debug.
	if l, err := zap.NewStdLogAt(s.log.Named("http"), zapcore.DebugLevel); err == nil {
		srv.ErrorLog = l
	}
	done := make(chan struct{})
	s.srv, s.addr, s.done = srv, ln.Addr().String(), done
	go func() {
		defer close(done)
		// Certificates come from TLSConfig.GetCertificate.
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("webhook server stopped", zap.Error(err))
		}
	}()
	s.log.Info("webhook listening", zap.String("addr", s.addr),
		zap.Bool("mtls", s.cfg.ClientCAFile != ""))
	return nil
}

// Addr returns the address the server listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting deliveries and waits for in-flight ones until ctx
// ends; then it closes the remaining connections.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("webhook: shutdown: %w", err), srv.Close())
	}
	<-done
	return err
}

// Reload swaps the credentials atomically (SIGHUP) and re-reads the
// certificate and key files. Credentials with an empty value are refused
// and the previous ones kept; an unreadable certificate keeps the previous
// certificate. Problems are logged. A route that no method covers any
// more refuses every delivery until the next reload or restart.
func (s *Server) Reload(next Credentials) {
	if err := next.check(s.cfg.SharedSecretHeader); err != nil {
		s.log.Error("webhook credentials not reloaded, keeping the previous ones", zap.Error(err))
	} else {
		s.creds.Store(newCredentials(next))
		s.log.Info("webhook credentials reloaded", zap.Int("signing_secrets", len(next.SigningSecrets)),
			zap.Bool("basic_auth", next.BasicUser != ""), zap.Bool("shared_secret", next.SharedSecret != ""))
	}
	cert, err := loadCert(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		s.log.Error("webhook certificate not reloaded, keeping the previous one", zap.Error(err))
		return
	}
	s.cert.Store(cert)
}
