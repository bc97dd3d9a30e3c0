package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// On a phone the console's navigation folds behind a menu button that
// opens it; nothing is wider than the screen.
func TestConsoleOnAPhone(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
	pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t, browsertest.Phone)
	admin := s.base + "/t/demo/admin"
	browsertest.Do(t, ctx, "log in on a phone",
		chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), demoOwner),
		chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".nav-toggle")),
	)
	if browsertest.Get(t, ctx, "nav hidden", chromedp.Evaluate[bool]("getComputedStyle(document.getElementById('nav')).display !== 'none'")) {
		t.Fatal("the navigation is open before the menu button is pressed")
	}
	browsertest.Do(t, ctx, "open the menu",
		chromedp.Click(chromedp.CSS(".nav-toggle")),
		chromedp.WaitVisible(chromedp.CSS("nav#nav a[href$='/staff']")),
	)
	if got := browsertest.Get(t, ctx, "aria-expanded", chromedp.Evaluate[string]("document.querySelector('.nav-toggle').getAttribute('aria-expanded')")); got != "true" {
		t.Fatalf("aria-expanded = %q after opening", got)
	}
	if w := browsertest.Get(t, ctx, "page width", chromedp.Evaluate[int]("document.documentElement.scrollWidth")); w > 390 {
		t.Errorf("the page is %dpx wide on a 390px phone", w)
	}
	browsertest.Screenshot(t, ctx, "phone-menu")
}
