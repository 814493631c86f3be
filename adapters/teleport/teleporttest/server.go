package teleporttest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	teleportapi "github.com/gravitational/teleport/api"
	"github.com/gravitational/teleport/api/client/proto"
	amrpb "github.com/gravitational/teleport/api/gen/proto/go/teleport/accessmonitoringrules/v1"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/teleport/api/utils/grpc/interceptors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// PluginName is the plugin whose data PluginData and SetPluginData read and
// write.
const PluginName = "pagerduty"

// Options configure a Server. Zero fields take the documented defaults.
type Options struct {
	// Addr is the listen address (default "127.0.0.1:0").
	Addr string
	// Enterprise switches on Advanced Access Workflows: access reviews are
	// accepted and Ping reports the feature. Without it the server acts as
	// Teleport Community Edition and refuses reviews.
	Enterprise bool
	// ClusterName is what Ping reports (default "teleport.test").
	ClusterName string
	// ProxyAddr is the proxy public address Ping reports (default none).
	ProxyAddr string
	// Version is the server version Ping reports (default the api
	// module's version, whose protocol the server speaks).
	Version string
	// NoRules makes the server predate access monitoring rules: watching
	// the kind is refused (left out of a partial-success watch) and the
	// rules service answers Unimplemented.
	NoRules bool
}

// Perms are what a user may do. Every call is checked against the caller's
// identity (the CN of its client certificate), as Teleport's RBAC would.
type Perms struct {
	// ReviewRoles are the roles whose requests the user may review; "*"
	// means all (review_requests).
	ReviewRoles []string
	// UpdateRequests allows setting request states (access_request: update).
	UpdateRequests bool
	// ReadRequests allows listing and watching requests
	// (access_request: list, read).
	ReadRequests bool
	// PluginData allows reading and updating plugin data
	// (access_plugin_data: read, update).
	PluginData bool
	// ReadRules allows listing and watching access monitoring rules
	// (access_monitoring_rule: list, read).
	ReadRules bool
	// ReadUsers allows reading other users and their traits (user: read).
	ReadUsers bool
	// Locks allows creating and updating locks (lock: create, update;
	// Teleport's UpsertLock checks both). ReadLocks allows GetLock and
	// GetLocks (lock: list, read); DeleteLocks allows DeleteLock.
	Locks, ReadLocks, DeleteLocks bool
}

// AllPerms grants everything the access plugins need.
var AllPerms = Perms{ReviewRoles: []string{"*"}, UpdateRequests: true, ReadRequests: true, PluginData: true,
	ReadRules: true, ReadUsers: true, Locks: true}

// Counts are the numbers of calls the server answered, by method.
type Counts struct {
	Ping                  int
	ListAccessRequests    int
	WatchEvents           int
	SubmitAccessReview    int
	SetAccessRequestState int
	GetPluginData         int
	UpdatePluginData      int
	// ListAccessMonitoringRules counts both list calls of the rules.
	ListAccessMonitoringRules int
	GetUser                   int
	UpsertLock                int
}

// Server is an in-process Teleport Auth Service.
type Server struct {
	opts Options

	mu       sync.Mutex
	ca       *authority
	users    map[string]Perms
	reqs     map[string]*types.AccessRequestV3
	order    []string
	pdata    map[string]*types.PluginDataV3
	locks    map[string]*types.LockV2
	deleg    map[string]string
	watchers map[*watcher]struct{}
	cut      map[string]bool // users whose watch streams are refused
	changed  chan struct{}   // closed and replaced when the watcher set changes
	counts   Counts
	addr     string
	grpc     *grpc.Server
	running  bool
	wg       sync.WaitGroup

	rules  map[string]*amrpb.AccessMonitoringRule
	traits map[string]map[string][]string
}

// New starts a server listening on opts.Addr.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.ClusterName == "" {
		opts.ClusterName = "teleport.test"
	}
	if opts.Version == "" {
		opts.Version = teleportapi.Version
	}
	ca, err := newAuthority(opts.ClusterName)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		ca:       ca,
		users:    make(map[string]Perms),
		reqs:     make(map[string]*types.AccessRequestV3),
		pdata:    make(map[string]*types.PluginDataV3),
		locks:    make(map[string]*types.LockV2),
		deleg:    make(map[string]string),
		watchers: make(map[*watcher]struct{}),
		changed:  make(chan struct{}),
		addr:     opts.Addr,
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Options returns the options the server runs with, defaults applied.
func (s *Server) Options() Options { return s.opts }

func (s *Server) currentAuthority() *authority {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ca
}

