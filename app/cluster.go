package app

import (
	"sync/atomic"

	"github.com/pagergate/pagergate/domain"
)

// clusterView is what the last sync reported about the Teleport cluster
// (proxy address for links, edition for the approval mode), shared by the
// use cases.
type clusterView struct {
	configured domain.ApprovalMode
	p          atomic.Pointer[domain.Cluster]
}

func newClusterView(mode domain.ApprovalMode) *clusterView {
	c := &clusterView{configured: mode}
	c.p.Store(&domain.Cluster{})
	return c
}

func (c *clusterView) get() domain.Cluster   { return *c.p.Load() }
func (c *clusterView) set(cl domain.Cluster) { c.p.Store(&cl) }

// mode returns the approval mode in force.
func (c *clusterView) mode() domain.ApprovalMode { return c.configured.Effective(c.get()) }
