package integrations

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var (
	buildOnce sync.Once
	helloBin  string
	buildErr  error
)

// helloBinary builds sdk/examples/hello once per test run.
func helloBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "yoyaku-hello-*")
		if err != nil {
			buildErr = err
			return
		}
		helloBin = filepath.Join(dir, "hello")
		out, err := exec.Command("go", "build", "-o", helloBin, "github.com/yoyaku-oss/yoyaku/sdk/examples/hello").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the hello plugin: %v", buildErr)
	}
	return helloBin
}

// InstallHello installs the hello plugin into root/<folder>; a wrong sum
// writes a manifest whose sha256 does not match.
func installHello(t *testing.T, root, folder string, wrongSum bool) {
	t.Helper()
	dir := filepath.Join(root, folder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(helloBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../sdk/examples/hello/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	sum, err := manifest.FileSHA256(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	if wrongSum {
		sum = strings.Repeat("ab", 32)
	}
	m["sha256"] = sum
	out, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func testKey() []byte { return []byte("0123456789abcdef0123456789abcdef") }

func newHost(t *testing.T, dir string, change func(*Config)) *Host {
	t.Helper()
	cfg := Config{Dir: dir, HostVersion: "dev", SecretKey: testKey(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HealthInterval: 200 * time.Millisecond, ExitPoll: 50 * time.Millisecond,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, CallTimeout: 5 * time.Second}
	if change != nil {
		change(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// runHost runs h until the test ends, waiting for the plugins to stop.
func runHost(t *testing.T, h *Host) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitState(t *testing.T, h *Host, id string, want State) Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := h.Plugin(id)
		if err != nil {
			t.Fatal(err)
		}
		if s.State == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s is %s (%s), want %s", id, s.State, s.LastError, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var settings = map[string]string{"api_key": "hello_test", "webhook_secret": "whsec_test", "mode": "test"}

func TestHostRunsHelloAndRestartsIt(t *testing.T) {
	root := t.TempDir()
	installHello(t, root, "hello", false)
	h := newHost(t, root, func(c *Config) { c.MaxCrashes = 3 })
	runHost(t, h)
	s := waitState(t, h, "hello", StateRunning)
	if s.Version != "1.0.0" || len(s.Capabilities) != 1 || s.Capabilities[0] != "payments" || s.PID == 0 {
		t.Fatalf("status = %+v", s)
	}
	if err := h.Check(context.Background()); err != nil {
		t.Errorf("Check = %v, want nil", err)
	}
	p, _ := h.get("hello")
	c, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().ID != "hello" || c.Info().Version != "1.0.0" {
		t.Errorf("Info = %+v", c.Info())
	}
	hs, err := c.Health(context.Background(), sdk.Call{})
	if err != nil || hs.Status != sdk.HealthOK {
		t.Errorf("Health = %+v, %v", hs, err)
	}
	b := &Bound{h: h, p: p, call: sdk.Call{TenantID: "t1", Settings: settings}}
	pay := &Payments{b}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := pay.CreatePayment(ctx, "key-1", sdk.PaymentRequest{Amount: 3300, Currency: "JPY", ReservationID: "r1"})
	if err != nil || res.Declined || res.Payment.ID == "" || res.Payment.Amount != 3300 {
		t.Fatalf("CreatePayment = %+v, %v", res, err)
	}
	again, err := pay.CreatePayment(ctx, "key-1", sdk.PaymentRequest{Amount: 3300, Currency: "JPY", ReservationID: "r1"})
	if err != nil || again.Payment.ID != res.Payment.ID {
		t.Errorf("a retry with the same key = %+v, %v; want payment %s", again, err, res.Payment.ID)
	}

	// Killed: the host notices, calls answer 503 at once, then it is back.
	if err := syscall.Kill(s.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	sawDown := false
	for time.Now().Before(deadline) {
		// A PID of 0 only says the process is gone; the host has noticed
		// once the state leaves running.
		st, _ := h.Plugin("hello")
		if st.State != StateRunning {
			sawDown = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !sawDown {
		t.Fatal("the host did not notice the killed plugin")
	}
	start := time.Now()
	if _, err := pay.CreatePayment(context.Background(), "key-2", sdk.PaymentRequest{Amount: 100, Currency: "JPY"}); err != nil {
		if !errors.Is(err, sdk.ErrUnavailable) || apperr.KindOf(err) != apperr.KindUnavailable {
			t.Errorf("a call while down = %v, want plugin_unavailable", err)
		}
		if time.Since(start) > time.Second {
			t.Errorf("a call while down took %s", time.Since(start))
		}
	}
	var s2 Status
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s2, _ = h.Plugin("hello"); s2.State == StateRunning && s2.PID != 0 {
			break
		}
	}
	if s2.State != StateRunning || s2.PID == s.PID || s2.Restarts < 1 {
		t.Errorf("after the restart: %+v", s2)
	}
	if _, err := pay.CreatePayment(ctx, "key-3", sdk.PaymentRequest{Amount: 500, Currency: "JPY"}); err != nil {
		t.Errorf("a call after the restart = %v", err)
	}

	// Killed again and again: failed.
	for i := 0; i < 5; i++ {
		st, _ := h.Plugin("hello")
		if st.State == StateFailed {
			break
		}
		if st.State == StateRunning && st.PID != 0 {
			_ = syscall.Kill(st.PID, syscall.SIGKILL)
			for time.Now().Before(time.Now().Add(5 * time.Second)) {
				if x, _ := h.Plugin("hello"); x.State != StateRunning || x.PID != st.PID {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		time.Sleep(20 * time.Millisecond)
		for j := 0; j < 500; j++ {
			if x, _ := h.Plugin("hello"); x.State == StateRunning || x.State == StateFailed {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	f := waitState(t, h, "hello", StateFailed)
	if f.LastError == "" {
		t.Error("failed without a reason")
	}
	if err := h.Check(context.Background()); err == nil {
		t.Error("Check with a failed plugin = nil")
	}
	if _, err := pay.GetPayment(context.Background(), res.Payment.ID); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("a call to a failed plugin = %v, want unavailable", err)
	}
}

func TestHostRefusesWrongChecksum(t *testing.T) {
	root := t.TempDir()
	installHello(t, root, "hello", true)
	if err := os.MkdirAll(filepath.Join(root, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(root, "broken", "plugin.json"), []byte(`{"id": "broken", "versoin": "1"}`), 0o644)
	_ = os.MkdirAll(filepath.Join(root, "not-a-plugin"), 0o755)
	h := newHost(t, root, nil)
	runHost(t, h)
	list := h.Plugins()
	if len(list) != 2 {
		t.Fatalf("plugins = %+v, want hello and broken", list)
	}
	for _, s := range list {
		if s.State != StateRefused || s.LastError == "" {
			t.Errorf("%s: %s %q, want refused with a reason", s.ID, s.State, s.LastError)
		}
	}
	s, _ := h.Plugin("hello")
	if !strings.Contains(s.LastError, "sha256") {
		t.Errorf("reason %q does not name the sha256", s.LastError)
	}
	time.Sleep(300 * time.Millisecond)
	if s, _ := h.Plugin("hello"); s.State != StateRefused || s.PID != 0 {
		t.Errorf("a refused plugin was started: %+v", s)
	}
	if err := h.Check(context.Background()); err == nil {
		t.Error("Check with a refused plugin = nil")
	}
}

func TestHostMinHostVersion(t *testing.T) {
	root := t.TempDir()
	installHello(t, root, "hello", false)
	h := newHost(t, root, func(c *Config) { c.HostVersion = "0.0.1" })
	if s, _ := h.Plugin("hello"); s.State != StateRefused || !strings.Contains(s.LastError, "0.1.0") {
		t.Errorf("status = %+v, want refused naming min_host_version", s)
	}
}

func TestNoPluginDir(t *testing.T) {
	h := newHost(t, filepath.Join(t.TempDir(), "missing"), nil)
	if h.Installed() != 0 || h.Check(context.Background()) == nil {
		t.Error("a missing directory: want no plugins, Check failing")
	}
}

func TestTenantSettings(t *testing.T) {
	root := t.TempDir()
	installHello(t, root, "hello", false)
	h := newHost(t, root, nil)
	runHost(t, h)
	waitState(t, h, "hello", StateRunning)
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := dbx.Migrate(ctx, db, migrations.Tenant(dialectOf(db))); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Payments(ctx, db, "t1"); apperr.KindOf(err) != apperr.KindConflict {
			t.Errorf("Payments before enabling = %v, want plugin_not_enabled", err)
		}
		// The schema and the plugin's own check refuse bad values.
		_, err := h.Enable(ctx, db, "t1", "hello", map[string]string{"api_key": "nope", "webhook_secret": "w", "mode": "test"})
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != "validation" || len(ae.Fields) != 1 || ae.Fields[0].Field != "settings.api_key" {
			t.Fatalf("Enable with a bad key = %v, want a validation error on settings.api_key", err)
		}
		if _, err := h.Enable(ctx, db, "t1", "hello", map[string]string{"mode": "test"}); err == nil {
			t.Fatal("Enable without the required secrets = nil")
		}
		if _, err := h.Enable(ctx, db, "t1", "nope", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("Enable of an unknown plugin = %v", err)
		}
		tp, err := h.Enable(ctx, db, "t1", "hello", settings)
		if err != nil {
			t.Fatal(err)
		}
		if !tp.Enabled || !tp.SecretsSet["api_key"] || tp.Values["api_key"] != "" || tp.Values["mode"] != "test" {
			t.Errorf("after Enable: %+v", tp)
		}
		var raw struct{ Values, Secrets string }
		if err := db.NewRaw("SELECT setting_values, secret_values FROM plugin_settings WHERE plugin_id = ?", "hello").Scan(ctx, &raw.Values, &raw.Secrets); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"hello_test", "whsec_test"} {
			if strings.Contains(raw.Values+raw.Secrets, secret) {
				t.Errorf("the secret %q is stored in plain text: %s %s", secret, raw.Values, raw.Secrets)
			}
		}
		if !strings.Contains(raw.Secrets, sealedPrefix) {
			t.Errorf("secrets column %q is not sealed", raw.Secrets)
		}
		// A secret left empty keeps its value; the mode changes.
		if _, err := h.Enable(ctx, db, "t1", "hello", map[string]string{"mode": "live"}); err != nil {
			t.Fatal(err)
		}
		pay, err := h.Payments(ctx, db, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if pay.call.Settings["api_key"] != "hello_test" || pay.call.Settings["mode"] != "live" {
			t.Errorf("bound settings keys %v mode %q", len(pay.call.Settings), pay.call.Settings["mode"])
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if res, err := pay.CreatePayment(cctx, "k1", sdk.PaymentRequest{Amount: 1000, Currency: "JPY"}); err != nil || res.Payment.ID == "" {
			t.Errorf("CreatePayment = %+v, %v", res, err)
		}
		// Another tenant cannot open t1's sealed values.
		if _, err := h.Bind(ctx, db, "t2", "hello"); err == nil {
			t.Error("t2 opened t1's secrets")
		}
		if err := h.Disable(ctx, db, "hello"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Payments(ctx, db, "t1"); apperr.KindOf(err) != apperr.KindConflict {
			t.Errorf("Payments after disabling = %v", err)
		}
		entries, err := auditlog.Search(ctx, db, auditlog.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]bool{}
		for _, e := range entries {
			actions[e.Action] = true
			b, _ := json.Marshal(e.Changes)
			for _, secret := range []string{"hello_test", "whsec_test"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("audit %s holds the secret: %s", e.Action, b)
				}
			}
		}
		for _, a := range []string{"plugin.enable", "plugin.settings_update", "plugin.disable"} {
			if !actions[a] {
				t.Errorf("no audit entry %s (have %v)", a, actions)
			}
		}
	})
}

func dialectOf(db *bun.DB) string {
	if db.Dialect().Name() == dialect.MySQL {
		return "mysql"
	}
	return "sqlite"
}
