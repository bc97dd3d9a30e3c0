package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// noEnv is the environment of a test: empty, so the developer's YOYAKU_*
// variables never leak in.
func noEnv(string) string { return "" }

// envOf returns a getenv that knows only vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// locFlags turns a test Location into the CLI's flags.
func locFlags(loc dbx.Location) []string {
	f := []string{"--log-format", "json", "--data-dir", loc.DataDir}
	if loc.Engine == dbx.MySQL {
		return append(f, "--db", "mysql", "--mysql-dsn", loc.MySQLDSN, "--mysql-prefix", loc.Prefix)
	}
	return append(f, "--db", "sqlite")
}

// cli runs the command line to completion and returns its exit code and
// output.
func cli(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut, getenv)
	return code, out.String(), errOut.String()
}

// mustCLI runs the command line and fails t unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := cli(t, noEnv, args...)
	if code != 0 {
		t.Fatalf("yoyaku %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// assertOneLineError checks the shape every CLI failure must have: one
// line on stderr, "yoyaku: " first, naming the cause, no stack trace.
func assertOneLineError(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not exactly one line:\n%s", stderr)
	}
	if !strings.HasPrefix(stderr, "yoyaku: ") {
		t.Errorf("stderr does not start with %q: %q", "yoyaku: ", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not mention %q: %q", w, stderr)
		}
	}
	for _, bad := range []string{"goroutine", "panic"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr holds %q: %q", bad, stderr)
		}
	}
}

// closedPort returns a loopback address nothing listens on: one the kernel
// handed out and that was closed again.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		// args builds the command line; dir is a fresh temp dir.
		args    func(t *testing.T, dir string) []string
		env     map[string]string
		prepare bool // run `migrate` on the data dir first, so serve logs nothing before failing
		want    []string
	}{
		{
			name: "unknown engine flag",
			args: func(t *testing.T, dir string) []string {
				return []string{"--db", "postgres", "--data-dir", dir, "serve"}
			},
			want: []string{"YOYAKU_DB", `"postgres"`},
		},
		{
			name: "unknown engine variable",
			args: func(t *testing.T, dir string) []string { return []string{"--data-dir", dir, "serve"} },
			env:  map[string]string{"YOYAKU_DB": "nope"},
			want: []string{"YOYAKU_DB", `"nope"`},
		},
		{
			name: "mysql without DSN",
			args: func(t *testing.T, dir string) []string { return []string{"--db", "mysql", "--data-dir", dir, "serve"} },
			want: []string{"YOYAKU_MYSQL_DSN", "required"},
		},
		{
			name: "mysql DSN from variable, unparsable",
			args: func(t *testing.T, dir string) []string { return []string{"--data-dir", dir, "serve"} },
			env:  map[string]string{"YOYAKU_DB": "mysql", "YOYAKU_MYSQL_DSN": "not a dsn"},
			want: []string{"YOYAKU_MYSQL_DSN"},
		},
		{
			name: "mysql unreachable",
			args: func(t *testing.T, dir string) []string {
				addr := closedPort(t)
				return []string{"--db", "mysql", "--mysql-dsn", "root@tcp(" + addr + ")/", "--data-dir", dir, "serve"}
			},
			want: []string{"cannot reach MySQL server 127.0.0.1:"},
		},
		{
			name: "data dir under a regular file",
			args: func(t *testing.T, dir string) []string {
				file := filepath.Join(dir, "file")
				if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--data-dir", filepath.Join(file, "data"), "serve"}
			},
			want: []string{"YOYAKU_DATA_DIR", "not a directory"},
		},
		{
			name: "bad shutdown timeout variable",
			args: func(t *testing.T, dir string) []string { return []string{"--data-dir", dir, "serve"} },
			env:  map[string]string{"YOYAKU_SHUTDOWN_TIMEOUT": "soon"},
			want: []string{"YOYAKU_SHUTDOWN_TIMEOUT", `"soon"`},
		},
		{
			name: "bad log format",
			args: func(t *testing.T, dir string) []string {
				return []string{"--data-dir", dir, "--log-format", "xml", "serve"}
			},
			want: []string{"YOYAKU_LOG_FORMAT", `"xml"`},
		},
		{
			name: "operator token too short",
			args: func(t *testing.T, dir string) []string {
				return []string{"--data-dir", dir, "--addr", "127.0.0.1:0", "serve"}
			},
			env:     map[string]string{"YOYAKU_OPERATOR_TOKEN": "short"},
			prepare: true,
			want:    []string{"YOYAKU_OPERATOR_TOKEN"},
		},
		{
			name: "address in use",
			args: func(t *testing.T, dir string) []string {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = ln.Close() })
				return []string{"--data-dir", dir, "--addr", ln.Addr().String(), "serve"}
			},
			prepare: true,
			want:    []string{"cannot listen on 127.0.0.1:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.prepare {
				mustCLI(t, "--data-dir", dir, "--log-format", "json", "migrate")
			}
			code, stdout, stderr := cli(t, envOf(tt.env), append([]string{"--log-format", "json"}, tt.args(t, dir)...)...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			assertOneLineError(t, stderr, tt.want...)
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := cli(t, noEnv, "version")
	if code != 0 || !strings.HasPrefix(stdout, "yoyaku ") || stderr != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// tenantOut is the CLI's JSON form of a tenant, as far as the tests read it.
type tenantOut struct {
	ID            string   `json:"id"`
	Slug          string   `json:"slug"`
	Name          string   `json:"name"`
	TimeZone      string   `json:"time_zone"`
	Locale        string   `json:"locale"`
	ContactEmails []string `json:"contact_emails"`
	Options       []string `json:"options"`
	Status        string   `json:"status"`
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

func TestTenantCLI(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		wantTenant := func(status string) func(t *testing.T, stdout, stderr string) {
			return func(t *testing.T, stdout, _ string) {
				got := decode[tenantOut](t, stdout)
				want := tenantOut{ID: got.ID, Slug: "shop-one", Name: "Shop One", TimeZone: "Asia/Tokyo", Locale: "ja",
					ContactEmails: []string{"a@example.jp"}, Options: []string{"api"}, Status: status}
				if got.ID == "" || !equalTenant(got, want) {
					t.Errorf("tenant = %+v, want %+v", got, want)
				}
			}
		}
		failsWith := func(want ...string) func(t *testing.T, stdout, stderr string) {
			return func(t *testing.T, stdout, stderr string) {
				if stdout != "" {
					t.Errorf("stdout not empty: %q", stdout)
				}
				assertOneLineError(t, stderr, want...)
			}
		}
		create := []string{"tenant", "create", "shop-one", "--name", "Shop One", "--contact-email", "a@example.jp", "--option", "api", "--json"}
		// The steps run in order, on one installation.
		steps := []struct {
			name     string
			args     []string
			wantCode int
			check    func(t *testing.T, stdout, stderr string)
		}{
			{"empty list on a fresh installation", []string{"tenant", "list", "--json"}, 0, func(t *testing.T, stdout, _ string) {
				if got := decode[[]tenantOut](t, stdout); len(got) != 0 {
					t.Errorf("list = %+v, want none", got)
				}
			}},
			{"create", create, 0, wantTenant("active")},
			{"create again", create, 1, failsWith("already taken")},
			{"create with a bad slug", []string{"tenant", "create", "Bad_Slug", "--name", "x"}, 1, failsWith("slug: ", "lowercase")},
			{"create with a reserved slug", []string{"tenant", "create", "admin", "--name", "x"}, 1, failsWith("slug: ", "reserved")},
			{"create with a bad time zone", []string{"tenant", "create", "shop-tz", "--name", "x", "--time-zone", "Mars/Base"}, 1, failsWith("time_zone")},
			{"list", []string{"tenant", "list", "--json"}, 0, func(t *testing.T, stdout, _ string) {
				got := decode[[]tenantOut](t, stdout)
				if len(got) != 1 || got[0].Slug != "shop-one" || got[0].Status != "active" {
					t.Errorf("list = %+v, want shop-one alone", got)
				}
			}},
			{"show", []string{"tenant", "show", "shop-one"}, 0, func(t *testing.T, stdout, _ string) {
				for _, w := range []string{"shop-one", "Shop One", "active", "Asia/Tokyo", "a@example.jp"} {
					if !strings.Contains(stdout, w) {
						t.Errorf("show does not mention %q:\n%s", w, stdout)
					}
				}
			}},
			{"show as JSON", []string{"tenant", "show", "shop-one", "--json"}, 0, wantTenant("active")},
			{"suspend", []string{"tenant", "suspend", "shop-one", "--json"}, 0, wantTenant("suspended")},
			{"show suspended", []string{"tenant", "show", "shop-one", "--json"}, 0, wantTenant("suspended")},
			{"resume", []string{"tenant", "resume", "shop-one", "--json"}, 0, wantTenant("active")},
			{"show a missing tenant", []string{"tenant", "show", "nope-nope"}, 1, failsWith("not found")},
			{"suspend a missing tenant", []string{"tenant", "suspend", "nope-nope"}, 1, failsWith("not found")},
		}
		for _, s := range steps {
			code, stdout, stderr := cli(t, noEnv, append(locFlags(loc), s.args...)...)
			if code != s.wantCode {
				t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", s.name, code, s.wantCode, stdout, stderr)
			}
			t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) { s.check(t, stdout, stderr) })
		}
	})
}

