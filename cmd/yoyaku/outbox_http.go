package main

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// outboxNav is the console's entry for the delivery queue (settings: view).
var outboxNav = identity.NavEntry{Area: authz.AreaSettings, Path: "/outbox", Label: "outbox.nav"}

// registerOutbox serves the outbox's dead letters: the operator API under
// platform (operator token) and the console page under staff (signed-in
// staff). The handlers are the outbox's own (modules/platform/outbox/http.go);
// what they need of the tenants, the operation log and the console is
// wired here, since a platform package imports no module.
func (a *app) registerOutbox(platform, staff *gin.RouterGroup, console *identity.Console) error {
	h, err := outbox.NewHTTP(outbox.HTTPConfig{
		Open:   a.openOutboxTenant,
		Audit:  auditOutbox,
		Notify: a.notifyOutbox,
		Console: outbox.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage,
			Need: console.Need, Can: a.consoleCan, Tenant: consoleTenant},
	})
	if err != nil {
		return err
	}
	h.RegisterOperator(platform.Group("", operatorActor))
	h.RegisterConsole(staff)
	return nil
}

// openOutboxTenant opens the database of tenant slug for the operator: an
// unknown tenant is 404, a terminated one 410 (its database is gone); a
// suspended tenant's deliveries are still the operator's to see.
func (a *app) openOutboxTenant(ctx context.Context, slug string) (outbox.Tenant, bun.IDB, func(), error) {
	t, err := a.tenants.Get(ctx, slug)
	if err != nil {
		return outbox.Tenant{}, nil, nil, err
	}
	if t.Status == tenants.StatusTerminated {
		return outbox.Tenant{}, nil, nil, tenants.ErrTerminated
	}
	h, err := a.reg.Acquire(ctx, t.DB)
	if err != nil {
		return outbox.Tenant{}, nil, nil, err
	}
	db, err := h.DB(ctx)
	if err != nil {
		h.Release()
		return outbox.Tenant{}, nil, nil, err
	}
	return outbox.Tenant{ID: t.ID, Slug: t.Slug, Placement: t.DB}, db, h.Release, nil
}

// operatorActor makes the operator the actor of the operation-log entries
// written by the operator's outbox routes.
func operatorActor(c *gin.Context) {
	ctx := c.Request.Context()
	ctx = auditlog.WithRequest(ctx, auditlog.Request{
		Actor:    auditlog.Actor{Kind: auditlog.ActorSystem, ID: "operator", Name: "operator"},
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(ctx),
	})
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// auditOutbox writes a retry or discard to the tenant's operation log, in
// the change's transaction; the actor is the request's (staff or operator).
func auditOutbox(ctx context.Context, tx bun.IDB, action string, before outbox.Event, to outbox.Status) error {
	var ch auditlog.Changes
	ch.Add("status", string(before.Status), string(to))
	if to == outbox.StatusPending {
		ch.Add("attempts", before.Attempts, 0)
	}
	_, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: "outbox_event", ObjectID: before.ID,
		Changes: ch})
	return err
}

// consoleCan asks the policy about the console request's principal.
func (a *app) consoleCan(ctx context.Context, area authz.Area, action authz.Action) (bool, error) {
	t, ok := tenants.FromContext(ctx)
	p, pok := identity.PrincipalFrom(ctx)
	if !ok || !pok {
		return false, errors.New("console request without tenant or principal")
	}
	db, err := tenantdb.From(ctx)
	if err != nil {
		return false, err
	}
	return a.authz.Can(ctx, db, t.ID, p.Subject(), area, action)
}

// consoleTenant is the console request's tenant and its time zone.
func consoleTenant(ctx context.Context) (outbox.Tenant, *time.Location, bool) {
	t, ok := tenants.FromContext(ctx)
	if !ok {
		return outbox.Tenant{}, nil, false
	}
	zone, err := time.LoadLocation(t.TimeZone)
	if err != nil || t.TimeZone == "" {
		zone, err = time.LoadLocation(tenants.DefaultTimeZone)
		if err != nil {
			zone = time.UTC
		}
	}
	return outbox.Tenant{ID: t.ID, Slug: t.Slug, Placement: t.DB}, zone, true
}
