package main

import (
	"context"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// The daily upkeep keeps 13 months of operation log (or what the tenant
// set), and what remains still verifies.
func TestUpkeepRetention(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		a := appFor(t, loc)
		ctx := context.Background()
		now := time.Now()
		short, err := a.tenants.Create(ctx, tenants.CreateParams{Slug: "keeps-13", Name: "Default"})
		if err != nil {
			t.Fatal(err)
		}
		long, err := a.tenants.Create(ctx, tenants.CreateParams{Slug: "keeps-24", Name: "Longer"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range []tenants.Tenant{short, long} {
			h, _ := a.reg.Acquire(ctx, tn.DB)
			db, _ := h.DB(ctx)
			for _, age := range []int{20, 14, 1} {
				if _, err := auditlog.Record(ctx, db, auditlog.Entry{Action: "menu.update", At: now.AddDate(0, -age, 0)}); err != nil {
					t.Fatal(err)
				}
			}
			if tn.ID == long.ID {
				if err := tenants.SetSetting(ctx, db, SettingAuditRetention, "24", now); err != nil {
					t.Fatal(err)
				}
			}
			h.Release()
		}
		if err := a.upkeep(ctx, now); err != nil {
			t.Fatal(err)
		}
		for tn, want := range map[*tenants.Tenant]int64{&short: 1, &long: 3} {
			h, _ := a.reg.Acquire(ctx, tn.DB)
			db, _ := h.DB(ctx)
			rep, err := auditlog.Verify(ctx, db)
			h.Release()
			if err != nil || !rep.OK() || rep.Checked != want {
				t.Errorf("%s after upkeep: %+v %v, want %d entries intact", tn.Slug, rep, err, want)
			}
		}
	})
}