func equalTenant(a, b tenantOut) bool {
	return a.ID == b.ID && a.Slug == b.Slug && a.Name == b.Name && a.TimeZone == b.TimeZone &&
		a.Locale == b.Locale && a.Status == b.Status &&
		slices.Equal(a.ContactEmails, b.ContactEmails) && slices.Equal(a.Options, b.Options)
}

func TestMigrateTwice(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		slugs := []string{"shop-one", "shop-two"}
		for _, s := range slugs {
			mustCLI(t, append(locFlags(loc), "tenant", "create", s, "--name", s)...)
		}
		for i := range 2 {
			out := mustCLI(t, append(locFlags(loc), "migrate")...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			want := []string{"control database: up to date"}
			for _, s := range slugs {
				want = append(want, "tenant "+s+": up to date")
			}
			if !slices.Equal(lines, want) {
				t.Errorf("migrate #%d printed\n%s\nwant\n%s", i+1, out, strings.Join(want, "\n"))
			}
		}
		out := mustCLI(t, append(locFlags(loc), "migrate", "--tenant", "shop-two")...)
		if !strings.Contains(out, "tenant shop-two: up to date") || strings.Contains(out, "shop-one") {
			t.Errorf("migrate --tenant shop-two printed:\n%s", out)
		}
	})
}

// syncBuffer is an io.Writer safe for concurrent use whose readers can wait
// for what they expect to be written.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed at the next write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	s, _ := b.snapshot()
	return s
}

func (b *syncBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.changed
}

// waitFor waits until cond holds for what was written, the writer is gone
// (exited closed) or timeout passes, and returns what was written and
// whether cond holds.
func (b *syncBuffer) waitFor(timeout time.Duration, exited <-chan struct{}, cond func(string) bool) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s, changed := b.snapshot()
		if cond(s) {
			return s, true
		}
		select {
		case <-changed:
		case <-exited:
			s = b.String()
			return s, cond(s)
		case <-deadline.C:
			return s, false
		}
	}
}
