// Package mailtest runs tests against a real SMTP server: a throwaway
// mailpit (github.com/axllent/mailpit) on free loopback ports, and a small
// client of its REST API to read what arrived.
//
// The mailpit binary is taken from PATH, then from <repo>/bin/mailpit; when
// neither exists and the go command is at hand it is built once into
// <repo>/bin from the version pinned in tools/go.mod (a file lock keeps
// parallel test binaries from building it twice). Without a binary the
// tests that need one are skipped loudly, or fail with CI=true.
//
// A server started here is killed with the test binary (Pdeathsig on
// Linux), so an aborted run leaves no stray process; leftover temp dirs of
// dead test binaries are swept at the next start. This package exists only
// for tests.
package mailtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// project is the main module, whose root holds bin/ and tools/.
	project = "github.com/yoyaku-oss/yoyaku"
	// mailpitModule is the package built from tools/go.mod.
	mailpitModule = "github.com/axllent/mailpit"

	// startRetries is how many times Start tries new ports when another
	// process took a port between our probe and mailpit's bind.
	startRetries = 3
	// readyTimeout bounds how long a start waits for both listeners.
	readyTimeout = 30 * time.Second
	// pollInterval is the delay between readiness probes.
	pollInterval = 25 * time.Millisecond
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 10 * time.Second
	// buildTimeout bounds building mailpit from source.
	buildTimeout = 10 * time.Minute
	// logTail is how many lines of mailpit's log startup errors quote.
	logTail = 20
	// dirPrefix names the temp dirs of servers; the owning process id
	// follows, so that dirs of dead test binaries can be swept.
	dirPrefix = "yoyaku-mailpit-"
)

// CI reports whether the run is on CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") == "true" }

// Mailpit is a mailpit server started for tests. It can be stopped and
// started again on the same ports with the messages it holds, to play an
// SMTP relay that goes down and comes back.
type Mailpit struct {
	bin      string
	dir      string // temp dir: database and log
	smtpPort int
	httpPort int
	logf     func(format string, args ...any)

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd.Wait returned
	closed bool
}

// Start starts a mailpit on free 127.0.0.1 ports with a fresh database in
// a new temp dir and waits until its SMTP and HTTP listeners answer. The
// caller must Close it. ctx bounds startup (and building the binary) only.
// logf receives progress lines and may be nil.
func Start(ctx context.Context, logf func(format string, args ...any)) (*Mailpit, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := Binary(ctx, logf)
	if err != nil {
		return nil, err
	}
	sweepStaleDirs()
	dir, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("mailtest: create temp dir: %w", err)
	}
	m := &Mailpit{bin: bin, dir: dir, logf: logf}
	for attempt := 0; ; attempt++ {
		if m.smtpPort, err = freePort(); err == nil {
			m.httpPort, err = freePort()
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		err = m.Restart(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errBind) || attempt >= startRetries {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		logf("mailpit: a port was taken, retrying with others")
	}
	logf("mailpit: ready, SMTP %s, API %s (dir %s)", m.SMTPAddr(), m.APIURL(), dir)
	return m, nil
}

// errBind marks a start that failed because a port was in use.
var errBind = errors.New("mailtest: mailpit could not bind its ports")

// Restart starts the server again after Stop, on the same ports and with
// the messages it held. It does nothing when the server is running.
func (m *Mailpit) Restart(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mailtest: mailpit is closed")
	}
	if m.cmd != nil {
		return nil
	}
	logPath := filepath.Join(m.dir, "mailpit.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("mailtest: create mailpit log: %w", err)
	}
	args := []string{
		"--smtp", m.SMTPAddr(),
		"--listen", m.httpAddr(),
		"--database", filepath.Join(m.dir, "mailpit.db"),
		"--max", "0", // keep every message: tests count them
		"--disable-version-check",      // no network
		"--smtp-disable-rdns",          // no DNS look-ups of the client
		"--smtp-auth-accept-any",       // accept clients that authenticate (and those that do not)
		"--smtp-auth-allow-insecure",   // ... over plain text on loopback
		"--block-remote-css-and-fonts", // the UI never fetches anything
	}
	cmd := exec.Command(m.bin, args...)
	cmd.Dir = m.dir
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("mailtest: start %s: %w", m.bin, err)
	}
	logFile.Close() // the child holds its own descriptor
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	failed := func(reason error) error {
		_ = cmd.Process.Kill()
		<-done
		tail := readLastLines(logPath, logTail)
		if strings.Contains(tail, "address already in use") {
			reason = fmt.Errorf("%w: %v", errBind, reason)
		}
		return fmt.Errorf("mailtest: %w\n--- last lines of %s ---\n%s", reason, logPath, tail)
	}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if m.ready(ctx) {
			m.cmd, m.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return failed(errors.New("mailpit exited during startup"))
		case <-ctx.Done():
			return failed(fmt.Errorf("waiting for mailpit: %w", ctx.Err()))
		case <-deadline.C:
			return failed(fmt.Errorf("mailpit did not answer within %s", readyTimeout))
		case <-tick.C:
		}
	}
}

