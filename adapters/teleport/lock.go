package teleport

import (
	"context"
	"fmt"

	"github.com/gravitational/teleport/api/types"
	"github.com/gravitational/trace"

	"github.com/pagergate/pagergate/domain"
	"github.com/pagergate/pagergate/ports"
)

// PermLock is the permission UpsertLock needs: Teleport checks both verbs.
const PermLock = "lock: create, update"

var _ ports.Locks = (*Client)(nil)

// LockRequest creates or replaces the lock l.Name targeting the access
// request: Teleport refuses every connection and ends every session of a
// certificate issued with that request while the lock is in force (until
// l.Expires). The api client offers only UpsertLock (no create that fails
// on an existing name), so making the same lock twice is one lock.
func (c *Client) LockRequest(ctx context.Context, l domain.Lock) error {
	lock, err := types.NewLock(l.Name, types.LockSpecV2{
		Target:  types.LockTarget{AccessRequest: l.RequestID},
		Message: l.Message,
	})
	if err != nil {
		return fmt.Errorf("lock %s: %w", l.Name, err)
	}
	if !l.Expires.IsZero() {
		exp := l.Expires.UTC()
		lock.SetLockExpiry(&exp)
	}
	api, err := c.conn("lock " + l.Name)
	if err != nil {
		return err
	}
	if err := api.UpsertLock(ctx, lock); err != nil {
		return translate(ctx, err, "lock "+l.Name, PermLock)
	}
	return nil
}

// ProbeLocks checks that the plugin may create and update locks without
// making one: Teleport checks the permission before it validates the lock,
// so a lock with no target is refused as AccessDenied without the
// permission and as BadParameter with it. A *ports.PermissionError means
// the role lacks the rule.
func (c *Client) ProbeLocks(ctx context.Context) error {
	api, err := c.conn("probe locks")
	if err != nil {
		return err
	}
	// Built by hand: types.NewLock would refuse the empty target here.
	probe := &types.LockV2{Kind: types.KindLock, Version: types.V2, Metadata: types.Metadata{Name: "pagergate-permission-probe"}}
	err = api.UpsertLock(ctx, probe)
	switch {
	case err == nil:
		// A server that stored a lock without a target; remove it.
		_ = api.DeleteLock(ctx, probe.GetName())
		return nil
	case trace.IsBadParameter(err):
		return nil
	}
	return translate(ctx, err, "probe locks", PermLock)
}
