package authz_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
)

// testModel is an RBAC-with-domains model like the package's own.
const testModel = `
[request_definition]
r = sub, dom, obj, act
[policy_definition]
p = sub, dom, obj, act
[role_definition]
g = _, _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
`

func newModel(t *testing.T) model.Model {
	t.Helper()
	m, err := model.NewModelFromString(testModel)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rulesOf returns m's rules as sorted "ptype,v0,v1,…" lines.
func rulesOf(t *testing.T, m model.Model) []string {
	t.Helper()
	var out []string
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, r := range ast.Policy {
				out = append(out, ptype+","+strings.Join(r, ","))
			}
		}
	}
	slices.Sort(out)
	return out
}

func loaded(t *testing.T, db bun.IDB) []string {
	t.Helper()
	m := newModel(t)
	if err := authz.NewAdapter(db).LoadPolicy(m); err != nil {
		t.Fatal(err)
	}
	return rulesOf(t, m)
}

func TestAdapterSaveLoadRoundTrip(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		var _ persist.BatchAdapter = authz.NewAdapter(db)
		ad := authz.NewAdapter(db)
		m := newModel(t)
		for _, line := range []string{
			"p, role:desk, t1, reservations, view",
			"p, role:desk, t1, reservations, edit",
			"p, role:受付, t1, members, view",
			"g, staff:1, role:desk, t1",
			"g, apikey:2, role:受付, t1",
		} {
			if err := persist.LoadPolicyLine(line, m); err != nil {
				t.Fatal(err)
			}
		}
		want := rulesOf(t, m)
		if err := ad.SavePolicy(m); err != nil {
			t.Fatal(err)
		}
		if got := loaded(t, db); !slices.Equal(got, want) {
			t.Errorf("after SavePolicy, LoadPolicy gives\n%v\nwant\n%v", got, want)
		}

		// Saving again replaces everything.
		m2 := newModel(t)
		if err := persist.LoadPolicyLine("p, role:x, t1, mail, view", m2); err != nil {
			t.Fatal(err)
		}
		if err := ad.SavePolicy(m2); err != nil {
			t.Fatal(err)
		}
		if got := loaded(t, db); !slices.Equal(got, []string{"p,role:x,t1,mail,view"}) {
			t.Errorf("after a second SavePolicy: %v", got)
		}

		// Values too long for the table are refused, not truncated, and
		// nothing of that save is kept.
		m3 := newModel(t)
		if err := persist.LoadPolicyLine("p, "+strings.Repeat("x", authz.MaxValueLen+1)+", t1, mail, view", m3); err != nil {
			t.Fatal(err)
		}
		if err := ad.SavePolicy(m3); err == nil {
			t.Error("SavePolicy of an over-long value succeeded")
		}
		if got := loaded(t, db); !slices.Equal(got, []string{"p,role:x,t1,mail,view"}) {
			t.Errorf("after a refused SavePolicy: %v", got)
		}
	})
}

