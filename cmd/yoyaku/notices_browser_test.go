package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// The operator posts a maintenance notice; the owner sees it in the
// console, unread, with the bell counting it; marks it read; the bell
// goes quiet. The status page shows the maintenance to everyone.
func TestNoticeReachesTheConsole(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(loc.DataDir, "operator-token"))
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimSpace(string(raw))
		starts := time.Now().Add(20 * 24 * time.Hour).UTC().Truncate(time.Hour)
		r := request(t, "POST", s.base+"/api/v1/platform/notices", token,
			`{"kind":"maintenance","title":"定期メンテナンスのお知らせ","body":"サービスを停止します。","starts_at":"`+
				starts.Format(time.RFC3339)+`","ends_at":"`+starts.Add(4*time.Hour).Format(time.RFC3339)+`"}`)
		if r.status != 201 {
			t.Fatalf("post: %d %s", r.status, r.body)
		}

		admin := s.base + "/t/demo/admin"
		ctx := browsertest.New(t, browsertest.Desktop)
		browsertest.Do(t, ctx, "log in",
			chromedp.Navigate(admin+"/"),
			chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), demoOwner),
			chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".bell .count")),
		)
		if got := browsertest.Get(t, ctx, "the bell", chromedp.Text(chromedp.CSS(".bell .count"))); got != "1" {
			t.Fatalf("bell says %q", got)
		}
		browsertest.Do(t, ctx, "open the notices",
			chromedp.Click(chromedp.CSS(".bell")),
			chromedp.WaitVisible(chromedp.CSS("article.notice.unread")),
		)
		if got := browsertest.Get(t, ctx, "the notice", chromedp.Text(chromedp.CSS("article.notice h2"))); !strings.Contains(got, "未読") || !strings.Contains(got, "定期メンテナンスのお知らせ") {
			t.Fatalf("notice heading %q", got)
		}
		browsertest.Screenshot(t, ctx, "notices")
		browsertest.Do(t, ctx, "mark it read",
			chromedp.Click(chromedp.CSS("article.notice form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
			chromedp.WaitNotPresent(chromedp.CSS("article.notice.unread")),
			chromedp.WaitNotPresent(chromedp.CSS(".bell .count")),
		)
		if got := browsertest.Get(t, ctx, "the nav", chromedp.Text(chromedp.CSS("nav#nav a[aria-current=page]"))); got != "お知らせ" {
			t.Errorf("current nav item %q", got)
		}

		st := request(t, "GET", s.base+"/status", "", "")
		if st.status != 200 || !strings.Contains(st.body, "定期メンテナンスのお知らせ") || st.header.Get("Cache-Control") != "public, max-age=30" {
			t.Errorf("status page: %d %v", st.status, st.header)
		}
		// The server checks itself within a minute of starting.
		deadline := time.Now().Add(10 * time.Second)
		for {
			js := request(t, "GET", s.base+"/status.json", "", "")
			if strings.Contains(js.body, `"id":"api","status":"operational"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the API never checked itself: %s", js.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}
