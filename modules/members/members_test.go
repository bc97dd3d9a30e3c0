package members_test

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
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const pass = "a long member passphrase 2026"

type env struct {
	db   *bun.DB
	svc  *members.Service
	ctx  context.Context
	now  *time.Time
	subs *outbox.Subscriptions
}

func newEnv(t *testing.T, db *bun.DB) *env {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	e := &env{db: db, now: &now}
	idsvc, err := identity.NewService(identity.Config{Password: identity.TestPasswordParams(), Now: func() time.Time { return *e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.subs = outbox.NewSubscriptions()
	for _, typ := range []string{members.EventMemberVerify, members.EventMemberPasswordReset} {
		e.subs.Subscribe("mail", typ, func(context.Context, bun.IDB, outbox.Tenant, outbox.Event) error { return nil })
	}
	e.svc = members.NewService(members.Config{Passwords: idsvc, Events: e.subs, Now: func() time.Time { return *e.now }})
	e.ctx = auditlog.WithRequest(context.Background(), auditlog.Request{
		Actor: auditlog.Actor{Kind: auditlog.ActorStaff, ID: "st1", Name: "hanako@example.jp", Role: "owner"}, RequestID: "req-mem"})
	return e
}

func profile(family, given, fkana, gkana string) members.ProfileInput {
	return members.ProfileInput{FamilyName: family, GivenName: given, FamilyKana: fkana, GivenKana: gkana}
}

func fieldCodes(err error) map[string]string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	out := map[string]string{}
	for _, f := range ae.Fields {
		out[f.Field] = f.Code
	}
	return out
}

func TestProfileValidation(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	base := members.ProfileInput{FamilyName: "山田", GivenName: "花子", FamilyKana: "ヤマダ", GivenKana: "ハナコ"}
	cases := []struct {
		name   string
		edit   func(*members.ProfileInput)
		check  func(members.Profile) bool
		fields map[string]string
	}{
		{"half-width kana widened", func(p *members.ProfileInput) { p.FamilyKana, p.GivenKana = "ｾｲ", "ﾒｲ" },
			func(p members.Profile) bool { return p.FamilyKana == "セイ" && p.GivenKana == "メイ" }, nil},
		{"half-width voiced marks composed", func(p *members.ProfileInput) { p.FamilyKana = "ﾔﾏﾀﾞ ｶﾞｸ" },
			func(p members.Profile) bool { return p.FamilyKana == "ヤマダ\u3000ガク" }, nil},
		{"hiragana accepted as katakana", func(p *members.ProfileInput) { p.GivenKana = "はなこ" },
			func(p members.Profile) bool { return p.GivenKana == "ハナコ" }, nil},
		{"long vowel and middle dot", func(p *members.ProfileInput) { p.GivenKana = "メアリー・アン" },
			func(p members.Profile) bool { return p.GivenKana == "メアリー・アン" }, nil},
		{"kanji in kana refused", func(p *members.ProfileInput) { p.FamilyKana = "山田" }, nil, map[string]string{"family_kana": "kana"}},
		{"latin in kana refused", func(p *members.ProfileInput) { p.GivenKana = "Hanako" }, nil, map[string]string{"given_kana": "kana"}},
		{"postal code 7 digits", func(p *members.ProfileInput) { p.PostalCode = "1500001" },
			func(p members.Profile) bool { return p.PostalCode == "1500001" }, nil},
		{"postal code with hyphen", func(p *members.ProfileInput) { p.PostalCode = "150-0001" },
			func(p members.Profile) bool {
				return p.PostalCode == "1500001" && members.FormatPostalCode(p.PostalCode) == "150-0001"
			}, nil},
		{"postal code full-width", func(p *members.ProfileInput) { p.PostalCode = "〒１５０－０００１" },
			func(p members.Profile) bool { return p.PostalCode == "1500001" }, nil},
		{"postal code short", func(p *members.ProfileInput) { p.PostalCode = "150-001" }, nil, map[string]string{"postal_code": "postal_code"}},
		{"prefecture by code", func(p *members.ProfileInput) { p.Prefecture = "13" },
			func(p members.Profile) bool { return p.Prefecture == 13 }, nil},
		{"prefecture by name", func(p *members.ProfileInput) { p.Prefecture = "大阪府" },
			func(p members.Profile) bool { return p.Prefecture == 27 }, nil},
		{"prefecture short name", func(p *members.ProfileInput) { p.Prefecture = "北海道" },
			func(p members.Profile) bool { return p.Prefecture == 1 }, nil},
		{"prefecture english", func(p *members.ProfileInput) { p.Prefecture = "Kyoto" },
			func(p members.Profile) bool { return p.Prefecture == 26 }, nil},
		{"prefecture 48 refused", func(p *members.ProfileInput) { p.Prefecture = "48" }, nil, map[string]string{"prefecture": "prefecture"}},
		{"prefecture unknown refused", func(p *members.ProfileInput) { p.Prefecture = "東都" }, nil, map[string]string{"prefecture": "prefecture"}},
		{"phone with hyphens", func(p *members.ProfileInput) { p.Phone = "090-1234-5678" },
			func(p members.Profile) bool { return p.Phone == "090-1234-5678" }, nil},
		{"phone full-width", func(p *members.ProfileInput) { p.Phone = "０３ー１２３４ー５６７８" },
			func(p members.Profile) bool { return p.Phone == "03-1234-5678" }, nil},
		{"phone short", func(p *members.ProfileInput) { p.Phone = "03-1234" }, nil, map[string]string{"phone": "phone"}},
		{"phone letters", func(p *members.ProfileInput) { p.Phone = "090-abcd-5678" }, nil, map[string]string{"phone": "phone"}},
		{"birth date", func(p *members.ProfileInput) { p.BirthDate = "1990/4/1" },
			func(p members.Profile) bool { return p.BirthDate == "1990-04-01" }, nil},
		{"birth date in the future", func(p *members.ProfileInput) { p.BirthDate = "2030-01-01" }, nil,
			map[string]string{"birth_date": "member_birth_date_range"}},
		{"birth date impossible", func(p *members.ProfileInput) { p.BirthDate = "1990-02-30" }, nil, map[string]string{"birth_date": "member_date"}},
		{"gender unknown", func(p *members.ProfileInput) { p.Gender = "x" }, nil, map[string]string{"gender": "oneof"}},
		{"names required", func(p *members.ProfileInput) { *p = members.ProfileInput{} }, nil,
			map[string]string{"family_name": "required", "given_name": "required", "family_kana": "required", "given_kana": "required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			tc.edit(&in)
			p, err := members.NormalizeProfile(in, now)
			if tc.fields != nil {
				got := fieldCodes(err)
				for f, code := range tc.fields {
					if got[f] != code {
						t.Errorf("field %s: got %q, want %q (all: %v)", f, got[f], code, got)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !tc.check(p) {
				t.Errorf("normalised to %+v", p)
			}
		})
	}
}

func register(t *testing.T, e *env, email string, in members.ProfileInput) members.Member {
	t.Helper()
	m, err := e.svc.Register(e.ctx, e.db, "shop", members.RegisterInput{Email: email, Password: pass, Profile: in}, "https://x.example/t/shop")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tokenOf finds the link token in the newest outbox event of typ.
func tokenOf(t *testing.T, e *env, typ string) string {
	t.Helper()
	var payloads []string
	if err := e.db.NewSelect().Table("outbox").Column("payload").Where("event_type = ?", typ).OrderExpr("id DESC").Scan(e.ctx, &payloads); err != nil {
		t.Fatal(err)
	}
	if len(payloads) == 0 {
		t.Fatalf("no %s event", typ)
	}
	p := payloads[0]
	for _, marker := range []string{"/verify/", "/reset/"} {
		if i := strings.Index(p, marker); i >= 0 {
			rest := p[i+len(marker):]
			return rest[:strings.IndexByte(rest, '"')]
		}
	}
	t.Fatalf("no link in %s", p)
	return ""
}

func TestRegistrationVerificationLogin(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := register(t, e, "Hanako@Example.JP", profile("山田", "花子", "ﾔﾏﾀﾞ", "はなこ"))
		if m.Number != "M0000001" || m.Status != members.StatusPending || m.Email != "hanako@example.jp" || m.Profile.GivenKana != "ハナコ" {
			t.Fatalf("registered %+v", m)
		}
		// Unverified: cannot log in, answered like a wrong password.
		if _, _, err := e.svc.Login(e.ctx, e.db, "hanako@example.jp", pass, "192.0.2.1", "test"); !errors.Is(err, members.ErrLoginFailed) {
			t.Fatalf("unverified login: %v", err)
		}
		token := tokenOf(t, e, members.EventMemberVerify)
		if _, err := e.svc.Verify(e.ctx, e.db, token); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Verify(e.ctx, e.db, token); !errors.Is(err, members.ErrTokenInvalid) {
			t.Fatalf("second use of the link: %v", err)
		}
		tok, got, err := e.svc.Login(e.ctx, e.db, "HANAKO@example.jp", pass, "192.0.2.1", "test")
		if err != nil || got.ID != m.ID {
			t.Fatalf("login: %v %+v", err, got)
		}
		me, sess, err := e.svc.Authenticate(e.ctx, e.db, tok)
		if err != nil || me.ID != m.ID || !members.CheckCSRF(sess, members.CSRFToken(sess)) || members.CheckCSRF(sess, "x") {
			t.Fatalf("authenticate: %v", err)
		}
		if err := e.svc.Logout(e.ctx, e.db, tok); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Authenticate(e.ctx, e.db, tok); !errors.Is(err, members.ErrSessionExpired) {
			t.Fatalf("after logout: %v", err)
		}
		// The second member gets the next number; the same address is taken.
		m2 := register(t, e, "taro@example.jp", profile("佐藤", "太郎", "サトウ", "タロウ"))
		if m2.Number != "M0000002" {
			t.Errorf("second number %s", m2.Number)
		}
		_, err = e.svc.Register(e.ctx, e.db, "shop", members.RegisterInput{Email: "TARO@example.jp", Password: pass,
			Profile: profile("佐藤", "次郎", "サトウ", "ジロウ")}, "https://x.example/t/shop")
		if !errors.Is(err, members.ErrEmailTaken) {
			t.Fatalf("duplicate e-mail: %v", err)
		}
		if _, err := e.svc.ByEmail(e.ctx, e.db, "Taro@Example.jp"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLockoutAndReset(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m, err := e.svc.Create(e.ctx, e.db, "shop", members.CreateInput{Email: "lock@example.jp", Password: pass,
			Profile: profile("鈴木", "一郎", "スズキ", "イチロウ")}, "https://x.example/t/shop")
		if err != nil || m.Status != members.StatusActive {
			t.Fatalf("create: %v %+v", err, m)
		}
		for i := range identity.MaxFailedLogins {
			if _, _, err := e.svc.Login(e.ctx, e.db, "lock@example.jp", "wrong wrong wrong", "192.0.2.7", "t"); !errors.Is(err, members.ErrLoginFailed) {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		if _, _, err := e.svc.Login(e.ctx, e.db, "lock@example.jp", pass, "192.0.2.8", "t"); !errors.Is(err, members.ErrAccountLocked) {
			t.Fatalf("locked account with the right password: %v", err)
		}
		if es, _ := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: "member.locked"}); len(es) != 1 {
			t.Errorf("%d member.locked entries", len(es))
		}
		// The reset answer is the same for a known and an unknown address.
		if err := e.svc.ForgotPassword(e.ctx, e.db, "nobody@example.jp", "192.0.2.9", "https://x.example/t/shop", "ja"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.ForgotPassword(e.ctx, e.db, "LOCK@example.jp", "192.0.2.9", "https://x.example/t/shop", "ja"); err != nil {
			t.Fatal(err)
		}
		token := tokenOf(t, e, members.EventMemberPasswordReset)
		if _, err := e.svc.ResetPassword(e.ctx, e.db, "shop", token, "short"); fieldCodes(err)["password"] != "password_short" {
			t.Fatalf("short password: %v", err)
		}
		const fresh = "a fresh member passphrase"
		if _, err := e.svc.ResetPassword(e.ctx, e.db, "shop", token, fresh); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ResetPassword(e.ctx, e.db, "shop", token, fresh); !errors.Is(err, members.ErrTokenInvalid) {
			t.Fatalf("reused reset link: %v", err)
		}
		if _, _, err := e.svc.Login(e.ctx, e.db, "lock@example.jp", fresh, "192.0.2.8", "t"); err != nil {
			t.Fatalf("login after reset (lockout lifted): %v", err)
		}
		// The per-address throttle: a fourth request for one address.
		for range 2 {
			_ = e.svc.ForgotPassword(e.ctx, e.db, "nobody@example.jp", "192.0.2.10", "https://x.example/t/shop", "ja")
		}
		if err := e.svc.ForgotPassword(e.ctx, e.db, "nobody@example.jp", "192.0.2.11", "https://x.example/t/shop", "ja"); !errors.Is(err, members.ErrResetThrottled) {
			t.Fatalf("throttle: %v", err)
		}
	})
}

func TestSearchWithdrawAndAttributes(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		req, err := e.svc.CreateAttribute(e.ctx, e.db, members.AttributeInput{LabelJA: "会員種別", Kind: members.AttrChoice,
			Requirement: members.Required, Choices: []string{"一般", "学生"}})
		if err != nil {
			t.Fatal(err)
		}
		memo, err := e.svc.CreateAttribute(e.ctx, e.db, members.AttributeInput{LabelJA: "スタッフメモ", Kind: members.AttrText, Requirement: members.StaffOnly})
		if err != nil {
			t.Fatal(err)
		}
		count, err := e.svc.CreateAttribute(e.ctx, e.db, members.AttributeInput{LabelJA: "来店回数", Kind: members.AttrNumber, Requirement: members.Optional})
		if err != nil {
			t.Fatal(err)
		}
		// Registration needs the required attribute and drops staff-only values.
		in := members.RegisterInput{Email: "a@example.jp", Password: pass, Profile: profile("山田", "花子", "ヤマダ", "ハナコ"),
			Attributes: map[string]string{memo.ID: "VIP"}}
		if _, err := e.svc.Register(e.ctx, e.db, "shop", in, "https://x/t/shop"); fieldCodes(err)["attributes."+req.ID] != "required" {
			t.Fatalf("missing required attribute: %v", err)
		}
		in.Attributes[req.ID] = "学生"
		in.Attributes[count.ID] = "１２"
		a, err := e.svc.Register(e.ctx, e.db, "shop", in, "https://x/t/shop")
		if err != nil {
			t.Fatal(err)
		}
		if a.Attributes[memo.ID] != "" || a.Attributes[req.ID] != "学生" || a.Attributes[count.ID] != "12" {
			t.Fatalf("attributes %v", a.Attributes)
		}
		// Staff may set staff-only values; an unknown choice is refused.
		if _, err := e.svc.Update(e.ctx, e.db, a.ID, members.Patch{Attributes: map[string]string{req.ID: "社会人"}}); fieldCodes(err)["attributes."+req.ID] != "oneof" {
			t.Fatalf("bad choice: %v", err)
		}
		a, err = e.svc.Update(e.ctx, e.db, a.ID, members.Patch{Attributes: map[string]string{memo.ID: "VIP"}})
		if err != nil || a.Attributes[memo.ID] != "VIP" {
			t.Fatalf("staff-only by staff: %v %v", err, a.Attributes)
		}
		// The member's own edit keeps the staff-only value.
		a, err = e.svc.UpdateProfile(e.ctx, e.db, a, members.ProfilePatch{}, map[string]string{req.ID: "一般", memo.ID: "hacked"})
		if err != nil || a.Attributes[memo.ID] != "VIP" || a.Attributes[req.ID] != "一般" {
			t.Fatalf("member edit: %v %v", err, a.Attributes)
		}
		ph := "090-1234-5678"
		b, err := e.svc.Create(e.ctx, e.db, "shop", members.CreateInput{Email: "Sato@Example.jp",
			Profile: members.ProfileInput{FamilyName: "佐藤", GivenName: "次郎", FamilyKana: "サトウ", GivenKana: "ジロウ", Phone: ph}}, "https://x/t/shop")
		if err != nil {
			t.Fatal(err)
		}
		search := func(q string) []string {
			t.Helper()
			ms, _, err := e.svc.List(e.ctx, e.db, members.ListParams{Q: q})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range ms {
				out = append(out, m.Number)
			}
			return out
		}
		for q, want := range map[string][]string{
			"山田":                      {a.Number},
			"山田花子":                    {a.Number},
			"ﾔﾏﾀﾞ":                    {a.Number},
			"さとう":                     {b.Number},
			"SATO@":                   {b.Number},
			"09012345678":             {b.Number},
			"０９０－１２３４":                {b.Number},
			"m0000002":                {b.Number},
			strings.ToLower(a.Number): {a.Number},
			"example.jp":              {a.Number, b.Number},
			"100%":                    nil,
			"佐藤 ジロウ":                  {b.Number},
		} {
			if got := search(q); !slices.Equal(got, want) {
				t.Errorf("search %q: %v, want %v", q, got, want)
			}
		}
		// Withdrawal anonymises, keeps the number, and is audited.
		w, err := e.svc.Withdraw(e.ctx, e.db, b.ID, auditlog.Actor{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Get(e.ctx, e.db, b.ID)
		if err != nil || got.Number != b.Number || got.Email != "" || got.Profile != (members.Profile{}) || got.Status != members.StatusWithdrawn || w.WithdrawnAt.IsZero() {
			t.Fatalf("withdrawn: %v %+v", err, got)
		}
		if got := search("佐藤"); len(got) != 0 {
			t.Errorf("a withdrawn member is still found by name: %v", got)
		}
		if _, err := e.svc.Withdraw(e.ctx, e.db, b.ID, auditlog.Actor{}); !errors.Is(err, members.ErrWithdrawn) {
			t.Errorf("second withdrawal: %v", err)
		}
		es, err := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: "member.withdraw", ObjectID: b.ID})
		if err != nil || len(es) != 1 || es[0].Actor.ID != "st1" {
			t.Fatalf("withdraw audit: %v %+v", err, es)
		}
		// No personal data in the operation log.
		all, _ := auditlog.Search(e.ctx, e.db, auditlog.Filter{Limit: 1000})
		for _, en := range all {
			for _, ch := range en.Changes {
				if strings.Contains(string(ch.Old)+string(ch.New), "佐藤") || strings.Contains(string(ch.Old)+string(ch.New), "sato@") {
					t.Errorf("personal data in the log: %s %s", en.Action, ch.Field)
				}
			}
		}
		// The address is free again.
		if _, err := e.svc.Create(e.ctx, e.db, "shop", members.CreateInput{Email: "sato@example.jp",
			Profile: profile("佐藤", "次郎", "サトウ", "ジロウ")}, "https://x/t/shop"); err != nil {
			t.Fatalf("re-register after withdrawal: %v", err)
		}
	})
}
