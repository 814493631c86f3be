package teleport

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	teleportapi "github.com/gravitational/teleport/api"
	"github.com/gravitational/teleport/api/breaker"
	"github.com/gravitational/teleport/api/client"
	"github.com/gravitational/teleport/api/identityfile"
	"github.com/gravitational/trace"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/semver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultDialTimeout    = 30 * time.Second
	DefaultPluginName     = "pagerduty"
	DefaultBackoffMin     = 20 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
	DefaultReloadInterval = 5 * time.Second
	DefaultInitTimeout    = 15 * time.Second
)

// Config configures a Client. Set either IdentityFile or the ClientCrt,
// ClientKey and RootCAs trio.
type Config struct {
	// Addr is the Teleport Auth Service or Proxy address (host:port).
	Addr string
	// IdentityFile is the path of an identity file (tctl auth sign
	// --format=file, or tbot's output).
	IdentityFile string
	// RefreshIdentity re-reads the identity file when it changes (checked
	// every ReloadInterval) and on Reload, for short-lived certificates
	// renewed by tbot.
	RefreshIdentity bool
	// ClientCrt, ClientKey and RootCAs are PEM files of the plugin's client
	// certificate, its key and the cluster's CA.
	ClientCrt, ClientKey, RootCAs string
	// DialTimeout bounds one connection attempt (default 30s); attempts
	// are repeated with backoff until one succeeds.
	DialTimeout time.Duration
	// PluginName owns the plugin data on requests (default "pagerduty", the
	// reference plugin's name).
	PluginName string
	// RuleName is the notification name of the access monitoring rules
	// addressed to pagergate (Teleport's plugin name of the pager:
	// "pagerduty", "opsgenie"); default PluginName.
	RuleName string
	// BackoffMin and BackoffMax bound the randomized exponential backoff of
	// watcher and connection retries (defaults 20ms and 10s).
	BackoffMin, BackoffMax time.Duration
	// ReloadInterval is how often the identity file is checked for changes
	// when RefreshIdentity is set (default 5s).
	ReloadInterval time.Duration
	// InitTimeout bounds the wait for a new watch stream's first (init)
	// event; the stream is then dropped and a new one opened (default 15s).
	InitTimeout time.Duration
	// DirectAuth says Addr is an Auth Service: with an identity file, only a
	// direct connection is tried. By default the api client also tries Addr
	// as a Proxy (web, reverse tunnel, TLS routing), which an identity file
	// for a Proxy address needs.
	DirectAuth bool
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.PluginName == "" {
		c.PluginName = DefaultPluginName
	}
	if c.RuleName == "" {
		c.RuleName = c.PluginName
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.ReloadInterval <= 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	return c
}

// Client talks to Teleport for pagergate. New makes no network call: the
// connection is made by Watch (with backoff, until it succeeds) or by
// Dial. Until then every call fails with ports.ErrUnavailable.
type Client struct {
	cfg   Config
	log   *zap.Logger
	creds client.Credentials
	dyn   *client.DynamicIdentityFileCreds // set when the identity is refreshed

	connMu  sync.Mutex
	api     *client.Client // nil until connected; guarded by connMu
	cluster domain.Cluster // what Ping reported at connect; guarded by connMu
	closed  bool           // guarded by connMu

	rulesLog ruleLog

	stop      chan struct{}
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

var (
	_ ports.AccessRequests = (*Client)(nil)
	_ ports.Watcher        = (*Client)(nil)
)

// ErrUnsupported says the cluster's version is one pagergate refuses;
// retrying cannot fix it.
var ErrUnsupported = errors.New("unsupported teleport version")

// New checks the configuration and loads the credentials; it refuses
// expired ones. It does not connect.
func New(cfg Config, log *zap.Logger) (*Client, error) {
	cfg = cfg.withDefaults()
	log = log.Named("teleport")
	if cfg.Addr == "" {
		return nil, errors.New("teleport address is not set")
	}
	creds, dyn, err := loadCredentials(cfg)
	if err != nil {
		return nil, err
	}
	if exp, ok := creds.Expiry(); ok && time.Until(exp) < 24*time.Hour {
		log.Warn("teleport credentials expire soon", zap.Time("expires", exp))
	}
	if cfg.DirectAuth {
		creds = authOnly{creds}
	}
	return &Client{cfg: cfg, log: log, creds: creds, dyn: dyn, stop: make(chan struct{})}, nil
}

// Dial is New, one connection attempt (bounded by DialTimeout and ctx) and
// Start: for callers that need Teleport now, like `pagergate check`.
func Dial(ctx context.Context, cfg Config, log *zap.Logger) (*Client, error) {
	c, err := New(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	c.Start()
	return c, nil
}

// Start starts the identity file watcher (with RefreshIdentity). Close
// stops it.
func (c *Client) Start() {
	c.startOnce.Do(func() {
		if c.dyn != nil {
			c.wg.Add(1)
			go c.watchIdentity()
		}
	})
}

// connect makes one connection attempt: dial, Ping, version check. It
// does nothing when connected already.
func (c *Client) connect(ctx context.Context) error {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.api != nil {
		return nil
	}
	if c.closed {
		return fmt.Errorf("connect to teleport: %w: client closed", ports.ErrUnavailable)
	}
	api, err := client.New(ctx, c.apiConfig())
	if err != nil {
		return fmt.Errorf("connect to teleport at %s: %w: %v", c.cfg.Addr, ports.ErrUnavailable, err)
	}
	cluster, err := ping(ctx, api)
	if err == nil {
		err = c.CheckVersion(cluster)
	}
	if err != nil {
		api.Close()
		return err
	}
	c.api, c.cluster = api, cluster
	c.log.Info("connected to teleport",
		zap.String("cluster", cluster.Name),
		zap.String("version", cluster.Version),
		zap.String("proxy_addr", cluster.ProxyAddr),
		zap.Bool("advanced_workflows", cluster.AdvancedWorkflows))
	return nil
}

func (c *Client) apiConfig() client.Config {
	return client.Config{
		Addrs:       []string{c.cfg.Addr},
		Credentials: []client.Credentials{c.creds},
		DialTimeout: c.cfg.DialTimeout,
		// The watcher reconnects by itself; a tripped breaker would only
		// delay it.
		CircuitBreakerConfig: breaker.NoopBreakerConfig(),
		DialOpts: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  c.cfg.BackoffMin,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   c.cfg.BackoffMax,
			},
			MinConnectTimeout: c.cfg.DialTimeout,
		})},
	}
}

