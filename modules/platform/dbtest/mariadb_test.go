package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

func TestStartMariaDB(t *testing.T) {
	if !MariaDBAvailable() {
		const msg = "!!! MariaDB NOT AVAILABLE: mariadbd / mariadb-install-db not found on PATH, /usr/sbin or /usr/local/sbin; " +
			"MariaDB-backed tests are NOT being run. Install mariadb-server to run them. !!!"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	begin := time.Now()
	m, err := StartMariaDB(ctx, t.Logf)
	if err != nil {
		t.Fatalf("StartMariaDB: %v", err)
	}
	t.Logf("MariaDB started in %s", time.Since(begin).Round(time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			_ = m.Stop()
		}
	}()

	dsn := m.DSN()
	t.Logf("DSN: %s", dsn)
	wantPrefix := "root@tcp(127.0.0.1:" + strconv.Itoa(m.port) + ")/?"
	if !strings.HasPrefix(dsn, wantPrefix) {
		t.Errorf("DSN = %q, want prefix %q", dsn, wantPrefix)
	}
	for _, p := range []string{"parseTime=true", "charset=utf8mb4", "collation=utf8mb4_unicode_ci"} {
		if !strings.Contains(dsn, p) {
			t.Errorf("DSN = %q, missing %q", dsn, p)
		}
	}

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()

	var version string
	if err := db.QueryRowContext(ctx, "SELECT @@version").Scan(&version); err != nil {
		t.Fatalf("SELECT @@version: %v", err)
	}
	t.Logf("server version: %s", version)
	if !strings.Contains(version, "MariaDB") {
		t.Errorf("@@version = %q, want it to contain \"MariaDB\"", version)
	}

	for _, stmt := range []string{
		"CREATE DATABASE x",
		"CREATE TABLE x.t (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, at DATETIME(6) NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	if _, err := db.ExecContext(ctx, "INSERT INTO x.t (id, name, at) VALUES (?, ?, ?)", 1, "héllo 予約", at); err != nil {
		t.Fatalf("INSERT: %v", err)
	}
	var (
		gotName string
		gotAt   time.Time
	)
	if err := db.QueryRowContext(ctx, "SELECT name, at FROM x.t WHERE id = ?", 1).Scan(&gotName, &gotAt); err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	if gotName != "héllo 予約" || !gotAt.Equal(at) {
		t.Errorf("read back (%q, %v), want (%q, %v)", gotName, gotAt, "héllo 予約", at)
	}
	if err := db.Close(); err != nil {
		t.Errorf("db.Close: %v", err)
	}

	dir, addr := m.dir, net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp dir %s still exists after Stop (stat err: %v)", dir, err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
}
