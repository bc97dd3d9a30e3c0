package authz_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const tenantID = "0190tenant0001"

// migrate brings a fresh database to the tenant schema.
func migrate(t *testing.T, db *bun.DB) {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
}

// forEachTenantDB runs fn on a migrated tenant database on every engine.
func forEachTenantDB(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		migrate(t, db)
		fn(t, db)
	})
}

// The areas and actions, spelt out here rather than taken from the package,
// so that the tables below say what the issue asks for independently of the
// code under test.
var (
	allAreas   = []string{"reservations", "members", "menus", "schedule", "mail", "settings", "staff", "audit"}
	allActions = []string{"view", "edit", "csv"}
)

// builtinAllowed is THE permission table of the built-in roles: for each
// role and area, the actions it allows. Everything not listed is refused.
var builtinAllowed = map[string]map[string]string{
	"owner": {
		"reservations": "view edit csv", "members": "view edit csv",
		"menus": "view edit", "schedule": "view edit", "mail": "view edit",
		"settings": "view edit", "staff": "view edit", "audit": "view edit",
	},
	"admin": {
		"reservations": "view edit csv", "members": "view edit csv",
		"menus": "view edit", "schedule": "view edit", "mail": "view edit",
		"settings": "view edit", "staff": "view edit", "audit": "view edit",
	},
	"staff": {
		"reservations": "view edit", "members": "view edit",
		"menus": "view", "schedule": "view edit", "mail": "view",
		"settings": "", "staff": "", "audit": "",
	},
	"viewer": {
		"reservations": "view", "members": "view",
		"menus": "view", "schedule": "view", "mail": "",
		"settings": "", "staff": "", "audit": "",
	},
	// A subject that holds no role may do nothing.
	"": {},
}

type checkRow struct {
	role, area, action string
	want               bool
}

// builtinRows expands builtinAllowed to one row per role × area × action.
func builtinRows() []checkRow {
	var rows []checkRow
	for _, role := range []string{"owner", "admin", "staff", "viewer", ""} {
		for _, area := range allAreas {
			allowed := strings.Fields(builtinAllowed[role][area])
			for _, act := range allActions {
				rows = append(rows, checkRow{role, area, act, slices.Contains(allowed, act)})
			}
		}
	}
	return rows
}

func subjectFor(role string) string {
	if role == "" {
		return "staff:nobody"
	}
	return "staff:" + role + "1"
}

func TestBuiltinRoles(t *testing.T) {
	rows := builtinRows()
	if len(rows) != 5*8*3 {
		t.Fatalf("%d rows, want %d", len(rows), 5*8*3)
	}
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{})
		for _, role := range []string{"owner", "admin", "staff", "viewer"} {
			if err := a.Assign(ctx, db, tenantID, subjectFor(role), role); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range rows {
			name := r.role
			if name == "" {
				name = "no_role"
			}
			t.Run(name+"/"+r.area+"/"+r.action, func(t *testing.T) {
				got, err := a.Can(ctx, db, tenantID, subjectFor(r.role), authz.Area(r.area), authz.Action(r.action))
				if err != nil {
					t.Fatal(err)
				}
				if got != r.want {
					t.Errorf("Can(%s, %s, %s) = %v, want %v", r.role, r.area, r.action, got, r.want)
				}
			})
		}

		// Levels agrees with the table: the last allowed action names the level.
		for _, role := range []string{"owner", "admin", "staff", "viewer", ""} {
			got, err := a.Levels(ctx, db, tenantID, subjectFor(role))
			if err != nil {
				t.Fatal(err)
			}
			want := map[authz.Area]authz.Level{}
			for _, area := range allAreas {
				level := "none"
				if f := strings.Fields(builtinAllowed[role][area]); len(f) > 0 {
					level = f[len(f)-1]
				}
				want[authz.Area(area)] = authz.Level(level)
			}
			if !maps.Equal(got, want) {
				t.Errorf("Levels(%q) = %v, want %v", role, got, want)
			}
		}

		// Only the owner manages owners.
		for role, want := range map[string]bool{"owner": true, "admin": false, "staff": false, "viewer": false, "": false} {
			got, err := a.CanManageOwners(ctx, db, tenantID, subjectFor(role))
			if err != nil || got != want {
				t.Errorf("CanManageOwners(%q) = %v, %v; want %v", role, got, err, want)
			}
		}

		// The built-in roles as listed match the table too.
		roles, err := a.Roles(ctx, db, tenantID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range roles {
			names = append(names, r.Name)
			if !r.Builtin {
				t.Errorf("role %s is not built-in", r.Name)
			}
			for _, area := range allAreas {
				f := strings.Fields(builtinAllowed[r.Name][area])
				want := "none"
				if len(f) > 0 {
					want = f[len(f)-1]
				}
				if string(r.Levels[authz.Area(area)]) != want {
					t.Errorf("Roles: %s has %s in %s, want %s", r.Name, r.Levels[authz.Area(area)], area, want)
				}
			}
		}
		if !slices.Equal(names, []string{"owner", "admin", "staff", "viewer"}) {
			t.Errorf("Roles() = %v", names)
		}
	})
}

