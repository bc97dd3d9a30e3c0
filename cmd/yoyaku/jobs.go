package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/idempotency"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Upkeep of every tenant's database while serve runs. Each job is
// idempotent, so several serve processes may run it at once.
const (
	upkeepEvery = 24 * time.Hour
	upkeepFirst = time.Minute

	// SettingAuditRetention is the tenant setting (months) of how long the
	// operation log is kept; DefaultAuditRetentionMonths when unset.
	SettingAuditRetention       = "auditlog.retention_months"
	DefaultAuditRetentionMonths = 13
)

// upkeepLoop runs upkeep a minute after start and then daily until ctx ends.
func (a *app) upkeepLoop(ctx context.Context) {
	timer := time.NewTimer(upkeepFirst)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if err := a.upkeep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.log.Error("daily upkeep", "err", err)
		}
		timer.Reset(upkeepEvery)
	}
}

// upkeep runs the daily jobs on every tenant that is not terminated:
// operation-log retention (keeping the chain verifiable), expired sessions
// and tokens, outbox deliveries finished over 30 days ago, and idempotency
// answers older than a day.
func (a *app) upkeep(ctx context.Context, now time.Time) error {
	var errs []error
	if _, err := idempotency.Purge(ctx, a.control, now); err != nil {
		errs = append(errs, err)
	}
	after := ""
	for {
		page, err := a.tenants.List(ctx, tenants.ListParams{After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, t := range page {
			if err := a.upkeepTenant(ctx, t, now); err != nil {
				errs = append(errs, err)
				a.log.Error("upkeep of a tenant", "tenant_id", t.ID, "err", err)
			}
		}
		if len(page) < 500 {
			return errors.Join(errs...)
		}
		after = page[len(page)-1].Slug
	}
}

func (a *app) upkeepTenant(ctx context.Context, t tenants.Tenant, now time.Time) error {
	h, err := a.reg.Acquire(ctx, t.DB)
	if err != nil {
		return err
	}
	defer h.Release()
	db, _ := h.DB(ctx)
	months := DefaultAuditRetentionMonths
	if v, ok, err := tenants.GetSetting(ctx, db, SettingAuditRetention); err == nil && ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= 120 {
			months = n
		}
	}
	purged, err := auditlog.Purge(ctx, db, now.AddDate(0, -months, 0))
	if err != nil {
		return err
	}
	if purged > 0 {
		a.log.InfoContext(ctx, "operation log retention", "tenant_id", t.ID, "removed", purged, "months", months)
	}
	if _, err := a.staff.Sweep(ctx, db); err != nil {
		return err
	}
	if _, err := outbox.Purge(ctx, db, now.AddDate(0, 0, -30)); err != nil {
		return err
	}
	_, err = idempotency.Purge(ctx, db, now)
	return err
}
