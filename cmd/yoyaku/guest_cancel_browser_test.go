package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
)

// serveWithMailLinks starts `serve --demo` sending mail to mp, on a port
// chosen beforehand so that YOYAKU_BASE_URL (the links in mails) is this
// very server: a link from a mail opens as it is, in the test's browser.
// The public rate limits are off (a browser loads many pages).
func serveWithMailLinks(t *testing.T, loc dbx.Location, mp *mailtest.Mailpit) *serveRun {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s := startServe(t, envOf(map[string]string{"YOYAKU_BASE_URL": "http://" + addr,
		"YOYAKU_RATE_PUBLIC_ADDRESS_WRITE": "off", "YOYAKU_RATE_PUBLIC_ADDRESS_READ": "off",
		"YOYAKU_RATE_PUBLIC_TENANT_WRITE": "off", "YOYAKU_RATE_PUBLIC_TENANT_READ": "off"}),
		append(locFlags(loc), "--smtp-url", mp.SMTPURL(), "--mail-from", "no-reply@yoyaku.example.jp",
			"serve", "--addr", addr, "--migrate", "--demo")...)
	if s.base != "http://"+addr {
		t.Fatalf("serve listens on %s, want %s", s.base, addr)
	}
	return s
}

// freeSessionSel is a bookable session of the chosen day (a full one
// shows a span and, maybe, a waitlist link instead).
const freeSessionSel = ".book-day .book-times li > a:not(.wait)"

var seatsRE = regexp.MustCompile(`残り(\d+)席`)

