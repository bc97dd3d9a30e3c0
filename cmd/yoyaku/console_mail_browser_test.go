package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
)

// The owner rewrites the Japanese subject of the staff invitation in the
// console: previews the draft (its HTML part shown in a sandboxed frame),
// saves it, sends a test mail that arrives with the new subject, and then
// invites a colleague, whose invitation — delivered by serve's outbox
// dispatcher — carries the new subject too.
func TestConsoleMailTemplateInBrowser(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		s := startServe(t, noEnv, append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		admin := s.base + "/t/demo/admin"
		ctx := browsertest.New(t, browsertest.Desktop)
		text := func(what, sel string) string {
			t.Helper()
			return browsertest.Get(t, ctx, what, chromedp.Text(chromedp.CSS(sel)))
		}
		browsertest.Do(t, ctx, "log in",
			chromedp.Navigate(admin+"/"),
			chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), demoOwner),
			chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".bell")), // the console's home, signed in
		)
		browsertest.Do(t, ctx, "open the mail pages from the navigation",
			chromedp.Click(chromedp.CSS(`nav#nav a[href$="/admin/mail"]`)),
			chromedp.WaitVisible(chromedp.CSS("#mail-templates")),
		)
		if got := text("the heading", "main h1"); got != "メール" {
			t.Fatalf("mail page heading %q", got)
		}
		browsertest.Do(t, ctx, "open the invitation's Japanese template",
			chromedp.Click(chromedp.CSS(`a[href$="/mail/templates/staff.invited/ja"]`)),
			chromedp.WaitVisible(chromedp.CSS("#subject")),
		)
		if got := text("the editor's heading", "main h1"); got != "スタッフの招待（日本語）" {
			t.Fatalf("editor heading %q", got)
		}

		subject := "【{{.TenantName}}】ブラウザで書いた招待状（{{.DisplayName}} 様）"
		browsertest.Do(t, ctx, "edit the subject and preview",
			chromedp.SetValue(chromedp.CSS("#subject"), subject),
			chromedp.Click(chromedp.CSS("#preview-button")),
			chromedp.WaitVisible(chromedp.CSS("#preview-subject")),
		)
		if got := text("the previewed subject", "#preview-subject"); got != "【Yoyaku デモ店】ブラウザで書いた招待状（予約 花子 様）" {
			t.Fatalf("preview subject %q", got)
		}
		if got := browsertest.Get(t, ctx, "the subject field after preview", chromedp.Value(chromedp.CSS("#subject"))); got != subject {
			t.Fatalf("the draft was not kept by the preview: %q", got)
		}
		// The HTML part is in a frame with an empty sandbox: no scripts,
		// an origin of its own (so this page cannot read into it either).
		sandboxed := browsertest.Get(t, ctx, "the HTML preview frame", chromedp.Evaluate[bool](
			`(() => { const f = document.querySelector('#preview-html'); return !!f && f.getAttribute('sandbox') === '' && f.contentDocument === null && f.srcdoc.includes('パスワードを設定する'); })()`))
		if !sandboxed {
			t.Fatal("the HTML preview is not a sandboxed srcdoc frame")
		}
		browsertest.Screenshot(t, ctx, "mail-preview")

		browsertest.Do(t, ctx, "save",
			chromedp.Click(chromedp.CSS("#save-button")),
			chromedp.WaitVisible(chromedp.CSS("#template-state .badge")),
		)
		if got := text("the flash", ".flash"); !strings.Contains(got, "テンプレートを保存しました") {
			t.Fatalf("after saving: %q", got)
		}
		if got := text("the template's state", "#template-state"); !strings.Contains(got, "独自") {
			t.Fatalf("template state %q", got)
		}

		to := "mail-browser-" + string(loc.Engine) + "-" + time.Now().Format("150405.000") + "@demo.example.jp"
		browsertest.Do(t, ctx, "send a test mail",
			chromedp.SetValue(chromedp.CSS("#test-to"), to),
			chromedp.Click(chromedp.CSS("#test-button")),
			chromedp.WaitVisible(chromedp.CSS("#test-result")),
		)
		if got := text("the test's result", "#test-result"); !strings.Contains(got, to+" にテストメールを送信しました") {
			t.Fatalf("after the test send: %q", got)
		}
		wantSubject := func(addr, want string) {
			t.Helper()
			wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := mp.Client().WaitTo(wctx, addr, 1)
			if err != nil {
				t.Fatalf("no mail to %s: %v\nserve log:\n%s", addr, err, s.stderr)
			}
			if got[0].Subject != want {
				t.Fatalf("mail to %s: subject %q, want %q", addr, got[0].Subject, want)
			}
		}
		wantSubject(to, "【Yoyaku デモ店】ブラウザで書いた招待状（予約 花子 様）")

		// A real invitation uses the saved template.
		invitee := "colleague-" + string(loc.Engine) + "-" + time.Now().Format("150405.000") + "@demo.example.jp"
		browsertest.Do(t, ctx, "invite a colleague",
			chromedp.Navigate(admin+"/staff"),
			chromedp.WaitVisible(chromedp.CSS("#invite-email")),
			chromedp.SendKeys(chromedp.CSS("#invite-email"), invitee),
			chromedp.SendKeys(chromedp.CSS("#invite-name"), "鈴木 一郎"),
			chromedp.Submit(chromedp.CSS("#invite-email")),
			chromedp.WaitVisible(chromedp.CSS("#invite-link")),
		)
		wantSubject(invitee, "【Yoyaku デモ店】ブラウザで書いた招待状（鈴木 一郎 様）")

		browsertest.Do(t, ctx, "open the sent-mail list",
			chromedp.Navigate(admin+"/mail/deliveries"),
			chromedp.WaitVisible(chromedp.CSS("#deliveries")),
		)
		list := text("the sent-mail list", "#deliveries")
		for _, want := range []string{to, invitee, "送信済み", "スタッフの招待"} {
			if !strings.Contains(list, want) {
				t.Errorf("the sent-mail list lacks %q:\n%s", want, list)
			}
		}
		browsertest.Screenshot(t, ctx, "mail-deliveries")
	})
}
