package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// consoleUser is one person's browser on the console, over real HTTP: a
// cookie jar of its own and no automatic redirects, so every step's answer
// is looked at.
type consoleUser struct {
	t      *testing.T
	admin  string // http://host/t/demo/admin
	client *http.Client
}

func newConsoleUser(t *testing.T, admin string) *consoleUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleUser{t: t, admin: admin, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (u *consoleUser) do(method, path string, form url.Values) response {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.t.Context(), 30*time.Second)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.admin+path, body)
	if err != nil {
		u.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := u.client.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// get fetches path and fails the test unless it answers want.
func (u *consoleUser) get(path string, want int) response {
	u.t.Helper()
	r := u.do(http.MethodGet, path, nil)
	if r.status != want {
		u.t.Fatalf("GET %s = %d, want %d\n%s", path, r.status, want, r.body)
	}
	return r
}

// post submits form to path and fails the test unless it answers want.
func (u *consoleUser) post(path string, form url.Values, want int) response {
	u.t.Helper()
	r := u.do(http.MethodPost, path, form)
	if r.status != want {
		u.t.Fatalf("POST %s = %d, want %d\n%s", path, r.status, want, r.body)
	}
	return r
}

// token reads the CSRF token of the first form of a page.
func (u *consoleUser) token(r response) string {
	u.t.Helper()
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		u.t.Fatalf("no csrf_token in the page:\n%s", r.body)
	}
	return m[1]
}

// submit opens page, then posts form to action with the page's CSRF token.
func (u *consoleUser) submit(page, action string, form url.Values, want int) response {
	u.t.Helper()
	form.Set("csrf_token", u.token(u.get(page, http.StatusOK)))
	return u.post(action, form, want)
}

func (u *consoleUser) login(email, password string) {
	u.t.Helper()
	r := u.submit("/login", "/login", url.Values{"email": {email}, "password": {password}}, http.StatusSeeOther)
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/t/demo/admin/") {
		u.t.Fatalf("login of %s leads to %q", email, loc)
	}
}

// redirectsTo fails the test unless r is a 303 to a path starting with prefix.
func redirectsTo(t *testing.T, what string, r response, prefix string) {
	t.Helper()
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s: %d to %q, want 303 to %s…\n%s", what, r.status, loc, prefix, r.body)
	}
}

// inviteLinkRE finds the path of the invitation link shown after an invitation.
var inviteLinkRE = regexp.MustCompile(`id="invite-link">http://[^/]+(/t/demo/admin/setup/[^<]+)<`)

// staffIDOf finds the detail link of the account with email in the staff list.
func staffIDOf(t *testing.T, list response, email string) string {
	t.Helper()
	re := regexp.MustCompile(`href="/t/demo/admin/staff/([0-9a-f]+)">[^<]*</a></td><td>` + regexp.QuoteMeta(email) + `<`)
	m := re.FindStringSubmatch(list.body)
	if m == nil {
		t.Fatalf("%s has no detail link in the staff list:\n%s", email, list.body)
	}
	return m[1]
}

