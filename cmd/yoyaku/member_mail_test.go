package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

var memberVerifyRE = regexp.MustCompile(`https?://\S+/t/member-mail/verify/[A-Za-z0-9_-]+`)

// A member registers on the booking site, end to end with serve and a real
// SMTP server: the form answers "mail sent", the account cannot sign in
// until the mailed link is used, the link (a button, so mail scanners
// cannot use it up) verifies once, sign-in leads to the my page, a wrong
// kana on the profile form says what to do, and withdrawing erases the
// member's data, is in the operation log and ends the session.
func TestMemberRegistrationMail(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		ctx := context.Background()
		email := "hanako+" + string(loc.Engine) + "@member-mail.example.jp"
		const pass = "hanako's long passphrase 2026"

		a := appFor(t, loc)
		if _, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "member-mail", Name: "会員メール店"}); err != nil {
			t.Fatal(err)
		}
		_ = a.Close()
		s := startServe(t, noEnv, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0")...)
		jar, _ := cookiejar.New(nil)
		cc := &consoleClient{t: t, admin: s.base + "/t/member-mail",
			http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

		form := url.Values{"email": {email}, "password": {pass}, "family_name": {"予約"}, "given_name": {"花子"},
			"family_kana": {"ﾖﾔｸ"}, "given_kana": {"はなこ"}, "phone": {"090-1234-5678"}, "postal_code": {"1500001"}, "prefecture": {"13"}}
		// A bad form keeps what was typed and names the field.
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("family_kana", "予約")
		code, page := cc.post("/register", "/register", bad)
		if code != http.StatusBadRequest || !strings.Contains(page, "全角カタカナで入力してください") || !strings.Contains(page, `value="090-1234-5678"`) {
			t.Fatalf("bad registration: %d\n%s", code, page)
		}
		code, page = cc.post("/register", "/register", form)
		if code != http.StatusOK || !strings.Contains(page, "確認メールを送りました") {
			t.Fatalf("registration: %d\n%s", code, page)
		}
		// Not verified yet: sign-in is refused like a wrong password.
		if code, page := cc.post("/login", "/login", url.Values{"email": {email}, "password": {pass}}); code != http.StatusUnauthorized ||
			!strings.Contains(page, "メールアドレスまたはパスワードが正しくありません") {
			t.Fatalf("unverified login: %d\n%s", code, page)
		}

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := mp.Client().WaitTo(wctx, email, 1)
		if err != nil {
			t.Fatalf("no verification mail: %v\nserve log:\n%s", err, s.stderr)
		}
		msg, err := mp.Client().Message(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Subject != "【会員メール店】会員登録の確認" || !strings.Contains(msg.Text, "予約 花子 様") {
			t.Fatalf("verification mail %q:\n%s", msg.Subject, msg.Text)
		}
		link := memberVerifyRE.FindString(msg.Text)
		if link == "" || !strings.HasPrefix(link, s.base+"/t/member-mail/verify/") {
			t.Fatalf("no verification link for %s in:\n%s", s.base, msg.Text)
		}
		path := strings.TrimPrefix(link, cc.admin)
		// Opening the link changes nothing; its button verifies, once.
		if code, page := cc.get(path); code != http.StatusOK || !strings.Contains(page, `action="/t/member-mail`+path+`"`) {
			t.Fatalf("verification page: %d\n%s", code, page)
		}
		if code, _ := cc.post(path, path, url.Values{}); code != http.StatusSeeOther {
			t.Fatalf("verify: %d", code)
		}
		if code, _ := cc.get(path); code != http.StatusGone {
			t.Fatalf("used link: %d, want 410", code)
		}

		if code, _ := cc.post("/login", "/login", url.Values{"email": {strings.ToUpper(email)}, "password": {pass}}); code != http.StatusSeeOther {
			t.Fatalf("login after verification: %d", code)
		}
		code, page = cc.get("/mypage")
		if code != http.StatusOK || !strings.Contains(page, "M0000001") || !strings.Contains(page, "ヨヤク ハナコ") ||
			!strings.Contains(page, "150-0001") || !strings.Contains(page, "東京都") || !strings.Contains(page, `id="reservations"`) {
			t.Fatalf("my page: %d\n%s", code, page)
		}
		// The profile form names a wrong field and keeps the input.
		edit := url.Values{"family_name": {"予約"}, "given_name": {"花子"}, "family_kana": {"Yoyaku"}, "given_kana": {"ハナコ"}, "postal_code": {"150-0002"}}
		code, page = cc.post("/mypage/profile", "/mypage/profile", edit)
		if code != http.StatusBadRequest || !strings.Contains(page, "全角カタカナで入力してください") || !strings.Contains(page, `value="Yoyaku"`) {
			t.Fatalf("bad profile: %d\n%s", code, page)
		}
		edit.Set("family_kana", "よやく")
		if code, _ := cc.post("/mypage/profile", "/mypage/profile", edit); code != http.StatusSeeOther {
			t.Fatalf("profile saved: %d", code)
		}
		// Withdrawal needs the box ticked, then erases and signs out.
		if code, _ := cc.post("/mypage/withdraw", "/mypage/withdraw", url.Values{}); code != http.StatusBadRequest {
			t.Fatalf("withdraw without confirmation: %d", code)
		}
		if code, _ := cc.post("/mypage/withdraw", "/mypage/withdraw", url.Values{"confirm": {"1"}}); code != http.StatusSeeOther {
			t.Fatalf("withdraw: %d", code)
		}
		if code, _ := cc.get("/mypage"); code != http.StatusSeeOther {
			t.Fatalf("my page after withdrawal: %d, want a redirect to login", code)
		}
		if code, _ := cc.post("/login", "/login", url.Values{"email": {email}, "password": {pass}}); code != http.StatusUnauthorized {
			t.Fatalf("login after withdrawal: %d", code)
		}
		b := appFor(t, loc)
		defer b.Close()
		err = b.inTenant(ctx, "member-mail", func(_ tenants.Tenant, db bun.IDB) error {
			m, err := b.members.ByNumber(ctx, db, "M0000001")
			if err != nil {
				return err
			}
			if m.Email != "" || m.Profile.FamilyName != "" || m.Status != "withdrawn" {
				t.Errorf("withdrawn member %+v", m)
			}
			es, err := auditlog.Search(ctx, db, auditlog.Filter{Action: "member.withdraw"})
			if len(es) != 1 || es[0].Actor.Kind != auditlog.ActorMember || es[0].Actor.Name != "M0000001" {
				t.Errorf("withdraw entries %+v", es)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
