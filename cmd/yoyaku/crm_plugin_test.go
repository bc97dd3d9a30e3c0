package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// crmPluginDir installs the integrations' crm test plugin into a fresh
// plugin directory.
func crmPluginDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "crmtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "crmplugin")
	if out, err := exec.Command("go", "build", "-o", bin, "../../modules/integrations/testdata/crmplugin").CombinedOutput(); err != nil {
		t.Fatalf("building the crm test plugin: %v\n%s", err, out)
	}
	src, err := os.ReadFile("../../modules/integrations/testdata/crmplugin/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	if m["sha256"], err = manifest.FileSHA256(bin); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// consumersOf records an event of type et in the tenant's outbox and
// returns the consumers that got a delivery.
func consumersOf(t *testing.T, x *apiTenant, et string) []string {
	t.Helper()
	var out []string
	x.inDB(func(db bun.IDB) error {
		return db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			evs, err := outbox.Enqueue(ctx, tx, x.a.subs, outbox.NewEvent{Type: et, AggregateType: "reservation", AggregateID: "r1",
				Payload: map[string]string{"reservation_id": "r1"}})
			for _, e := range evs {
				out = append(out, e.Consumer)
			}
			return err
		})
	})
	return out
}

func TestCRMPluginSubscribed(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{"plugin-dir": crmPluginDir(t)})
	x := newAPIServer(t, a).tenant(tenants.CreateParams{Slug: "salon-crm", Name: "Salon CRM"})
	for _, et := range []string{reservations.EventCreated, reservations.EventConfirmed, reservations.EventCancelled, reservations.EventChanged} {
		if got := consumersOf(t, x, et); !slices.Contains(got, "crm") {
			t.Errorf("%s goes to %v, want crm among them", et, got)
		}
	}
	if got := consumersOf(t, x, reservations.EventReminder); slices.Contains(got, "crm") {
		t.Errorf("%s goes to %v, want no crm", reservations.EventReminder, got)
	}
}

func TestNoCRMPluginNotSubscribed(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{"plugin-dir": pluginDir(t)}) // hello: payments only
	x := newAPIServer(t, a).tenant(tenants.CreateParams{Slug: "salon-nocrm", Name: "Salon No CRM"})
	if got := consumersOf(t, x, reservations.EventConfirmed); slices.Contains(got, "crm") {
		t.Errorf("without a crm plugin %s goes to %v, want no crm", reservations.EventConfirmed, got)
	}
}
