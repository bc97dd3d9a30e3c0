// Package dbx opens Yoyaku's databases on its two engines — SQLite (embedded,
// pure Go) and MySQL/MariaDB — with the settings every caller needs, and runs
// the embedded bun migrations. It knows nothing about tenants; the tenant
// registry (package tenantdb) builds on it.
package dbx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// Engine names a database engine.
type Engine string

// The engines.
const (
	SQLite Engine = "sqlite"
	MySQL  Engine = "mysql"
)

// ParseEngine accepts "sqlite" or "mysql".
func ParseEngine(s string) (Engine, error) {
	switch Engine(s) {
	case SQLite, MySQL:
		return Engine(s), nil
	}
	return "", fmt.Errorf("unknown database engine %q (use sqlite or mysql)", s)
}

// BusyTimeout is how long a SQLite connection waits for another writer
// (another process, such as the CLI) before giving up.
const BusyTimeout = 5 * time.Second

// OpenSQLiteWriter opens the single writing connection of a SQLite database
// file, creating it when missing: WAL journal, busy timeout, foreign keys on,
// and transactions that take the write lock when they begin (so two writers
// queue instead of failing on a lock upgrade).
func OpenSQLiteWriter(ctx context.Context, path string) (*bun.DB, error) {
	db, err := openSQLite(ctx, path, false, 1)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// OpenSQLiteReaders opens a pool of n read-only connections (query_only) to
// an existing SQLite database file. Writes through it fail loudly.
func OpenSQLiteReaders(ctx context.Context, path string, n int) (*bun.DB, error) {
	return openSQLite(ctx, path, true, n)
}

func openSQLite(ctx context.Context, path string, readOnly bool, n int) (*bun.DB, error) {
	q := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
	}
	if readOnly {
		q = append(q, "_pragma=query_only(1)")
	} else {
		q = append(q, "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_txlock=immediate")
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	dsn := "file:" + esc.Replace(path) + "?" + strings.Join(q, "&")
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	sqldb.SetConnMaxIdleTime(0)
	sqldb.SetConnMaxLifetime(0)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// MySQLOptions tunes a MySQL/MariaDB connection pool.
type MySQLOptions struct {
	MaxOpenConns int // default 64
	MaxIdleConns int // default MaxOpenConns/2
}

// ParseMySQLDSN parses a go-sql-driver DSN
// ("user:pass@tcp(host:3306)/") and applies the settings Yoyaku relies on:
// UTC instants, parsed times, utf8mb4 with binary collation (so both engines
// compare text the same way), strict SQL mode.
func ParseMySQLDSN(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid MySQL DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Collation = "utf8mb4_bin"
	cfg.MultiStatements = false
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return cfg, nil
}

// OpenMySQL opens a pool on the server of dsn, using database (empty: none
// selected), and checks that the server answers.
func OpenMySQL(ctx context.Context, dsn, database string, o MySQLOptions) (*bun.DB, error) {
	cfg, err := ParseMySQLDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.DBName = database
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid MySQL DSN: %w", err)
	}
	sqldb := sql.OpenDB(conn)
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 64
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = max(1, o.MaxOpenConns/2)
	}
	sqldb.SetMaxOpenConns(o.MaxOpenConns)
	sqldb.SetMaxIdleConns(o.MaxIdleConns)
	sqldb.SetConnMaxLifetime(5 * time.Minute)
	sqldb.SetConnMaxIdleTime(time.Minute)
	// Ping before bun.NewDB: the dialect asks the server's version when it
	// is created and would log its own line for an unreachable server.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("cannot reach MySQL server %s: %w", cfg.Addr, shortMySQLError(err))
	}
	return bun.NewDB(sqldb, mysqldialect.New()), nil
}

func shortMySQLError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

var identRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// ValidDatabaseName reports whether name is safe to use as a MySQL database
// name without quoting tricks: 1–64 of [a-z0-9_]. Database names cannot be
// bound as parameters, so every name Yoyaku builds passes through this.
func ValidDatabaseName(name string) bool { return identRE.MatchString(name) }

// CreateMySQLDatabase creates database name; it fails if it exists unless
// ifNotExists is set.
func CreateMySQLDatabase(ctx context.Context, db bun.IConn, name string, ifNotExists bool) error {
	if !ValidDatabaseName(name) {
		return fmt.Errorf("invalid database name %q", name)
	}
	q := "CREATE DATABASE "
	if ifNotExists {
		q += "IF NOT EXISTS "
	}
	q += "`" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropMySQLDatabase drops database name if it exists.
func DropMySQLDatabase(ctx context.Context, db bun.IConn, name string) error {
	if !ValidDatabaseName(name) {
		return fmt.Errorf("invalid database name %q", name)
	}
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// UseMySQLDatabase selects database name on a single connection.
func UseMySQLDatabase(ctx context.Context, conn bun.IConn, name string) error {
	if !ValidDatabaseName(name) {
		return fmt.Errorf("invalid database name %q", name)
	}
	_, err := conn.ExecContext(ctx, "USE `"+name+"`")
	return err
}

// IsDuplicateKey reports whether err is a unique-constraint violation on
// either engine. Stores use it to turn the driver's error into a Conflict.
func IsDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "constraint failed: UNIQUE")
}

// IsUnknownDatabase reports whether err says a MySQL database does not exist.
func IsUnknownDatabase(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1049
}

// Location says where an installation keeps its databases.
type Location struct {
	Engine   Engine
	DataDir  string // SQLite: control.db and tenants/ live here
	MySQLDSN string // MySQL: the server holding the control and tenant databases
	Prefix   string // MySQL: database name prefix, default "yoyaku"
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,15}$`)

// ValidPrefix reports whether p can prefix MySQL database names.
func ValidPrefix(p string) bool { return prefixRE.MatchString(p) }

func (l Location) prefix() string {
	if l.Prefix == "" {
		return "yoyaku"
	}
	return l.Prefix
}

// ControlDatabase returns the control database's name on MySQL.
func (l Location) ControlDatabase() string { return l.prefix() + "_control" }

// TenantDatabase returns the name of the database of tenant id: on MySQL a
// database "<prefix>_t_<id>", on SQLite the file base name "<id>".
func (l Location) TenantDatabase(id string) string {
	if l.Engine == MySQL {
		return l.prefix() + "_t_" + id
	}
	return id
}

// OpenControl opens the control database, creating it when missing: the
// file DataDir/control.db, or the database <prefix>_control on the server.
// On SQLite the one handle serves reads and writes (the control database
// is small and mostly read through caches).
func OpenControl(ctx context.Context, l Location) (*bun.DB, error) {
	switch l.Engine {
	case SQLite:
		if err := os.MkdirAll(l.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir %s: %w", l.DataDir, err)
		}
		return OpenSQLiteWriter(ctx, filepath.Join(l.DataDir, "control.db"))
	case MySQL:
		if !ValidPrefix(l.prefix()) {
			return nil, fmt.Errorf("invalid database prefix %q", l.prefix())
		}
		server, err := OpenMySQL(ctx, l.MySQLDSN, "", MySQLOptions{MaxOpenConns: 2})
		if err != nil {
			return nil, err
		}
		err = CreateMySQLDatabase(ctx, server, l.ControlDatabase(), true)
		_ = server.Close()
		if err != nil {
			return nil, err
		}
		return OpenMySQL(ctx, l.MySQLDSN, l.ControlDatabase(), MySQLOptions{MaxOpenConns: 32})
	}
	return nil, fmt.Errorf("unknown database engine %q", l.Engine)
}
