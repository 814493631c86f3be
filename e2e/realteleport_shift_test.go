//go:build e2e && realteleport

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gravitational/teleport/api/breaker"
	"github.com/gravitational/teleport/api/client"
	"github.com/gravitational/trace"
	"golang.org/x/crypto/ssh"

	"github.com/pagergate/pagergate/adapters/fakepd"
)

// realLock is the part of a lock's JSON (`tctl get locks --format=json`)
// the test reads.
type realLock struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Target struct {
			AccessRequest string `json:"access_request"`
		} `json:"target"`
		Message   string    `json:"message"`
		Expires   time.Time `json:"expires"`
		CreatedAt time.Time `json:"created_at"`
		CreatedBy string    `json:"created_by"`
	} `json:"spec"`
}

// locks returns the locks Teleport holds for the access request, as
// `tctl get locks` lists them.
func (r *realTeleport) locks(requestID string) ([]realLock, error) {
	out, err := r.tryTctl("get", "locks", "--format=json")
	if err != nil {
		return nil, err
	}
	var all []realLock
	if s := strings.TrimSpace(out); s != "" && s != "null" {
		if err := json.Unmarshal([]byte(s), &all); err != nil {
			return nil, fmt.Errorf("decode tctl get locks: %w\n%s", err, out)
		}
	}
	var mine []realLock
	for _, l := range all {
		if l.Spec.Target.AccessRequest == requestID {
			mine = append(mine, l)
		}
	}
	return mine, nil
}

// waitLock polls `tctl get locks` until the request has a lock.
func (r *realTeleport) waitLock(requestID string) realLock {
	r.t.Helper()
	var got []realLock
	err := poll(func() bool {
		var err error
		got, err = r.locks(requestID)
		return err == nil && len(got) > 0
	})
	if err != nil {
		r.t.Fatalf("no lock targets request %s: %v", requestID, err)
	}
	return got[0]
}

// accessExpiry returns the request's access expiry.
func (r *realTeleport) accessExpiry(id string) time.Time {
	r.t.Helper()
	var list []struct {
		Spec struct {
			Expires time.Time `json:"expires"`
		} `json:"spec"`
	}
	out := r.tctl("request", "get", id, "--format=json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		r.t.Fatalf("decode tctl request get: %v\n%s", err, out)
	}
	return list[0].Spec.Expires
}

// On-call-bound access against the real Auth Service (Community Edition
// has locks): bob is on call until T = now + 5 s, requests demo-role and is
// approved by set_state; after T `tctl get locks` lists one lock, named
// from the request, targeting it (access_request), expiring with its
// access, created by the plugin user; the resolved incident has the
// note, and what bob sees: his certificates carrying the request are
// refused with the lock's message, his certificates without it are not. Then again with
// pagergate killed (-9) between the approval and T:
// still exactly one lock and one note.
func TestRealTeleportShiftLock(t *testing.T) {
	bins := teleportBinaries(t)
	e := newEnv(t, envOpts{})
	seedGuide(t, e)
	tp := startRealTeleport(t, bins)
	// The plugin's role is the shipped Community one: the lock below
	// proves its lock: create, update.
	setUpCluster(t, tp, e.identity)
	cfg := tp.config(e, withAutoApprove(`bind_to_shift = true`))
	d := e.start(cfg)
	checkPing(t, d)

	end := time.Now().Add(5 * time.Second).Truncate(time.Second)
	e.onCallUntil(bob, end)
	id := tp.createRequest(bob, "demo-role", "on call until the end of the shift")
	tp.waitState(id, "APPROVED")
	inc := e.waitResolved(id)
	own, withRequest := tp.userClients(bob, []string{"editor-requester", "demo-role-requester", "demo-role"}, id)
	if time.Now().Before(end) {
		if err := ping(withRequest); err != nil {
			t.Errorf("certificates with the request before the shift's end: %v", err)
		}
	}
	l := tp.waitLock(id)
	if l.Spec.CreatedAt.Before(end) {
		t.Errorf("lock made at %v, before the shift's end %v", l.Spec.CreatedAt, end)
	}
	if exp := tp.accessExpiry(id); l.Metadata.Name != "pagergate-shift-"+id || !l.Spec.Expires.Equal(exp) ||
		l.Spec.CreatedBy != pluginUser || !strings.Contains(l.Spec.Message, bob) {
		t.Errorf("lock = %+v; want pagergate-shift-%s until %v by %s naming %s", l, id, exp, pluginUser, bob)
	}
	e.waitPD("the shift note on "+inc.ID, func(pd *fakepd.Server) bool { return len(shiftNotes(pd.Notes(inc.ID))) == 1 })

	// What bob sees: every API request made with the certificates carrying
	// the request is refused with the lock's message, while certificates
	// without it still work.
	var lockErr error
	if err := poll(func() bool { lockErr = ping(withRequest); return lockErr != nil }); err != nil {
		t.Fatalf("certificates issued with the locked request still work")
	}
	if !trace.IsAccessDenied(lockErr) {
		t.Errorf("with the request's certificates: %v; want access denied", lockErr)
	}
	// The API answers only "access denied"; the Auth Service logs the lock.
	log := readFile(filepath.Join(tp.dir, "teleport.log"))
	if !slices.ContainsFunc(strings.Split(log, "\n"), func(l string) bool {
		return strings.Contains(l, "is in force") && strings.Contains(l, "AccessRequest") && strings.Contains(l, id)
	}) {
		t.Errorf("the Auth Service's log does not name the lock on %s as the reason:\n%s", id, tail(log, 20))
	}
	if err := ping(own); err != nil {
		t.Errorf("bob's own certificates: %v; want them unaffected", err)
	}

	end = time.Now().Add(5 * time.Second).Truncate(time.Second)
	e.onCallUntil(bob, end)
	killed := tp.createRequest(bob, "demo-role", "pagergate dies during my shift")
	tp.waitState(killed, "APPROVED")
	inc = e.waitResolved(killed)
	d.waitLogEntry("the shift bound for "+killed, func(l logEntry) bool {
		return l.str("request_id") == killed && l.str("msg") == "access bound to the on-call shift"
	})
	d.kill()
	if time.Now().After(end) {
		t.Fatalf("pagergate was killed after the shift's end; the scenario needs it before")
	}
	d = e.start(cfg)
	tp.waitLock(killed)
	e.waitPD("the shift note on "+inc.ID, func(pd *fakepd.Server) bool { return len(shiftNotes(pd.Notes(inc.ID))) >= 1 })
	d.stop()
	d = e.start(cfg)
	d.waitLogEntry("the shift timers rebuilt", func(l logEntry) bool { return l.str("msg") == "shift timers rebuilt" })
	locks, err := tp.locks(killed)
	if notes := shiftNotes(e.pd.Notes(inc.ID)); err != nil || len(locks) != 1 || len(notes) != 1 {
		t.Errorf("after kill -9 and two starts: locks %v (%v), notes %q; want one of each", locks, err, notes)
	}
	d.stop()
}