func TestChecksRefuseBadInput(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{})
		if err := a.Assign(ctx, db, tenantID, "staff:o1", "owner"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, tenant, subject, area, action string
		}{
			{"role as subject", tenantID, "role:owner", "reservations", "view"},
			{"bare id", tenantID, "o1", "reservations", "view"},
			{"unknown area", tenantID, "staff:o1", "rooms", "view"},
			{"unknown action", tenantID, "staff:o1", "reservations", "delete"},
			{"no tenant", "", "staff:o1", "reservations", "view"},
		} {
			ok, err := a.Can(ctx, db, c.tenant, c.subject, authz.Area(c.area), authz.Action(c.action))
			if err == nil || ok {
				t.Errorf("%s: Can = %v, %v; want an error", c.name, ok, err)
			}
		}
		// The domain is the tenant: an owner in one tenant is nobody in another.
		ok, err := a.Can(ctx, db, "0190tenant0002", "staff:o1", authz.AreaReservations, authz.ActionView)
		if err != nil || ok {
			t.Errorf("Can in another tenant = %v, %v; want false", ok, err)
		}
	})
}

// state counts what a database holds, to prove that a refused change
// stored nothing.
type state struct {
	rules, roles int64
	version      string
}

func snapshot(t *testing.T, db bun.IDB) state {
	t.Helper()
	ctx := context.Background()
	var s state
	var err error
	if s.rules, err = db.NewSelect().Table("casbin_rules").Count(ctx); err != nil {
		t.Fatal(err)
	}
	if s.roles, err = db.NewSelect().Table("roles").Count(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.NewSelect().Table("authz_state").Column("version").Where("id = 1").Scan(ctx, &s.version); err != nil {
		t.Fatal(err)
	}
	return s
}

func fieldCodes(err error) []string {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}

func mustCan(t *testing.T, a *authz.Authorizer, db bun.IDB, subject string, area authz.Area, act authz.Action, want bool) {
	t.Helper()
	got, err := a.Can(context.Background(), db, tenantID, subject, area, act)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Can(%s, %s, %s) = %v, want %v", subject, area, act, got, want)
	}
}

