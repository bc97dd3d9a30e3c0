package menus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is one engine's fixture: a migrated tenant database and the service.
type env struct {
	t   *testing.T
	db  *bun.DB
	svc *menus.Service
	ctx context.Context
}

func newEnv(t *testing.T, db *bun.DB) *env {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	svc := menus.NewService(menus.Config{Now: func() time.Time { return now }})
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{
		Actor:    auditlog.Actor{Kind: auditlog.ActorStaff, ID: "0123456789abcdef0123456789abcdef", Name: "owner@example.jp", Role: "owner"},
		SourceIP: "203.0.113.7", RequestID: "req-menus",
	})
	return &env{t: t, db: db, svc: svc, ctx: ctx}
}

func (e *env) entries(action string) []auditlog.Entry {
	e.t.Helper()
	got, err := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *env) provider(name string) menus.Provider {
	e.t.Helper()
	p, err := e.svc.CreateProvider(e.ctx, e.db, menus.ProviderInput{Name: name, Active: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) resource(name string, qty int) menus.Resource {
	e.t.Helper()
	r, err := e.svc.CreateResource(e.ctx, e.db, menus.ResourceInput{Name: name, Quantity: qty, Active: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// cut is a valid hours menu.
func cut() menus.MenuInput {
	return menus.MenuInput{NameJA: "カット", DurationMinutes: 60, Price: 5500, Capacity: 1,
		BookingMode: menus.ModeHours}
}

func wantFields(t *testing.T, err error, want ...string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalid {
		t.Fatalf("error = %v, want a validation error", err)
	}
	var got []string
	for _, f := range ae.Fields {
		got = append(got, f.Field+":"+f.Code)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("field errors %v lack %s", got, w)
		}
	}
}

func TestMenuRoundTrip(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		cat, err := e.svc.CreateCategory(e.ctx, db, menus.CategoryInput{NameJA: "ヘア", NameEN: "Hair"})
		if err != nil {
			t.Fatal(err)
		}
		sato, suzuki := e.provider("佐藤"), e.provider("鈴木")
		chair := e.resource("カット台", 3)
		in := cut()
		in.CategoryID = cat.ID
		in.DescriptionJA = "シャンプー・ブロー込み"
		in.ApprovalRequired = true
		in.Options = []menus.OptionInput{{NameJA: "トリートメント", Price: 2200, ExtraMinutes: 30}, {NameJA: "眉カット", Price: 1100}}
		in.Questions = []menus.QuestionInput{
			{Kind: menus.KindSingleChoice, LabelJA: "ご来店は初めてですか", Choices: []string{"はい", "いいえ"}, Requirement: menus.Required},
			{Kind: menus.KindLongText, LabelJA: "スタッフメモ", Requirement: menus.StaffOnly},
		}
		in.ProviderIDs = []string{suzuki.ID, sato.ID}
		in.Resources = []menus.ResourceNeed{{ResourceID: chair.ID, Quantity: 1}}
		in.Rules = &menus.Rules{OpensDaysBefore: 30, ClosesMinutesBefore: 120, CancelDeadlineMinutes: 1440, MaxPerMember: 2, MaxPerMemberPeriod: menus.PeriodWeek}
		m, err := e.svc.CreateMenu(e.ctx, db, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Get(e.ctx, db, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.NameJA != "カット" || got.CategoryID != cat.ID || got.PartyMin != 1 || got.PartyMax != 1 ||
			got.Visibility != menus.VisibilityPublic || !got.ApprovalRequired || got.Price != 5500 {
			t.Errorf("menu read back: %+v", got)
		}
		if len(got.Options) != 2 || got.Options[0].NameJA != "トリートメント" || got.Options[0].ExtraMinutes != 30 || got.MaxExtraMinutes() != 30 {
			t.Errorf("options: %+v", got.Options)
		}
		if len(got.Questions) != 2 || !slices.Equal(got.Questions[0].Choices, []string{"はい", "いいえ"}) || got.Questions[1].Requirement != menus.StaffOnly {
			t.Errorf("questions: %+v", got.Questions)
		}
		if !slices.Equal(got.ProviderIDs, []string{suzuki.ID, sato.ID}) {
			t.Errorf("providers %v, want the order given", got.ProviderIDs)
		}
		if len(got.Resources) != 1 || got.Resources[0] != (menus.ResourceNeed{ResourceID: chair.ID, Quantity: 1}) {
			t.Errorf("resources: %+v", got.Resources)
		}
		if got.Rules == nil || got.Effective != *got.Rules || got.Effective.MaxPerMemberPeriod != menus.PeriodWeek {
			t.Errorf("rules %+v, effective %+v", got.Rules, got.Effective)
		}

		// A patch changes what it names; option ids survive an edit.
		name := "カット（ロング）"
		opts := []menus.OptionInput{{ID: got.Options[0].ID, NameJA: "トリートメント", Price: 3300, ExtraMinutes: 30}}
		up, err := e.svc.UpdateMenu(e.ctx, db, m.ID, menus.MenuPatch{NameJA: &name, Options: &opts, SetRules: true})
		if err != nil {
			t.Fatal(err)
		}
		if up.NameJA != name || len(up.Options) != 1 || up.Options[0].ID != got.Options[0].ID || up.Options[0].Price != 3300 ||
			up.Rules != nil || up.Effective != menus.DefaultRules() || up.Price != 5500 || len(up.Questions) != 2 {
			t.Errorf("after the patch: %+v", up)
		}
		upd := e.entries(menus.AuditMenuUpdate)
		if len(upd) != 1 {
			t.Fatalf("%d menu.update entries, want 1", len(upd))
		}
		var fields []string
		for _, c := range upd[0].Changes {
			fields = append(fields, c.Field)
		}
		if !slices.Equal(fields, []string{"name", "options", "rules"}) {
			t.Errorf("logged changes %v, want name, options, rules", fields)
		}
		// An unchanged patch writes nothing.
		if _, err := e.svc.UpdateMenu(e.ctx, db, m.ID, menus.MenuPatch{NameJA: &name}); err != nil {
			t.Fatal(err)
		}
		if n := len(e.entries(menus.AuditMenuUpdate)); n != 1 {
			t.Errorf("an empty change was logged (%d entries)", n)
		}

		// Tenant defaults apply to menus without rules of their own.
		def := menus.Rules{OpensDaysBefore: 60, ClosesInBusinessDays: true, ClosesBusinessDays: 2, MaxPerMemberPeriod: menus.PeriodMonth}
		if _, err := e.svc.SetTenantRules(e.ctx, db, def); err != nil {
			t.Fatal(err)
		}
		if r, err := e.svc.EffectiveRules(e.ctx, db, m.ID); err != nil || r != def {
			t.Errorf("effective rules %+v, %v; want the tenant's %+v", r, err, def)
		}
		if err := e.svc.CheckRules(menus.Rules{ClosesInBusinessDays: true, MaxPerMemberPeriod: "year"}); err == nil {
			t.Error("business days without a count and an unknown period were accepted")
		} else {
			wantFields(t, err, "closes_business_days:range", "max_per_member_period:oneof")
		}

		// Lists page in order.
		for i := range 3 {
			x := cut()
			x.NameJA = "メニュー" + string(rune('A'+i))
			x.Position = i + 1
			if _, err := e.svc.CreateMenu(e.ctx, db, x); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		after := ""
		for {
			page, next, err := e.svc.List(e.ctx, db, menus.ListParams{PageParams: menus.PageParams{After: after, Limit: 2}})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page {
				names = append(names, x.NameJA)
			}
			if next == "" {
				break
			}
			after = next
		}
		if want := []string{name, "メニューA", "メニューB", "メニューC"}; !slices.Equal(names, want) {
			t.Errorf("paged list %v, want %v", names, want)
		}

		// Archived menus leave the list and stay readable.
		if _, err := e.svc.ArchiveMenu(e.ctx, db, m.ID); err != nil {
			t.Fatal(err)
		}
		all, _, err := e.svc.List(e.ctx, db, menus.ListParams{})
		if err != nil || len(all) != 3 {
			t.Fatalf("after archiving: %d menus, %v", len(all), err)
		}
		if a, err := e.svc.Get(e.ctx, db, m.ID); err != nil || !a.Archived() {
			t.Errorf("archived menu: %+v %v", a, err)
		}
		if n := len(e.entries(menus.AuditMenuCreate)); n != 4 {
			t.Errorf("%d menu.create entries, want 4", n)
		}
		if n := len(e.entries(menus.AuditMenuArchive)); n != 1 {
			t.Errorf("%d menu.archive entries, want 1", n)
		}

		// Deleting the category uncategorises its menus.
		if err := e.svc.DeleteCategory(e.ctx, db, cat.ID); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.svc.Get(e.ctx, db, m.ID); a.CategoryID != "" {
			t.Errorf("category %q survived its deletion", a.CategoryID)
		}
		if _, err := e.svc.Get(e.ctx, db, "not-an-id"); !errors.Is(err, menus.ErrMenuNotFound) {
			t.Errorf("get a malformed id: %v", err)
		}
	})
}

func TestMenuBadInput(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		room := e.resource("個室", 2)
		tests := []struct {
			name   string
			modify func(*menus.MenuInput)
			want   []string
		}{
			{"no name", func(m *menus.MenuInput) { m.NameJA = "  " }, []string{"name:required"}},
			{"zero duration", func(m *menus.MenuInput) { m.DurationMinutes = 0 }, []string{"duration_minutes:range"}},
			{"negative duration", func(m *menus.MenuInput) { m.DurationMinutes = -30 }, []string{"duration_minutes:range"}},
			{"over a day", func(m *menus.MenuInput) { m.DurationMinutes = 1445 }, []string{"duration_minutes:range"}},
			{"not a multiple of 5", func(m *menus.MenuInput) { m.DurationMinutes = 62 }, []string{"duration_minutes:catalog_step"}},
			{"zero capacity", func(m *menus.MenuInput) { m.Capacity = 0 }, []string{"capacity:range"}},
			{"negative capacity", func(m *menus.MenuInput) { m.Capacity = -1 }, []string{"capacity:range"}},
			{"negative price", func(m *menus.MenuInput) { m.Price = -1 }, []string{"price:range"}},
			{"party min over max", func(m *menus.MenuInput) { m.Capacity, m.PartyMin, m.PartyMax = 10, 4, 2 }, []string{"party_max:range"}},
			{"party over capacity", func(m *menus.MenuInput) { m.Capacity, m.PartyMax = 2, 3 }, []string{"party_max:range"}},
			{"unknown booking mode", func(m *menus.MenuInput) { m.BookingMode = "lottery" }, []string{"booking_mode:oneof"}},
			{"unknown visibility", func(m *menus.MenuInput) { m.Visibility = "secret" }, []string{"visibility:oneof"}},
			{"choice without choices", func(m *menus.MenuInput) {
				m.Questions = []menus.QuestionInput{{Kind: menus.KindSingleChoice, LabelJA: "色"}}
			}, []string{"questions[0].choices:min_items"}},
			{"duplicate choices", func(m *menus.MenuInput) {
				m.Questions = []menus.QuestionInput{{Kind: menus.KindMultipleChoice, LabelJA: "色", Choices: []string{"赤", "赤"}}}
			}, []string{"questions[0].choices[1]:duplicate"}},
			{"choices on a text question", func(m *menus.MenuInput) {
				m.Questions = []menus.QuestionInput{{Kind: menus.KindText, LabelJA: "色", Choices: []string{"赤"}}}
			}, []string{"questions[0].choices:catalog_choices_not_allowed"}},
			{"unknown question kind", func(m *menus.MenuInput) {
				m.Questions = []menus.QuestionInput{{Kind: "photo", LabelJA: "写真", Requirement: "sometimes"}}
			}, []string{"questions[0].kind:oneof", "questions[0].requirement:oneof"}},
			{"option without a name, negative price and minutes", func(m *menus.MenuInput) {
				m.Options = []menus.OptionInput{{Price: -1, ExtraMinutes: -5}}
			}, []string{"options[0].name:required", "options[0].price:range", "options[0].extra_minutes:range"}},
			{"unknown option id", func(m *menus.MenuInput) {
				m.Options = []menus.OptionInput{{ID: "0123456789abcdef0123456789abcdef", NameJA: "x"}}
			}, []string{"options[0].id:catalog_unknown_reference"}},
			{"unknown provider", func(m *menus.MenuInput) { m.ProviderIDs = []string{"0123456789abcdef0123456789abcdef"} }, []string{"provider_ids[0]:catalog_unknown_reference"}},
			{"malformed provider", func(m *menus.MenuInput) { m.ProviderIDs = []string{"nobody"} }, []string{"provider_ids[0]:catalog_unknown_reference"}},
			{"unknown category", func(m *menus.MenuInput) { m.CategoryID = "0123456789abcdef0123456789abcdef" }, []string{"category_id:catalog_unknown_reference"}},
			{"unknown resource", func(m *menus.MenuInput) {
				m.Resources = []menus.ResourceNeed{{ResourceID: "0123456789abcdef0123456789abcdef", Quantity: 1}}
			}, []string{"resources[0].resource_id:catalog_unknown_reference"}},
			{"more of a resource than exists", func(m *menus.MenuInput) {
				m.Resources = []menus.ResourceNeed{{ResourceID: room.ID, Quantity: 3}}
			}, []string{"resources[0].quantity:range"}},
			{"bad rules", func(m *menus.MenuInput) {
				m.Rules = &menus.Rules{OpensDaysBefore: -1, CancelDeadlineMinutes: -5, MaxPerMember: -1, MaxPerMemberPeriod: "year"}
			}, []string{"rules.opens_days_before:range", "rules.cancel_deadline_minutes:range", "rules.max_per_member:range", "rules.max_per_member_period:oneof"}},
			{"control characters", func(m *menus.MenuInput) { m.NameJA = "カット\r\nBcc:" }, []string{"name:nocontrol"}},
		}
		before := len(e.entries(""))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := cut()
				tt.modify(&in)
				_, err := e.svc.CreateMenu(e.ctx, db, in)
				wantFields(t, err, tt.want...)
			})
		}
		if ms, _, err := e.svc.List(e.ctx, db, menus.ListParams{IncludeArchived: true}); err != nil || len(ms) != 0 {
			t.Errorf("refused menus were stored: %d, %v", len(ms), err)
		}
		if after := len(e.entries("")); after != before {
			t.Errorf("refused menus were logged: %d entries, want %d", after, before)
		}

		// The same rules hold for a change, which then changes nothing.
		m, err := e.svc.CreateMenu(e.ctx, db, cut())
		if err != nil {
			t.Fatal(err)
		}
		zero := 0
		_, err = e.svc.UpdateMenu(e.ctx, db, m.ID, menus.MenuPatch{Capacity: &zero})
		wantFields(t, err, "capacity:range")
		if got, _ := e.svc.Get(e.ctx, db, m.ID); got.Capacity != 1 {
			t.Errorf("a refused change changed the capacity to %d", got.Capacity)
		}
	})
}

