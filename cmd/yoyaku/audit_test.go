package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// appFor opens the app on loc as the CLI would.
func appFor(t *testing.T, loc dbx.Location) *app { return appWith(t, loc, nil) }

// appWith is appFor with some settings (by flag name) changed.
func appWith(t *testing.T, loc dbx.Location, set map[string]string) *app {
	t.Helper()
	raw := map[string]string{}
	for _, v := range config.Vars {
		raw[v.Flag] = v.Default
	}
	for k, v := range set {
		raw[k] = v
	}
	raw["data-dir"] = loc.DataDir
	raw["db"] = string(loc.Engine)
	if loc.Engine == dbx.MySQL {
		raw["mysql-dsn"], raw["mysql-prefix"] = loc.MySQLDSN, loc.Prefix
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(t.Context(), cfg, newLogger(cfg, io.Discard), migrateNow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func TestAuditVerify(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mustCLI(t, append(locFlags(loc), "tenant", "create", "ledger-shop", "--name", "Ledger")...)
		if out := mustCLI(t, append(locFlags(loc), "audit", "verify", "--tenant", "ledger-shop")...); !strings.Contains(out, "empty") {
			t.Errorf("empty log: %q", out)
		}
		a := appFor(t, loc)
		ctx := context.Background()
		tn, err := a.tenants.Get(ctx, "ledger-shop")
		if err != nil {
			t.Fatal(err)
		}
		h, err := a.reg.Acquire(ctx, tn.DB)
		if err != nil {
			t.Fatal(err)
		}
		db, _ := h.DB(ctx)
		for i := range 5 {
			if _, err := auditlog.Record(ctx, db, auditlog.Entry{Action: "menu.update", ObjectType: "menu", ObjectID: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		h.Release()
		if out := mustCLI(t, append(locFlags(loc), "audit", "verify", "--tenant", "ledger-shop")...); !strings.Contains(out, "intact, 5 entries") {
			t.Errorf("untouched log: %q", out)
		}

		h, _ = a.reg.Acquire(ctx, tn.DB)
		db, _ = h.DB(ctx)
		if _, err := db.NewUpdate().TableExpr("audit_entries").Set("object_id = ?", "forged").Where("seq = 4").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		h.Release()
		code, stdout, stderr := cli(t, noEnv, append(locFlags(loc), "audit", "verify", "--tenant", "ledger-shop")...)
		if code != 1 || stdout != "" {
			t.Fatalf("tampered log: exit %d, stdout %q", code, stdout)
		}
		assertOneLineError(t, stderr, "BROKEN at entry 4")

		code, _, stderr = cli(t, noEnv, append(locFlags(loc), "audit", "verify", "--tenant", "no-such-shop")...)
		if code != 1 {
			t.Fatalf("unknown tenant: exit %d", code)
		}
		assertOneLineError(t, stderr, "not found")
	})
}