func TestCustomRoles(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.FixedZone("JST", 9*3600))
		a := authz.New(authz.Config{Now: func() time.Time { return now }})
		const cc = "apikey:0190key0001"

		// Create, assign, check.
		r, err := a.CreateRole(ctx, db, tenantID, "call-center_1", authz.RoleSpec{
			Label:  "  コールセンター  ",
			Levels: map[authz.Area]authz.Level{"reservations": "edit", "members": "view"},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantStamp := now.UTC().Truncate(time.Microsecond)
		if r.Name != "call-center_1" || r.Label != "コールセンター" || r.Builtin || !r.CreatedAt.Equal(wantStamp) || r.Levels["menus"] != "none" || len(r.Levels) != 8 {
			t.Errorf("CreateRole = %+v", r)
		}
		if err := a.Assign(ctx, db, tenantID, cc, "call-center_1"); err != nil {
			t.Fatal(err)
		}
		if role, ok, err := a.RoleOf(ctx, db, tenantID, cc); err != nil || !ok || role != "call-center_1" {
			t.Errorf("RoleOf = %q, %v, %v", role, ok, err)
		}
		mustCan(t, a, db, cc, "reservations", "view", true)
		mustCan(t, a, db, cc, "reservations", "edit", true)
		mustCan(t, a, db, cc, "reservations", "csv", false)
		mustCan(t, a, db, cc, "members", "view", true)
		mustCan(t, a, db, cc, "members", "edit", false)
		mustCan(t, a, db, cc, "menus", "view", false)

		got, err := a.Role(ctx, db, tenantID, "call-center_1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(wantStamp) || got.Label != "コールセンター" || got.Levels["reservations"] != "edit" || got.Levels["members"] != "view" || got.Levels["audit"] != "none" {
			t.Errorf("Role = %+v", got)
		}

		// Update the levels: the checks follow at once.
		if _, err := a.UpdateRole(ctx, db, tenantID, "call-center_1", authz.RoleSpec{
			Label:  "外部コールセンター",
			Levels: map[authz.Area]authz.Level{"reservations": "csv", "members": "none", "menus": "view"},
		}); err != nil {
			t.Fatal(err)
		}
		mustCan(t, a, db, cc, "reservations", "csv", true)
		mustCan(t, a, db, cc, "members", "view", false)
		mustCan(t, a, db, cc, "menus", "view", true)
		levels, err := a.Levels(ctx, db, tenantID, cc)
		if err != nil {
			t.Fatal(err)
		}
		if levels["reservations"] != "csv" || levels["members"] != "none" || levels["menus"] != "view" || levels["settings"] != "none" {
			t.Errorf("Levels = %v", levels)
		}

		roles, err := a.Roles(ctx, db, tenantID)
		if err != nil {
			t.Fatal(err)
		}
		if len(roles) != 5 || roles[4].Name != "call-center_1" || roles[4].Label != "外部コールセンター" || roles[4].Levels["reservations"] != "csv" {
			t.Errorf("Roles = %+v", roles)
		}

		// Built-in roles stay as they are; unknown roles are not found.
		for _, err := range []error{
			func() error {
				_, err := a.UpdateRole(ctx, db, tenantID, "owner", authz.RoleSpec{Label: "x"})
				return err
			}(),
			a.DeleteRole(ctx, db, tenantID, "admin"),
		} {
			if !errors.Is(err, authz.ErrRoleBuiltin) || apperr.KindOf(err) != apperr.KindConflict {
				t.Errorf("changing a built-in role: %v", err)
			}
		}
		for _, err := range []error{
			func() error {
				_, err := a.UpdateRole(ctx, db, tenantID, "nosuch", authz.RoleSpec{Label: "x"})
				return err
			}(),
			func() error { _, err := a.Role(ctx, db, tenantID, "nosuch"); return err }(),
			a.DeleteRole(ctx, db, tenantID, "nosuch"),
			a.Assign(ctx, db, tenantID, "staff:s1", "nosuch"),
		} {
			if !errors.Is(err, authz.ErrRoleNotFound) || apperr.KindOf(err) != apperr.KindNotFound {
				t.Errorf("unknown role: %v", err)
			}
		}
		_, err = a.CreateRole(ctx, db, tenantID, "call-center_1", authz.RoleSpec{Label: "again"})
		if !errors.Is(err, authz.ErrRoleTaken) || apperr.KindOf(err) != apperr.KindConflict {
			t.Errorf("CreateRole of a taken name: %v", err)
		}

		// Deleting a role in use is refused; after unassigning it works.
		err = a.DeleteRole(ctx, db, tenantID, "call-center_1")
		var ae *apperr.Error
		if !errors.Is(err, authz.ErrRoleInUse) || apperr.KindOf(err) != apperr.KindConflict || !errors.As(err, &ae) || ae.Args["Count"] != 1 {
			t.Fatalf("DeleteRole while assigned: %v", err)
		}
		mustCan(t, a, db, cc, "reservations", "edit", true)
		if err := a.Unassign(ctx, db, tenantID, cc); err != nil {
			t.Fatal(err)
		}
		if err := a.Unassign(ctx, db, tenantID, cc); err != nil {
			t.Errorf("Unassign twice: %v", err)
		}
		mustCan(t, a, db, cc, "reservations", "view", false)
		if err := a.DeleteRole(ctx, db, tenantID, "call-center_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Role(ctx, db, tenantID, "call-center_1"); !errors.Is(err, authz.ErrRoleNotFound) {
			t.Errorf("Role after delete: %v", err)
		}
		if s := snapshot(t, db); s.rules != 0 || s.roles != 0 {
			t.Errorf("after delete: %+v, want no rules and no roles", s)
		}
	})
}

