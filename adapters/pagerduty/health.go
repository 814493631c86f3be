package pagerduty

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/pagerduty/httpretry"
	"github.com/pagergate/pagergate/ports"
)

// ProbeInterval is how often the background probe (Start) checks PagerDuty
// while it counts as unreachable.
const ProbeInterval = httpretry.ProbeInterval

// ErrUnreachable says the last attempts to reach PagerDuty all failed.
var ErrUnreachable = errors.New("pagerduty unreachable")

var _ ports.Readiness = (*Client)(nil)

// Ready reports whether PagerDuty was reachable recently (SPEC §8, §13): it
// fails after several failed attempts in a row and recovers on the next
// success, or after a minute without failures. A client that has made no
// call yet is ready.
func (c *Client) Ready() error { return c.transport.Ready(ErrUnreachable) }

// Start runs the background probe: while the client counts PagerDuty as
// unreachable, every ProbeInterval it makes one light call (GET
// /abilities), whose success clears it. Stop ends it.
func (c *Client) Start() error {
	c.probe.Start(c.Ready, func(ctx context.Context) error {
		_, err := c.pd.ListAbilitiesWithContext(ctx)
		return err
	}, c.cfg.RequestTimeout, func(err error) { c.log.Debug("pager probed while unreachable", zap.Error(err)) })
	return nil
}

// Stop ends the background probe and waits for it.
func (c *Client) Stop(ctx context.Context) error { return c.probe.Stop(ctx) }
