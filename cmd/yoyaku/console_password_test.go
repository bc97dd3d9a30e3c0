package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// consoleClient is a browser-like client of one tenant's console.
type consoleClient struct {
	t     *testing.T
	http  *http.Client
	admin string
}

func newConsoleClient(t *testing.T, srv *httptest.Server, slug string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, admin: srv.URL + "/t/" + slug + "/admin",
		http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (cc *consoleClient) get(path string) (int, string) {
	cc.t.Helper()
	resp, err := cc.http.Get(cc.admin + path)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends form from the page at from, with that page's CSRF token.
func (cc *consoleClient) post(from, path string, form url.Values) (int, string) {
	cc.t.Helper()
	_, page := cc.get(from)
	if m := csrfRE.FindStringSubmatch(page); m != nil {
		form.Set("csrf_token", m[1])
	}
	resp, err := cc.http.PostForm(cc.admin+path, form)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (cc *consoleClient) login(email, password string) int {
	cc.t.Helper()
	code, _ := cc.post("/login", "/login", url.Values{"email": {email}, "password": {password}})
	return code
}

func TestConsolePasswordChange(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		a := appFor(t, loc)
		ctx := context.Background()
		const first, second = "the first long passphrase 2026", "a second, even longer passphrase"
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "pw-shop", Name: "PW", OwnerEmail: "owner@pw-shop.example.jp"})
		if err != nil {
			t.Fatal(err)
		}
		hd, _ := a.reg.Acquire(ctx, tn.DB)
		db, _ := hd.DB(ctx)
		_, err = a.staff.RedeemSetup(ctx, db, tn.OwnerSetupURL[strings.LastIndex(tn.OwnerSetupURL, "/")+1:], first, "pw-shop")
		hd.Release()
		if err != nil {
			t.Fatal(err)
		}
		h, err := a.handler("operator-token-0123456789")
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		desk, phone := newConsoleClient(t, srv, "pw-shop"), newConsoleClient(t, srv, "pw-shop")
		for _, c := range []*consoleClient{desk, phone} {
			if code := c.login("owner@pw-shop.example.jp", first); code != http.StatusSeeOther {
				t.Fatalf("login: %d", code)
			}
		}
		if code, body := desk.post("/account", "/account/password", url.Values{"current_password": {"wrong wrong wrong"}, "new_password": {second}}); code < 400 || !strings.Contains(body, "current-error") {
			t.Fatalf("wrong current password: %d", code)
		}
		if code, _ := desk.post("/account", "/account/password", url.Values{"current_password": {first}, "new_password": {"password1234"}}); code != http.StatusBadRequest {
			t.Fatalf("a common new password: %d", code)
		}
		if code, _ := desk.post("/account", "/account/password", url.Values{"current_password": {first}, "new_password": {second}}); code != http.StatusSeeOther {
			t.Fatalf("change: %d", code)
		}
		if code, body := desk.get("/account"); code != http.StatusOK || !strings.Contains(body, "current-password") {
			t.Fatalf("the changing session continues: %d", code)
		}
		if code, _ := phone.get("/"); code != http.StatusSeeOther {
			t.Fatalf("the other session survived the change: %d", code)
		}
		fresh := newConsoleClient(t, srv, "pw-shop")
		if code := fresh.login("owner@pw-shop.example.jp", first); code == http.StatusSeeOther {
			t.Fatal("the old password still works")
		}
		if code := fresh.login("owner@pw-shop.example.jp", second); code != http.StatusSeeOther {
			t.Fatalf("the new password: %d", code)
		}
	})
}