func TestAssignReplaces(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{})
		const s = "staff:0190staff0001"
		if _, ok, err := a.RoleOf(ctx, db, tenantID, s); ok || err != nil {
			t.Errorf("RoleOf before any assignment = %v, %v", ok, err)
		}
		if err := a.Assign(ctx, db, tenantID, s, "owner"); err != nil {
			t.Fatal(err)
		}
		if err := a.Assign(ctx, db, tenantID, "staff:0190staff0002", "owner"); err != nil {
			t.Fatal(err)
		}
		if err := a.Assign(ctx, db, tenantID, s, "viewer"); err != nil {
			t.Fatal(err)
		}
		if role, ok, err := a.RoleOf(ctx, db, tenantID, s); role != "viewer" || !ok || err != nil {
			t.Errorf("RoleOf = %q, %v, %v; want viewer", role, ok, err)
		}
		mustCan(t, a, db, s, "settings", "view", false)
		if h, err := a.Holders(ctx, db, tenantID, "owner"); err != nil || !slices.Equal(h, []string{"staff:0190staff0002"}) {
			t.Errorf("Holders(owner) = %v, %v", h, err)
		}
		if ok, err := a.CanManageOwners(ctx, db, tenantID, s); ok || err != nil {
			t.Errorf("CanManageOwners after demotion = %v, %v", ok, err)
		}

		before := snapshot(t, db)
		for _, c := range []struct {
			subject, role string
			want          []string
		}{
			{"role:owner", "viewer", []string{"subject:authz_subject"}},
			{"staff:", "viewer", []string{"subject:authz_subject"}},
			{"member:1", "viewer", []string{"subject:authz_subject"}},
			{"staff:1", "", []string{"role:required"}},
		} {
			err := a.Assign(ctx, db, tenantID, c.subject, c.role)
			if apperr.KindOf(err) != apperr.KindInvalid || !slices.Equal(fieldCodes(err), c.want) {
				t.Errorf("Assign(%q, %q) = %v, want fields %v", c.subject, c.role, err, c.want)
			}
		}
		if err := a.Unassign(ctx, db, tenantID, "role:viewer"); apperr.KindOf(err) != apperr.KindInvalid {
			t.Errorf("Unassign(role:viewer) = %v", err)
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("refused assignments changed the database: %+v → %+v", before, after)
		}
	})
}

func TestCustomRoleValidation(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{})
		if _, err := a.CreateRole(ctx, db, tenantID, "desk", authz.RoleSpec{Label: "Desk", Levels: map[authz.Area]authz.Level{"reservations": "view"}}); err != nil {
			t.Fatal(err)
		}
		ok := map[authz.Area]authz.Level{"reservations": "edit"}
		cases := []struct {
			name, role string
			spec       authz.RoleSpec
			want       []string
		}{
			{"bad name", "Front Desk", authz.RoleSpec{Label: "x", Levels: ok}, []string{"name:role_name"}},
			{"empty name", "", authz.RoleSpec{Label: "x", Levels: ok}, []string{"name:role_name"}},
			{"long name", strings.Repeat("a", 41), authz.RoleSpec{Label: "x", Levels: ok}, []string{"name:role_name"}},
			{"non-ASCII name", "受付", authz.RoleSpec{Label: "x", Levels: ok}, []string{"name:role_name"}},
			{"built-in name", "owner", authz.RoleSpec{Label: "x", Levels: ok}, []string{"name:role_name_builtin"}},
			{"built-in name viewer", "viewer", authz.RoleSpec{Label: "x", Levels: ok}, []string{"name:role_name_builtin"}},
			{"unknown area", "r1", authz.RoleSpec{Label: "x", Levels: map[authz.Area]authz.Level{"rooms": "view"}}, []string{"levels.rooms:authz_area"}},
			{"csv on menus", "r1", authz.RoleSpec{Label: "x", Levels: map[authz.Area]authz.Level{"menus": "csv"}}, []string{"levels.menus:authz_level_area"}},
			{"csv on audit", "r1", authz.RoleSpec{Label: "x", Levels: map[authz.Area]authz.Level{"audit": "csv"}}, []string{"levels.audit:authz_level_area"}},
			{"unknown level", "r1", authz.RoleSpec{Label: "x", Levels: map[authz.Area]authz.Level{"members": "admin"}}, []string{"levels.members:authz_level"}},
			{"empty level", "r1", authz.RoleSpec{Label: "x", Levels: map[authz.Area]authz.Level{"members": ""}}, []string{"levels.members:authz_level"}},
			{"no label", "r1", authz.RoleSpec{Label: "  ", Levels: ok}, []string{"label:required"}},
			{"long label", "r1", authz.RoleSpec{Label: strings.Repeat("予", 101), Levels: ok}, []string{"label:max"}},
			{"control in label", "r1", authz.RoleSpec{Label: "a\nb", Levels: ok}, []string{"label:nocontrol"}},
			{"everything", "Owner!", authz.RoleSpec{Levels: map[authz.Area]authz.Level{"menus": "csv", "rooms": "edit", "mail": "all"}},
				[]string{"name:role_name", "label:required", "levels.mail:authz_level", "levels.menus:authz_level_area", "levels.rooms:authz_area"}},
		}
		before := snapshot(t, db)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := a.CreateRole(ctx, db, tenantID, c.role, c.spec)
				if apperr.KindOf(err) != apperr.KindInvalid || !slices.Equal(fieldCodes(err), c.want) {
					t.Errorf("CreateRole = %v; want invalid with %v (got %v)", err, c.want, fieldCodes(err))
				}
				if c.role == "r1" {
					// The same spec is refused by an update too.
					_, err := a.UpdateRole(ctx, db, tenantID, "desk", c.spec)
					if apperr.KindOf(err) != apperr.KindInvalid || !slices.Equal(fieldCodes(err), c.want) {
						t.Errorf("UpdateRole = %v; want invalid with %v", err, c.want)
					}
				}
			})
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("refused changes changed the database: %+v → %+v", before, after)
		}
		r, err := a.Role(ctx, db, tenantID, "desk")
		if err != nil || r.Label != "Desk" || r.Levels["reservations"] != "view" {
			t.Errorf("desk after refused updates: %+v, %v", r, err)
		}
		// Every area at its top level is accepted: csv where it exists.
		top := map[authz.Area]authz.Level{}
		for _, area := range authz.Areas() {
			top[area] = area.MaxLevel()
		}
		if _, err := a.CreateRole(ctx, db, tenantID, strings.Repeat("z", 40), authz.RoleSpec{Label: strings.Repeat("予", 100), Levels: top}); err != nil {
			t.Errorf("a role at every top level: %v", err)
		}
	})
}