// conn returns the api client, or ports.ErrUnavailable before the first
// connection.
func (c *Client) conn(what string) (*client.Client, error) {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if c.api == nil {
		return nil, fmt.Errorf("%s: %w: not connected to teleport at %s yet", what, ports.ErrUnavailable, c.cfg.Addr)
	}
	return c.api, nil
}

// credentialsExpired reports, once a connection attempt failed, whether it
// is because every credential has expired (SPEC §2: that stops the
// daemon). A refreshed identity is re-read by the file watcher meanwhile.
func (c *Client) credentialsExpired() error {
	if exp, ok := c.creds.Expiry(); ok && time.Now().After(exp) {
		return fmt.Errorf("teleport credentials expired at %s: issue new ones (tctl auth sign or tbot)",
			exp.UTC().Format(time.RFC3339))
	}
	return nil
}

// authOnly hides the SSH side of credentials so that the api client dials
// the address as an Auth Service only.
type authOnly struct{ client.Credentials }

func (authOnly) SSHClientConfig() (*ssh.ClientConfig, error) {
	return nil, trace.NotImplemented("direct Auth Service connection")
}

// loadCredentials reads the configured credentials and refuses expired ones.
func loadCredentials(cfg Config) (client.Credentials, *client.DynamicIdentityFileCreds, error) {
	switch {
	case cfg.IdentityFile != "":
		if err := checkIdentity(cfg.IdentityFile); err != nil {
			return nil, nil, err
		}
		if cfg.RefreshIdentity {
			dyn, err := client.NewDynamicIdentityFileCreds(cfg.IdentityFile)
			if err != nil {
				return nil, nil, fmt.Errorf("load identity file %s: %w", cfg.IdentityFile, err)
			}
			return dyn, dyn, nil
		}
		return client.LoadIdentityFile(cfg.IdentityFile), nil, nil
	case cfg.ClientCrt != "" || cfg.ClientKey != "" || cfg.RootCAs != "":
		if cfg.ClientCrt == "" || cfg.ClientKey == "" || cfg.RootCAs == "" {
			return nil, nil, errors.New("teleport client_crt, client_key and root_cas must be set together")
		}
		data, err := os.ReadFile(cfg.ClientCrt)
		if err != nil {
			return nil, nil, fmt.Errorf("read client certificate: %w", err)
		}
		if err := checkCertPEM(cfg.ClientCrt, data); err != nil {
			return nil, nil, err
		}
		creds := client.LoadKeyPair(cfg.ClientCrt, cfg.ClientKey, cfg.RootCAs)
		if _, err := creds.TLSConfig(); err != nil {
			return nil, nil, fmt.Errorf("load client certificate %s: %w", cfg.ClientCrt, err)
		}
		return creds, nil, nil
	}
	return nil, nil, errors.New("no teleport credentials: set an identity file or client_crt, client_key and root_cas")
}