// seatsLeft reads 残りN席 from a session's text.
func seatsLeft(t *testing.T, label string) int {
	t.Helper()
	m := seatsRE.FindStringSubmatch(label)
	if m == nil {
		t.Fatalf("no 残りN席 in %q", label)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// openYogaDay opens the demo booking site, chooses the yoga menu and
// clicks the first day marked free at least three days ahead (far from
// the cancel deadline), going to the next month when this one has none.
// It returns the day page's address (booking.js pushes it) and the first
// free session's link (href) and text.
func openYogaDay(t *testing.T, ctx context.Context, base string) (dayURL, href, label string) {
	t.Helper()
	browsertest.Do(t, ctx, "open the booking site",
		chromedp.Navigate(base+"/t/demo/"),
		chromedp.WaitVisible(chromedp.CSS(".book-cards")),
	)
	browsertest.Screenshot(t, ctx, "1-menus")
	browsertest.Do(t, ctx, "choose the yoga menu",
		chromedp.Click(chromedp.Search(`//a[contains(@class,"book-card-link")][text()="朝ヨガ（60分）"]`)),
		chromedp.WaitVisible(chromedp.CSS(".cal")),
	)
	if got := strings.TrimSpace(browsertest.Get(t, ctx, "the menu heading", chromedp.Text(chromedp.CSS("main h1")))); got != "朝ヨガ（60分）" {
		t.Fatalf("when page heading %q", got)
	}
	zone, _ := time.LoadLocation("Asia/Tokyo")
	earliest := time.Now().In(zone).AddDate(0, 0, 3).Format(time.DateOnly)
	day := ""
	for range 3 {
		hrefs := browsertest.Get(t, ctx, "the free days",
			chromedp.Evaluate[[]string](`[...document.querySelectorAll('.cal td.d-open a')].map(a => a.getAttribute('href'))`))
		for _, h := range hrefs {
			u, err := url.Parse(h)
			if err == nil && u.Query().Get("date") >= earliest {
				day = h
				break
			}
		}
		if day != "" {
			break
		}
		month := browsertest.Get(t, ctx, "the month", chromedp.Text(chromedp.CSS("#cal-title")))
		browsertest.Do(t, ctx, "go to the next month", chromedp.Click(chromedp.CSS(`.cal-nav[rel="next"]`)))
		browsertest.Get(t, ctx, "the next month's calendar",
			chromedp.Poll[bool](fmt.Sprintf(`document.getElementById('cal-title').textContent !== %q`, month)))
	}
	if day == "" {
		t.Fatalf("no free yoga day from %s on", earliest)
	}
	browsertest.Do(t, ctx, "pick a free day three days ahead",
		chromedp.Click(chromedp.CSS(`.cal td.d-open a[href="`+day+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(freeSessionSel)),
	)
	dayURL = browsertest.Get(t, ctx, "the day's address", chromedp.Location())
	href = browsertest.Get(t, ctx, "the session's link", chromedp.Evaluate[string](
		`document.querySelector(`+strconv.Quote(freeSessionSel)+`).getAttribute('href')`))
	label = strings.TrimSpace(browsertest.Get(t, ctx, "the session", chromedp.Text(chromedp.CSS(freeSessionSel))))
	seatsLeft(t, label)
	browsertest.Screenshot(t, ctx, "2-when")
	return dayURL, href, label
}

// sessionOnDay opens the day page again and returns what the session
// linked by href reads now ("" when it is no longer a link: full).
func sessionOnDay(t *testing.T, ctx context.Context, dayURL, href string) string {
	t.Helper()
	browsertest.Do(t, ctx, "open the day page",
		chromedp.Navigate(dayURL),
		chromedp.WaitVisible(chromedp.CSS(".book-day .book-times")),
	)
	return strings.TrimSpace(browsertest.Get(t, ctx, "the session on the day page", chromedp.Evaluate[string](
		`(() => { const a = [...document.querySelectorAll(`+strconv.Quote(freeSessionSel)+`)].find(a => a.getAttribute('href') === `+
			strconv.Quote(href)+`); return a ? a.textContent : '' })()`)))
}

var mailCancelLinkRE = regexp.MustCompile(`https?://\S+/t/demo/reservations/\S+/cancel\?token=\S+`)

// A guest on a phone books a demo yoga session through the booking site
// pages, the confirmation mail arrives in mailpit with the number the
// done page showed, and the cancel link in the mail, opened in the same
// browser, shows the booking; its button cancels it, the page says so,
// and the day page gives the seat back. Both engines.
func TestGuestBooksAndCancelsFromTheMail(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		mp := mailtest.Shared(t)
		s := serveWithMailLinks(t, loc, mp)
		ctx := browsertest.New(t, browsertest.Phone)
		text := func(what, sel string) string {
			t.Helper()
			return strings.TrimSpace(browsertest.Get(t, ctx, what, chromedp.Text(chromedp.CSS(sel))))
		}
		guest := "guest-browser+" + string(loc.Engine) + "-" + time.Now().Format("150405.000000") + "@example.com"

		dayURL, href, label := openYogaDay(t, ctx, s.base)
		before := seatsLeft(t, label)
		browsertest.Do(t, ctx, "choose the session and fill in the form",
			chromedp.Click(chromedp.CSS(`.book-day .book-times a[href="`+href+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#f-name")),
			chromedp.SendKeys(chromedp.CSS("#f-name"), "予約 花子"),
			chromedp.SendKeys(chromedp.CSS("#f-kana"), "ヨヤク ハナコ"),
			chromedp.SendKeys(chromedp.CSS("#f-email"), guest),
			chromedp.SendKeys(chromedp.CSS("#f-phone"), "090-1234-5678"),
			chromedp.Click(chromedp.CSS("#f-consent")),
		)
		browsertest.Screenshot(t, ctx, "3-form")
		browsertest.Do(t, ctx, "go to the confirmation",
			chromedp.Click(chromedp.CSS("button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#book-submit")),
		)
		if got := text("the summary", ".book-summary"); !strings.Contains(got, "朝ヨガ（60分）") || !strings.Contains(got, guest) {
			t.Fatalf("confirmation summary %q", got)
		}
		browsertest.Screenshot(t, ctx, "4-confirm")
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
		if got := text("what happens next", ".book-next"); !strings.Contains(got, guest) {
			t.Errorf("the done page does not say the mail goes to %s: %q", guest, got)
		}
		browsertest.Screenshot(t, ctx, "5-done")
		if got := sessionOnDay(t, ctx, dayURL, href); seatsLeft(t, got) != before-1 {
			t.Errorf("after booking the session reads %q, was %q", got, label)
		}

		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := mp.Client()
		got, err := cl.WaitTo(wctx, guest, 1)
		if err != nil {
			t.Fatalf("no confirmation mail: %v\nserve log:\n%s", err, s.stderr)
		}
		msg, err := cl.Message(wctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg.Subject, "ご予約を承りました") || !strings.Contains(msg.Subject, number) {
			t.Errorf("confirmation subject %q, want ご予約を承りました and %s", msg.Subject, number)
		}
		if !strings.Contains(msg.Text, number) || !strings.Contains(msg.Text, "朝ヨガ") {
			t.Errorf("confirmation text lacks the number %s or the menu:\n%s", number, msg.Text)
		}
		link := mailCancelLinkRE.FindString(msg.Text)
		if !strings.HasPrefix(link, s.base+"/t/demo/reservations/") {
			t.Fatalf("no cancel link to %s in:\n%s", s.base, msg.Text)
		}

		browsertest.Do(t, ctx, "open the cancel link from the mail",
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS("form button.danger")),
		)
		if got := text("the cancel heading", "main h1"); got != "ご予約のキャンセル" {
			t.Errorf("cancel page heading %q", got)
		}
		if got := text("the booking", "main dl"); !strings.Contains(got, number) || !strings.Contains(got, "朝ヨガ（60分）") ||
			!strings.Contains(got, "予約確定") {
			t.Errorf("the cancel page shows %q", got)
		}
		if got := text("the button", "form button.danger"); got != "予約をキャンセルする" {
			t.Errorf("cancel button %q", got)
		}
		browsertest.Screenshot(t, ctx, "6-cancel-page")
		browsertest.Do(t, ctx, "cancel",
			chromedp.Click(chromedp.CSS("form button.danger")),
			chromedp.WaitVisible(chromedp.CSS("main p.flash")),
		)
		if got := text("the message", "main p.flash"); !strings.Contains(got, "ご予約をキャンセルしました") {
			t.Errorf("after cancelling the page says %q", got)
		}
		if got := text("the booking", "main dl"); !strings.Contains(got, number) || !strings.Contains(got, "キャンセル済み") {
			t.Errorf("after cancelling the booking reads %q", got)
		}
		if n := browsertest.Get(t, ctx, "the cancel buttons", chromedp.Evaluate[int](`document.querySelectorAll('main form button').length`)); n != 0 {
			t.Errorf("%d cancel buttons left after cancelling", n)
		}
		browsertest.Screenshot(t, ctx, "7-cancelled")

		if got := sessionOnDay(t, ctx, dayURL, href); got == "" || seatsLeft(t, got) != before {
			t.Errorf("after cancelling the session reads %q, want the %d seats of before (%q)", got, before, label)
		}
		browsertest.Screenshot(t, ctx, "8-seat-free")
	})
}
