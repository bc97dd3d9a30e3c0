package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// openControl opens loc's control database directly, behind the binary's back.
func openControl(t *testing.T, loc dbx.Location) *bun.DB {
	t.Helper()
	ctx := t.Context()
	var db *bun.DB
	var err error
	if loc.Engine == dbx.MySQL {
		db, err = dbx.OpenMySQL(ctx, loc.MySQLDSN, loc.ControlDatabase(), dbx.MySQLOptions{MaxOpenConns: 2})
	} else {
		db, err = dbx.OpenSQLiteWriter(ctx, filepath.Join(loc.DataDir, "control.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A control database with its newest migration record removed is refused
// by serve (without --migrate) in one line, and its tenants are left alone.
//
// While the control database has a single migration, removing its record
// makes the database look empty (serve initialises an empty one, as the
// tenant CLI's "fresh installation" step and
// TestServeOperatorTokenFromEnvironment show), and "partly migrated: run
// `yoyaku migrate`" cannot arise; openApp takes no other migrations to fake
// it. Then what must hold is that tables already there are not
// "initialised" over. From the second control migration on, the same test
// checks the "run `yoyaku migrate`" refusal.
func TestServeControlDatabaseWithoutMigrationRecord(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mustCLI(t, append(locFlags(loc), "migrate")...)
		mustCLI(t, append(locFlags(loc), "tenant", "create", "shop-one", "--name", "Shop One")...)

		ctx := context.Background()
		db := openControl(t, loc)
		var newest string
		if err := db.NewSelect().Table(dbx.MigrationsTable).Column("name").OrderExpr("id DESC").Limit(1).Scan(ctx, &newest); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewDelete().Table(dbx.MigrationsTable).Where("name = ?", newest).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		want := []string{"control database"}
		all, err := dbx.MigrationNames(migrations.Control(string(loc.Engine)))
		if err != nil {
			t.Fatal(err)
		}
		if len(all) > 1 {
			// Now the database is partly migrated: the refusal must say what to do.
			want = append(want, "run `yoyaku migrate`")
		}
		code, stdout, stderr := cli(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0")...)
		if code != 1 || stdout != "" {
			t.Errorf("serve: exit %d, stdout %q; want 1 and nothing", code, stdout)
		}
		assertOneLineError(t, stderr, want...)
		t.Logf("serve said: %s", stderr)

		var n int
		if err := db.NewSelect().Table("tenants").ColumnExpr("COUNT(*)").Where("slug = ?", "shop-one").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("tenant shop-one: %d rows after the refused start, want 1", n)
		}
	})
}
