package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// The public endpoints are limited per client address and per tenant,
// through the real handler with tiny limits set by configuration: the
// request past the burst gets 429 with Retry-After (a problem on the API,
// the busy page on the site), another address is unaffected, and the
// console is never limited.
func TestRateLimitPublic(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{
		"rate-public-address-read":  "0.01:3", // a token every 100 s: none comes back during the test
		"rate-public-address-write": "0.01:2",
		"rate-public-tenant-read":   "0.01:8",
		"rate-public-tenant-write":  "off",
	})
	h := rateLimitHandler(t, a, "busy-shop", "calm-shop")

	do := func(method, path, from, lang string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		req.RemoteAddr = from + ":40000"
		req.Header.Set("Content-Type", "application/json")
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		// Never believed: httpx trusts no proxy unless configured.
		req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(len(path)))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	const api = "/api/v1/public/busy-shop"
	const alice, bob, carol = "203.0.113.10", "203.0.113.20", "2001:db8:5:6::1"

	// The API: three reads pass, the fourth is refused.
	for i := range 3 {
		if w := do("GET", api, alice, ""); w.Code != http.StatusOK {
			t.Fatalf("read %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := do("GET", api, alice, "en")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("4th read: %d %s, want 429", w.Code, w.Body)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 90 || ra > 100 {
		t.Errorf("Retry-After %q, want about 100 seconds", w.Header().Get("Retry-After"))
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("not JSON: %s", w.Body)
	}
	if p["code"] != "rate_limited" || p["status"] != float64(429) || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") ||
		!strings.Contains(p["detail"].(string), w.Header().Get("Retry-After")+" seconds") {
		t.Errorf("problem %v (%s), want rate_limited naming the wait", p, w.Header().Get("Content-Type"))
	}
	// The site shares the address's read bucket: the busy page, in Japanese
	// by default, reloading itself after the wait.
	w = do("GET", "/t/busy-shop/", alice, "")
	body := w.Body.String()
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "ただいま混み合っています") ||
		!strings.Contains(body, `<meta http-equiv="refresh" content="`+w.Header().Get("Retry-After")+`">`) ||
		!strings.Contains(body, w.Header().Get("Retry-After")+"秒後に自動で") {
		t.Errorf("site page when limited: %d Retry-After %q\n%s", w.Code, w.Header().Get("Retry-After"), body)
	}
	if strings.Contains(body, "<script") {
		t.Error("the busy page carries a script; the CSP allows none inline")
	}
	// Another address is unaffected by alice's empty bucket; an IPv6
	// client counts by its /64.
	if w := do("GET", api, bob, ""); w.Code != http.StatusOK {
		t.Errorf("bob: %d %s, want 200", w.Code, w.Body)
	}
	for i, from := range []string{carol, "2001:db8:5:6::2", "2001:db8:5:6:ffff::3"} {
		if w := do("GET", "/api/v1/public/calm-shop", from, ""); w.Code != http.StatusOK {
			t.Fatalf("carol's /64 read %d: %d", i+1, w.Code)
		}
	}
	if w := do("GET", "/api/v1/public/calm-shop", "2001:db8:5:6::4", ""); w.Code != http.StatusTooManyRequests {
		t.Errorf("a 4th address of one /64: %d, want 429 (the /64 shares a bucket)", w.Code)
	}

	// The tenant's bucket: 8 reads in all (alice 3 API + 0 site, bob 1 so
	// far); four more addresses take it to 8, the next is refused for
	// everyone, whatever the address, while another tenant still answers.
	for i := range 4 {
		if w := do("GET", api, "192.0.2."+strconv.Itoa(100+i), ""); w.Code != http.StatusOK {
			t.Fatalf("tenant read %d: %d", i+1, w.Code)
		}
	}
	if w := do("GET", api, "192.0.2.200", ""); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("the tenant's 9th read: %d, want 429", w.Code)
	}
	if w := do("GET", "/api/v1/public/calm-shop", "192.0.2.201", ""); w.Code != http.StatusOK {
		t.Errorf("another tenant: %d, want 200", w.Code)
	}

	// The console is never limited, even for alice.
	for i := range 10 {
		if w := do("GET", "/t/busy-shop/admin/login", alice, ""); w.Code == http.StatusTooManyRequests {
			t.Fatalf("console request %d was rate limited", i+1)
		}
	}

	// The refusals are counted by scope and route kind.
	w = do("GET", "/metrics", alice, "")
	for _, want := range []string{
		`yoyaku_http_rate_limited_total{access="read",route="api",scope="address"}`,
		`yoyaku_http_rate_limited_total{access="read",route="site",scope="address"}`,
		`yoyaku_http_rate_limited_total{access="read",route="api",scope="tenant"}`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// "off" turns a limit off.
func TestRateLimitConfigOff(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{"rate-public-address-read": "off", "rate-public-tenant-read": "off"})
	h := rateLimitHandler(t, a, "open-shop")
	for i := range 200 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/public/open-shop", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("read %d with the read limits off: %d %s", i+1, w.Code, w.Body)
		}
	}
}

// rateLimitHandler is a's handler with tenants of slugs.
func rateLimitHandler(t *testing.T, a *app, slugs ...string) http.Handler {
	t.Helper()
	for _, slug := range slugs {
		if _, err := a.tenants.CreateTenant(t.Context(), tenants.CreateParams{Slug: slug, Name: slug}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := a.handler("operator-token-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Behind a configured proxy each client counts by the address the proxy
// puts in X-Forwarded-For; anyone else's X-Forwarded-For is ignored.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	loc := dbtest.NewLocation(t, dbx.SQLite)
	a := appWith(t, loc, map[string]string{
		"rate-public-address-read": "0.01:1",
		"trusted-proxies":          "10.0.0.0/8",
	})
	h := rateLimitHandler(t, a, "proxied-shop")
	get := func(from, xff string) int {
		req := httptest.NewRequest("GET", "/api/v1/public/proxied-shop", nil)
		req.RemoteAddr = from + ":40000"
		req.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	// Two clients through the balancer: a bucket each.
	if get("10.0.0.5", "203.0.113.1") != 200 || get("10.0.0.5", "203.0.113.2") != 200 {
		t.Fatal("two clients behind the proxy did not get a bucket each")
	}
	if code := get("10.0.0.6", "203.0.113.1"); code != http.StatusTooManyRequests {
		t.Errorf("the first client again, through another balancer: %d, want 429", code)
	}
	// A client outside cannot pick a fresh bucket by forging the header.
	if get("198.51.100.9", "203.0.113.3") != 200 {
		t.Fatal("first direct request refused")
	}
	if code := get("198.51.100.9", "203.0.113.4"); code != http.StatusTooManyRequests {
		t.Errorf("a forged X-Forwarded-For from an untrusted address: %d, want 429", code)
	}
}
