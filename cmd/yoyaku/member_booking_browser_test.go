package main

import (
	"context"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
)

var demoVerifyRE = regexp.MustCompile(`https?://\S+/t/demo/verify/[A-Za-z0-9_-]+`)

// A member on a phone registers on the demo booking site, follows the
// verification link from the mail (mailpit) and confirms, signs in, books
// a yoga session with the form filled in from the profile, sees the
// number, finds the booking under 今後の予約 on the my page, cancels it
// with its button and sees it cancelled, the seat back on the day page.
// Both engines.
func TestMemberBooksAndCancelsFromMyPage(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		s := serveWithMailLinks(t, loc, mp)
		ctx := browsertest.New(t, browsertest.Phone)
		// A person says yes when the page asks "really?" (window.confirm).
		var asked atomic.Value
		go func() {
			for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
				if err != nil {
					return
				}
				asked.Store(ev.Message)
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}
		}()
		text := func(what, sel string) string {
			t.Helper()
			return strings.TrimSpace(browsertest.Get(t, ctx, what, chromedp.Text(chromedp.CSS(sel))))
		}
		value := func(sel string) string {
			t.Helper()
			return browsertest.Get(t, ctx, "the value of "+sel, chromedp.Value(chromedp.CSS(sel)))
		}
		email := "member-browser+" + string(loc.Engine) + "-" + time.Now().Format("150405.000000") + "@example.com"
		const pass = "hanako's long passphrase 2026"

		browsertest.Do(t, ctx, "open the registration page",
			chromedp.Navigate(s.base+"/t/demo/register"),
			chromedp.WaitVisible(chromedp.CSS("#f-email")),
		)
		if got := text("the heading", "main h1"); got != "会員登録" {
			t.Fatalf("registration heading %q", got)
		}
		browsertest.Do(t, ctx, "fill in the registration",
			chromedp.SendKeys(chromedp.CSS("#f-email"), email),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pass),
			chromedp.SendKeys(chromedp.CSS("#f-family_name"), "予約"),
			chromedp.SendKeys(chromedp.CSS("#f-given_name"), "花子"),
			chromedp.SendKeys(chromedp.CSS("#f-family_kana"), "ヨヤク"),
			chromedp.SendKeys(chromedp.CSS("#f-given_kana"), "ハナコ"),
			chromedp.SendKeys(chromedp.CSS("#f-phone"), "090-1234-5678"),
			chromedp.SendKeys(chromedp.CSS("#f-postal_code"), "150-0001"),
			chromedp.SetValue(chromedp.CSS("#f-prefecture"), "13"),
		)
		browsertest.Screenshot(t, ctx, "1-register")
		browsertest.Do(t, ctx, "send the registration",
			chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#message")),
		)
		if got := text("the message", "#message"); !strings.Contains(got, "確認メールを送りました") {
			t.Fatalf("after registering the page says %q", got)
		}
		browsertest.Screenshot(t, ctx, "2-mail-sent")

		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := mp.Client()
		got, err := cl.WaitTo(wctx, email, 1)
		if err != nil {
			t.Fatalf("no verification mail: %v\nserve log:\n%s", err, s.stderr)
		}
		msg, err := cl.Message(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg.Subject, "会員登録の確認") || !strings.Contains(msg.Text, "予約 花子 様") {
			t.Errorf("verification mail %q:\n%s", msg.Subject, msg.Text)
		}
		link := demoVerifyRE.FindString(msg.Text)
		if !strings.HasPrefix(link, s.base+"/t/demo/verify/") {
			t.Fatalf("no verification link to %s in:\n%s", s.base, msg.Text)
		}
		browsertest.Do(t, ctx, "open the verification link from the mail",
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`main form button[type="submit"]`)),
		)
		if got := text("the button", `main form button[type="submit"]`); got != "メールアドレスの確認" {
			t.Errorf("verification button %q", got)
		}
		browsertest.Screenshot(t, ctx, "3-verify")
		browsertest.Do(t, ctx, "confirm the address",
			chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("main p.flash")),
		)
		if got := text("the message", "main p.flash"); !strings.Contains(got, "メールアドレスを確認しました") {
			t.Fatalf("after verifying the page says %q", got)
		}
		if got := text("the heading", "main h1"); got != "ログイン" {
			t.Errorf("after verifying the heading is %q, want the login page", got)
		}
		browsertest.Screenshot(t, ctx, "4-verified")

		browsertest.Do(t, ctx, "sign in",
			chromedp.Navigate(s.base+"/t/demo/login"),
			chromedp.WaitVisible(chromedp.CSS("#f-password")),
			chromedp.SendKeys(chromedp.CSS("#f-email"), email),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pass),
			chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("#reservations")),
		)
		if got := text("the heading", "main h1"); got != "マイページ" {
			t.Fatalf("after signing in the heading is %q", got)
		}
		if got := text("the greeting", "main"); !strings.Contains(got, "予約 花子 様") || !strings.Contains(got, "予約はありません。") {
			t.Errorf("a new member's my page reads %q", got)
		}
		browsertest.Screenshot(t, ctx, "5-mypage-empty")

		dayURL, href, label := openYogaDay(t, ctx, s.base)
		before := seatsLeft(t, label)
		browsertest.Do(t, ctx, "choose the session",
			chromedp.Click(chromedp.CSS(`.book-day .book-times a[href="`+href+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#f-name")),
		)
		// The form is the member's profile, filled in.
		for sel, want := range map[string]string{"#f-name": "予約 花子", "#f-kana": "ヨヤク ハナコ", "#f-email": email, "#f-phone": "090-1234-5678"} {
			if got := value(sel); got != want {
				t.Errorf("%s prefilled with %q, want %q", sel, got, want)
			}
		}
		browsertest.Screenshot(t, ctx, "6-form-prefilled")
		browsertest.Do(t, ctx, "consent and go to the confirmation",
			chromedp.Click(chromedp.CSS("#f-consent")),
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#book-submit")),
		)
		if got := text("the summary", ".book-summary"); !strings.Contains(got, "朝ヨガ（60分）") || !strings.Contains(got, email) {
			t.Fatalf("confirmation summary %q", got)
		}
		browsertest.Screenshot(t, ctx, "7-confirm")
		browsertest.Do(t, ctx, "book",
			chromedp.Click(chromedp.CSS("#book-submit")),
			chromedp.WaitVisible(chromedp.CSS("#reservation-number")),
		)
		if got := text("the done heading", "main h1"); got != "ご予約が確定しました" {
			t.Fatalf("done heading %q", got)
		}
		number := text("the number", "#reservation-number")
		if !reservationNumberRE.MatchString(number) {
			t.Fatalf("reservation number %q", number)
		}
		browsertest.Screenshot(t, ctx, "8-done")

		card := `#reservations li.card[data-number="` + number + `"]`
		browsertest.Do(t, ctx, "open the my page",
			chromedp.Navigate(s.base+"/t/demo/mypage"),
			chromedp.WaitVisible(chromedp.CSS(card)),
		)
		// The booking is under 今後の予約 (before 過去の予約), with its button.
		upcoming := browsertest.Get(t, ctx, "the upcoming list", chromedp.Evaluate[string](`(() => {
			const h = [...document.querySelectorAll('#reservations h3')].find(h => h.textContent.trim() === '今後の予約');
			const ul = h && h.nextElementSibling;
			return ul && ul.matches('ul.my-reservations') ? ul.textContent : '';
		})()`))
		if !strings.Contains(upcoming, number) || !strings.Contains(upcoming, "朝ヨガ（60分）") || !strings.Contains(upcoming, "予約確定") {
			t.Fatalf("今後の予約 reads %q, want %s", upcoming, number)
		}
		if got := text("the button", card+" form button"); got != "キャンセルする" {
			t.Errorf("cancel button %q", got)
		}
		browsertest.Screenshot(t, ctx, "9-mypage-upcoming")

		// Cancel in two steps (UI.md): the button alone does nothing until
		// the 「キャンセルします」 box is ticked (required, no JS).
		if got := text("the confirm box", card+" form label"); got != "キャンセルします" {
			t.Errorf("confirm box %q", got)
		}
		browsertest.Do(t, ctx, "press cancel without ticking the box",
			chromedp.Click(chromedp.CSS(card+" form button")),
			chromedp.Sleep(300*time.Millisecond),
			chromedp.WaitVisible(chromedp.CSS(card+" form button")),
		)
		if got := text("the booking", card); strings.Contains(got, "キャンセル済み") {
			t.Fatalf("the button cancelled without the box ticked: %q", got)
		}
		browsertest.Do(t, ctx, "cancel from the my page",
			chromedp.Click(chromedp.CSS(card+" form input[name=confirm]")),
			chromedp.Click(chromedp.CSS(card+" form button")),
			chromedp.WaitNotPresent(chromedp.CSS(card+" form button")),
			chromedp.WaitVisible(chromedp.CSS(card)),
		)
		if got := text("the booking", card); !strings.Contains(got, number) || !strings.Contains(got, "キャンセル済み") {
			t.Errorf("after cancelling the booking reads %q", got)
		}
		if got := text("the message", "p.flash"); got != "予約をキャンセルしました。" {
			t.Errorf("after cancelling the page says %q", got)
		}
		browsertest.Screenshot(t, ctx, "10-mypage-cancelled")
		if q, _ := asked.Load().(string); q != "" {
			t.Logf("the page asked before cancelling: %q", q)
		} else {
			t.Log("no JS dialog: the confirmation is the required 「キャンセルします」 box")
		}

		if got := sessionOnDay(t, ctx, dayURL, href); got == "" || seatsLeft(t, got) != before {
			t.Errorf("after cancelling the session reads %q, want the %d seats of before (%q)", got, before, label)
		}
	})
}