// ready reports whether both listeners answer.
func (m *Mailpit) ready(ctx context.Context) bool {
	c, err := net.DialTimeout("tcp", m.SMTPAddr(), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, m.APIURL()+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s) and keeps its
// ports and messages for Restart. Connections to its SMTP port are refused
// until then. Stopping a stopped server does nothing.
func (m *Mailpit) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return nil
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err == nil {
		select {
		case <-m.done:
		case <-time.After(stopTimeout):
			m.logf("mailpit: no exit within %s of SIGTERM; killing it", stopTimeout)
		}
	}
	select {
	case <-m.done:
	default:
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd, m.done = nil, nil
	return nil
}

// Close stops the server for good and removes its temp dir. It is safe to
// call more than once.
func (m *Mailpit) Close() error {
	if err := m.Stop(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if err := os.RemoveAll(m.dir); err != nil {
		return fmt.Errorf("mailtest: remove mailpit dir: %w", err)
	}
	return nil
}

// SMTPHost is the host of the SMTP listener.
func (m *Mailpit) SMTPHost() string { return "127.0.0.1" }

// SMTPPort is the port of the SMTP listener.
func (m *Mailpit) SMTPPort() int { return m.smtpPort }

// SMTPAddr is host:port of the SMTP listener (no TLS; any or no AUTH).
func (m *Mailpit) SMTPAddr() string {
	return net.JoinHostPort(m.SMTPHost(), strconv.Itoa(m.smtpPort))
}

// SMTPURL is a YOYAKU_SMTP_URL for this server: plain SMTP, no TLS.
func (m *Mailpit) SMTPURL() string { return "smtp://" + m.SMTPAddr() + "?tls=none" }

func (m *Mailpit) httpAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.httpPort))
}

// APIURL is the base URL of the web UI and REST API (no trailing slash).
func (m *Mailpit) APIURL() string { return "http://" + m.httpAddr() }

// Client returns a client of this server's REST API.
func (m *Mailpit) Client() *Client {
	return &Client{base: m.APIURL(), http: &http.Client{Timeout: 10 * time.Second}}
}

// New starts a mailpit of t's own, closed when t ends. It skips t (fails
// it on CI) when mailpit cannot be had. Use it when a test stops the server;
// otherwise Shared is cheaper.
func New(t testing.TB) *Mailpit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout+readyTimeout)
	defer cancel()
	m, err := Start(ctx, t.Logf)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("mailtest: %v", err)
		}
	})
	return m
}

// shared is the test binary's one shared server: started by the first
// Shared call, killed with the process.
var shared struct {
	once sync.Once
	m    *Mailpit
	err  error
}

// Shared returns the test binary's shared mailpit, starting it on first
// use. It skips t (fails it on CI) when mailpit cannot be had. Tests that
// share it must not stop it nor delete messages, and should tell their
// messages apart by recipient (MessagesTo). The server dies with the test
// binary; its temp dir is swept by a later run.
func Shared(t testing.TB) *Mailpit {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout+readyTimeout)
		defer cancel()
		shared.m, shared.err = Start(ctx, func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		})
	})
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	return shared.m
}

// unavailable skips t loudly, or fails it on CI.
func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := "!!! MAILPIT NOT AVAILABLE: SMTP tests are NOT being run: " + err.Error() +
		" (put mailpit on PATH, or let the harness build it: go and the module proxy, see tools/go.mod) !!!"
	if CI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// binary caches the outcome of Binary for the life of the test binary.
var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of a mailpit binary: from PATH, from
// <repo>/bin/mailpit, or built there from tools/go.mod (once per process,
// and under a file lock across processes).
func Binary(ctx context.Context, logf func(format string, args ...any)) (string, error) {
	binary.once.Do(func() { binary.path, binary.err = findOrBuild(ctx, logf) })
	return binary.path, binary.err
}

func findOrBuild(ctx context.Context, logf func(format string, args ...any)) (string, error) {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	target := filepath.Join(root, "bin", "mailpit")
	if isExecutable(target) {
		return target, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("mailtest: mailpit is not on PATH nor at %s, and there is no go command to build it", target)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return "", fmt.Errorf("mailtest: %w", err)
	}
	unlock, err := lockFile(filepath.Join(root, "bin", ".mailpit.lock"))
	if err != nil {
		return "", fmt.Errorf("mailtest: lock: %w", err)
	}
	defer unlock()
	if isExecutable(target) { // another test binary built it while we waited
		return target, nil
	}
	tmp := fmt.Sprintf("%s.tmp-%d", target, os.Getpid())
	defer os.Remove(tmp)
	logf("mailpit: building %s from tools/go.mod into %s (once)", mailpitModule, target)
	begin := time.Now()
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(bctx, goBin, "build", "-o", tmp, mailpitModule)
	cmd.Dir = filepath.Join(root, "tools")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mailtest: go build %s in tools/: %w\n%s", mailpitModule, err, lastLines(out, logTail))
	}
	if err := os.Rename(tmp, target); err != nil {
		return "", fmt.Errorf("mailtest: %w", err)
	}
	logf("mailpit: built in %s", time.Since(begin).Round(time.Second))
	return target, nil
}

