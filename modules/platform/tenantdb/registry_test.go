package tenantdb_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// withExtra returns the real tenant migrations of loc's engine plus extra
// files (name → SQL).
func withExtra(t *testing.T, loc dbx.Location, extra map[string]string) fs.FS {
	t.Helper()
	base := migrations.Tenant(string(loc.Engine))
	m := fstest.MapFS{}
	err := fs.WalkDir(base, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(base, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, sql := range extra {
		m[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return m
}

func counterTable(loc dbx.Location) map[string]string {
	return map[string]string{"29990101000000_counters.up.sql": "CREATE TABLE counters (id INTEGER NOT NULL PRIMARY KEY, n INTEGER NOT NULL)"}
}

type regOpt func(*tenantdb.Config)

func newRegistry(t *testing.T, loc dbx.Location, mig fs.FS, opts ...regOpt) *tenantdb.Registry {
	t.Helper()
	cfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: mig}
	if loc.Engine == dbx.MySQL {
		cfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := tenantdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func placement(loc dbx.Location, id string) tenantdb.Placement {
	p := tenantdb.Placement{TenantID: id, Name: loc.TenantDatabase(id)}
	if loc.Engine == dbx.MySQL {
		p.Server = tenantdb.DefaultServer
	}
	return p
}

func provision(t *testing.T, r *tenantdb.Registry, p tenantdb.Placement) {
	t.Helper()
	if err := r.Provision(context.Background(), p); err != nil {
		t.Fatalf("provision %s: %v", p.TenantID, err)
	}
}

func setSetting(ctx context.Context, db bun.IDB, name, value string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().TableExpr("settings").
			Model(&map[string]any{"name": name, "value": value, "updated_at": time.Now().UTC()}).Exec(ctx)
		return err
	})
}

func getSettings(t *testing.T, ctx context.Context, db bun.IDB) map[string]string {
	t.Helper()
	var rows []struct {
		Name  string `bun:"name"`
		Value string `bun:"value"`
	}
	if err := db.NewSelect().TableExpr("settings").Column("name", "value").Scan(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Name] = r.Value
	}
	return out
}

func TestEachTenantHasItsOwnDatabase(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		r := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		a, b := placement(loc, "aaaa1111"), placement(loc, "bbbb2222")
		provision(t, r, a)
		provision(t, r, b)

		switch loc.Engine {
		case dbx.SQLite:
			for _, p := range []tenantdb.Placement{a, b} {
				if _, err := os.Stat(filepath.Join(loc.DataDir, "tenants", p.Name+".db")); err != nil {
					t.Errorf("tenant %s has no database file: %v", p.TenantID, err)
				}
			}
		case dbx.MySQL:
			got := dbtest.MySQLDatabases(t, loc.MySQLDSN, loc.Prefix)
			for _, p := range []tenantdb.Placement{a, b} {
				if !slices.Contains(got, p.Name) {
					t.Errorf("tenant %s has no database %s (have %v)", p.TenantID, p.Name, got)
				}
			}
		}

		ha, err := r.Acquire(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		dba, _ := ha.DB(ctx)
		if err := setSetting(ctx, dba, "secret", "only-for-a"); err != nil {
			t.Fatal(err)
		}
		ha.Release()

		hb, err := r.Acquire(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		dbb, _ := hb.DB(ctx)
		if got := getSettings(t, ctx, dbb); len(got) != 0 {
			t.Errorf("tenant B reads %v: a row written for A leaked", got)
		}
		hb.Release()

		ha, err = r.Acquire(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		dba, _ = ha.DB(ctx)
		if got := getSettings(t, ctx, dba); got["secret"] != "only-for-a" {
			t.Errorf("tenant A reads %v, want its own row", got)
		}
		ha.Release()
	})
}

func TestHandleFromContext(t *testing.T) {
	if _, err := tenantdb.From(context.Background()); !errors.Is(err, tenantdb.ErrNoHandle) {
		t.Fatalf("From without a handle: %v, want ErrNoHandle", err)
	}
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		r := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		p := placement(loc, "cccc3333")
		provision(t, r, p)
		h := r.Handle(p)
		ctx := tenantdb.WithHandle(context.Background(), h)
		db, err := tenantdb.From(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := setSetting(ctx, db, "k", "v"); err != nil {
			t.Fatal(err)
		}
		h.Release()
		h.Release() // twice is harmless
	})
}

func TestBehindIsRefusedUntilMigrated(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		old := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		p := placement(loc, "dddd4444")
		provision(t, old, p)
		_ = old.Close()

		// A newer binary brings one more migration.
		r := newRegistry(t, loc, withExtra(t, loc, counterTable(loc)))
		for range 2 { // refused every time, not only the first
			if _, err := r.Acquire(ctx, p); !tenantdb.IsBehind(err) {
				t.Fatalf("acquire behind database: %v, want ErrBehind", err)
			}
		}
		pending, err := r.Pending(ctx, p)
		if err != nil || !slices.Equal(pending, []string{"29990101000000"}) {
			t.Fatalf("pending = %v, %v", pending, err)
		}
		applied, err := r.Migrate(ctx, p)
		if err != nil || !slices.Equal(applied, []string{"29990101000000"}) {
			t.Fatalf("migrate applied %v, %v", applied, err)
		}
		h, err := r.Acquire(ctx, p)
		if err != nil {
			t.Fatalf("acquire after migrate: %v", err)
		}
		h.Release()
		again, err := r.Migrate(ctx, p)
		if err != nil || len(again) != 0 {
			t.Fatalf("second migrate applied %v, %v; want nothing", again, err)
		}
	})
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		mig := migrations.Tenant(db.Dialect().Name().String())
		first, err := dbx.Migrate(ctx, db, mig)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := dbx.MigrationNames(mig)
		if !slices.Equal(first, all) {
			t.Fatalf("first migrate applied %v, want %v", first, all)
		}
		count := func() int64 {
			n, err := db.NewSelect().TableExpr(dbx.MigrationsTable).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		second, err := dbx.Migrate(ctx, db, mig)
		if err != nil || len(second) != 0 {
			t.Fatalf("second migrate applied %v, %v", second, err)
		}
		if after := count(); after != before {
			t.Fatalf("migration rows %d → %d", before, after)
		}
		if p, err := dbx.Pending(ctx, db, mig); err != nil || len(p) != 0 {
			t.Fatalf("pending after migrate: %v, %v", p, err)
		}
	})
}

