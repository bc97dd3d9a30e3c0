package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// The owner's first day, in a real browser: log in, turn on two-step
// verification, log out, log in again with a code, invite a colleague, and
// find every step in the operation log.
func TestConsoleOwnerJourney(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		password := strings.TrimSpace(string(pw))
		if !strings.Contains(s.stdout.String(), demoOwner+" / "+password) {
			t.Fatalf("serve --demo does not print the owner's login:\n%s", s.stdout)
		}
		admin := s.base + "/t/demo/admin"
		ctx := browsertest.New(t, browsertest.Desktop)
		text := func(what, sel string) string {
			t.Helper()
			return browsertest.Get(t, ctx, what, chromedp.Text(chromedp.CSS(sel)))
		}
		login := func(what string) {
			t.Helper()
			browsertest.Do(t, ctx, what,
				chromedp.Navigate(admin+"/"),
				chromedp.WaitVisible(chromedp.CSS("#email")),
				chromedp.SendKeys(chromedp.CSS("#email"), demoOwner),
				chromedp.SendKeys(chromedp.CSS("#password"), password),
				chromedp.Click(chromedp.CSS("button[type=submit]")),
				chromedp.WaitNotPresent(chromedp.CSS("#password")),
			)
		}

		// 1. Log in: an unauthenticated visit lands on the login page.
		login("log in with the password")
		if got := text("the welcome", "main h1"); got != "今日" {
			t.Fatalf("after login the page says %q", got)
		}
		browsertest.Screenshot(t, ctx, "home")

		// 2. Enrol TOTP from the account page.
		browsertest.Do(t, ctx, "open enrolment",
			chromedp.Navigate(admin+"/account"),
			chromedp.Click(chromedp.CSS("a[href$='/2fa/enrol']")),
			chromedp.WaitVisible(chromedp.CSS("#totp-secret")),
		)
		secret := strings.TrimSpace(text("the secret", "#totp-secret"))
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatalf("secret %q: %v", secret, err)
		}
		browsertest.Do(t, ctx, "confirm enrolment",
			chromedp.SendKeys(chromedp.CSS("#code"), code),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#recovery-codes")),
		)
		codes := browsertest.Get(t, ctx, "count recovery codes", chromedp.Evaluate[int]("document.querySelectorAll('#recovery-codes li').length"))
		if codes != 10 {
			t.Fatalf("%d recovery codes shown, want 10", codes)
		}

		// 3. Log out through the user menu.
		browsertest.Do(t, ctx, "log out",
			chromedp.Navigate(admin+"/"),
			chromedp.Click(chromedp.CSS(".user-menu summary")),
			chromedp.Click(chromedp.CSS(".user-menu button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
		)
		if got := text("the logged-out notice", ".flash"); got != "ログアウトしました。" {
			t.Fatalf("after logout: %q", got)
		}

		// 4. Log in again: the password alone is not enough any more. The
		// code of the next time step (the last one was spent on enrolment).
		login("log in again")
		browsertest.Do(t, ctx, "reach the code form", chromedp.WaitVisible(chromedp.CSS("#code")))
		code, _ = totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		browsertest.Do(t, ctx, "enter the code",
			chromedp.SendKeys(chromedp.CSS("#code"), code),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("nav#nav")),
		)

		// 5. Invite a colleague.
		browsertest.Do(t, ctx, "invite a staff member",
			chromedp.Navigate(admin+"/staff"),
			chromedp.SendKeys(chromedp.CSS("#invite-email"), "hanako@demo.example.jp"),
			chromedp.SendKeys(chromedp.CSS("#invite-name"), "山田 花子"),
			chromedp.Click(chromedp.CSS("form[action$='/staff/invite'] button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#invite-link")),
		)
		if link := text("the invitation link", "#invite-link"); !strings.Contains(link, "/t/demo/admin/setup/") {
			t.Fatalf("invitation link %q", link)
		}
		if !strings.Contains(text("the staff list", "table"), "hanako@demo.example.jp") {
			t.Fatal("the invited colleague is not listed")
		}

		// 6. All of it is in the operation log.
		browsertest.Do(t, ctx, "open the operation log",
			chromedp.Navigate(admin+"/audit"),
			chromedp.WaitVisible(chromedp.CSS("table#audit")),
		)
		log := text("the log", "table#audit")
		browsertest.Screenshot(t, ctx, "audit")
		for _, action := range []string{"staff.login", "staff.2fa_enrolled", "staff.logout", "staff.2fa_verified", "staff.invited"} {
			if !strings.Contains(log, action) {
				t.Errorf("the operation log lacks %s:\n%s", action, log)
			}
		}
	})
}
