// Package dbtest runs tests on every database engine Yoyaku supports:
// always on SQLite, and on MariaDB whenever one can be had — from
// YOYAKU_TEST_MYSQL_DSN, or a throwaway server this package starts from the
// mariadbd on PATH in a temp dir on a free port. With CI=true a missing
// MariaDB fails the run instead of skipping it.
//
// A package that uses it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// The server's address is kept in package state for the life of the test
// binary: this package exists only for tests.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// EnvDSN names the variable that points tests at an existing server.
const EnvDSN = "YOYAKU_TEST_MYSQL_DSN"

// state of the test binary: the MySQL server DSN, or why there is none.
var (
	mysqlDSN    string
	mysqlReason string
)

// Main sets up the MySQL server for the package's tests, runs them and exits.
func Main(m *testing.M) {
	code, stop := setup()
	if code != 0 {
		os.Exit(code)
	}
	code = m.Run()
	stop()
	os.Exit(code)
}

func setup() (int, func()) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		mysqlDSN = dsn
		return 0, func() {}
	}
	if !MariaDBAvailable() {
		mysqlReason = "mariadbd not found (install mariadb-server or set " + EnvDSN + ")"
		if CI() {
			fmt.Fprintln(os.Stderr, "dbtest: CI=true but MariaDB is unavailable: "+mysqlReason)
			return 1, nil
		}
		fmt.Fprintln(os.Stderr, "dbtest: MySQL SUITES SKIPPED: "+mysqlReason)
		return 0, func() {}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := StartMariaDB(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtest: starting MariaDB:", err)
		return 1, nil
	}
	mysqlDSN = m.DSN()
	return 0, func() { _ = m.Stop() }
}

// CI reports whether the run is on CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// MySQLDSN returns the test server's DSN, skipping t (or failing it on CI)
// when there is none.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	if mysqlDSN == "" {
		reason := mysqlReason
		if reason == "" {
			reason = "dbtest.Main was not called from TestMain"
		}
		if CI() {
			t.Fatalf("MySQL unavailable on CI: %s", reason)
		}
		t.Skipf("MySQL SKIPPED: %s", reason)
	}
	return mysqlDSN
}

// Engines lists the engines every DB test runs on.
var Engines = []dbx.Engine{dbx.SQLite, dbx.MySQL}

// ForEachEngine runs fn once per engine with a Location of its own: a fresh
// data dir on SQLite, a unique database prefix on MySQL (its databases are
// dropped when the test ends).
func ForEachEngine(t *testing.T, fn func(t *testing.T, loc dbx.Location)) {
	t.Helper()
	for _, eng := range Engines {
		t.Run(string(eng), func(t *testing.T) {
			fn(t, NewLocation(t, eng))
		})
	}
}

// NewLocation returns a fresh, isolated Location on eng for t.
func NewLocation(t testing.TB, eng dbx.Engine) dbx.Location {
	t.Helper()
	switch eng {
	case dbx.SQLite:
		return dbx.Location{Engine: dbx.SQLite, DataDir: t.TempDir()}
	case dbx.MySQL:
		dsn := MySQLDSN(t)
		prefix := "yt" + randHex(5)
		loc := dbx.Location{Engine: dbx.MySQL, MySQLDSN: dsn, Prefix: prefix, DataDir: t.TempDir()}
		t.Cleanup(func() { dropPrefix(t, dsn, prefix) })
		return loc
	}
	t.Fatalf("unknown engine %q", eng)
	return dbx.Location{}
}

// ForEachDB runs fn once per engine with a fresh, empty database.
func ForEachDB(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	for _, eng := range Engines {
		t.Run(string(eng), func(t *testing.T) {
			fn(t, NewDB(t, eng))
		})
	}
}

// NewDB returns a fresh, empty database on eng, closed and removed when t ends.
func NewDB(t testing.TB, eng dbx.Engine) *bun.DB {
	t.Helper()
	ctx := context.Background()
	switch eng {
	case dbx.SQLite:
		db, err := dbx.OpenSQLiteWriter(ctx, filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	case dbx.MySQL:
		dsn := MySQLDSN(t)
		prefix := "yt" + randHex(5)
		server, err := dbx.OpenMySQL(ctx, dsn, "", dbx.MySQLOptions{MaxOpenConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		name := prefix + "_db"
		if err := dbx.CreateMySQLDatabase(ctx, server, name, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropPrefix(t, dsn, prefix) })
		db, err := dbx.OpenMySQL(ctx, dsn, name, dbx.MySQLOptions{MaxOpenConns: 16})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	t.Fatalf("unknown engine %q", eng)
	return nil
}

func dropPrefix(t testing.TB, dsn, prefix string) {
	ctx := context.Background()
	server, err := dbx.OpenMySQL(ctx, dsn, "", dbx.MySQLOptions{MaxOpenConns: 2})
	if err != nil {
		t.Logf("dbtest: cleanup: %v", err)
		return
	}
	defer server.Close()
	var names []string
	if err := server.NewRaw("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?", prefix+"\\_%").Scan(ctx, &names); err != nil {
		t.Logf("dbtest: cleanup: %v", err)
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix+"_") {
			if err := dbx.DropMySQLDatabase(ctx, server, n); err != nil {
				t.Logf("dbtest: cleanup: %v", err)
			}
		}
	}
}

// MySQLDatabases lists the databases on the test server whose names start
// with prefix (for tests that check what was created or removed).
func MySQLDatabases(t testing.TB, dsn, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	server, err := dbx.OpenMySQL(ctx, dsn, "", dbx.MySQLOptions{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	var names []string
	if err := server.NewRaw("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY schema_name", prefix+"\\_%").Scan(ctx, &names); err != nil {
		t.Fatal(err)
	}
	return names
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