// checkIdentity reads an identity file and refuses it when its certificate
// has expired.
func checkIdentity(path string) error {
	cert, err := identityCert(path)
	if err != nil {
		return err
	}
	return checkValidity("identity file "+path, cert)
}

// checkCertPEM refuses an expired (or not yet valid) certificate, naming
// where it came from.
func checkCertPEM(what string, data []byte) error {
	cert, err := parseCertPEM(what, data)
	if err != nil {
		return err
	}
	return checkValidity(what, cert)
}

// CertificateExpiry returns when the client certificate of cfg expires:
// the identity file's TLS certificate, or ClientCrt. It reads the file
// again on each call (tbot renews it) and contacts nothing.
func CertificateExpiry(cfg Config) (time.Time, error) {
	var cert *x509.Certificate
	var err error
	if cfg.IdentityFile != "" {
		cert, err = identityCert(cfg.IdentityFile)
	} else {
		var data []byte
		if data, err = os.ReadFile(cfg.ClientCrt); err != nil {
			return time.Time{}, fmt.Errorf("read client certificate: %w", err)
		}
		cert, err = parseCertPEM(cfg.ClientCrt, data)
	}
	if err != nil {
		return time.Time{}, err
	}
	return cert.NotAfter, nil
}

// identityCert returns the TLS certificate of an identity file.
func identityCert(path string) (*x509.Certificate, error) {
	id, err := identityfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity file %s: %w", path, err)
	}
	if len(id.Certs.TLS) == 0 {
		return nil, fmt.Errorf("identity file %s holds no TLS certificate", path)
	}
	return parseCertPEM("identity file "+path, id.Certs.TLS)
}

// parseCertPEM parses the first PEM block of data as a certificate.
func parseCertPEM(what string, data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", what)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return cert, nil
}

