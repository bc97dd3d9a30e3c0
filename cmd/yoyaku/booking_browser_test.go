package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

var reservationNumberRE = regexp.MustCompile(`^R\d{6}[0-9A-Z]{5}$`)

// A guest on a phone books the demo yoga session through the booking
// site: the menu card, a free day on the calendar (loaded in place by
// booking.js), a session, the form (a wrong kana first: the message at the
// field, the field focused), the confirmation and the done page with the
// reservation number. A screenshot of each step is saved.
func TestBookingBrowser(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		ctx := browsertest.New(t, browsertest.Phone)
		text := func(what, sel string) string {
			t.Helper()
			return strings.TrimSpace(browsertest.Get(t, ctx, what, chromedp.Text(chromedp.CSS(sel))))
		}

		browsertest.Do(t, ctx, "open the booking site",
			chromedp.Navigate(s.base+"/t/demo/"),
			chromedp.WaitVisible(chromedp.CSS(".book-cards")),
		)
		if got := text("the heading", "main h1"); got != "Yoyaku デモ店" {
			t.Fatalf("site heading %q", got)
		}
		browsertest.Screenshot(t, ctx, "1-menus")

		browsertest.Do(t, ctx, "choose the yoga menu",
			chromedp.Click(chromedp.Search(`//a[contains(@class,"book-card-link")][text()="朝ヨガ（60分）"]`)),
			chromedp.WaitVisible(chromedp.CSS(".cal")),
		)
		if got := text("the menu heading", "main h1"); got != "朝ヨガ（60分）" {
			t.Fatalf("when page heading %q", got)
		}
		browsertest.Do(t, ctx, "pick the first free day",
			chromedp.Click(chromedp.CSS(".cal td.d-open a")),
			chromedp.WaitVisible(chromedp.CSS(".book-day .book-times a")),
		)
		if got := text("the session", ".book-day .book-times a"); !regexp.MustCompile(`残り\d+席`).MatchString(got) {
			t.Fatalf("the day's session reads %q", got)
		}
		browsertest.Screenshot(t, ctx, "2-when")

		browsertest.Do(t, ctx, "choose the session",
			chromedp.Click(chromedp.CSS(".book-day .book-times a")),
			chromedp.WaitVisible(chromedp.CSS("#f-name")),
			chromedp.SendKeys(chromedp.CSS("#f-name"), "山田 花子"),
			chromedp.SendKeys(chromedp.CSS("#f-kana"), "山田"),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "hanako@example.jp"),
			chromedp.SendKeys(chromedp.CSS("#f-phone"), "090-1234-5678"),
			chromedp.Click(chromedp.CSS("#f-consent")),
		)
		browsertest.Screenshot(t, ctx, "3-form")
		browsertest.Do(t, ctx, "send a kana in kanji",
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#e-kana")),
		)
		if got := text("the kana message", "#e-kana"); !strings.Contains(got, "全角カタカナで入力してください") {
			t.Fatalf("kana message %q", got)
		}
		if got := browsertest.Get(t, ctx, "the focused field", chromedp.Evaluate[string](`document.activeElement.id`)); got != "f-kana" {
			t.Fatalf("focus is on %q, want the kana field", got)
		}
		browsertest.Screenshot(t, ctx, "3-form-error")
		browsertest.Do(t, ctx, "correct the kana",
			chromedp.Clear(chromedp.CSS("#f-kana")),
			chromedp.SendKeys(chromedp.CSS("#f-kana"), "やまだ はなこ"),
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#book-submit")),
		)
		if got := text("the total", ".book-total .total"); got != "¥2,000（税込）" {
			t.Fatalf("total %q", got)
		}
		if got := text("the summary", ".book-summary"); !strings.Contains(got, "ヤマダ　ハナコ") || !strings.Contains(got, "朝ヨガ（60分）") {
			t.Fatalf("summary %q", got)
		}
		browsertest.Screenshot(t, ctx, "4-confirm")

		browsertest.Do(t, ctx, "book",
			chromedp.Click(chromedp.CSS("#book-submit")),
			chromedp.WaitVisible(chromedp.CSS("#reservation-number")),
		)
		if got := text("the done heading", "main h1"); got != "ご予約が確定しました" {
			t.Fatalf("done heading %q", got)
		}
		if got := text("the number", "#reservation-number"); !reservationNumberRE.MatchString(got) {
			t.Fatalf("reservation number %q", got)
		}
		browsertest.Screenshot(t, ctx, "5-done")
	})
}
