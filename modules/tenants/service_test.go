package tenants

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type env struct {
	loc     dbx.Location
	control *bun.DB
	reg     *tenantdb.Registry
	svc     *Service
}

func newEnv(t *testing.T, loc dbx.Location, tenantMigrations fs.FS) *env {
	t.Helper()
	ctx := context.Background()
	control, err := dbx.OpenControl(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = control.Close() })
	if _, err := dbx.Migrate(ctx, control, migrations.Control(string(loc.Engine))); err != nil {
		t.Fatal(err)
	}
	if tenantMigrations == nil {
		tenantMigrations = migrations.Tenant(string(loc.Engine))
	}
	cfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: tenantMigrations}
	if loc.Engine == dbx.MySQL {
		cfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	reg, err := tenantdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return &env{loc: loc, control: control, reg: reg,
		svc: NewService(Config{Control: control, Registry: reg, Location: loc})}
}

// tenantDatabases lists the tenant databases that exist: files on SQLite,
// databases on MySQL.
func (e *env) tenantDatabases(t *testing.T) []string {
	t.Helper()
	var out []string
	switch e.loc.Engine {
	case dbx.SQLite:
		entries, err := os.ReadDir(filepath.Join(e.loc.DataDir, "tenants"))
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if strings.HasSuffix(en.Name(), ".db") {
				out = append(out, strings.TrimSuffix(en.Name(), ".db"))
			}
		}
	case dbx.MySQL:
		for _, n := range dbtest.MySQLDatabases(t, e.loc.MySQLDSN, e.loc.Prefix) {
			if n != e.loc.ControlDatabase() {
				out = append(out, n)
			}
		}
	}
	return out
}