func TestProvidersAndResourcesInUse(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		p := e.provider("佐藤")
		r := e.resource("会議室A", 2)
		in := cut()
		in.ProviderIDs = []string{p.ID}
		in.Resources = []menus.ResourceNeed{{ResourceID: r.ID, Quantity: 2}}
		m, err := e.svc.CreateMenu(e.ctx, db, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteProvider(e.ctx, db, p.ID); !errors.Is(err, menus.ErrProviderInUse) {
			t.Fatalf("delete a provider in use: %v, want provider_in_use", err)
		}
		if err := e.svc.DeleteResource(e.ctx, db, r.ID); !errors.Is(err, menus.ErrResourceInUse) {
			t.Fatalf("delete a resource in use: %v, want resource_in_use", err)
		}
		one := 1
		_, err = e.svc.UpdateResource(e.ctx, db, r.ID, menus.ResourcePatch{Quantity: &one})
		wantFields(t, err, "quantity:range")

		// Renaming works; an unknown staff link is a field error.
		name, ghost := "佐藤 花子", "0123456789abcdef0123456789abcdef"
		if got, err := e.svc.UpdateProvider(e.ctx, db, p.ID, menus.ProviderPatch{Name: &name}); err != nil || got.Name != name {
			t.Fatalf("rename: %+v %v", got, err)
		}
		_, err = e.svc.UpdateProvider(e.ctx, db, p.ID, menus.ProviderPatch{StaffID: &ghost})
		wantFields(t, err, "staff_id:catalog_unknown_reference")

		// Once the menu is archived, both can go; the archived menu forgets them.
		if _, err := e.svc.ArchiveMenu(e.ctx, db, m.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteProvider(e.ctx, db, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteResource(e.ctx, db, r.ID); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Get(e.ctx, db, m.ID)
		if err != nil || len(got.ProviderIDs) != 0 || len(got.Resources) != 0 {
			t.Errorf("archived menu after the deletions: %+v %v", got, err)
		}
		if _, err := e.svc.GetProvider(e.ctx, db, p.ID); !errors.Is(err, menus.ErrProviderNotFound) {
			t.Errorf("deleted provider: %v", err)
		}
		for _, a := range []string{menus.AuditProviderCreate, menus.AuditProviderUpdate, menus.AuditProviderDelete,
			menus.AuditResourceCreate, menus.AuditResourceDelete} {
			if n := len(e.entries(a)); n != 1 {
				t.Errorf("%d %s entries, want 1", n, a)
			}
		}
		del := e.entries(menus.AuditProviderDelete)[0]
		i := slices.IndexFunc(del.Changes, func(c auditlog.Change) bool { return c.Field == "name" })
		if del.ObjectID != p.ID || del.Actor.Kind != auditlog.ActorStaff || i < 0 || !strings.Contains(string(del.Changes[i].Old), name) {
			t.Errorf("provider.delete entry: %+v", del)
		}
	})
}