func TestAdapterAutoSave(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ad := authz.NewAdapter(db)
		e, err := casbin.NewEnforcer(newModel(t), ad)
		if err != nil {
			t.Fatal(err)
		}
		// Through the enforcer (auto-save calls the adapter).
		mustTrue := func(ok bool, err error) {
			t.Helper()
			if err != nil || !ok {
				t.Fatalf("= %v, %v", ok, err)
			}
		}
		mustTrue(e.AddPolicy("role:desk", "t1", "reservations", "view"))
		mustTrue(e.AddPolicy("role:desk", "t1", "reservations", "edit"))
		mustTrue(e.AddGroupingPolicy("alice", "role:desk", "t1"))
		mustTrue(e.AddPolicies([][]string{{"role:boss", "t1", "settings", "view"}, {"role:boss", "t1", "settings", "edit"}}))
		mustTrue(e.AddGroupingPolicy("bob", "role:boss", "t1"))

		fresh, err := casbin.NewEnforcer(newModel(t), authz.NewAdapter(db))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			sub, obj, act string
			want          bool
		}{
			{"alice", "reservations", "edit", true},
			{"alice", "settings", "view", false},
			{"bob", "settings", "edit", true},
		} {
			if ok, err := fresh.Enforce(c.sub, "t1", c.obj, c.act); err != nil || ok != c.want {
				t.Errorf("Enforce(%s, %s, %s) = %v, %v", c.sub, c.obj, c.act, ok, err)
			}
		}

		mustTrue(e.RemovePolicy("role:desk", "t1", "reservations", "edit"))
		mustTrue(e.RemovePolicies([][]string{{"role:boss", "t1", "settings", "edit"}}))
		mustTrue(e.RemoveFilteredGroupingPolicy(0, "alice"))
		want := []string{
			"g,bob,role:boss,t1",
			"p,role:boss,t1,settings,view",
			"p,role:desk,t1,reservations,view",
		}
		if got := loaded(t, db); !slices.Equal(got, want) {
			t.Errorf("after removals: %v, want %v", got, want)
		}

		// The adapter directly: a filter on a middle field, "" as a wildcard.
		if err := ad.AddPolicies("p", "p", [][]string{{"role:a", "t1", "mail", "view"}, {"role:b", "t1", "mail", "view"}, {"role:b", "t1", "mail", "edit"}}); err != nil {
			t.Fatal(err)
		}
		if err := ad.RemoveFilteredPolicy("p", "p", 2, "mail", "view"); err != nil {
			t.Fatal(err)
		}
		if err := ad.RemoveFilteredPolicy("p", "p", 0, "", "t1", "", "edit"); err != nil {
			t.Fatal(err)
		}
		want = []string{
			"g,bob,role:boss,t1",
			"p,role:boss,t1,settings,view",
			"p,role:desk,t1,reservations,view",
		}
		if got := loaded(t, db); !slices.Equal(got, want) {
			t.Errorf("after filtered removals: %v, want %v", got, want)
		}
		if err := ad.RemoveFilteredPolicy("p", "p", 5, "a", "b"); err == nil {
			t.Error("a filter past v5 was accepted")
		}
		if err := ad.RemovePolicy("p", "p", []string{"role:nosuch", "t1", "x", "y"}); err != nil {
			t.Errorf("removing a rule that is not stored: %v", err)
		}
		// A stored duplicate is refused by the unique index.
		if err := ad.AddPolicy("p", "p", []string{"role:boss", "t1", "settings", "view"}); err == nil {
			t.Error("a duplicate rule was stored")
		}
	})
}

func TestAdapterInARolledBackTransaction(t *testing.T) {
	forEachTenantDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if err := authz.NewAdapter(db).AddPolicy("g", "g", []string{"carol", "role:x", "t1"}); err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ad := authz.NewAdapter(tx)
		if err := ad.AddPolicyCtx(ctx, "p", "p", []string{"role:x", "t1", "menus", "view"}); err != nil {
			t.Fatal(err)
		}
		if err := ad.AddPoliciesCtx(ctx, "g", "g", [][]string{{"dave", "role:x", "t1"}}); err != nil {
			t.Fatal(err)
		}
		if err := ad.RemoveFilteredPolicyCtx(ctx, "g", "g", 0, "carol"); err != nil {
			t.Fatal(err)
		}
		m := newModel(t)
		if err := ad.SavePolicyCtx(ctx, m); err != nil { // empties the table, in the transaction
			t.Fatal(err)
		}
		if err := persist.LoadPolicyLine("p, role:y, t1, audit, view", m); err != nil {
			t.Fatal(err)
		}
		if err := ad.SavePolicyCtx(ctx, m); err != nil {
			t.Fatal(err)
		}
		if got := loaded(t, tx); !slices.Equal(got, []string{"p,role:y,t1,audit,view"}) {
			t.Errorf("inside the transaction: %v", got)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if got := loaded(t, db); !slices.Equal(got, []string{"g,carol,role:x,t1"}) {
			t.Errorf("after rollback: %v, want only the rule stored before", got)
		}
	})
}