func TestMismatchedDatabaseIsRefused(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		r := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		p := placement(loc, "eeee5555")
		provision(t, r, p)
		wrong := p
		wrong.TenantID = "ffff6666" // a placement that points at someone else's database
		if _, err := r.Acquire(context.Background(), wrong); !errors.Is(err, tenantdb.ErrMismatch) {
			t.Fatalf("acquire: %v, want ErrMismatch", err)
		}
	})
}

func TestMissingDatabase(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		r := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		if _, err := r.Acquire(context.Background(), placement(loc, "0000abcd")); !errors.Is(err, tenantdb.ErrMissing) {
			t.Fatalf("acquire: %v, want ErrMissing", err)
		}
	})
}

func TestFailedProvisioningLeavesNothing(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		broken := withExtra(t, loc, map[string]string{"29990101000000_broken.up.sql": "CREATE TABLE oops (this is not sql"})
		r := newRegistry(t, loc, broken)
		p := placement(loc, "abcd0001")
		if err := r.Provision(ctx, p); err == nil {
			t.Fatal("provisioning with a broken migration succeeded")
		}
		if ok, err := r.Exists(ctx, p); err != nil || ok {
			t.Fatalf("after failed provisioning: exists=%v err=%v", ok, err)
		}
		switch loc.Engine {
		case dbx.SQLite:
			entries, _ := os.ReadDir(filepath.Join(loc.DataDir, "tenants"))
			if len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		case dbx.MySQL:
			if got := dbtest.MySQLDatabases(t, loc.MySQLDSN, loc.Prefix); len(got) != 0 {
				t.Errorf("databases left behind: %v", got)
			}
		}
		// The same placement can be provisioned once the binary is fixed.
		good := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		provision(t, good, p)
	})
}

