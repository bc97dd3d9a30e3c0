package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/integrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// pluginDir builds sdk/examples/hello into a fresh plugin directory: hello
// with a correct plugin.json and hello-bad whose sha256 does not match.
func pluginDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(t.TempDir(), "hello")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/yoyaku-oss/yoyaku/sdk/examples/hello").CombinedOutput(); err != nil {
		t.Fatalf("building the hello plugin: %v\n%s", err, out)
	}
	src, err := os.ReadFile("../../sdk/examples/hello/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := manifest.FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bin)
	for _, p := range []struct{ folder, id, sum string }{{"hello", "hello", sum}, {"hello-bad", "hello-bad", strings.Repeat("0f", 32)}} {
		dir := filepath.Join(root, p.folder)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hello"), b, 0o755); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(src, &m)
		m["id"], m["sha256"] = p.id, p.sum
		out, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, "plugin.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPluginsThroughTheApp(t *testing.T) {
	dir := pluginDir(t)
	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{"plugin-dir": dir})
	s := newAPIServer(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	wait := a.runPlugins(ctx)
	t.Cleanup(func() { cancel(); wait() })
	x := s.tenant(tenants.CreateParams{Slug: "salon-plugins", Name: "Salon Plugins", Options: []string{"api", "audit_log"}})

	operator := func() map[string]integrations.StatusJSON {
		t.Helper()
		code, body := s.call(http.MethodGet, "/api/v1/platform/plugins", "operator-token-0123456789", "")
		if code != http.StatusOK {
			t.Fatalf("operator list: %d %s", code, body)
		}
		var out struct{ Plugins []integrations.StatusJSON }
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		m := map[string]integrations.StatusJSON{}
		for _, p := range out.Plugins {
			m[p.ID] = p
		}
		return m
	}
	waitRunning := func(notPID int) integrations.StatusJSON {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			p := operator()["hello"]
			if p.State == integrations.StateRunning && p.PID != notPID {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("hello is %s (%s), want running", p.State, p.LastError)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	hello := waitRunning(0)
	bad := operator()["hello-bad"]
	if bad.State != integrations.StateRefused || !strings.Contains(bad.LastError, "sha256") {
		t.Errorf("hello-bad = %+v, want refused naming the sha256", bad)
	}
	if err := a.plugins.Check(ctx); err == nil {
		t.Error("status check with a refused plugin = nil, want failing")
	}

	// The CLI shows the refused plugin and its reason.
	out := mustCLI(t, append(locFlags(loc), "--plugin-dir", dir, "plugin", "list")...)
	if !strings.Contains(out, "hello-bad") || !strings.Contains(out, "refused") || !strings.Contains(out, "sha256") {
		t.Errorf("plugin list:\n%s", out)
	}

	// Tenant settings: a viewer may look, not change; secrets never come back.
	owner, viewer := x.key("owner"), x.key("viewer")
	body := `{"settings": {"api_key": "hello_secret_key", "webhook_secret": "whsec_topsecret", "mode": "test"}}`
	if code, b := x.call(http.MethodPut, "/api/v1/plugins/hello", viewer, body); code != http.StatusForbidden {
		t.Errorf("viewer PUT: %d %s, want 403", code, b)
	}
	if code, b := x.call(http.MethodPut, "/api/v1/plugins/hello", owner, body); code != http.StatusOK || strings.Contains(b, "topsecret") || strings.Contains(b, "hello_secret_key") {
		t.Fatalf("owner PUT: %d %s", code, b)
	}
	if code, b := x.call(http.MethodPut, "/api/v1/plugins/hello-bad", owner, body); code != http.StatusConflict || !strings.Contains(b, "plugin_refused") {
		t.Errorf("enabling a refused plugin: %d %s", code, b)
	}
	if code, _ := x.call(http.MethodGet, "/api/v1/plugins", viewer, ""); code != http.StatusForbidden {
		t.Errorf("viewer GET: %d, want 403 (settings: none)", code)
	}
	code, b := x.call(http.MethodGet, "/api/v1/plugins", owner, "")
	if code != http.StatusOK || strings.Contains(b, "topsecret") || !strings.Contains(b, `"api_key":{"set":true}`) {
		t.Errorf("GET plugins: %d %s", code, b)
	}
	code, b = x.call(http.MethodGet, "/api/v1/audit-log?action=plugin.", owner, "")
	if strings.Contains(b, "topsecret") || strings.Contains(b, "hello_secret_key") {
		t.Errorf("the audit log holds a secret: %s", b)
	}
	_ = code

	// The plugin is killed: the core keeps serving, the host restarts it.
	if err := syscall.Kill(hello.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.call(http.MethodGet, "/healthz", "", ""); code != http.StatusOK {
		t.Errorf("/healthz while the plugin is down: %d", code)
	}
	if code, b := x.call(http.MethodGet, "/api/v1/menus", owner, ""); code != http.StatusOK {
		t.Errorf("a non-plugin route while the plugin is down: %d %s", code, b)
	}
	again := waitRunning(hello.PID)
	if again.Restarts < 1 {
		t.Errorf("after the kill: %+v", again)
	}
	x.inDB(func(db bun.IDB) error {
		pay, err := a.plugins.Payments(ctx, db, x.tn.ID)
		if err != nil {
			return err
		}
		_, err = pay.CreatePayment(ctx, "k1", sdk.PaymentRequest{Amount: 1000, Currency: "JPY"})
		return err
	})
	if code, b := x.call(http.MethodDelete, "/api/v1/plugins/hello", owner, ""); code != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", code, b)
	}
}
