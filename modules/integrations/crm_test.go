package integrations

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

var (
	crmOnce sync.Once
	crmBin  string
	crmErr  error
)

// installCRM builds testdata/crmplugin (once) and installs it into
// root/crmtest with a matching sha256; it returns the plugin's folder.
func installCRM(t *testing.T, root string) string {
	t.Helper()
	crmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "yoyaku-crm-*")
		if err != nil {
			crmErr = err
			return
		}
		crmBin = filepath.Join(dir, "crmplugin")
		if out, err := exec.Command("go", "build", "-o", crmBin, "./testdata/crmplugin").CombinedOutput(); err != nil {
			crmErr = errors.New(string(out))
		}
	})
	if crmErr != nil {
		t.Fatalf("building the crm test plugin: %v", crmErr)
	}
	dir := filepath.Join(root, "crmtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(crmBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crmplugin"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/crmplugin/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	if m["sha256"], err = manifest.FileSHA256(filepath.Join(dir, "crmplugin")); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type received struct {
	TenantID       string          `json:"tenant_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	Token          string          `json:"token"`
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OccurredAt     string          `json:"occurred_at"`
	Payload        json.RawMessage `json:"payload"`
}

func readReceived(t *testing.T, dir string) []received {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "events.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []received
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r received
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestCRMHandler(t *testing.T) {
	root := t.TempDir()
	dir := installCRM(t, root)
	h := newHost(t, root, nil)
	if !h.HasCapability(manifest.CapabilityCRM) || h.HasCapability(manifest.CapabilityPayments) {
		t.Errorf("HasCapability: crm %v payments %v, want true false", h.HasCapability(manifest.CapabilityCRM), h.HasCapability(manifest.CapabilityPayments))
	}
	if empty := newHost(t, t.TempDir(), nil); empty.HasCapability(manifest.CapabilityCRM) {
		t.Error("a host without plugins has the crm capability")
	}
	runHost(t, h)
	waitState(t, h, "crmtest", StateRunning)
	// A host over the same plugins that never runs them: the plugin is down.
	down := newHost(t, root, nil)
	handle, handleDown := h.CRMHandler(), down.CRMHandler()
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_ = os.Remove(filepath.Join(dir, "events.jsonl"))
		if _, err := dbx.Migrate(ctx, db, migrations.Tenant(dialectOf(db))); err != nil {
			t.Fatal(err)
		}
		tenant := outbox.Tenant{ID: "t1", Slug: "t1"}
		at := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
		payload := json.RawMessage(`{"reservation_id":"r1","menu":{"name":"カット","price":5000},"options":[1,2]}`)
		ev := outbox.Event{ID: "dlv-1", EventID: "evt-1", Type: "reservation.confirmed", Payload: payload, CreatedAt: at}

		// No crm plugin enabled: delivered, nothing sent.
		if err := handle(ctx, db, tenant, ev); err != nil {
			t.Fatalf("handler without an enabled plugin = %v, want nil", err)
		}
		if got := readReceived(t, dir); len(got) != 0 {
			t.Fatalf("the plugin received %d events before the tenant enabled it", len(got))
		}
		if _, err := h.Enable(ctx, db, "t1", "crmtest", map[string]string{"token": "tok_secret"}); err != nil {
			t.Fatal(err)
		}

		// Enabled: the event reaches it with its id as the idempotency key
		// and the payload intact; a re-delivery carries the same key.
		for range 2 {
			if err := handle(ctx, db, tenant, ev); err != nil {
				t.Fatalf("handler = %v", err)
			}
		}
		got := readReceived(t, dir)
		if len(got) != 2 {
			t.Fatalf("the plugin received %d events, want 2", len(got))
		}
		for _, r := range got {
			if r.IdempotencyKey != "dlv-1" || r.ID != "dlv-1" || r.TenantID != "t1" || r.Type != "reservation.confirmed" ||
				r.OccurredAt != "2026-05-01T09:30:00.000Z" || r.Token != "tok_secret" {
				t.Errorf("the plugin received %+v", r)
			}
			if string(r.Payload) != string(payload) {
				t.Errorf("payload %s, want %s", r.Payload, payload)
			}
		}

		// A business rejection is dead-lettered.
		rej := outbox.Event{ID: "dlv-2", Type: "reservation.cancelled", Payload: json.RawMessage(`{"reject":true}`), CreatedAt: at}
		if err := handle(ctx, db, tenant, rej); err == nil || !outbox.IsPermanent(err) {
			t.Errorf("handler of a rejected event = %v, want a permanent error", err)
		}

		// The plugin down: a retryable error, nothing delivered.
		n := len(readReceived(t, dir))
		err := handleDown(ctx, db, tenant, outbox.Event{ID: "dlv-3", Type: "reservation.created", Payload: payload, CreatedAt: at})
		if err == nil || outbox.IsPermanent(err) || !errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("handler with the plugin down = %v, want a retryable unavailable error", err)
		}
		if len(readReceived(t, dir)) != n {
			t.Error("the plugin received an event while down")
		}

		// Disabled again: nothing to do.
		if err := h.Disable(ctx, db, "crmtest"); err != nil {
			t.Fatal(err)
		}
		if err := handleDown(ctx, db, tenant, ev); err != nil {
			t.Errorf("handler after disabling = %v, want nil", err)
		}
		if strings.Contains(string(mustRead(t, filepath.Join(dir, "events.jsonl"))), "dlv-3") {
			t.Error("dlv-3 was delivered")
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