// secondHandle opens another pool on db's database, as a second server
// process would.
func secondHandle(t *testing.T, db *bun.DB) *bun.DB {
	t.Helper()
	ctx := context.Background()
	if db.Dialect().Name().String() == "sqlite" {
		var path string
		if err := db.NewRaw("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(ctx, &path); err != nil {
			t.Fatal(err)
		}
		other, err := dbx.OpenSQLiteWriter(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = other.Close() })
		return other
	}
	var name string
	if err := db.NewRaw("SELECT DATABASE()").Scan(ctx, &name); err != nil {
		t.Fatal(err)
	}
	other, err := dbx.OpenMySQL(ctx, dbtest.MySQLDSN(t), name, dbx.MySQLOptions{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	return other
}

func TestTwoProcessesShareOneDatabase(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db1 *bun.DB) {
		ctx := context.Background()
		db2 := secondHandle(t, db1)
		a1, a2 := authz.New(authz.Config{}), authz.New(authz.Config{})
		const s = "staff:0190staff0009"

		// a2 caches the tenant's policy before any change.
		mustCan(t, a2, db2, s, "reservations", "view", false)

		if _, err := a1.CreateRole(ctx, db1, tenantID, "desk", authz.RoleSpec{Label: "Desk", Levels: map[authz.Area]authz.Level{"reservations": "view"}}); err != nil {
			t.Fatal(err)
		}
		if err := a1.Assign(ctx, db1, tenantID, s, "desk"); err != nil {
			t.Fatal(err)
		}
		mustCan(t, a2, db2, s, "reservations", "view", true)
		mustCan(t, a2, db2, s, "reservations", "edit", false)

		if _, err := a1.UpdateRole(ctx, db1, tenantID, "desk", authz.RoleSpec{Label: "Desk", Levels: map[authz.Area]authz.Level{"reservations": "edit"}}); err != nil {
			t.Fatal(err)
		}
		mustCan(t, a2, db2, s, "reservations", "edit", true)

		// And the other way round.
		if err := a2.Assign(ctx, db2, tenantID, s, "viewer"); err != nil {
			t.Fatal(err)
		}
		mustCan(t, a1, db1, s, "reservations", "edit", false)
		mustCan(t, a1, db1, s, "menus", "view", true)
		if err := a2.Unassign(ctx, db2, tenantID, s); err != nil {
			t.Fatal(err)
		}
		mustCan(t, a1, db1, s, "menus", "view", false)
		if err := a1.DeleteRole(ctx, db1, tenantID, "desk"); err != nil {
			t.Fatal(err)
		}
		if _, err := a2.Role(ctx, db2, tenantID, "desk"); !errors.Is(err, authz.ErrRoleNotFound) {
			t.Errorf("a2 sees the deleted role: %v", err)
		}
	})
}

