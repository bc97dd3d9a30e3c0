package authz

// CachedTenants returns how many tenants' enforcers a holds, for tests of
// the cache bound.
func (a *Authorizer) CachedTenants() int { return a.cache.len() }