// The owner runs roles and staff through the console: a custom role for a
// call centre, a colleague invited with it who sees only what it allows,
// the role refused deletion while held, the colleague moved to viewer, the
// role deleted, the colleague disabled and signed out at once; every change
// in the operation log; a form without its CSRF token changes nothing.
func TestConsoleRolesAndStaff(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		s := startServe(t, noEnv, append(locFlags(loc), "serve", "--addr", "127.0.0.1:0", "--migrate", "--demo")...)
		pw, err := os.ReadFile(filepath.Join(loc.DataDir, demoOwnerFile))
		if err != nil {
			t.Fatal(err)
		}
		admin := s.base + "/t/demo/admin"
		owner := newConsoleUser(t, admin)
		owner.login(demoOwner, strings.TrimSpace(string(pw)))

		// The roles page shows the built-in roles and their levels.
		roles := owner.get("/roles", http.StatusOK)
		for _, want := range []string{`id="builtin-roles"`, "オーナー", "閲覧者", "編集・CSV出力", `href="/t/demo/admin/roles"`} {
			if !strings.Contains(roles.body, want) {
				t.Fatalf("the roles page lacks %q:\n%s", want, roles.body)
			}
		}
		// csv is offered only where it exists.
		if n := strings.Count(roles.body, `<option value="csv"`); n != 2 {
			t.Errorf("the create form offers csv in %d areas, want 2 (reservations, members)", n)
		}

		// A level an area does not have is refused, with the field named.
		levels := func(label string, kv ...string) url.Values {
			v := url.Values{"name": {"callcenter"}, "label": {label}}
			for _, a := range []string{"reservations", "members", "menus", "schedule", "mail", "settings", "staff", "audit"} {
				v.Set("level_"+a, "none")
			}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Set("level_"+kv[i], kv[i+1])
			}
			return v
		}
		bad := owner.submit("/roles", "/roles", levels("コールセンター", "menus", "csv"), http.StatusBadRequest)
		if !strings.Contains(bad.body, `id="level-menus-error"`) || !strings.Contains(bad.body, `value="コールセンター"`) {
			t.Fatalf("a refused role does not point at the menus level or lost the label:\n%s", bad.body)
		}

		// Create "callcenter": edit reservations and members, no CSV.
		r := owner.submit("/roles", "/roles", levels("コールセンター", "reservations", "edit", "members", "edit"), http.StatusSeeOther)
		redirectsTo(t, "create the role", r, "/t/demo/admin/roles?done=created")
		roles = owner.get("/roles?done=created", http.StatusOK)
		if !strings.Contains(roles.body, `id="role-callcenter"`) || !strings.Contains(roles.body, "コールセンター") ||
			!strings.Contains(roles.body, "カスタムロールを作成しました。") {
			t.Fatalf("the new role is not listed:\n%s", roles.body)
		}
		again := owner.submit("/roles", "/roles", levels("もう一つ", "reservations", "view"), http.StatusConflict)
		if !strings.Contains(again.body, "このロール名はすでに使われています") {
			t.Fatalf("a second role of the same name:\n%s", again.body)
		}

		// Edit its label.
		edit := levels("外部コールセンター", "reservations", "edit", "members", "edit")
		edit.Del("name")
		redirectsTo(t, "update the role", owner.submit("/roles/callcenter", "/roles/callcenter", edit, http.StatusSeeOther), "/t/demo/admin/roles?done=updated")
		if page := owner.get("/roles/callcenter", http.StatusOK); !strings.Contains(page.body, `value="外部コールセンター"`) {
			t.Fatalf("the label was not saved:\n%s", page.body)
		}

		// Invite a colleague with it; they set their password and log in.
		const ccEmail, ccPassword = "callcenter@demo.example.jp", "hoshi-kaze-mori-tsuki-314"
		inv := owner.submit("/staff", "/staff/invite", url.Values{"email": {ccEmail}, "name": {"受付 一郎"}, "role": {"callcenter"}}, http.StatusOK)
		m := inviteLinkRE.FindStringSubmatch(inv.body)
		if m == nil {
			t.Fatalf("no invitation link:\n%s", inv.body)
		}
		setup := strings.TrimPrefix(m[1], "/t/demo/admin")
		cc := newConsoleUser(t, admin)
		redirectsTo(t, "set the password", cc.submit(setup, setup, url.Values{"password": {ccPassword}}, http.StatusSeeOther), "/t/demo/admin/login?set=1")
		cc.login(ccEmail, ccPassword)

		// The role lets them in, and not into staff, roles, keys or the log.
		home := cc.get("/", http.StatusOK)
		if strings.Contains(home.body, "/admin/roles\"") || strings.Contains(home.body, "/admin/staff\"") {
			t.Errorf("the navigation offers what the role does not allow:\n%s", home.body)
		}
		for _, p := range []string{"/staff", "/roles", "/roles/callcenter", "/api-keys", "/audit"} {
			cc.get(p, http.StatusForbidden)
		}
		ccID := staffIDOf(t, owner.get("/staff", http.StatusOK), ccEmail)
		cc.get("/staff/"+ccID, http.StatusForbidden)

		// A role still held cannot be deleted; the page says why.
		inUse := owner.submit("/roles", "/roles/callcenter/delete", url.Values{}, http.StatusConflict)
		if !strings.Contains(inUse.body, "このロールは使用中です") || !strings.Contains(inUse.body, "callcenter") {
			t.Fatalf("deleting a held role:\n%s", inUse.body)
		}
		if !strings.Contains(owner.get("/roles", http.StatusOK).body, `id="role-callcenter"`) {
			t.Fatal("a refused deletion deleted the role")
		}

		// Move the colleague to viewer, then the role goes.
		detail := owner.get("/staff/"+ccID, http.StatusOK)
		for _, want := range []string{ccEmail, "外部コールセンター", `data-confirm=`, `/staff/` + ccID + `/disable`} {
			if !strings.Contains(detail.body, want) {
				t.Fatalf("the staff detail lacks %q:\n%s", want, detail.body)
			}
		}
		r = owner.submit("/staff/"+ccID, "/staff/"+ccID, url.Values{"display_name": {"受付 一郎"}, "role": {"viewer"}}, http.StatusSeeOther)
		redirectsTo(t, "change the role", r, "/t/demo/admin/staff/"+ccID+"?done=saved")
		if d := owner.get("/staff/"+ccID, http.StatusOK); !strings.Contains(d.body, `<td id="staff-role">閲覧者</td>`) {
			t.Fatalf("the role did not change:\n%s", d.body)
		}
		redirectsTo(t, "delete the role", owner.submit("/roles", "/roles/callcenter/delete", url.Values{}, http.StatusSeeOther), "/t/demo/admin/roles?done=deleted")
		if strings.Contains(owner.get("/roles", http.StatusOK).body, `id="role-callcenter"`) {
			t.Fatal("the deleted role is still listed")
		}

		// Only an owner appoints an owner or touches an owner's account: an
		// administrator may not.
		const admEmail, admPassword = "manager@demo.example.jp", "kumo-umi-yama-niji-271"
		inv = owner.submit("/staff", "/staff/invite", url.Values{"email": {admEmail}, "name": {"店長"}, "role": {"admin"}}, http.StatusOK)
		if m = inviteLinkRE.FindStringSubmatch(inv.body); m == nil {
			t.Fatalf("no invitation link:\n%s", inv.body)
		}
		setup = strings.TrimPrefix(m[1], "/t/demo/admin")
		adm := newConsoleUser(t, admin)
		adm.submit(setup, setup, url.Values{"password": {admPassword}}, http.StatusSeeOther)
		adm.login(admEmail, admPassword)
		ownerID := staffIDOf(t, owner.get("/staff", http.StatusOK), demoOwner)
		if d := adm.get("/staff/"+ownerID, http.StatusOK); !strings.Contains(d.body, `id="owner-locked"`) || strings.Contains(d.body, `name="display_name"`) {
			t.Errorf("an administrator is offered changes to the owner's account:\n%s", d.body)
		}
		if d := adm.get("/staff/"+ccID, http.StatusOK); strings.Contains(d.body, `<option value="owner"`) {
			t.Errorf("an administrator is offered the owner role:\n%s", d.body)
		}
		adm.submit("/staff/"+ccID, "/staff/"+ccID, url.Values{"display_name": {"受付 一郎"}, "role": {"owner"}}, http.StatusForbidden)
		adm.submit("/staff/"+ownerID, "/staff/"+ownerID+"/disable", url.Values{}, http.StatusForbidden)
		adm.submit("/staff/"+ownerID, "/staff/"+ownerID, url.Values{"display_name": {"乗っ取り"}, "role": {"owner"}}, http.StatusForbidden)
		if d := owner.get("/staff/"+ownerID, http.StatusOK); !strings.Contains(d.body, `<td id="staff-status">有効</td>`) || strings.Contains(d.body, "乗っ取り") {
			t.Fatalf("a refused change reached the owner's account:\n%s", d.body)
		}

		// Nobody disables themselves; the owner disables the colleague,
		// whose session ends at once.
		self := owner.submit("/staff/"+ownerID, "/staff/"+ownerID+"/disable", url.Values{}, http.StatusConflict)
		if !strings.Contains(self.body, "自分のアカウントは無効にできません") {
			t.Fatalf("disabling oneself:\n%s", self.body)
		}
		cc.get("/", http.StatusOK)
		redirectsTo(t, "disable the colleague", owner.submit("/staff/"+ccID, "/staff/"+ccID+"/disable", url.Values{}, http.StatusSeeOther),
			"/t/demo/admin/staff/"+ccID+"?done=disabled")
		redirectsTo(t, "the disabled colleague's next request", cc.do(http.MethodGet, "/", nil), "/t/demo/admin/login")

		// A form without its CSRF token is refused and changes nothing.
		if r := owner.post("/roles", levels("不正"), http.StatusForbidden); !strings.Contains(r.body, "フォームの有効期限が切れました") {
			t.Errorf("a POST without its token:\n%s", r.body)
		}
		if strings.Contains(owner.get("/roles", http.StatusOK).body, `id="role-callcenter"`) {
			t.Fatal("a POST without its token created a role")
		}

		// Every change is in the operation log, old → new.
		log := owner.get("/audit?action=role.", http.StatusOK).body
		for _, want := range []string{"role.create", "role.update", "role.delete", "label: null → &#34;コールセンター&#34;",
			"levels.reservations: null → &#34;edit&#34;", "label: &#34;コールセンター&#34; → &#34;外部コールセンター&#34;",
			"levels.members: &#34;edit&#34; → null"} {
			if !strings.Contains(log, want) && !strings.Contains(log, strings.ReplaceAll(want, "&#34;", "\"")) {
				t.Errorf("the operation log lacks %q:\n%s", want, log)
			}
		}
		staffLog := owner.get("/audit?action=staff.&object=staff:"+ccID, http.StatusOK).body
		for _, want := range []string{"staff.invited", "staff.updated", "staff.disabled", "role: &#34;callcenter&#34; → &#34;viewer&#34;"} {
			if !strings.Contains(staffLog, want) && !strings.Contains(staffLog, strings.ReplaceAll(want, "&#34;", "\"")) {
				t.Errorf("the operation log of the colleague lacks %q:\n%s", want, staffLog)
			}
		}
	})
}
