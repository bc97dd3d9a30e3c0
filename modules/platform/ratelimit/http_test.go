package ratelimit_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/ratelimit"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/web"
)

// engine serves /api/:tenant and /t/:tenant/form (GET and POST) behind l.
func engine(t *testing.T, l *ratelimit.Limiter) *gin.Engine {
	t.Helper()
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	views, err := view.New(web.FS, cat)
	if err != nil {
		t.Fatal(err)
	}
	r, err := httpx.New(httpx.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	r.GET("/api/:tenant", l.API(), ok)
	r.POST("/api/:tenant", l.API(), ok)
	site := r.Group("/t/:tenant", l.Site(views))
	site.GET("/form", ok)
	site.POST("/form", ok)
	return r
}

func send(h http.Handler, method, path, lang string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestMiddleware(t *testing.T) {
	now := time.Date(2026, 12, 10, 1, 0, 0, 0, time.UTC)
	l, err := ratelimit.New(ratelimit.Config{
		AddressRead:  ratelimit.Limit{PerSecond: 0.25, Burst: 1},
		AddressWrite: ratelimit.Limit{PerSecond: 0.5, Burst: 1},
		Now:          func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	h := engine(t, l)

	tests := []struct {
		name, method, path, lang string
		wantStatus               int
		wantRetry                string
		wantBody                 []string
		notBody                  []string
	}{
		{"first read", "GET", "/api/demo", "", 200, "", []string{"ok"}, nil},
		{"second read", "GET", "/api/demo", "en", 429, "4", []string{`"code":"rate_limited"`, "about 4 seconds"}, nil},
		{"site read shares the bucket", "GET", "/t/demo/form", "", 429, "4",
			[]string{"ただいま混み合っています", `<meta http-equiv="refresh" content="4">`, "4秒後に自動で", `lang="ja"`}, []string{"<script"}},
		{"site read in English", "GET", "/t/demo/form", "en", 429, "4", []string{"We are busy right now", "reload by itself in 4 seconds"}, nil},
		{"first write", "POST", "/t/demo/form", "", 200, "", []string{"ok"}, nil},
		{"second write: no reload", "POST", "/t/demo/form", "", 429, "2", []string{"ただいま混み合っています", "2秒ほど待って"}, []string{"http-equiv"}},
		{"api write", "POST", "/api/demo", "", 429, "2", []string{`"code":"rate_limited"`, "2秒ほど"}, nil},
	}
	for _, tt := range tests {
		w := send(h, tt.method, tt.path, tt.lang)
		if w.Code != tt.wantStatus || w.Header().Get("Retry-After") != tt.wantRetry {
			t.Errorf("%s: %d Retry-After %q, want %d %q\n%s", tt.name, w.Code, w.Header().Get("Retry-After"), tt.wantStatus, tt.wantRetry, w.Body)
			continue
		}
		for _, s := range tt.wantBody {
			if !strings.Contains(w.Body.String(), s) {
				t.Errorf("%s: body lacks %q\n%s", tt.name, s, w.Body)
			}
		}
		for _, s := range tt.notBody {
			if strings.Contains(w.Body.String(), s) {
				t.Errorf("%s: body has %q\n%s", tt.name, s, w.Body)
			}
		}
		if w.Code == 429 && w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tt.name, w.Header().Get("Cache-Control"))
		}
	}
	w := send(h, "GET", "/api/demo", "")
	var p httpx.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != 429 || p.Type != httpx.ProblemTypeBase+"rate_limited" {
		t.Errorf("problem %+v (%v)", p, err)
	}
	now = now.Add(4 * time.Second)
	if w := send(h, "GET", "/t/demo/form", ""); w.Code != 200 {
		t.Errorf("after the wait: %d", w.Code)
	}
}
