package opsgenie

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/pagergate/pagergate/adapters/opsgenie/httpretry"
	"github.com/pagergate/pagergate/ports"
)

// ProbeInterval is how often the background probe (Start) calls Opsgenie
// while it counts as unreachable.
const ProbeInterval = httpretry.ProbeInterval

// ErrUnreachable says the last attempts to reach Opsgenie all failed.
var ErrUnreachable = errors.New("opsgenie unreachable")

var _ ports.Readiness = (*Client)(nil)

// Ready reports whether Opsgenie was reachable recently (SPEC §8): it fails
// after several failed attempts in a row and recovers on the next success,
// or after a minute without failures.
func (c *Client) Ready() error { return c.transport.Ready(ErrUnreachable) }

// Start runs the background probe: while Opsgenie counts as unreachable,
// every ProbeInterval one light call (the schedule list) checks it. Stop
// ends it.
func (c *Client) Start() error {
	c.probe.Start(c.Ready, func(ctx context.Context) error {
		_, err := c.fetchSchedules(ctx)
		return err
	}, c.cfg.RequestTimeout, func(err error) { c.log.Debug("pager probed while unreachable", zap.Error(err)) })
	return nil
}

// Stop ends the background probe and waits for it.
func (c *Client) Stop(ctx context.Context) error { return c.probe.Stop(ctx) }