// tlsOnly hides the SSH side of credentials so that the api client dials
// the Auth Service address directly, once.
type tlsOnly struct{ client.Credentials }

func (tlsOnly) SSHClientConfig() (*ssh.ClientConfig, error) {
	return nil, trace.NotImplemented("direct Auth Service connection")
}

// dialAuth connects to the Auth Service with creds; closed at cleanup.
func (r *realTeleport) dialAuth(creds client.Credentials) *client.Client {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := client.New(ctx, client.Config{Addrs: []string{r.addr}, Credentials: []client.Credentials{tlsOnly{creds}},
		DialTimeout: 10 * time.Second, CircuitBreakerConfig: breaker.NoopBreakerConfig()})
	if err != nil {
		r.t.Fatalf("dial the auth service: %v", err)
	}
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Teleport's identity encoding in a user certificate's subject
// (lib/tlsca of Teleport 14): the cluster and each active access request
// as extra names.
var (
	oidTeleportCluster = asn1.ObjectIdentifier{1, 3, 9999, 1, 7}
	oidActiveRequests  = asn1.ObjectIdentifier{1, 3, 9999, 2, 8}
)

// userClients returns two api clients of user with the roles given: one
// whose certificate carries the access request as tsh's do after the
// request is assumed, one without it. Their certificates are signed with
// the cluster's user CA, exported with `tctl auth export --keys` (an
// Auth-only cluster has no proxy to log in through, and the certificates
// an administrator signs for a user are impersonated ones, which Teleport
// never reissues with access requests).
func (r *realTeleport) userClients(user string, roles []string, requestID string) (own, withRequest *client.Client) {
	r.t.Helper()
	caCertPEM := []byte(r.tctl("auth", "export", "--type=tls-user"))
	caKeyPEM := []byte(r.tctl("auth", "export", "--keys", "--type=tls-user"))
	hostCAPEM := []byte(r.tctl("auth", "export", "--type=tls-host")) // the server's certificate chains to it
	cb, _ := pem.Decode(caCertPEM)
	kb, _ := pem.Decode(caKeyPEM)
	if cb == nil || kb == nil {
		r.t.Fatalf("user CA not exported:\n%s", caCertPEM)
	}
	caCert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		r.t.Fatal(err)
	}
	caKey, err := parsePrivateKey(kb)
	if err != nil {
		r.t.Fatal(err)
	}
	issue := func(requests ...string) *client.Client {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			r.t.Fatal(err)
		}
		subject := pkix.Name{CommonName: user, Organization: roles,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidTeleportCluster, Value: caCert.Subject.CommonName}}}
		for _, id := range requests {
			subject.ExtraNames = append(subject.ExtraNames, pkix.AttributeTypeAndValue{Type: oidActiveRequests, Value: id})
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			r.t.Fatal(err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		creds, err := client.KeyPair(certPEM, keyPEM, hostCAPEM)
		if err != nil {
			r.t.Fatal(err)
		}
		return r.dialAuth(creds)
	}
	return issue(), issue(requestID)
}

func parsePrivateKey(b *pem.Block) (any, error) {
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return x509.ParsePKCS8PrivateKey(b.Bytes)
}

// ping calls Ping, which the Auth Service authorizes (locks included)
// like every API request.
func ping(c *client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Ping(ctx)
	return err
}
