package authz

import (
	"container/list"
	"sync"

	"github.com/casbin/casbin/v2"
)

// enforcerCache keeps the most recently used tenants' enforcers, each with
// the policy version it was built from, so that memory stays bounded however
// many tenants a process serves. Enforcers are never modified once cached;
// a newer policy replaces the entry.
type enforcerCache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // of *cacheEntry, most recently used first
	tenants map[string]*list.Element
}

type cacheEntry struct {
	tenantID string
	version  string
	e        *casbin.SyncedEnforcer
}

func newEnforcerCache(max int) *enforcerCache {
	return &enforcerCache{max: max, order: list.New(), tenants: map[string]*list.Element{}}
}

// get returns tenantID's enforcer when it was built from version, else nil.
func (c *enforcerCache) get(tenantID, version string) *casbin.SyncedEnforcer {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.tenants[tenantID]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	ent := el.Value.(*cacheEntry)
	if ent.version != version {
		return nil
	}
	return ent.e
}

// put records tenantID's enforcer built from version, evicting the least
// recently used tenant when the cache is full.
func (c *enforcerCache) put(tenantID, version string, e *casbin.SyncedEnforcer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.tenants[tenantID]; ok {
		ent := el.Value.(*cacheEntry)
		ent.version, ent.e = version, e
		c.order.MoveToFront(el)
		return
	}
	c.tenants[tenantID] = c.order.PushFront(&cacheEntry{tenantID: tenantID, version: version, e: e})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.tenants, last.Value.(*cacheEntry).tenantID)
	}
}

// len returns how many tenants are cached.
func (c *enforcerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