func TestDropDeletesTheDatabase(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		r := newRegistry(t, loc, migrations.Tenant(string(loc.Engine)))
		p := placement(loc, "abcd0002")
		provision(t, r, p)
		h, err := r.Acquire(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
		if err := r.Drop(ctx, p); err != nil {
			t.Fatal(err)
		}
		if ok, _ := r.Exists(ctx, p); ok {
			t.Fatal("database still exists after Drop")
		}
		if _, err := r.Acquire(ctx, p); !errors.Is(err, tenantdb.ErrMissing) {
			t.Fatalf("acquire dropped: %v, want ErrMissing", err)
		}
	})
}

func TestIdleFilesAreClosed(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	r := newRegistry(t, loc, migrations.Tenant("sqlite"), func(c *tenantdb.Config) {
		c.Now = clock
		c.IdleAfter = time.Hour // the janitor stays out of the way; the test calls CloseIdle
		c.MaxOpen = 2
	})
	ps := []tenantdb.Placement{placement(loc, "1111aaaa"), placement(loc, "2222bbbb"), placement(loc, "3333cccc")}
	for _, p := range ps {
		provision(t, r, p)
	}
	h, err := r.Acquire(ctx, ps[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Stats(); got.OpenTenants != 1 || got.InUse != 1 {
		t.Fatalf("stats while held = %+v", got)
	}
	advance(2 * time.Hour)
	r.CloseIdle()
	if got := r.Stats().OpenTenants; got != 1 {
		t.Fatalf("a held database was closed: open=%d", got)
	}
	h.Release()
	advance(2 * time.Hour)
	r.CloseIdle()
	if got := r.Stats().OpenTenants; got != 0 {
		t.Fatalf("idle database kept open: open=%d", got)
	}
	// Beyond MaxOpen, the least recently used idle file is closed.
	for _, p := range ps {
		h, err := r.Acquire(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		advance(time.Second)
		h.Release()
	}
	if got := r.Stats().OpenTenants; got > 2 {
		t.Fatalf("open=%d, want at most MaxOpen=2", got)
	}
	// A closed tenant opens again on demand.
	h, err = r.Acquire(ctx, ps[0])
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
}

// Many requests for many tenants at once: every write lands in its own
// tenant, and on MySQL the connections stay within the shared pool's bound.
func TestConcurrentRequests(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		const maxConns = 4
		r := newRegistry(t, loc, withExtra(t, loc, counterTable(loc)), func(c *tenantdb.Config) { c.MaxConns = maxConns })
		var ps []tenantdb.Placement
		for i := range 3 {
			p := placement(loc, fmt.Sprintf("%08x", 0xc0de0000+i))
			provision(t, r, p)
			h, err := r.Acquire(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			db, _ := h.DB(ctx)
			if _, err := db.NewInsert().TableExpr("counters").Model(&map[string]any{"id": 1, "n": 0}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			h.Release()
			ps = append(ps, p)
		}
		const workers, each = 24, 15
		var wg sync.WaitGroup
		errc := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					p := ps[(w+i)%len(ps)]
					h := r.Handle(p)
					db, err := h.DB(ctx)
					if err == nil {
						err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
							_, err := tx.NewUpdate().TableExpr("counters").Set("n = n + 1").Where("id = 1").Exec(ctx)
							return err
						})
					}
					if err == nil {
						var n int
						err = db.NewSelect().TableExpr("counters").Column("n").Where("id = 1").Scan(ctx, &n)
					}
					h.Release()
					if err != nil {
						errc <- err
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		total := 0
		for _, p := range ps {
			h, err := r.Acquire(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			db, _ := h.DB(ctx)
			var n int
			if err := db.NewSelect().TableExpr("counters").Column("n").Where("id = 1").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			h.Release()
			total += n
		}
		if total != workers*each {
			t.Fatalf("counted %d writes, want %d", total, workers*each)
		}
		s := r.Stats()
		if s.InUse != 0 {
			t.Errorf("handles still in use: %d", s.InUse)
		}
		if loc.Engine == dbx.MySQL {
			pool := s.Pools[tenantdb.DefaultServer]
			if pool.Max != maxConns || pool.Open > maxConns {
				t.Errorf("pool = %+v, want at most %d connections for all tenants", pool, maxConns)
			}
		}
	})
}
