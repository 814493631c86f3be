package teleport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"
	"go.uber.org/zap"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// Watch streams access request events to out until ctx ends (see
// ports.Watcher). It connects first, if no connection was made yet. After
// each (re)connect it sends one EventSynced with every pending request and
// the cluster; when a stream is lost or cannot be opened, one
// EventDisconnected, then it retries with randomized exponential backoff
// between BackoffMin and BackoffMax (reset by each synced stream). It returns ctx's error, or an error
// retrying cannot fix (an unsupported Teleport version, every credential
// expired).
func (c *Client) Watch(ctx context.Context, out chan<- domain.Event) error {
	bo := c.newBackOff()
	// Report the first failure, and the first after each synced stream.
	report := true
	for {
		synced, err := c.watchOnce(ctx, out)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrUnsupported) {
			return err
		}
		if ferr := c.credentialsExpired(); ferr != nil && !synced {
			return fmt.Errorf("%w (last attempt: %v)", ferr, err)
		}
		if synced {
			bo.Reset()
			report = true
		}
		delay := bo.NextBackOff()
		c.log.Warn("teleport watcher disconnected", zap.Error(err), zap.Duration("retry_in", delay))
		if report {
			report = false
			if !send(ctx, out, domain.Event{Kind: domain.EventDisconnected, Err: err}) {
				return ctx.Err()
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// newBackOff returns the waits between reconnects, without end: the
// library's randomized exponential backoff (×1.5 per attempt, ±50%) from
// BackoffMin, its interval capped at BackoffMax.
func (c *Client) newBackOff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(backoff.WithInitialInterval(c.cfg.BackoffMin),
		backoff.WithMaxInterval(c.cfg.BackoffMax), backoff.WithMaxElapsedTime(0))
}

func send(ctx context.Context, out chan<- domain.Event, ev domain.Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// watchOnce connects if needed and runs one watch stream (see stream).
// synced says whether EventSynced was sent.
func (c *Client) watchOnce(ctx context.Context, out chan<- domain.Event) (synced bool, err error) {
	if err := c.connect(ctx); err != nil {
		return false, err
	}
	api, err := c.conn("watch access requests")
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Rules are watched with the requests; partial success keeps a role
	// without access_monitoring_rule (or a Teleport without rules) working.
	w, err := api.NewWatcher(ctx, types.Watch{
		Name:                "pagergate",
		Kinds:               []types.WatchKind{{Kind: types.KindAccessRequest}, {Kind: types.KindAccessMonitoringRule}},
		AllowPartialSuccess: true,
	})
	if err != nil {
		return false, translate(ctx, err, "watch access requests", PermRead)
	}
	defer w.Close()
	return c.stream(ctx, w, out)
}

// stream runs one watch stream: wait for OpInit, list the routing rules
// (when the stream confirmed them) and the pending requests, send
// EventSynced, then forward events until the stream ends.
func (c *Client) stream(ctx context.Context, w types.Watcher, out chan<- domain.Event) (synced bool, err error) {
	confirmed, err := c.awaitInit(ctx, w)
	if err != nil {
		return false, err
	}
	if !confirmed[types.KindAccessRequest] {
		return false, fmt.Errorf("watch access requests: %w", &ports.PermissionError{Permission: PermRead,
			Err: errors.New("the watch did not confirm access_request")})
	}
	rules, err := c.syncRules(ctx, confirmed[types.KindAccessMonitoringRule])
	if err != nil {
		return false, err
	}
	pending, err := c.ListPending(ctx)
	if err != nil {
		return false, err
	}
	if !send(ctx, out, domain.Event{Kind: domain.EventSynced, Pending: domain.NewBacklog(pending), Rules: rules, Cluster: c.Cluster()}) {
		return true, ctx.Err()
	}
	c.log.Info("teleport watcher synced", zap.Int("pending", len(pending)), zap.Int("rules", len(rules.Rules)))
	return true, c.pump(ctx, w, out)
}

// awaitInit waits for the stream's first event, OpInit, at most
// InitTimeout (a stream that never confirms is dropped and a new one
// opened), and returns the kinds it confirmed: those its watch status
// names, or every kind asked for when it names none (a server without
// partial success).
func (c *Client) awaitInit(ctx context.Context, w types.Watcher) (map[string]bool, error) {
	t := time.NewTimer(c.cfg.InitTimeout)
	defer t.Stop()
	select {
	case ev := <-w.Events():
		if ev.Type != types.OpInit {
			return nil, fmt.Errorf("watch access requests: first event is %s, not init", ev.Type)
		}
		confirmed := map[string]bool{types.KindAccessRequest: true, types.KindAccessMonitoringRule: true}
		if st, ok := ev.Resource.(types.WatchStatus); ok {
			clear(confirmed)
			for _, k := range st.GetKinds() {
				confirmed[k.Kind] = true
			}
		}
		return confirmed, nil
	case <-w.Done():
		return nil, streamErr(ctx, w.Error())
	case <-t.C:
		return nil, fmt.Errorf("watch access requests: %w: no init event within %s", ports.ErrUnavailable, c.cfg.InitTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pump forwards events until the stream ends; the events it still holds
// then are forwarded too.
func (c *Client) pump(ctx context.Context, w types.Watcher, out chan<- domain.Event) error {
	for {
		select {
		case ev := <-w.Events():
			if !c.forward(ctx, ev, out) {
				return ctx.Err()
			}
		case <-w.Done():
			return c.drain(ctx, w, out)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// drain forwards the events a closed stream still holds, then says why it
// closed.
func (c *Client) drain(ctx context.Context, w types.Watcher, out chan<- domain.Event) error {
	for {
		select {
		case ev := <-w.Events():
			if !c.forward(ctx, ev, out) {
				return ctx.Err()
			}
		default:
			return streamErr(ctx, w.Error())
		}
	}
}

// forward sends the domain event of ev, if pagergate cares about it; false
// when ctx ended first.
func (c *Client) forward(ctx context.Context, ev types.Event, out chan<- domain.Event) bool {
	dev, ok := c.event(ev)
	if !ok {
		return true
	}
	return send(ctx, out, dev)
}

// event translates a watch event; ok is false for events pagergate ignores.
func (c *Client) event(ev types.Event) (domain.Event, bool) {
	if ev.Resource != nil && ev.Resource.GetKind() == types.KindAccessMonitoringRule {
		return c.ruleEvent(ev)
	}
	switch ev.Type {
	case types.OpPut:
		r, ok := ev.Resource.(types.AccessRequest)
		if !ok {
			c.log.Debug("ignoring watch event", zap.String("resource", fmt.Sprintf("%T", ev.Resource)))
			return domain.Event{}, false
		}
		return domain.Event{Kind: domain.EventPut, RequestID: r.GetName(), Request: toDomain(r)}, true
	case types.OpDelete:
		if ev.Resource == nil || ev.Resource.GetKind() != types.KindAccessRequest {
			return domain.Event{}, false
		}
		return domain.Event{Kind: domain.EventDelete, RequestID: ev.Resource.GetName()}, true
	}
	return domain.Event{}, false
}

// streamErr names why a stream ended; a stream the server closed cleanly is
// still a lost stream.
func streamErr(ctx context.Context, err error) error {
	if err == nil {
		return fmt.Errorf("watch access requests: %w: stream closed", ports.ErrUnavailable)
	}
	if trace.IsBadParameter(err) && strings.Contains(err.Error(), "none of the requested kinds can be watched") {
		// A partial-success watch the caller may read nothing of.
		return fmt.Errorf("watch access requests: %w", &ports.PermissionError{Permission: PermRead, Err: err})
	}
	return translate(ctx, err, "watch access requests", PermRead)
}
