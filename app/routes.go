package app

import (
	"slices"
	"sync"

	"github.com/pagergate/pagergate/domain"
)

// route is what a pager action needs to know about one of our incidents.
type route struct{ requestID, serviceID string }

// routeCache is a bounded map from incident ID to route, filled from the
// records read, so a pager action maps its incident to the request
// without asking the pager. The oldest entry goes first when it is full.
type routeCache struct {
	mu   sync.Mutex
	m    map[string]route
	ring []string
	next int
}

// maxRoutes bounds the route cache (about 100 bytes an entry).
const maxRoutes = 16384

func newRouteCache() *routeCache {
	return &routeCache{m: make(map[string]route), ring: make([]string, maxRoutes)}
}

// learn keeps the routes of a record's incidents; an incident listed for
// several services (one incident per request) routes to its first, the
// service it was opened in, as actionLookups.openedFor reads it.
func (c *routeCache) learn(rec domain.Record) {
	for _, in := range distinctIncidents(rec) {
		c.put(in.IncidentID, route{requestID: rec.RequestID, serviceID: in.ServiceID})
	}
}

func (c *routeCache) put(id string, r route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok {
		if old := c.ring[c.next]; old != "" {
			delete(c.m, old)
		}
		c.ring[c.next] = id
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[id] = r
}

func (c *routeCache) get(id string) (route, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}

// maxKnownServices bounds the notify services remembered from records.
const maxKnownServices = 1000

// serviceSet remembers the notify services of the records read since
// start (at most maxKnownServices), for the orphan scan. The zero value is
// ready.
type serviceSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// learn remembers the notify services of a record.
func (s *serviceSet) learn(rec domain.Record) {
	if len(rec.Incidents) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[string]struct{})
	}
	for _, in := range rec.Incidents {
		if len(s.ids) >= maxKnownServices {
			return
		}
		if in.ServiceID != "" {
			s.ids[in.ServiceID] = struct{}{}
		}
	}
}

// list returns the services remembered, sorted.
func (s *serviceSet) list() []string {
	s.mu.Lock()
	out := make([]string, 0, len(s.ids))
	for id := range s.ids {
		out = append(out, id)
	}
	s.mu.Unlock()
	slices.Sort(out)
	return out
}
