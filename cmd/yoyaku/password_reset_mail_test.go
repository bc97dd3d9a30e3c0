package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// resetLinkRE finds the reset link in a mail's text.
var resetLinkRE = regexp.MustCompile(`https?://\S+/admin/reset/[A-Za-z0-9_-]+`)

// A forgotten password, end to end with serve and a real SMTP server: the
// forgot page mails the link (the Japanese subject encoded as RFC 2047
// words), the link sets a new password once, and signing in works with it.
// Then an administrator resets a member's two-step verification and the
// member is told by mail who did it.
func TestPasswordResetAndTwoFactorMails(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		ctx := context.Background()
		owner := "owner+" + string(loc.Engine) + "@reset-shop.example.jp"
		member := "member+" + string(loc.Engine) + "@reset-shop.example.jp"
		const first, fresh = "the owner's first passphrase 2026", "a new passphrase after forgetting"

		// The tenant, its owner and a member with TOTP on, before serve.
		a := appFor(t, loc)
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "reset-shop", Name: "リセット商店", OwnerEmail: owner})
		if err != nil {
			t.Fatal(err)
		}
		var memberID string
		err = a.inTenant(ctx, "reset-shop", func(_ tenants.Tenant, db bun.IDB) error {
			if _, err := a.staff.RedeemSetup(ctx, db, tn.OwnerSetupURL[strings.LastIndex(tn.OwnerSetupURL, "/")+1:], first, "reset-shop"); err != nil {
				return err
			}
			var st identity.Staff
			err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				var err error
				var token string
				if st, token, err = a.staff.Invite(ctx, tx, identity.Principal{}, member, "花子", "staff"); err != nil {
					return err
				}
				if err := a.authz.Assign(ctx, tx, tn.ID, authz.StaffSubject(st.ID), "staff"); err != nil {
					return err
				}
				_, err = a.staff.RedeemSetup(ctx, tx, token, first, "reset-shop")
				return err
			})
			if err != nil {
				return err
			}
			memberID = st.ID
			tok, _, _, err := a.staff.Login(ctx, db, "reset-shop", member, first, "127.0.0.1", "test")
			if err != nil {
				return err
			}
			_, sess, err := a.staff.Authenticate(ctx, db, tok)
			if err != nil {
				return err
			}
			en, err := a.staff.BeginEnrol(ctx, db, sess, "reset-shop")
			if err != nil {
				return err
			}
			code, err := totp.GenerateCode(en.Secret, time.Now())
			if err != nil {
				return err
			}
			_, err = a.staff.ConfirmEnrol(ctx, db, sess, code)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Close()

		s := startServe(t, noEnv, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0")...)
		jar, _ := cookiejar.New(nil)
		cc := &consoleClient{t: t, admin: s.base + "/t/reset-shop/admin",
			http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

		// The login page leads to the forgot page, which answers alike.
		if _, page := cc.get("/login"); !strings.Contains(page, `href="/t/reset-shop/admin/forgot"`) {
			t.Fatalf("no forgot link on the login page:\n%s", page)
		}
		code, page := cc.post("/forgot", "/forgot", url.Values{"email": {strings.ToUpper(owner)}})
		if code != http.StatusOK || !strings.Contains(page, "登録されているメールアドレスであれば、再設定用のリンクをお送りしました。") {
			t.Fatalf("forgot: %d\n%s", code, page)
		}

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := mp.Client().WaitTo(wctx, owner, 1)
		if err != nil {
			t.Fatalf("no reset mail: %v\nserve log:\n%s", err, s.stderr)
		}
		msg, err := mp.Client().Message(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.To) != 1 || msg.To[0].Address != owner || msg.Subject != "【リセット商店】パスワード再設定のご案内" {
			t.Fatalf("reset mail to %+v, subject %q", msg.To, msg.Subject)
		}
		raw, err := mp.Client().Raw(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if subj := rawHeader(raw, "Subject"); !strings.Contains(strings.ToUpper(subj), "=?UTF-8?") || strings.ContainsFunc(subj, func(r rune) bool { return r > 127 }) {
			t.Fatalf("the subject is not RFC 2047 encoded: %q", subj)
		}
		link := resetLinkRE.FindString(msg.Text)
		if link == "" || !strings.HasPrefix(link, s.base+"/t/reset-shop/admin/reset/") || !strings.Contains(msg.HTML, link) {
			t.Fatalf("no reset link for %s in the mail:\n%s", s.base, msg.Text)
		}
		path := strings.TrimPrefix(link, cc.admin)

		// The link sets the password once; the new one signs in.
		if code, page := cc.get(path); code != http.StatusOK || !strings.Contains(page, strings.ReplaceAll(owner, "+", "&#43;")) {
			t.Fatalf("reset page: %d\n%s", code, page)
		}
		if code, _ := cc.post(path, path, url.Values{"password": {fresh}}); code != http.StatusSeeOther {
			t.Fatalf("setting the new password: %d", code)
		}
		if code, page := cc.post("/login", path, url.Values{"password": {"yet another passphrase, not used"}}); code != http.StatusGone {
			t.Fatalf("second use of the link: %d\n%s", code, page)
		}
		if code := cc.login(owner, first); code == http.StatusSeeOther {
			t.Fatal("the old password still signs in")
		}
		if code := cc.login(owner, fresh); code != http.StatusSeeOther {
			t.Fatalf("login with the new password: %d", code)
		}
		if code, page := cc.get("/"); code != http.StatusOK || !strings.Contains(page, "/logout") {
			t.Fatalf("console home after signing in: %d\n%s", code, page)
		}

		// The owner resets the member's two-step verification.
		if code, _ := cc.post("/staff/"+memberID, "/staff/"+memberID+"/reset-2fa", url.Values{}); code != http.StatusSeeOther {
			t.Fatalf("reset 2FA: %d", code)
		}
		got, err = mp.Client().WaitTo(wctx, member, 1)
		if err != nil {
			t.Fatalf("no 2FA mail: %v\nserve log:\n%s", err, s.stderr)
		}
		msg, err = mp.Client().Message(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		ownerName, _, _ := strings.Cut(owner, "@")
		if msg.Subject != "【リセット商店】2段階認証を無効にしました" || !strings.Contains(msg.Text, "花子 様") ||
			!strings.Contains(msg.Text, "操作した人: "+ownerName) {
			t.Fatalf("2FA mail: subject %q\n%s", msg.Subject, msg.Text)
		}
		if len(got) != 1 {
			t.Fatalf("%d 2FA mails, want 1", len(got))
		}
		if all, _ := mp.Client().MessagesTo(wctx, owner); len(all) != 1 {
			t.Fatalf("%d mails to the owner, want 1", len(all))
		}
	})
}

// rawHeader returns the unfolded value of the header name in a raw message.
func rawHeader(raw []byte, name string) string {
	head, _, _ := bytes.Cut(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	var out string
	in := false
	for _, line := range strings.Split(string(head), "\n") {
		switch {
		case in && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
			out += line
		case strings.HasPrefix(strings.ToLower(line), strings.ToLower(name)+":"):
			out, in = strings.TrimSpace(line[len(name)+1:]), true
		default:
			in = false
		}
	}
	return out
}
