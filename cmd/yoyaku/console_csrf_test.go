package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// Every console form carries a CSRF token; a POST without it (or with
// another's) is refused and changes nothing.
func TestConsoleFormsNeedTheirCSRFToken(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		a := appFor(t, loc)
		ctx := context.Background()
		const pw = "long enough passphrase for tests 42"
		tn, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{Slug: "forms", Name: "Forms", OwnerEmail: "owner@forms.example.jp"})
		if err != nil {
			t.Fatal(err)
		}
		hd, _ := a.reg.Acquire(ctx, tn.DB)
		db, _ := hd.DB(ctx)
		_, err = a.staff.RedeemSetup(ctx, db, tn.OwnerSetupURL[strings.LastIndex(tn.OwnerSetupURL, "/")+1:], pw, "forms")
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
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		admin := srv.URL + "/t/forms/admin"
		get := func(path string) string {
			resp, err := client.Get(admin + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		post := func(path string, form url.Values) int {
			resp, err := client.PostForm(admin+path, form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		token := func(page string) string {
			m := csrfRE.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no csrf_token in the form:\n%s", page)
			}
			return m[1]
		}
		login := url.Values{"email": {"owner@forms.example.jp"}, "password": {pw}}
		page := get("/login")
		if code := post("/login", login); code != http.StatusForbidden {
			t.Fatalf("login without its token: %d", code)
		}
		login.Set("csrf_token", token(page))
		if code := post("/login", login); code != http.StatusSeeOther {
			t.Fatalf("login: %d", code)
		}
		invite := url.Values{"email": {"jiro@forms.example.jp"}, "name": {"Jiro"}, "role": {"staff"}}
		staffPage := get("/staff")
		if code := post("/staff/invite", invite); code != http.StatusForbidden {
			t.Fatalf("invite without its token: %d", code)
		}
		invite.Set("csrf_token", "forged-"+token(staffPage))
		if code := post("/staff/invite", invite); code != http.StatusForbidden {
			t.Fatalf("invite with a forged token: %d", code)
		}
		hd, _ = a.reg.Acquire(ctx, tn.DB)
		db, _ = hd.DB(ctx)
		list, _ := a.staff.ListStaff(ctx, db, identity.StaffFilter{})
		hd.Release()
		if len(list) != 1 {
			t.Fatalf("a refused form changed something: %d staff", len(list))
		}
		invite.Set("csrf_token", token(staffPage))
		if code := post("/staff/invite", invite); code != http.StatusOK {
			t.Fatalf("invite with its token: %d", code)
		}
		if !strings.Contains(get("/staff"), "jiro@forms.example.jp") {
			t.Fatal("the invitation did not happen")
		}
		if code := post("/logout", url.Values{}); code != http.StatusForbidden {
			t.Fatalf("logout without its token: %d", code)
		}
	})
}