// checkValidity refuses an expired or not yet valid certificate.
func checkValidity(what string, cert *x509.Certificate) error {
	now := time.Now()
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%s expired at %s: issue a new one (tctl auth sign or tbot)",
			what, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%s is not valid before %s", what, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Reload re-reads the identity file when RefreshIdentity is set (SIGHUP);
// otherwise it does nothing. An expired or unreadable file is refused and
// the current identity kept. Open connections keep their certificate until
// they reconnect.
func (c *Client) Reload() error {
	if c.dyn == nil {
		c.log.Debug("identity refresh is off: nothing to reload")
		return nil
	}
	if err := checkIdentity(c.cfg.IdentityFile); err != nil {
		return fmt.Errorf("reload identity: %w", err)
	}
	if err := c.dyn.Reload(); err != nil {
		return fmt.Errorf("reload identity file %s: %w", c.cfg.IdentityFile, err)
	}
	exp, _ := c.dyn.Expiry()
	c.log.Info("identity reloaded", zap.String("path", c.cfg.IdentityFile), zap.Time("expires", exp))
	return nil
}

// watchIdentity reloads the identity file whenever its modification time or
// size changes, until Close.
func (c *Client) watchIdentity() {
	defer c.wg.Done()
	path := c.cfg.IdentityFile
	last, _ := os.Stat(path)
	t := time.NewTicker(c.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			c.log.Debug("identity file unreadable", zap.String("path", path), zap.Error(err))
			continue
		}
		if last != nil && fi.ModTime().Equal(last.ModTime()) && fi.Size() == last.Size() {
			continue
		}
		last = fi
		if err := c.Reload(); err != nil {
			c.log.Warn("identity file changed but was not reloaded", zap.Error(err))
		}
	}
}

// Close stops the identity watcher and closes the connection, if any.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		c.connMu.Lock()
		defer c.connMu.Unlock()
		c.closed = true
		if c.api != nil {
			err = c.api.Close()
		}
	})
	return err
}

// Cluster returns what Ping reported at connect (zero before).
func (c *Client) Cluster() domain.Cluster {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	return c.cluster
}

// Ping reports the cluster name, version, proxy address and whether it has
// Advanced Access Workflows (access reviews).
func (c *Client) Ping(ctx context.Context) (domain.Cluster, error) {
	api, err := c.conn("ping teleport")
	if err != nil {
		return domain.Cluster{}, err
	}
	return ping(ctx, api)
}

func ping(ctx context.Context, api *client.Client) (domain.Cluster, error) {
	rsp, err := api.Ping(ctx)
	if err != nil {
		return domain.Cluster{}, translate(ctx, err, "ping teleport", "")
	}
	cl := domain.Cluster{
		Name:      rsp.ClusterName,
		Version:   rsp.ServerVersion,
		ProxyAddr: rsp.ProxyPublicAddr,
	}
	if f := rsp.ServerFeatures; f != nil {
		cl.AdvancedWorkflows = f.AdvancedAccessWorkflows
	}
	return cl, nil
}

// Teleport versions. Older than MinMajor is refused. The tests run
// against a real Auth Service of TestedRelease (make e2e-teleport) and
// against the gRPC protocol of the api module pagergate is built with
// (api.Version, which the in-process test server teleporttest speaks);
// a cluster of another major is accepted with a warning that says so.
const (
	MinMajor      = 13
	TestedRelease = "14.2.3"
)

// CheckVersion refuses a cluster older than 13.0.0 and warns when its
// major is neither TestedRelease's nor the api module's.
func (c *Client) CheckVersion(cl domain.Cluster) error {
	v := "v" + cl.Version
	if !semver.IsValid(v) {
		return fmt.Errorf("%w: teleport reports version %q, which is not a semantic version", ErrUnsupported, cl.Version)
	}
	var major int
	fmt.Sscanf(semver.Major(v), "v%d", &major)
	switch {
	case major < MinMajor:
		return fmt.Errorf("%w: teleport %s is too old: pagergate needs 13.0.0 or newer", ErrUnsupported, cl.Version)
	case semver.Major(v) != semver.Major("v"+TestedRelease) && semver.Major(v) != semver.Major("v"+teleportapi.Version):
		c.log.Warn("teleport version not tested: the tests run a real Teleport "+TestedRelease+
			" and the gRPC protocol of Teleport's api module "+teleportapi.Version+" (an in-process server, not Teleport)",
			zap.String("version", cl.Version))
	}
	return nil
}
