package dbtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

const (
	// mariaDBBindRetries is how many times StartMariaDB retries with a new
	// port when the server fails to bind the one it was given (another
	// process may grab a kernel-chosen port between our probe and the
	// server's bind).
	mariaDBBindRetries = 3
	// mariaDBReadyTimeout bounds how long StartMariaDB waits for the server
	// to accept a connection.
	mariaDBReadyTimeout = 30 * time.Second
	// mariaDBPollInterval is the delay between readiness probes.
	mariaDBPollInterval = 50 * time.Millisecond
	// mariaDBStopTimeout is how long Stop waits after SIGTERM before it
	// resorts to SIGKILL.
	mariaDBStopTimeout = 10 * time.Second
	// mariaDBLogTail is how many lines of the server's error log are quoted
	// in startup errors.
	mariaDBLogTail = 20
)

// sbinDirs are searched for the MariaDB binaries when they are not on PATH;
// distributions install mariadbd under sbin, which is often not on a
// non-root user's PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin"}

// MariaDB is a throwaway MariaDB server started for a test run.
type MariaDB struct {
	dir  string // temp dir holding data, socket, pid file and logs
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
	logf func(format string, args ...any)

	stopOnce sync.Once
	stopErr  error
}

// MariaDBAvailable reports whether mariadbd and mariadb-install-db can be found.
func MariaDBAvailable() bool {
	_, err1 := findMariaDBBinary("mariadbd")
	_, err2 := findMariaDBBinary("mariadb-install-db")
	return err1 == nil && err2 == nil
}

// StartMariaDB starts mariadbd (found on PATH or in /usr/sbin,
// /usr/local/sbin) with a fresh data directory in a new temp dir, on a free
// 127.0.0.1 port chosen by the kernel, waits until it accepts connections
// and returns it. The caller must call Stop.
//
// ctx bounds startup only; the server keeps running after StartMariaDB
// returns. logf receives progress lines and may be nil.
func StartMariaDB(ctx context.Context, logf func(format string, args ...any)) (*MariaDB, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	mariadbd, err := findMariaDBBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := findMariaDBBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}

	begin := time.Now()
	dir, err := mariaDBTempDir()
	if err != nil {
		return nil, err
	}
	m := &MariaDB{dir: dir, logf: logf}
	ok := false
	defer func() {
		if !ok {
			_ = m.Stop()
		}
	}()

	dataDir := filepath.Join(dir, "data")
	asRoot := os.Geteuid() == 0

	logf("mariadb: initialising data directory %s", dataDir)
	installArgs := []string{
		"--no-defaults",
		"--datadir=" + dataDir,
		"--auth-root-authentication-method=normal",
	}
	if asRoot {
		installArgs = append(installArgs, "--user=root")
	}
	// mariadb-install-db has been seen to fail now and then when several
	// test binaries start servers at once; a clean retry succeeds.
	for attempt := 1; ; attempt++ {
		install := exec.CommandContext(ctx, installDB, installArgs...)
		install.Dir = dir
		install.SysProcAttr = childSysProcAttr()
		out, err := install.CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return nil, fmt.Errorf("dbtest: %s failed: %w\n%s", installDB, err, lastLines(out, mariaDBLogTail))
		}
		logf("mariadb: %s failed (attempt %d), retrying: %v", installDB, attempt, err)
		_ = os.RemoveAll(dataDir)
	}
	logf("mariadb: data directory initialised in %s", time.Since(begin).Round(time.Millisecond))

	for attempt := 0; ; attempt++ {
		port, err := freeTCPPort()
		if err != nil {
			return nil, err
		}
		err = m.start(ctx, mariadbd, port, asRoot)
		if err == nil {
			break
		}
		if !errors.Is(err, errMariaDBBind) || attempt >= mariaDBBindRetries {
			return nil, err
		}
		logf("mariadb: port %d was taken, retrying with another port", port)
	}

	ok = true
	logf("mariadb: ready on 127.0.0.1:%d after %s (dir %s)", m.port, time.Since(begin).Round(time.Millisecond), dir)
	return m, nil
}

// errMariaDBBind marks a startup failure caused by the port being in use.
var errMariaDBBind = errors.New("dbtest: mariadbd could not bind its port")

