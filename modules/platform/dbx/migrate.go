package dbx

import (
	"context"
	"fmt"
	"io/fs"
	"sort"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// MigrationsTable is where bun records applied migrations.
const MigrationsTable = "bun_migrations"

// MigrationNames returns the versions of the migrations in fsys, sorted.
func MigrationNames(fsys fs.FS) ([]string, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var names []string
	for _, m := range ms.Sorted() {
		names = append(names, m.Name)
	}
	return names, nil
}

// Migrate applies the migrations of fsys that db lacks and returns the
// versions it applied (none when db is up to date, so migrating twice changes
// nothing). A migration is recorded only after it succeeds. On MySQL a named
// server lock keeps two processes from migrating one database at once.
func Migrate(ctx context.Context, db *bun.DB, fsys fs.FS) ([]string, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	unlock, err := migrationLock(ctx, db)
	if err != nil {
		return nil, err
	}
	defer unlock()
	m := migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migrations: %w", err)
	}
	group, err := m.Migrate(ctx)
	var applied []string
	if group != nil {
		for _, mg := range group.Migrations {
			applied = append(applied, mg.Name)
		}
	}
	if err != nil {
		return applied, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

func migrationLock(ctx context.Context, db *bun.DB) (func(), error) {
	if db.Dialect().Name() != dialect.MySQL {
		// SQLite: the single writer connection serialises in-process; the
		// busy timeout queues another process.
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var got *int
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('yoyaku_migrate:', DATABASE()), 60)").Scan(&got); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if got == nil || *got != 1 {
		_ = conn.Close()
		return nil, fmt.Errorf("migration lock: another process is migrating this database")
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(CONCAT('yoyaku_migrate:', DATABASE()))")
		_ = conn.Close()
	}, nil
}

// Pending returns the versions in fsys that db has not applied, sorted. A
// database with no migrations table has all of them pending. It works on any
// bun.IDB, including one pooled connection switched to a tenant database.
func Pending(ctx context.Context, db bun.IDB, fsys fs.FS) ([]string, error) {
	want, err := MigrationNames(fsys)
	if err != nil {
		return nil, err
	}
	exists, err := tableExists(ctx, db, MigrationsTable)
	if err != nil {
		return nil, err
	}
	applied := map[string]bool{}
	if exists {
		var names []string
		if err := db.NewSelect().Table(MigrationsTable).Column("name").Scan(ctx, &names); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		for _, n := range names {
			applied[n] = true
		}
	}
	var pending []string
	for _, n := range want {
		if !applied[n] {
			pending = append(pending, n)
		}
	}
	sort.Strings(pending)
	return pending, nil
}

func tableExists(ctx context.Context, db bun.IDB, table string) (bool, error) {
	var n int
	var err error
	switch db.Dialect().Name() {
	case dialect.MySQL:
		err = db.NewRaw("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(ctx, &n)
	default:
		err = db.NewRaw("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(ctx, &n)
	}
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", table, err)
	}
	return n > 0, nil
}
