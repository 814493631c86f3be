package world

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pagergate/pagergate/adapters/teleport/teleporttest"
)

// Options of Tour.
type Options struct {
	// Daemon is the pagergate binary; "" means DaemonBinary().
	Daemon string
	// For is how long the world stays up after the tour; 0: until ctx
	// ends.
	For time.Duration
	// Out receives the narration.
	Out io.Writer
	// Pager is the fake pager: PagerDuty (default) or Opsgenie.
	Pager string
}

// stepTimeout bounds each wait of the tour.
const stepTimeout = time.Minute

// Tour builds the world in a new directory, starts the daemon in it and
// walks the three main flows: a request opens an incident; an on-call
// requester is approved; a responder approves from the fake's web page.
// Then it keeps the world up for o.For, or until ctx ends. After a clean
// stop the directory (keys, identity, state, log) is removed; after a
// failure it is kept, and named, for its log.
func Tour(ctx context.Context, o Options) error {
	started := time.Now()
	say := func(format string, a ...any) {
		fmt.Fprintf(o.Out, "[%5.2fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, a...))
	}
	if o.Daemon == "" {
		o.Daemon = DaemonBinary()
	}
	dir, err := os.MkdirTemp("", "pagergate-demo-")
	if err != nil {
		return err
	}
	if err := tour(ctx, o, dir, say); err != nil {
		return fmt.Errorf("%w (work dir %s kept)", err, dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	say("removed %s", dir)
	return nil
}

// tour runs the world in dir; it returns once the daemon and the servers
// have stopped.
func tour(ctx context.Context, o Options, dir string, say sayFunc) error {
	w, err := New(dir, o.Pager)
	if err != nil {
		return err
	}
	defer w.Close()
	say("Teleport Auth test server (Community Edition) on %s; work dir %s", w.Teleport.Addr(), dir)
	d, err := w.StartDaemon(ctx, o.Daemon)
	if err != nil {
		return err
	}
	defer d.Stop()
	w.Pager.SetWebhookURL("https://" + d.WebhookAddr)
	say("pagergate running (config %s, log %s, webhook %s)", w.Config, w.Log, d.WebhookAddr)
	say("fake %s web page: %s/", w.Pager.Name(), w.Pager.URL())
	say("ready: watcher connected, backlog reconciled")
	if err := w.walk(ctx, say); err != nil {
		return err
	}
	w.Pager.SetRequestForm([]string{Requester, OnCallCritical}, "editor", w.createRequest)
	page, _ := w.Pager.Words()
	say("done. Open %s/ to see the %ss and click Approve / Deny on open ones,", w.Pager.URL(), page)
	say("or create a request with its form (%s is on call: approved at once; %s is paged). Ctrl-C to stop", OnCallCritical, Requester)
	if o.For > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(o.For):
		}
	} else {
		<-ctx.Done()
	}
	say("stopping")
	return nil
}

type sayFunc func(format string, a ...any)

// createRequest is the web page's new request: paged in the notify
// service, and auto-approved when the requester is on call for the
// approval service.
func (w *World) createRequest(_ context.Context, user string, roles []string, reason string) (string, error) {
	return w.Teleport.CreateRequest(user, roles, teleporttest.WithReason(reason),
		teleporttest.WithAnnotations(w.Pager.Annotations(ServiceTeleport, ServiceCritical)))
}

// walk runs the three flows.
func (w *World) walk(ctx context.Context, say sayFunc) error {
	for _, step := range []func(context.Context, sayFunc) error{w.notify, w.autoApprove, w.approveFromPager} {
		if err := step(ctx, say); err != nil {
			return err
		}
	}
	return nil
}

// notify: a request opens an incident in the service its annotation names.
func (w *World) notify(ctx context.Context, say sayFunc) error {
	id, err := w.Teleport.CreateRequest(Requester, []string{"editor"}, teleporttest.WithReason("deploy hotfix"),
		teleporttest.WithAnnotations(w.Pager.Annotations(ServiceTeleport, "")))
	if err != nil {
		return err
	}
	say("1. %s requests role editor (%s)", Requester, id)
	inc, err := w.incident(ctx, id, false)
	if err != nil {
		return err
	}
	page, _ := w.Pager.Words()
	say("   %s %s opened in %q: %s", page, inc.ID, ServiceTeleport, inc.Title)
	return nil
}

// autoApprove: an on-call requester is approved.
func (w *World) autoApprove(ctx context.Context, say sayFunc) error {
	id, err := w.Teleport.CreateRequest(OnCallCritical, []string{"demo-role"}, teleporttest.WithReason("fix the outage"),
		teleporttest.WithAnnotations(w.Pager.Annotations(ServiceTeleport, ServiceCritical)))
	if err != nil {
		return err
	}
	say("2. %s (on call for %s) requests demo-role (%s)", OnCallCritical, ServiceCritical, id)
	return w.resolved(ctx, id, say)
}

// approveFromPager: a responder approves from the fake's web page (the
// same delivery its Approve button sends).
func (w *World) approveFromPager(ctx context.Context, say sayFunc) error {
	id, err := w.Teleport.CreateRequest(Requester, []string{"editor"}, teleporttest.WithReason("debug prod"))
	if err != nil {
		return err
	}
	say("3. %s requests editor again (%s), default notify service", Requester, id)
	inc, err := w.incident(ctx, id, false)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	answer, err := w.Pager.Approve(actx, inc.ID, OnCallTeleport)
	if err != nil {
		return fmt.Errorf("approve from the web page: %w", err)
	}
	page, _ := w.Pager.Words()
	say("   %s clicks Approve on %s %s: %s", OnCallTeleport, page, inc.ID, answer)
	return w.resolved(ctx, id, say)
}

// resolved waits for the request's decision and its incident's
// resolution, and says both.
func (w *World) resolved(ctx context.Context, id string, say sayFunc) error {
	wctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	r, err := w.Teleport.WaitState(wctx, id)
	if err != nil {
		return err
	}
	say("   request %s: %s", r.GetState(), r.GetResolveReason())
	if inc, err := w.incident(ctx, id, true); err == nil {
		page, closed := w.Pager.Words()
		say("   %s %s %s; notes: %s", page, inc.ID, closed, strings.Join(inc.Notes, " | "))
	}
	return nil
}

// incident waits for the incident of request id (resolved, if asked).
func (w *World) incident(ctx context.Context, id string, resolved bool) (Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	inc, err := w.Pager.Incident(ctx, id, resolved)
	if err != nil {
		return inc, fmt.Errorf("no incident for %s: %w", id, err)
	}
	return inc, nil
}
