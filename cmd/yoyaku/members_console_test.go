package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

var memberLinkRE = regexp.MustCompile(`/t/member-console/admin/members/([0-9a-f]{32})`)

// Staff find members in the console: the list searches by name, kana,
// phone and number with the filter in the URL and pages; the detail page
// edits (an error named at its field, typed input kept) and withdraws
// (confirmed); a viewer sees the page read-only and a post is refused.
func TestMembersConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		const pass = "a sturdy console passphrase 2026"
		owner, viewer := "owner@member-console.example.jp", "viewer@member-console.example.jp"
		a := appFor(t, loc)
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "member-console", Name: "会員コンソール", OwnerEmail: owner})
		if err != nil {
			t.Fatal(err)
		}
		err = a.inTenant(ctx, "member-console", func(_ tenants.Tenant, db bun.IDB) error {
			if _, err := a.staff.RedeemSetup(ctx, db, tn.OwnerSetupURL[strings.LastIndex(tn.OwnerSetupURL, "/")+1:], pass, "member-console"); err != nil {
				return err
			}
			if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				st, token, err := a.staff.Invite(ctx, tx, identity.Principal{}, viewer, "閲覧者", authz.RoleViewer)
				if err != nil {
					return err
				}
				if err := a.authz.Assign(ctx, tx, tn.ID, authz.StaffSubject(st.ID), authz.RoleViewer); err != nil {
					return err
				}
				_, err = a.staff.RedeemSetup(ctx, tx, token, pass, "member-console")
				return err
			}); err != nil {
				return err
			}
			for i, p := range []members.ProfileInput{
				{FamilyName: "山田", GivenName: "花子", FamilyKana: "ヤマダ", GivenKana: "ハナコ", Phone: "090-1111-2222"},
				{FamilyName: "佐藤", GivenName: "太郎", FamilyKana: "サトウ", GivenKana: "タロウ", Phone: "03-3333-4444"},
				{FamilyName: "山本", GivenName: "一郎", FamilyKana: "ヤマモト", GivenKana: "イチロウ"},
			} {
				if _, err := a.members.Create(ctx, db, "member-console", members.CreateInput{Email: []string{"hanako@example.jp", "taro@example.jp", "ichiro@example.jp"}[i], Profile: p}, "http://x"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Close()

		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0")...)
		admin := s.base + "/t/member-console/admin"
		signIn := func(email string) *consoleUser {
			u := newConsoleUser(t, admin)
			redirectsTo(t, "sign-in", u.submit("/login", "/login", url.Values{"email": {email}, "password": {pass}}, http.StatusSeeOther), "/t/member-console/admin/")
			return u
		}
		u := signIn(owner)
		home := u.get("/", http.StatusOK)
		mustContain(t, "the navigation", home.body, `href="/t/member-console/admin/members"`)

		list := u.get("/members", http.StatusOK)
		mustContain(t, "the list", list.body, "M0000001", "M0000002", "M0000003", "3件")
		for q, want := range map[string][]string{
			"山":          {"M0000001", "M0000003"},
			"やまもと":       {"M0000003"},
			"0333334444": {"M0000002"},
			"m0000002":   {"M0000002"},
		} {
			page := u.get("/members?q="+url.QueryEscape(q), http.StatusOK).body
			for _, n := range []string{"M0000001", "M0000002", "M0000003"} {
				has := strings.Contains(page, `id="member-`+n+`"`)
				if has != strings.Contains(strings.Join(want, " "), n) {
					t.Errorf("search %q: %s shown %v", q, n, has)
				}
			}
			mustContain(t, "the kept query", page, `value="`+q+`"`)
		}
		filtered := u.get("/members?status=withdrawn", http.StatusOK).body
		mustContain(t, "the status filter", filtered, `<option value="withdrawn" selected>`, `id="no-members"`)

		m := memberLinkRE.FindStringSubmatch(u.get("/members?q=m0000001", http.StatusOK).body)
		if m == nil {
			t.Fatal("no link to the member")
		}
		detail := "/members/" + m[1]
		page := u.get(detail, http.StatusOK).body
		mustContain(t, "the detail", page, `value="山田"`, `value="ヤマダ"`, "hanako@example.jp")
		bad := u.submit(detail, detail, url.Values{"email": {"hanako@example.jp"}, "family_name": {"山田"}, "given_name": {"花子"},
			"family_kana": {"yamada"}, "given_kana": {"ハナコ"}, "postal_code": {"100-0001"}}, http.StatusBadRequest)
		mustContain(t, "a refused edit", bad.body, "全角カタカナで入力してください", `value="yamada"`, `value="100-0001"`)
		redirectsTo(t, "an edit", u.submit(detail, detail, url.Values{"email": {"hanako@example.jp"}, "family_name": {"山田"}, "given_name": {"花子"},
			"family_kana": {"ﾔﾏﾀﾞ"}, "given_kana": {"ハナコ"}, "postal_code": {"100-0001"}}, http.StatusSeeOther), "/t/member-console/admin"+detail+"?done=saved")
		mustContain(t, "the saved member", u.get(detail, http.StatusOK).body, `value="100-0001"`, `value="ヤマダ"`)

		// A viewer reads, read-only; a post is refused.
		v := signIn(viewer)
		mustContain(t, "the viewer's page", v.get(detail, http.StatusOK).body, `id="read-only"`)
		v.submit(detail, detail+"/withdraw", url.Values{"confirm": {"1"}}, http.StatusForbidden)

		// Withdrawal needs the box, then erases.
		u.submit(detail, detail+"/withdraw", url.Values{}, http.StatusBadRequest)
		redirectsTo(t, "a withdrawal", u.submit(detail, detail+"/withdraw", url.Values{"confirm": {"1"}}, http.StatusSeeOther),
			"/t/member-console/admin"+detail+"?done=withdrawn")
		after := u.get(detail, http.StatusOK).body
		if strings.Contains(after, "hanako@example.jp") || strings.Contains(after, "山田") {
			t.Errorf("personal data shown after withdrawal:\n%s", after)
		}
		mustContain(t, "the withdrawn member", u.get("/members?status=withdrawn", http.StatusOK).body, `id="member-M0000001"`)
	})
}