func (e *env) count(t *testing.T) int {
	t.Helper()
	n, err := e.control.NewSelect().TableExpr("tenants").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func fieldsOf(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}

func TestCreateGivesEachTenantItsOwnDatabase(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		a, err := e.svc.Create(ctx, CreateParams{Slug: "salon-a", Name: "サロンA", ContactEmails: []string{"a@example.jp"}, Options: []string{"wareki", "api", "api"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != StatusActive || a.TimeZone != "Asia/Tokyo" || a.Locale != "ja" {
			t.Errorf("defaults: %+v", a)
		}
		if !slices.Equal(a.Options, []string{"api", "wareki"}) {
			t.Errorf("options = %v, want a sorted set", a.Options)
		}
		b, err := e.svc.Create(ctx, CreateParams{Slug: "school-b", Name: "School B", TimeZone: "America/New_York", Locale: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if a.DB.Name == b.DB.Name {
			t.Fatalf("two tenants share database %s", a.DB.Name)
		}
		dbs := e.tenantDatabases(t)
		slices.Sort(dbs)
		want := []string{a.DB.Name, b.DB.Name}
		slices.Sort(want)
		if !slices.Equal(dbs, want) {
			t.Fatalf("tenant databases = %v, want %v", dbs, want)
		}
		got, err := e.svc.Get(ctx, "school-b")
		if err != nil || got.ID != b.ID || got.TimeZone != "America/New_York" || got.Locale != "en" {
			t.Fatalf("get = %+v, %v", got, err)
		}
		list, err := e.svc.List(ctx, ListParams{})
		if err != nil || len(list) != 2 || list[0].Slug != "salon-a" || list[1].Slug != "school-b" {
			t.Fatalf("list = %v, %v", list, err)
		}
		page, err := e.svc.List(ctx, ListParams{After: "salon-a", Limit: 1})
		if err != nil || len(page) != 1 || page[0].Slug != "school-b" {
			t.Fatalf("page after salon-a = %v, %v", page, err)
		}
	})
}

func TestInvalidInputCreatesNothing(t *testing.T) {
	long := strings.Repeat("a", 31)
	cases := []struct {
		name string
		p    CreateParams
		want []string
	}{
		{"short slug", CreateParams{Slug: "abc", Name: "x"}, []string{"slug:slug"}},
		{"long slug", CreateParams{Slug: long, Name: "x"}, []string{"slug:slug"}},
		{"uppercase slug", CreateParams{Slug: "Salon", Name: "x"}, []string{"slug:slug"}},
		{"leading hyphen", CreateParams{Slug: "-salon", Name: "x"}, []string{"slug:slug"}},
		{"trailing hyphen", CreateParams{Slug: "salon-", Name: "x"}, []string{"slug:slug"}},
		{"underscore", CreateParams{Slug: "my_salon", Name: "x"}, []string{"slug:slug"}},
		{"japanese slug", CreateParams{Slug: "さろんさろん", Name: "x"}, []string{"slug:slug"}},
		{"idn-like slug", CreateParams{Slug: "xn--abc", Name: "x"}, []string{"slug:slug"}},
		{"reserved admin", CreateParams{Slug: "admin", Name: "x"}, []string{"slug:slug_reserved"}},
		{"reserved status", CreateParams{Slug: "status", Name: "x"}, []string{"slug:slug_reserved"}},
		{"reserved www", CreateParams{Slug: "www1", Name: "x"}, nil}, // not reserved: allowed
		{"missing slug and name", CreateParams{}, []string{"slug:required", "name:required"}},
		{"long name", CreateParams{Slug: "salon", Name: strings.Repeat("名", 201)}, []string{"name:max"}},
		{"name with newline", CreateParams{Slug: "salon", Name: "a\r\nBcc: x"}, []string{"name:nocontrol"}},
		{"bad zone", CreateParams{Slug: "salon", Name: "x", TimeZone: "Tokyo"}, []string{"time_zone:iana_tz"}},
		{"local zone", CreateParams{Slug: "salon", Name: "x", TimeZone: "Local"}, []string{"time_zone:iana_tz"}},
		{"bad locale", CreateParams{Slug: "salon", Name: "x", Locale: "fr"}, []string{"locale:oneof"}},
		{"bad email", CreateParams{Slug: "salon", Name: "x", ContactEmails: []string{"ok@example.jp", "not-an-address"}}, []string{"contact_emails[1]:email"}},
		{"header injection email", CreateParams{Slug: "salon", Name: "x", ContactEmails: []string{"a@example.jp\r\nBcc: b@example.jp"}}, []string{"contact_emails[0]:email"}},
		{"duplicate email", CreateParams{Slug: "salon", Name: "x", ContactEmails: []string{"a@example.jp", "A@example.jp"}}, []string{"contact_emails[1]:duplicate"}},
		{"unknown option", CreateParams{Slug: "salon", Name: "x", Options: []string{"api", "teleport"}}, []string{"options[1]:option"}},
	}
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.count(t)
				tn, err := e.svc.Create(ctx, c.p)
				if c.want == nil {
					if err != nil {
						t.Fatalf("valid input refused: %v", err)
					}
					if _, err := e.svc.Update(ctx, tn.Slug, UpdateParams{Status: ptr(StatusTerminated)}); err != nil {
						t.Fatal(err)
					}
					return
				}
				if apperr.KindOf(err) != apperr.KindInvalid {
					t.Fatalf("err = %v, want a validation error", err)
				}
				if got := fieldsOf(err); !slices.Equal(got, c.want) {
					t.Errorf("field errors = %v, want %v", got, c.want)
				}
				if after := e.count(t); after != before {
					t.Errorf("tenant rows %d → %d: invalid input created something", before, after)
				}
			})
		}
		if dbs := e.tenantDatabases(t); len(dbs) != 0 {
			t.Errorf("databases left: %v", dbs)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestDuplicateSlugIsAConflict(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		if _, err := e.svc.Create(ctx, CreateParams{Slug: "taken", Name: "First"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Create(ctx, CreateParams{Slug: "taken", Name: "Second"})
		if !errors.Is(err, ErrSlugTaken) || apperr.KindOf(err) != apperr.KindConflict {
			t.Fatalf("second create: %v, want ErrSlugTaken", err)
		}
		if got, _ := e.svc.Get(ctx, "taken"); got.Name != "First" {
			t.Fatalf("the first tenant changed: %+v", got)
		}
		if n := len(e.tenantDatabases(t)); n != 1 {
			t.Fatalf("%d tenant databases, want 1", n)
		}
	})
}

// Many creations of one slug at once: exactly one wins and exactly one
// database is made.
func TestConcurrentCreateOfOneSlug(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		var others []error
		for i := range n {
			wg.Go(func() {
				_, err := e.svc.Create(ctx, CreateParams{Slug: "popular", Name: fmt.Sprintf("Racer %d", i)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, ErrSlugTaken):
					conflicts++
				default:
					others = append(others, err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != n-1 || len(others) > 0 {
			t.Fatalf("wins=%d conflicts=%d others=%v", wins, conflicts, others)
		}
		if dbs := e.tenantDatabases(t); len(dbs) != 1 {
			t.Fatalf("tenant databases = %v, want exactly one", dbs)
		}
	})
}

func TestUpdateAndLifecycle(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		orig, err := e.svc.Create(ctx, CreateParams{Slug: "clinic", Name: "Clinic"})
		if err != nil {
			t.Fatal(err)
		}
		upd, err := e.svc.Update(ctx, "clinic", UpdateParams{
			Name: ptr(" 山田クリニック "), TimeZone: ptr("Asia/Seoul"), Locale: ptr("en"),
			ContactEmails: &[]string{"desk@clinic.example.jp"}, Options: &[]string{"waitlist", "api"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Name != "山田クリニック" || upd.TimeZone != "Asia/Seoul" || upd.Locale != "en" ||
			!slices.Equal(upd.ContactEmails, []string{"desk@clinic.example.jp"}) || !slices.Equal(upd.Options, []string{"api", "waitlist"}) {
			t.Fatalf("update = %+v", upd)
		}
		if got, _ := e.svc.Get(ctx, "clinic"); got.Name != upd.Name || got.TimeZone != upd.TimeZone || !got.UpdatedAt.After(orig.UpdatedAt.Add(-time.Millisecond)) {
			t.Fatalf("stored = %+v", got)
		}
		// Invalid changes change nothing.
		_, err = e.svc.Update(ctx, "clinic", UpdateParams{Name: ptr(""), TimeZone: ptr("Nowhere/City"), Status: ptr(Status("paused"))})
		if got := fieldsOf(err); !slices.Equal(got, []string{"time_zone:iana_tz", "status:oneof", "name:required"}) {
			t.Fatalf("invalid update errors = %v (%v)", got, err)
		}
		if got, _ := e.svc.Get(ctx, "clinic"); got.Name != "山田クリニック" || got.Status != StatusActive {
			t.Fatalf("invalid update changed the tenant: %+v", got)
		}

		if _, err := e.svc.Resolve(ctx, "clinic"); err != nil {
			t.Fatalf("resolve active: %v", err)
		}
		if _, err := e.svc.Update(ctx, "clinic", UpdateParams{Status: ptr(StatusSuspended)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Resolve(ctx, "clinic"); !errors.Is(err, ErrSuspended) {
			t.Fatalf("resolve suspended: %v", err)
		}
		if _, err := e.svc.Update(ctx, "clinic", UpdateParams{Status: ptr(StatusActive)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Resolve(ctx, "clinic"); err != nil {
			t.Fatalf("resolve resumed: %v", err)
		}

		term, err := e.svc.Update(ctx, "clinic", UpdateParams{Status: ptr(StatusTerminated)})
		if err != nil || term.Status != StatusTerminated {
			t.Fatalf("terminate: %+v, %v", term, err)
		}
		if ok, _ := e.reg.Exists(ctx, term.DB); ok {
			t.Fatal("a terminated tenant's database still exists")
		}
		if _, err := e.svc.Resolve(ctx, "clinic"); !errors.Is(err, ErrTerminated) {
			t.Fatalf("resolve terminated: %v", err)
		}
		if _, err := e.svc.Update(ctx, "clinic", UpdateParams{Status: ptr(StatusActive)}); !errors.Is(err, ErrTerminatedFinal) {
			t.Fatalf("reactivate terminated: %v, want ErrTerminatedFinal", err)
		}
		if _, err := e.svc.Update(ctx, "clinic", UpdateParams{Status: ptr(StatusTerminated)}); err != nil {
			t.Fatalf("terminate again (retry of the deletion): %v", err)
		}
		if _, err := e.svc.Create(ctx, CreateParams{Slug: "clinic", Name: "Again"}); !errors.Is(err, ErrSlugTaken) {
			t.Fatalf("a terminated tenant's slug was reused: %v", err)
		}
		all, _ := e.svc.List(ctx, ListParams{Status: "all"})
		live, _ := e.svc.List(ctx, ListParams{})
		if len(all) != 1 || len(live) != 0 {
			t.Fatalf("list all=%d live=%d", len(all), len(live))
		}
		if _, err := e.svc.Update(ctx, "nobody", UpdateParams{Name: ptr("x")}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
	})
}

func TestResolveSeesOtherProcessesWithinTTL(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Now()
		e.svc.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		if _, err := e.svc.Create(ctx, CreateParams{Slug: "shop1", Name: "Shop"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Resolve(ctx, "shop1"); err != nil {
			t.Fatal(err)
		}
		// Another process (the CLI) suspends the tenant.
		other := NewService(Config{Control: e.control, Registry: e.reg, Location: loc})
		if _, err := other.Update(ctx, "shop1", UpdateParams{Status: ptr(StatusSuspended)}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(3 * time.Second)
		mu.Unlock()
		if _, err := e.svc.Resolve(ctx, "shop1"); !errors.Is(err, ErrSuspended) {
			t.Fatalf("after the cache TTL: %v, want ErrSuspended", err)
		}
	})
}

func TestFailedProvisioningLeavesNoTenant(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		broken := fstest.MapFS{"20261125000001_broken.up.sql": {Data: []byte("CREATE TABLE (")}}
		e := newEnv(t, loc, broken)
		if _, err := e.svc.Create(ctx, CreateParams{Slug: "unlucky", Name: "x"}); err == nil {
			t.Fatal("create with a broken database succeeded")
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("%d tenant rows left", n)
		}
		if dbs := e.tenantDatabases(t); len(dbs) != 0 {
			t.Fatalf("databases left: %v", dbs)
		}
		good := NewService(Config{Control: e.control, Registry: newEnv(t, loc, nil).reg, Location: loc})
		if _, err := good.Create(ctx, CreateParams{Slug: "unlucky", Name: "x"}); err != nil {
			t.Fatalf("the slug stays blocked after a failed creation: %v", err)
		}
	})
}

// A process that died half-way through provisioning leaves a
// "provisioning" row; the next start removes it and its database.
func TestRecoverProvisioning(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc, nil)
		ctx := context.Background()
		old := time.Now().Add(-time.Hour).UTC()
		half := Tenant{ID: "dead0001", Slug: "half-made", Name: "x", TimeZone: DefaultTimeZone, Locale: DefaultLocale,
			Status: statusProvisioning, CreatedAt: old, UpdatedAt: old, StatusChangedAt: old,
			DB: tenantdb.Placement{TenantID: "dead0001", Name: loc.TenantDatabase("dead0001")}}
		if loc.Engine == dbx.MySQL {
			half.DB.Server = tenantdb.DefaultServer
		}
		if err := e.svc.store.insert(ctx, e.control, half); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.Provision(ctx, half.DB); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Get(ctx, "half-made"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a provisioning tenant is visible: %v", err)
		}
		young, err := e.svc.Create(ctx, CreateParams{Slug: "whole", Name: "y"})
		if err != nil {
			t.Fatal(err)
		}
		n, err := e.svc.RecoverProvisioning(ctx, 10*time.Minute)
		if err != nil || n != 1 {
			t.Fatalf("recovered %d, %v", n, err)
		}
		if dbs := e.tenantDatabases(t); !slices.Equal(dbs, []string{young.DB.Name}) {
			t.Fatalf("databases = %v, want only %s", dbs, young.DB.Name)
		}
		if e.count(t) != 1 {
			t.Fatal("the half-made row remains")
		}
	})
}

func TestSettingsUpsert(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := dbx.Migrate(ctx, db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := GetSetting(ctx, db, SettingWelcome); err != nil || ok {
			t.Fatalf("unset setting: ok=%v err=%v", ok, err)
		}
		for _, v := range []string{"ようこそ", "いらっしゃいませ"} {
			if err := SetSetting(ctx, db, SettingWelcome, v, time.Now()); err != nil {
				t.Fatal(err)
			}
			got, ok, err := GetSetting(ctx, db, SettingWelcome)
			if err != nil || !ok || got != v {
				t.Fatalf("get = %q %v %v, want %q", got, ok, err, v)
			}
		}
	})
}
