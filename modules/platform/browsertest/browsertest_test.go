package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/yoyaku-oss/yoyaku/modules/platform/browsertest"
)

// The harness drives a real page: it reads text a script wrote and the
// viewport it was asked for.
func TestDrivesARealPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="ja"><body><h1 id="t">予約</h1><p id="w"></p>
<script>document.getElementById('w').textContent = String(window.innerWidth)</script></body></html>`))
	}))
	defer srv.Close()
	ctx := browsertest.New(t, browsertest.Phone)
	browsertest.Do(t, ctx, "open the page", chromedp.Navigate(srv.URL))
	title := browsertest.Get(t, ctx, "read the title", chromedp.Text(chromedp.CSS("#t")))
	width := browsertest.Get(t, ctx, "read the width", chromedp.Text(chromedp.CSS("#w")))
	if title != "予約" || width != "390" {
		t.Fatalf("title %q width %q", title, width)
	}
}