// start launches mariadbd on port and waits until it accepts connections.
// On failure the process has exited (or been killed) and m.cmd is nil.
func (m *MariaDB) start(ctx context.Context, mariadbd string, port int, asRoot bool) error {
	args := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(m.dir, "data"),
		"--socket=" + filepath.Join(m.dir, "s"),
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--skip-name-resolve",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=16M",
		"--max-connections=500",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_ci",
		"--innodb-flush-log-at-trx-commit=2",
		"--skip-log-bin",
		"--pid-file=" + filepath.Join(m.dir, "pid"),
	}
	if asRoot {
		args = append(args, "--user=root")
	}

	logPath := filepath.Join(m.dir, "err.log")
	logFile, err := os.Create(logPath) // truncate: the tail must describe this attempt
	if err != nil {
		return fmt.Errorf("dbtest: create mariadb log: %w", err)
	}
	cmd := exec.Command(mariadbd, args...)
	cmd.Dir = m.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childSysProcAttr()
	m.logf("mariadb: starting %s on port %d", mariadbd, port)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("dbtest: start %s: %w", mariadbd, err)
	}
	// The child holds its own descriptor for the log now.
	logFile.Close()

	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	m.cmd, m.done, m.port = cmd, done, port

	failed := func(reason error) error {
		m.kill()
		m.cmd, m.done = nil, nil
		tail := readLastLines(logPath, mariaDBLogTail)
		if reason == nil {
			reason = fmt.Errorf("mariadbd exited during startup: %v", waitErr)
			if isBindFailure(tail) {
				reason = fmt.Errorf("%w: port %d: %v", errMariaDBBind, port, reason)
			}
		}
		return fmt.Errorf("dbtest: %w\n--- last lines of %s ---\n%s", reason, logPath, tail)
	}

	cfg := m.config()
	cfg.Logger = &mysql.NopLogger{} // half-started servers make the driver chatty
	cfg.Timeout = time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return failed(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()

	deadline := time.NewTimer(mariaDBReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(mariaDBPollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		pingCtx, cancel := context.WithTimeout(ctx, time.Second)
		lastErr = db.PingContext(pingCtx)
		cancel()
		if lastErr == nil {
			return nil
		}
		select {
		case <-done:
			return failed(nil)
		case <-ctx.Done():
			return failed(fmt.Errorf("waiting for mariadbd: %w", ctx.Err()))
		case <-deadline.C:
			return failed(fmt.Errorf("mariadbd did not accept connections within %s: %v", mariaDBReadyTimeout, lastErr))
		case <-tick.C:
		}
	}
}

// config returns the driver configuration for root over TCP, no database.
func (m *MariaDB) config() *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// Charset cannot fail; it only records the values.
	_ = cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_unicode_ci"))
	return cfg
}

// DSN returns a go-sql-driver/mysql DSN for root over TCP with no database
// selected, e.g.
// "root@tcp(127.0.0.1:PORT)/?charset=utf8mb4&collation=utf8mb4_unicode_ci&parseTime=true".
// Times are in UTC (the driver's default, so loc is not spelled out).
func (m *MariaDB) DSN() string {
	return m.config().FormatDSN()
}

// Stop terminates the server (SIGTERM, then SIGKILL if it has not exited
// within 10 s) and removes its temp dir. It is safe to call more than once;
// later calls return the first call's result.
func (m *MariaDB) Stop() error {
	m.stopOnce.Do(func() {
		if m.cmd != nil {
			if err := m.cmd.Process.Signal(syscall.SIGTERM); err == nil {
				select {
				case <-m.done:
				case <-time.After(mariaDBStopTimeout):
					m.logf("mariadb: server did not exit within %s of SIGTERM; killing it", mariaDBStopTimeout)
				}
			}
			m.kill()
			m.cmd, m.done = nil, nil
		}
		if m.dir != "" {
			if err := os.RemoveAll(m.dir); err != nil {
				m.stopErr = fmt.Errorf("dbtest: remove mariadb dir: %w", err)
			}
		}
	})
	return m.stopErr
}

// kill SIGKILLs the server if it is still running and waits for it to exit.
func (m *MariaDB) kill() {
	if m.cmd == nil {
		return
	}
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Kill()
	<-m.done
}

// findMariaDBBinary looks name up on PATH, then in sbinDirs.
func findMariaDBBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("dbtest: %s not found on PATH or in %s", name, strings.Join(sbinDirs, ", "))
}

// mariaDBTempDir creates the server's temp dir. A unix socket path must fit
// in sun_path (108 bytes on Linux), so when TMPDIR is very deep the dir is
// created under /tmp instead.
func mariaDBTempDir() (string, error) {
	dir, err := os.MkdirTemp("", "mariadb-")
	if err != nil {
		return "", fmt.Errorf("dbtest: create temp dir: %w", err)
	}
	if len(filepath.Join(dir, "s")) < 100 {
		return dir, nil
	}
	_ = os.RemoveAll(dir)
	dir, err = os.MkdirTemp("/tmp", "mariadb-")
	if err != nil {
		return "", fmt.Errorf("dbtest: create temp dir: %w", err)
	}
	return dir, nil
}

// freeTCPPort asks the kernel for a free port on 127.0.0.1. Another process
// can take it before the server binds it; StartMariaDB retries in that case.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dbtest: find free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("dbtest: find free port: %w", err)
	}
	return port, nil
}

// isBindFailure reports whether the server log says the port was in use.
func isBindFailure(log string) bool {
	return strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "Bind on TCP/IP port") ||
		strings.Contains(log, "another server running on port")
}

// readLastLines returns the last n lines of the file at path, or a note
// saying why it could not be read.
func readLastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(b, n)
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
