package teleport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/ports"
)

// CheckOptions says what Check probes besides the certificate.
type CheckOptions struct {
	// Online dials the cluster and probes the plugin's permissions;
	// without it only the certificate is read.
	Online bool
	// Locks also probes lock: create, update (auto_approve.bind_to_shift),
	// without making a lock. Only online.
	Locks bool
}

// Check reports, one line each, what `pagergate check` verifies of
// Teleport: the client certificate is unexpired (it is often short-lived
// and renewed by tbot, so only an expired one fails) and, online, that the
// cluster answers Ping, the plugin may list requests and read their
// records, may make locks when opts.Locks asks, and the access monitoring
// rules addressed to the plugin (see checkRules). report is called with a
// nil error for a passing line. It returns the recipients of the rules
// that can route, sorted and each once, for the pager's check to look up.
func Check(ctx context.Context, cfg Config, opts CheckOptions, report ports.CheckReport) (ruleRecipients []string) {
	name, path := "teleport identity", cfg.IdentityFile
	if path == "" {
		name, path = "teleport client_crt", cfg.ClientCrt
	}
	exp, err := CertificateExpiry(cfg)
	if err == nil && time.Now().After(exp) {
		err = fmt.Errorf("%s expired at %s", path, exp.Format(time.RFC3339))
	}
	report(name, err, path+" valid until "+exp.Format(time.RFC3339))
	if !opts.Online {
		return nil
	}
	return probe(ctx, cfg, opts, report)
}

func probe(ctx context.Context, cfg Config, opts CheckOptions, report ports.CheckReport) []string {
	report.Start("teleport", "dialing "+cfg.Addr)
	if err := reachable(ctx, cfg.Addr); err != nil {
		report("teleport", err, "")
		return nil
	}
	// The api client retries a dial until its timeout: bound it by the
	// check's.
	if d, ok := ctx.Deadline(); ok && (cfg.DialTimeout <= 0 || time.Until(d) < cfg.DialTimeout) {
		cfg.DialTimeout = max(time.Until(d), time.Millisecond)
	}
	tp, err := Dial(ctx, cfg, zap.NewNop())
	if err != nil && ctx.Err() != nil {
		// The api client's error lists every way it tried; the point
		// is that none answered.
		err = fmt.Errorf("%s accepts connections but did not answer within %s (the check's time)",
			cfg.Addr, cfg.DialTimeout.Round(100*time.Millisecond))
	}
	if err != nil {
		report("teleport", err, "")
		return nil
	}
	defer tp.Close()
	cl := tp.Cluster()
	report("teleport", nil, fmt.Sprintf("cluster %q, version %s, proxy %q, advanced workflows %v",
		cl.Name, cl.Version, cl.ProxyAddr, cl.AdvancedWorkflows))
	pending, err := tp.ListPending(ctx)
	report("teleport list requests", err, fmt.Sprintf("%d pending", len(pending)))
	// The record of a request that cannot exist: "not found" means the
	// permission check passed.
	_, _, err = tp.LoadRecord(ctx, "00000000-0000-0000-0000-000000000000")
	if errors.Is(err, ports.ErrNotFound) {
		err = nil
	}
	report("teleport plugin data", err, "readable")
	if opts.Locks {
		report("teleport locks", tp.ProbeLocks(ctx), "may create and update locks (bind_to_shift)")
	}
	return checkRules(ctx, tp, report)
}

// checkRules lists the access monitoring rules addressed to this plugin:
// one line each, a failure for a rule that can never route (its condition
// does not parse or is refused, or it names no recipient). Rules being off
// (no permission, a Teleport without them) is not a failure. It returns
// the recipients of the rules that can route.
func checkRules(ctx context.Context, tp *Client, report ports.CheckReport) []string {
	set, why, err := tp.RoutingRules(ctx)
	switch {
	case err != nil:
		report("teleport routing rules", err, "")
		return nil
	case !set.On:
		report("teleport routing rules", nil, "off: "+why)
		return nil
	}
	broken := 0
	for _, r := range set.Rules {
		if r.Broken != "" || len(r.Recipients) == 0 {
			broken++
		}
	}
	report("teleport routing rules", nil, fmt.Sprintf("%d for %s (%d never route)", len(set.Rules), tp.RuleName(), broken))
	var recipients []string
	for _, r := range set.Rules {
		name := "rule " + r.Name
		switch {
		case r.Broken != "":
			report(name, errors.New(r.Broken), "")
		case len(r.Recipients) == 0:
			report(name, errors.New("names no recipient: it routes nowhere"), "")
		default:
			// A condition written over several lines is shown on one.
			cond := strings.Join(strings.Fields(fmt.Sprint(r.Condition)), " ")
			report(name, nil, fmt.Sprintf("%s → %s", cond, strings.Join(r.Recipients, ", ")))
			recipients = append(recipients, r.Recipients...)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(recipients)))
}

// reachable opens (and closes) one TCP connection to addr, so a refused
// connection or an unknown host fails at once: the api client would retry
// it until its dial timeout. Behind an HTTPS proxy from the environment,
// which the api client uses too, it checks nothing.
func reachable(ctx context.Context, addr string) error {
	if u, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: addr}}); err != nil || u != nil {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to teleport at %s: %w", addr, err)
	}
	return conn.Close()
}
