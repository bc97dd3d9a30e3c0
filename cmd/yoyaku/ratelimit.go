package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yoyaku-oss/yoyaku/modules/platform/ratelimit"
)

// publicLimits builds the token buckets of the public endpoints (booking
// API and booking site) from the configuration; the console and the tenant
// and operator APIs are not limited by them.
func (a *app) publicLimits(prom prometheus.Registerer) (*ratelimit.Limiter, error) {
	return ratelimit.New(ratelimit.Config{
		AddressRead:  ratelimit.Limit(a.cfg.RatePublicAddressRead),
		AddressWrite: ratelimit.Limit(a.cfg.RatePublicAddressWrite),
		TenantRead:   ratelimit.Limit(a.cfg.RatePublicTenantRead),
		TenantWrite:  ratelimit.Limit(a.cfg.RatePublicTenantWrite),
		Registerer:   prom,
	})
}