func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"},
		ClientAuth: tls.RequireAndVerifyClientCert,
		// The CA can rotate while the server runs: each handshake uses the
		// current one.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			a := s.currentAuthority()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   []string{"h2"},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    a.pool,
				Certificates: []tls.Certificate{a.server},
			}, nil
		},
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return errors.New("teleporttest: server is running")
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("teleporttest: listen: %w", err)
	}
	s.addr = lis.Addr().String()
	g := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(s.tlsConfig())),
		grpc.ChainUnaryInterceptor(interceptors.GRPCServerUnaryErrorInterceptor),
		grpc.ChainStreamInterceptor(interceptors.GRPCServerStreamErrorInterceptor),
		// The api client pings every minute even when idle; grpc's default
		// policy would answer with GOAWAY too_many_pings.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	proto.RegisterAuthServiceServer(g, &authService{s: s})
	s.registerRules(g)
	s.grpc = g
	s.running = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = g.Serve(lis)
	}()
	return nil
}

// Stop closes the listener and every connection, like a crashed or
// restarting Auth Service. State is kept; Restart serves it again.
func (s *Server) Stop() {
	s.mu.Lock()
	g := s.grpc
	s.running = false
	s.grpc = nil
	s.mu.Unlock()
	if g != nil {
		g.Stop()
	}
	s.wg.Wait()
}

// Restart listens again on the same address after Stop.
func (s *Server) Restart() error { return s.start() }

// Close stops the server for good.
func (s *Server) Close() { s.Stop() }

// AddUser adds or replaces a user and its permissions.
func (s *Server) AddUser(name string, p Perms) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = p
}

// Counts returns the numbers of calls answered so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// watcher is one WatchEvents stream of the kinds it confirmed.
type watcher struct {
	user   string
	kinds  []types.WatchKind
	events chan types.Event
	done   chan struct{}
	err    error
	closed bool
}

const watcherQueue = 1024

// closeLocked ends the stream with err; s.mu must be held.
func (w *watcher) closeLocked(err error) {
	if w.closed {
		return
	}
	w.closed = true
	w.err = err
	close(w.done)
}

// emitLocked fans an event out to every watch stream; s.mu must be held. A
// stream whose queue is full is closed, as Teleport does.
func (s *Server) emitLocked(ev types.Event) {
	s.notifyLocked()
	for w := range s.watchers {
		if w.closed || !slices.ContainsFunc(w.kinds, func(k types.WatchKind) bool { return k.Kind == ev.Resource.GetKind() }) {
			continue
		}
		select {
		case w.events <- ev:
		default:
			w.closeLocked(errors.New("watcher queue overflow"))
		}
	}
}

func (s *Server) addWatcher(user string, kinds []types.WatchKind) *watcher {
	w := &watcher{user: user, kinds: kinds, events: make(chan types.Event, watcherQueue), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers[w] = struct{}{}
	s.notifyLocked()
	return w
}

func (s *Server) removeWatcher(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watchers, w)
	s.notifyLocked()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Connected returns the number of open watch streams.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for w := range s.watchers {
		if !w.closed {
			n++
		}
	}
	return n
}

// WaitFor waits until cond holds or ctx ends. cond is checked again after
// every change of the server (requests, watch streams), never by timer.
func (s *Server) WaitFor(ctx context.Context, cond func(*Server) bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("teleporttest: condition not met: %w", ctx.Err())
		}
	}
}

// WaitWatchers waits until exactly n watch streams are open.
func (s *Server) WaitWatchers(ctx context.Context, n int) error {
	err := s.WaitFor(ctx, func(s *Server) bool { return s.Connected() == n })
	if err != nil {
		return fmt.Errorf("teleporttest: %d watch streams open, want %d: %w", s.Connected(), n, ctx.Err())
	}
	return nil
}

// WaitState waits until request id leaves the pending state and returns it.
func (s *Server) WaitState(ctx context.Context, id string) (*types.AccessRequestV3, error) {
	var r *types.AccessRequestV3
	err := s.WaitFor(ctx, func(s *Server) bool {
		var err error
		r, err = s.Get(id)
		return err == nil && r.GetState() != types.RequestState_PENDING
	})
	if err != nil {
		return nil, fmt.Errorf("request %s still pending: %w", id, err)
	}
	return r, nil
}

// DropStreams ends every open watch stream with an error; connections stay
// up.
func (s *Server) DropStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		w.closeLocked(errors.New("watch stream dropped by the server"))
	}
	s.notifyLocked()
}

// CutWatches ends every watch stream of user and refuses new ones (as
// Unavailable) until RestoreWatches, like a network partition between
// one plugin replica and the Auth Service that spares its other calls.
func (s *Server) CutWatches(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut == nil {
		s.cut = map[string]bool{}
	}
	s.cut[user] = true
	for w := range s.watchers {
		if w.user == user {
			w.closeLocked(errors.New("watch stream cut"))
		}
	}
	s.notifyLocked()
}

// RestoreWatches lets user open watch streams again.
func (s *Server) RestoreWatches(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cut, user)
}