// A change made in a transaction that rolls back must leave no trace, not
// even in the cache of the process that made it and checked inside it.
func TestChangesInARolledBackTransaction(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{})
		const s = "staff:0190staff0003"
		mustCan(t, a, db, s, "members", "edit", false)
		before := snapshot(t, db)

		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.CreateRole(ctx, tx, tenantID, "desk", authz.RoleSpec{Label: "Desk", Levels: map[authz.Area]authz.Level{"members": "edit"}}); err != nil {
			t.Fatal(err)
		}
		if err := a.Assign(ctx, tx, tenantID, s, "desk"); err != nil {
			t.Fatal(err)
		}
		mustCan(t, a, tx, s, "members", "edit", true) // seen inside, and cached
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}

		mustCan(t, a, db, s, "members", "edit", false)
		if _, err := a.Role(ctx, db, tenantID, "desk"); !errors.Is(err, authz.ErrRoleNotFound) {
			t.Errorf("role after rollback: %v", err)
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("rollback left changes: %+v → %+v", before, after)
		}
	})
}

func TestCacheIsBounded(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{MaxTenants: 2})
		// Three tenants' policies in one database (their domains keep them
		// apart), to exercise eviction.
		tenants := []string{"0190tenantA", "0190tenantB", "0190tenantC"}
		for i, tn := range tenants {
			role := []string{"owner", "staff", "viewer"}[i]
			if err := a.Assign(ctx, db, tn, "staff:"+tn, role); err != nil {
				t.Fatal(err)
			}
		}
		for round := 0; round < 3; round++ {
			for i, tn := range tenants {
				want := []bool{true, false, false}[i] // settings: only the owner
				for j, other := range tenants {
					got, err := a.Can(ctx, db, other, "staff:"+tn, authz.AreaSettings, authz.ActionView)
					if err != nil {
						t.Fatal(err)
					}
					if got != (want && i == j) {
						t.Errorf("tenant %s, subject of %s: Can = %v", other, tn, got)
					}
				}
				if n := a.CachedTenants(); n > 2 {
					t.Fatalf("%d tenants cached, at most 2 allowed", n)
				}
			}
		}
	})
}

// Many goroutines check while another keeps changing the role they hold:
// no error, no data race (go test -race), and every answer is one of the
// two policies, never something else.
func TestConcurrentChecksDuringChanges(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a := authz.New(authz.Config{})
		view := authz.RoleSpec{Label: "Desk", Levels: map[authz.Area]authz.Level{"reservations": "view", "menus": "view"}}
		edit := authz.RoleSpec{Label: "Desk", Levels: map[authz.Area]authz.Level{"reservations": "edit", "menus": "view"}}
		if _, err := a.CreateRole(ctx, db, tenantID, "desk", view); err != nil {
			t.Fatal(err)
		}
		const checkers, checks, changes = 12, 40, 20
		for i := range checkers {
			if err := a.Assign(ctx, db, tenantID, fmt.Sprintf("staff:s%d", i), "desk"); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, checkers*checks+changes)
		for i := range checkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := fmt.Sprintf("staff:s%d", i)
				for range checks {
					if ok, err := a.Can(ctx, db, tenantID, s, authz.AreaReservations, authz.ActionView); err != nil || !ok {
						errs <- fmt.Errorf("Can(view) = %v, %v", ok, err)
					}
					if ok, err := a.Can(ctx, db, tenantID, s, authz.AreaReservations, authz.ActionCSV); err != nil || ok {
						errs <- fmt.Errorf("Can(csv) = %v, %v", ok, err)
					}
					levels, err := a.Levels(ctx, db, tenantID, s)
					if err != nil {
						errs <- err
					} else if l := levels[authz.AreaReservations]; (l != "view" && l != "edit") || levels[authz.AreaMenus] != "view" {
						errs <- fmt.Errorf("Levels = %v", levels)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range changes {
				spec := view
				if i%2 == 0 {
					spec = edit
				}
				if _, err := a.UpdateRole(ctx, db, tenantID, "desk", spec); err != nil {
					errs <- err
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// The last change (i = 19: view) is what every check sees now.
		mustCan(t, a, db, "staff:s0", authz.AreaReservations, authz.ActionEdit, false)
	})
}