// repoRoot walks up from the working directory to the main module's root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("mailtest: %w", err)
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == project {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("mailtest: no go.mod of %s above the working directory", project)
		}
		dir = parent
	}
}

// modulePath reads the module directive of a go.mod file, or "".
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), "\"`")
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// cleanEnv is the environment without mailpit's MP_* settings, so that a
// developer's own mailpit configuration does not leak into tests.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MP_") {
			env = append(env, kv)
		}
	}
	return env
}

// sweepStaleDirs removes the temp dirs of servers whose test binary is
// gone (killed, or exited while its shared server was still up).
func sweepStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), dirPrefix)
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// can take it before mailpit binds it; Start retries in that case.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mailtest: find free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("mailtest: find free port: %w", err)
	}
	return port, nil
}

func readLastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(b, n)
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Address is a mailbox as mailpit reports it.
type Address struct {
	Name    string
	Address string
}

// Summary is a message in mailpit's list.
type Summary struct {
	ID        string // mailpit's own id, for Message and Raw
	MessageID string // the Message-ID header, without angle brackets
	From      Address
	To        []Address
	Cc        []Address
	Bcc       []Address // envelope recipients not named in To or Cc
	ReplyTo   []Address
	Subject   string // decoded
	Created   time.Time
	Username  string // the SMTP AUTH user, if the client authenticated
	Size      int
	Snippet   string
}

// Recipients lists the addresses of To, Cc and Bcc.
func (s Summary) Recipients() []string {
	var out []string
	for _, list := range [][]Address{s.To, s.Cc, s.Bcc} {
		for _, a := range list {
			out = append(out, a.Address)
		}
	}
	return out
}

// Message is one message with its decoded parts.
type Message struct {
	ID         string
	MessageID  string
	From       Address
	To         []Address
	Cc         []Address
	Bcc        []Address
	ReplyTo    []Address
	ReturnPath string // the envelope sender
	Subject    string // decoded
	Date       time.Time
	Text       string // the text/plain part, decoded
	HTML       string // the text/html part, decoded
	Size       int
}

// Client reads a mailpit's messages through its REST API (/api/v1).
type Client struct {
	base string
	http *http.Client
}

// Messages lists every message, newest first.
func (c *Client) Messages(ctx context.Context) ([]Summary, error) {
	const page = 500
	var all []Summary
	for start := 0; ; start += page {
		var resp struct {
			Total    int
			Messages []Summary
		}
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(page)}}
		if err := c.getJSON(ctx, "/api/v1/messages?"+q.Encode(), &resp); err != nil {
			return nil, err
		}
		all = append(all, resp.Messages...)
		if len(resp.Messages) < page || len(all) >= resp.Total {
			return all, nil
		}
	}
}

// MessagesTo lists the messages that name addr (case-insensitively) in To,
// Cc or Bcc, newest first.
func (c *Client) MessagesTo(ctx context.Context, addr string) ([]Summary, error) {
	all, err := c.Messages(ctx)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, s := range all {
		for _, r := range s.Recipients() {
			if strings.EqualFold(r, addr) {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

// WaitTo waits until at least n messages name addr, and returns them. It
// gives up when ctx ends.
func (c *Client) WaitTo(ctx context.Context, addr string, n int) ([]Summary, error) {
	for {
		got, err := c.MessagesTo(ctx, addr)
		if err == nil && len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("mailtest: %d of %d messages to the address arrived: %w", len(got), n, ctx.Err())
			}
			return got, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Message reads one message by mailpit's id.
func (c *Client) Message(ctx context.Context, id string) (Message, error) {
	var m Message
	err := c.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id), &m)
	return m, err
}

// Headers reads the headers of one message as sent (values not decoded).
func (c *Client) Headers(ctx context.Context, id string) (map[string][]string, error) {
	var h map[string][]string
	err := c.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h, err
}

// Raw reads the source of one message as it was received.
func (c *Client) Raw(ctx context.Context, id string) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/message/"+url.PathEscape(id)+"/raw")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// DeleteAll deletes every message. Do not use it on the Shared server.
func (c *Client) DeleteAll(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodDelete, "/api/v1/messages")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *Client) getJSON(ctx context.Context, path string, into any) error {
	resp, err := c.do(ctx, http.MethodGet, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("mailtest: decode %s: %w", path, err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("mailtest: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailtest: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("mailtest: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(body))
	}
	return resp, nil
}
