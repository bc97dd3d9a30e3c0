package identity

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// ErrAPINotEnabled: the tenant has not enabled the tenant API (the option
// APIKeyAuthConfig.Option).
var ErrAPINotEnabled = apperr.New(apperr.KindForbidden, "api_not_enabled")

// APIKeyAuthConfig wires APIKeyAuth.
type APIKeyAuthConfig struct {
	// Tenant returns the tenant with id, whatever its status; a missing one
	// is tenants.ErrNotFound. tenants.Service.GetByID fits; a cached lookup
	// by id is better on a busy API. A function that refuses suspended or
	// terminated tenants with tenants.ErrSuspended or ErrTerminated (and
	// the tenant) fits too.
	Tenant func(ctx context.Context, id string) (tenants.Tenant, error)
	// WithTenant, when set, puts the tenant into the request context so
	// that handlers find it with tenants.FromContext.
	WithTenant func(ctx context.Context, t tenants.Tenant) context.Context
	Registry   *tenantdb.Registry
	Keys       *APIKeyService
	AllowList  *AllowListService
	// Option, when set, is the tenant option without which the API is
	// refused with ErrAPINotEnabled ("api").
	Option string
	// FailedAuditPerMinute caps the apikey.auth_failed entries written per
	// tenant and minute by this process (default 30; negative: no cap):
	// wrong keys need no credential, so the log must not grow with them.
	FailedAuditPerMinute int
}

// APIKeyAuth authenticates requests of the tenant API (/api/v1/..., not the
// public or platform routes) by "Authorization: Bearer yk_<tenant>_<secret>".
// The key names its tenant: the middleware resolves it, puts a lazily
// opened handle on its database into the context (tenantdb.From), checks
// the key there, applies the tenant's IP allow-list and stores the key's
// Principal (PrincipalFrom) and the operation log's request facts
// (auditlog.RequestFrom). It answers, as problems:
//
//   - no bearer token: 401 unauthorized; a malformed, unknown or revoked
//     key, or a key of an unknown tenant: 401 api_key_invalid (both with
//     WWW-Authenticate: Bearer);
//   - a terminated tenant: 410 tenant_terminated; a suspended tenant, once
//     the key is valid: 403 tenant_suspended; a tenant without Option: 403
//     api_not_enabled;
//   - an address outside the allow-list: 403 ip_not_allowed, logged as
//     access.denied_ip.
//
// The tenant's status is checked before its database is opened only for a
// terminated tenant (whose database is gone); everything else waits for a
// valid key, so an anonymous caller learns nothing about a tenant.
func APIKeyAuth(cfg APIKeyAuthConfig) gin.HandlerFunc {
	if cfg.Tenant == nil || cfg.Registry == nil || cfg.Keys == nil || cfg.AllowList == nil {
		panic("identity.APIKeyAuth: Tenant, Registry, Keys and AllowList are required") // wiring bug
	}
	if cfg.FailedAuditPerMinute == 0 {
		cfg.FailedAuditPerMinute = 30
	}
	failed := newAllowListThrottle(cfg.FailedAuditPerMinute)
	invalid := func(c *gin.Context) {
		c.Header("WWW-Authenticate", `Bearer realm="yoyaku", error="invalid_token"`)
		httpx.Fail(c, ErrAPIKeyInvalid)
	}
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		key := httpx.BearerToken(c)
		if key == "" {
			httpx.Fail(c, httpx.ErrUnauthorized)
			return
		}
		tenantID, secret, ok := ParseAPIKey(key)
		if !ok {
			invalid(c)
			return
		}
		t, err := cfg.Tenant(ctx, tenantID)
		suspended := errors.Is(err, tenants.ErrSuspended) || (err == nil && t.Status == tenants.StatusSuspended)
		switch {
		case errors.Is(err, tenants.ErrNotFound):
			invalid(c)
			return
		case errors.Is(err, tenants.ErrTerminated) || (err == nil && t.Status == tenants.StatusTerminated):
			httpx.Fail(c, tenants.ErrTerminated)
			return
		case err != nil && !suspended:
			httpx.Fail(c, err)
			return
		case suspended && t.ID == "":
			httpx.Fail(c, tenants.ErrSuspended) // the lookup did not say where its database is
			return
		}
		httpx.SetTenant(c, t.Slug)
		handle := cfg.Registry.Handle(t.DB)
		defer handle.Release()
		ctx = tenantdb.WithHandle(ctx, handle)
		db, err := handle.DB(ctx)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		req := auditlog.Request{
			SourceIP:  allowListSource(c.ClientIP()),
			UserAgent: c.Request.UserAgent(),
			RequestID: logx.RequestID(ctx),
		}
		p, err := cfg.Keys.AuthenticateAPIKey(ctx, db, key)
		if errors.Is(err, ErrAPIKeyInvalid) {
			if failed.allow(t.ID, cfg.Keys.now()) {
				req.Actor = auditlog.Actor{Kind: auditlog.ActorAnonymous}
				_, aerr := auditlog.Record(auditlog.WithRequest(ctx, req), db, auditlog.Entry{
					Action: AuditAPIKeyAuthFailed, Result: auditlog.ResultFailed,
					ObjectType: "api_key", ObjectID: apiKeyDisplay(secret[:apiKeyHintLen]),
				})
				if aerr != nil {
					httpx.Logger(c).ErrorContext(ctx, "logging a failed API key authentication", "err", aerr)
				}
			}
			invalid(c)
			return
		}
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		req.Actor = p.Actor()
		ctx = auditlog.WithRequest(WithPrincipal(ctx, p), req)
		if err := cfg.AllowList.Enforce(ctx, db, req.SourceIP); err != nil {
			httpx.Fail(c, err)
			return
		}
		if suspended {
			httpx.Fail(c, tenants.ErrSuspended)
			return
		}
		if cfg.Option != "" && !t.HasOption(cfg.Option) {
			httpx.Fail(c, ErrAPINotEnabled)
			return
		}
		if cfg.WithTenant != nil {
			ctx = cfg.WithTenant(ctx, t)
		}
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// RequireAllowedIP returns middleware that refuses requests from outside
// the tenant's IP allow-list with ErrIPNotAllowed (403 ip_not_allowed),
// each refusal logged by Enforce. It serves the console: place it after
// the tenant middleware (tenants.HTTP.SiteTenant), which puts the tenant
// database into the context, and before the login and session checks, so
// that an outside address does not even reach the login page. fail answers
// the refusal (an HTML page for the console); nil means httpx.Fail. The
// tenant API needs no separate call: APIKeyAuth applies the list.
func (s *AllowListService) RequireAllowedIP(fail func(c *gin.Context, err error)) gin.HandlerFunc {
	if fail == nil {
		fail = httpx.Fail
	}
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		db, err := tenantdb.From(ctx)
		if err != nil {
			fail(c, err)
			c.Abort()
			return
		}
		ip := c.ClientIP()
		if _, ok := auditlog.RequestFrom(ctx); !ok {
			ctx = auditlog.WithRequest(ctx, auditlog.Request{
				SourceIP: allowListSource(ip), UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(ctx),
			})
		}
		if err := s.Enforce(ctx, db, ip); err != nil {
			fail(c, err)
			c.Abort()
			return
		}
		c.Next()
	}
}
