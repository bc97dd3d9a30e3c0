package notify_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/mailtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

// consoleEnv is the staff console with its mail pages, wired as
// cmd/yoyaku wires them, over a real control database, a real tenant
// database, the real identity console (sessions, CSRF, roles) and a mail
// service that sends to mailpit.
type consoleEnv struct {
	reg    *tenantdb.Registry
	tn     tenants.Tenant
	staff  *identity.Service
	az     *authz.Authorizer
	mail   *notify.Service
	cat    *i18n.Catalog
	mp     *mailtest.Mailpit
	router *gin.Engine
	now    time.Time
}

const consolePassword = "kT9#mQ2v-Lp8xZr4-mail"

func newConsoleEnv(t *testing.T, loc dbx.Location) *consoleEnv {
	t.Helper()
	ctx := context.Background()
	control, err := dbx.OpenControl(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = control.Close() })
	if _, err := dbx.Migrate(ctx, control, migrations.Control(string(loc.Engine))); err != nil {
		t.Fatal(err)
	}
	rcfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: migrations.Tenant(string(loc.Engine))}
	if loc.Engine == dbx.MySQL {
		rcfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	reg, err := tenantdb.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	cat, err := i18n.Load(web.FS, "i18n")
	if err != nil {
		t.Fatal(err)
	}
	views, err := view.New(web.FS, cat)
	if err != nil {
		t.Fatal(err)
	}
	ts := tenants.NewService(tenants.Config{Control: control, Registry: reg, Location: loc})
	tn, err := ts.Create(ctx, tenants.CreateParams{Slug: "salon-hanami", Name: tenantJa,
		ContactEmails: []string{"office@salon-hanami.example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	mp := mailtest.Shared(t)
	smtp, err := notify.ParseSMTPURL(mp.SMTPURL())
	if err != nil {
		t.Fatal(err)
	}
	e := &consoleEnv{reg: reg, tn: tn, cat: cat, mp: mp, az: authz.New(authz.Config{}), now: testNow}
	if e.mail, err = notify.NewService(notify.Config{SMTP: smtp, From: fromAddr, Now: func() time.Time { return e.now }}); err != nil {
		t.Fatal(err)
	}
	if e.staff, err = identity.NewService(identity.Config{Password: identity.TestPasswordParams()}); err != nil {
		t.Fatal(err)
	}

	r, err := httpx.New(httpx.Options{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	console := identity.NewConsole(identity.ConsoleConfig{
		Staff: e.staff, Perms: e.az, Views: views, Policy: e.az,
		Nav: []identity.NavEntry{{Area: authz.AreaMail, Path: "/mail", Label: "notify.nav"}},
	})
	admin := r.Group("/t/:tenant/admin", tenants.NewHTTP(ts, views).SiteTenant())
	console.Register(admin)
	notify.NewConsole(notify.ConsoleConfig{Service: e.mail, Perms: e.az, Shell: notify.ConsoleShell{
		Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need,
	}}).Register(admin.Group("", console.RequireSession()))
	e.router = r
	return e
}

// db runs fn with the tenant's database.
func (e *consoleEnv) db(t *testing.T, fn func(db bun.IDB)) {
	t.Helper()
	h, err := e.reg.Acquire(context.Background(), e.tn.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	db, err := h.DB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fn(db)
}

// staffUser is a signed-in staff member of the console.
type staffUser struct {
	e      *consoleEnv
	id     string
	email  string
	cookie string
	csrf   string
}

// signIn makes a staff member with role, sets their password and signs
// them in, as the setup link and the login form would.
func (e *consoleEnv) signIn(t *testing.T, email, role string) *staffUser {
	t.Helper()
	ctx := context.Background()
	u := &staffUser{e: e, email: email}
	e.db(t, func(db bun.IDB) {
		st, token, err := e.staff.Invite(ctx, db, identity.Principal{}, email, "", role)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.az.Assign(ctx, db, e.tn.ID, authz.StaffSubject(st.ID), role); err != nil {
			t.Fatal(err)
		}
		if _, err := e.staff.RedeemSetup(ctx, db, token, consolePassword, e.tn.Slug); err != nil {
			t.Fatal(err)
		}
		sess, _, _, err := e.staff.Login(ctx, db, e.tn.Slug, email, consolePassword, "192.0.2.1", "console-test")
		if err != nil {
			t.Fatal(err)
		}
		u.id, u.cookie = st.ID, sess
	})
	return u
}

type page struct {
	status int
	body   string
	header http.Header
}

func (u *staffUser) do(t *testing.T, method, path string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(&http.Cookie{Name: "yoyaku_staff", Value: u.cookie})
	req.Header.Set("Accept-Language", "ja")
	w := httptest.NewRecorder()
	u.e.router.ServeHTTP(w, req)
	return page{status: w.Code, body: w.Body.String(), header: w.Header()}
}

func (u *staffUser) get(t *testing.T, path string, want int) page {
	t.Helper()
	p := u.do(t, "GET", path, nil)
	if p.status != want {
		t.Fatalf("GET %s: %d, want %d\n%s", path, p.status, want, p.body)
	}
	return p
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// post sends form with the session's CSRF token (read from the console's
// home page, as a browser would have it from the form).
func (u *staffUser) post(t *testing.T, path string, form url.Values, want int) page {
	t.Helper()
	if u.csrf == "" {
		m := csrfRE.FindStringSubmatch(u.get(t, "/t/salon-hanami/admin/", 200).body)
		if m == nil {
			t.Fatal("no CSRF token on the home page")
		}
		u.csrf = m[1]
	}
	f := url.Values{"csrf_token": {u.csrf}}
	for k, v := range form {
		f[k] = v
	}
	p := u.do(t, "POST", path, f)
	if p.status != want {
		t.Fatalf("POST %s: %d, want %d\n%s", path, p.status, want, p.body)
	}
	return p
}

func (e *consoleEnv) template(t *testing.T, typ, lang string) notify.Template {
	t.Helper()
	var tp notify.Template
	e.db(t, func(db bun.IDB) {
		var err error
		if tp, err = e.mail.Template(context.Background(), db, typ, lang); err != nil {
			t.Fatal(err)
		}
	})
	return tp
}

func (e *consoleEnv) settings(t *testing.T) notify.Settings {
	t.Helper()
	var st notify.Settings
	e.db(t, func(db bun.IDB) {
		var err error
		if st, err = e.mail.Settings(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	})
	return st
}

func (e *consoleEnv) audit(t *testing.T, action string) []auditlog.Entry {
	t.Helper()
	var out []auditlog.Entry
	e.db(t, func(db bun.IDB) {
		var err error
		if out, err = auditlog.Search(context.Background(), db, auditlog.Filter{Action: action, Limit: 100}); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

const (
	adminBase  = "/t/salon-hanami/admin"
	inviteJa   = adminBase + "/mail/templates/staff.invited/ja"
	goodSubj   = "【{{.TenantName}}】{{.DisplayName}} 様、スタッフ登録のご案内"
	goodText   = "{{.DisplayName}} 様\n\n次のリンクからパスワードを設定してください。\n{{.SetupURL}}\n"
	hostileDoc = `<p>ようこそ</p><script>alert("console")</script><img src="x" onerror="alert(2)">`
)

// The templates page lists every tenant-editable mail in both languages,
// default or custom, with links to the editor; the editor saves a good
// template (logged), refuses a broken one with the error at its field and
// the typed text kept, previews drafts without saving them, and resets.
func TestConsoleMailTemplates(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		owner := e.signIn(t, "owner@salon-hanami.example.jp", authz.RoleOwner)

		list := owner.get(t, adminBase+"/mail", 200).body
		contains(t, "templates page", list,
			"<h1>メール</h1>", "スタッフの招待", "パスワードの再設定", "2段階認証の設定変更", "テストメール", "日本語", "英語",
			`href="`+inviteJa+`"`, `href="`+adminBase+`/mail/templates/staff.invited/en"`,
			`<a href="`+adminBase+`/mail" aria-current="page">メール</a>`, // the navigation entry
		)
		if strings.Contains(list, "notice.published") {
			t.Error("the platform's own mail is listed as the tenant's to edit")
		}
		editable := 0
		for _, et := range notify.EventTypes() {
			if !et.Platform {
				editable++
			}
		}
		if n := strings.Count(list, "<td class=\"template-kind\">標準</td>"); n != editable*len(notify.Langs) {
			t.Errorf("%d default templates listed, want %d (%d types × %d languages)", n, editable*len(notify.Langs), editable, len(notify.Langs))
		}

		ed := owner.get(t, inviteJa, 200).body
		def := e.template(t, notify.EventStaffInvited, "ja")
		contains(t, "editor", ed, "スタッフの招待（日本語）", html.EscapeString(def.Subject), "<code>{{.SetupURL}}</code>",
			"パスワードを設定するページのURL", `value="owner@salon-hanami.example.jp"`, "標準の文面を使っています")

		// Broken templates: refused, the error at its field, nothing saved.
		for _, c := range []struct{ name, field, subject, text, msg string }{
			{"unknown variable", "subject", "{{.Nope}} のご案内", goodText, "見本のデータで差し込みができません"},
			{"bad syntax", "body-text", goodSubj, "{{if}} 本文", "テンプレートの書き方に誤りがあります"},
		} {
			p := owner.post(t, inviteJa, url.Values{"subject": {c.subject}, "body_text": {c.text}}, http.StatusBadRequest)
			contains(t, c.name, p.body,
				`<p class="field-error" id="`+c.field+`-error">`+c.msg,
				`value="`+html.EscapeString(c.subject)+`"`, // the typed text is kept
				`role="alert"`)
			if c.field == "body-text" {
				contains(t, c.name, p.body, `aria-describedby="body-text-hint body-text-error" aria-invalid="true">{{if}} 本文</textarea>`)
			} else {
				contains(t, c.name, p.body, `aria-invalid="true" aria-describedby="subject-error"`)
			}
			if got := e.template(t, notify.EventStaffInvited, "ja"); got.Custom {
				t.Fatalf("%s: the broken template was saved", c.name)
			}
		}
		if n := len(e.audit(t, "mail_template.update")); n != 0 {
			t.Fatalf("%d updates logged for refused saves", n)
		}

		// A good one is saved, used and logged, by the signed-in owner.
		p := owner.post(t, inviteJa, url.Values{"subject": {goodSubj}, "body_text": {goodText}, "body_html": {""}}, http.StatusSeeOther)
		if loc := p.header.Get("Location"); loc != inviteJa+"?done=saved" {
			t.Fatalf("saved: to %q", loc)
		}
		got := e.template(t, notify.EventStaffInvited, "ja")
		if !got.Custom || got.Subject != goodSubj || got.Text != goodText || got.HTML != "" {
			t.Fatalf("saved template %+v", got)
		}
		if en := e.template(t, notify.EventStaffInvited, "en"); en.Custom {
			t.Error("saving the Japanese template changed the English one")
		}
		ups := e.audit(t, "mail_template.update")
		if len(ups) != 1 || ups[0].ObjectID != "staff.invited/ja" || ups[0].Actor.ID != owner.id {
			t.Fatalf("logged %+v", ups)
		}
		ed = owner.get(t, inviteJa+"?done=saved", 200).body
		contains(t, "editor after saving", ed, "テンプレートを保存しました", `<strong class="badge">独自</strong>`, "2026年11月27日(金) 12:04 に更新")
		list = owner.get(t, adminBase+"/mail", 200).body
		contains(t, "list after saving", list, "<strong class=\"badge\">独自</strong>", html.EscapeString(goodSubj))

		// Preview renders the draft with sample data, saves nothing, and
		// keeps the HTML part out of the console page: escaped into the
		// srcdoc of a sandboxed iframe.
		draftSubj := "{{.TenantName}} からのプレビュー"
		pv := owner.post(t, inviteJa+"/preview", url.Values{"subject": {draftSubj}, "body_text": {goodText}, "body_html": {hostileDoc}}, 200)
		contains(t, "preview", pv.body,
			`<p id="preview-subject" class="preview-subject">`+tenantJa+` からのプレビュー</p>`,
			"予約 花子 様", "https://yoyaku.example.jp/t/sample/admin/setup?token=SAMPLE",
			`sandbox srcdoc="&lt;p&gt;ようこそ&lt;/p&gt;&lt;script&gt;alert(&#34;console&#34;)&lt;/script&gt;`,
			`value="`+html.EscapeString(draftSubj)+`"`)
		if strings.Count(pv.body, "<script") != 1 || strings.Contains(pv.body, "onerror=\"alert") {
			t.Errorf("the preview put markup of the mail into the console page:\n%s", pv.body)
		}
		csp := pv.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "script-src") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("preview CSP %q", csp)
		}
		if got := e.template(t, notify.EventStaffInvited, "ja"); got.Subject != goodSubj {
			t.Fatalf("preview saved the draft: %q", got.Subject)
		}
		bad := owner.post(t, inviteJa+"/preview", url.Values{"subject": {"ok"}, "body_text": {"{{.Missing}}"}}, http.StatusBadRequest)
		contains(t, "broken preview", bad.body, `id="body-text-error"`, "Missing")
		if strings.Contains(bad.body, `id="preview"`) {
			t.Error("a broken draft shows a preview")
		}

		// Reset: the default again, logged.
		p = owner.post(t, inviteJa+"/reset", nil, http.StatusSeeOther)
		if got := e.template(t, notify.EventStaffInvited, "ja"); got.Custom || got.Subject != def.Subject {
			t.Fatalf("after reset %+v", got)
		}
		if n := len(e.audit(t, "mail_template.reset")); n != 1 {
			t.Fatalf("%d resets logged", n)
		}
		contains(t, "editor after reset", owner.get(t, p.header.Get("Location"), 200).body, "標準の文面に戻しました")

		// Unknown types and languages, and the platform's own mail, are not found.
		for _, path := range []string{"/mail/templates/nope/ja", "/mail/templates/notice.published/ja"} {
			owner.get(t, adminBase+path, http.StatusNotFound)
		}
		owner.get(t, adminBase+"/mail/templates/staff.invited/fr", http.StatusBadRequest)
	})
}

// A test send mails the draft in the editor to the address given (the
// signed-in member's by default), says so, and is logged; a bad address
// is refused at its field.
func TestConsoleMailTestSend(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		owner := e.signIn(t, "owner@salon-hanami.example.jp", authz.RoleOwner)
		to := unique("console-test")
		p := owner.post(t, inviteJa+"/test", url.Values{"subject": {goodSubj}, "body_text": {goodText}, "to": {to}}, 200)
		contains(t, "after the test send", p.body, to+" にテストメールを送信しました", `value="`+html.EscapeString(goodSubj)+`"`)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		got, err := e.mp.Client().WaitTo(ctx, to, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.mp.Client().Message(ctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "【"+tenantJa+"】予約 花子 様、スタッフ登録のご案内" || !strings.Contains(m.Text, "token=SAMPLE") {
			t.Fatalf("test mail: %q\n%s", m.Subject, m.Text)
		}
		logged := e.audit(t, "mail_template.test")
		if len(logged) != 1 || logged[0].ObjectID != "staff.invited/ja" || logged[0].Result != auditlog.ResultOK || logged[0].Actor.ID != owner.id {
			t.Fatalf("logged %+v", logged)
		}
		if e.template(t, notify.EventStaffInvited, "ja").Custom {
			t.Error("a test send saved the draft")
		}

		bad := owner.post(t, inviteJa+"/test", url.Values{"subject": {goodSubj}, "body_text": {goodText}, "to": {"not an address"}}, http.StatusBadRequest)
		contains(t, "bad address", bad.body, `aria-describedby="test-to-hint test-to-error" aria-invalid="true"`, `id="test-to-error"`, `value="not an address"`)
	})
}

// The settings form saves the sender name, reply-to and copies (logged);
// a bad reply-to or a mail that may not be copied is refused with what was
// typed kept and nothing changed.
func TestConsoleMailSettings(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		owner := e.signIn(t, "owner@salon-hanami.example.jp", authz.RoleOwner)
		page := owner.get(t, adminBase+"/mail", 200).body
		contains(t, "settings form", page, `placeholder="`+tenantJa+`"`, "<code>office@salon-hanami.example.jp</code>",
			`value="staff.2fa_changed"`, `value="mail.test"`)
		if strings.Contains(page, `name="copy_events" value="staff.invited"`) {
			t.Error("an invitation (a one-time link) is offered for copies")
		}

		p := owner.post(t, adminBase+"/mail/settings", url.Values{"sender_name": {" 花見サロン 予約係 "}, "reply_to": {"info@salon-hanami.example.jp"},
			"copy_events": {"staff.2fa_changed", "mail.test"}}, http.StatusSeeOther)
		st := e.settings(t)
		if st.SenderName != "花見サロン 予約係" || st.ReplyTo != "info@salon-hanami.example.jp" || !slices.Equal(st.CopyEvents, []string{"mail.test", "staff.2fa_changed"}) {
			t.Fatalf("settings %+v", st)
		}
		if n := len(e.audit(t, "mail_settings.update")); n != 1 {
			t.Fatalf("%d settings changes logged", n)
		}
		page = owner.get(t, p.header.Get("Location"), 200).body
		copyID := map[string]string{} // the checkboxes list the copyable types in order
		for _, et := range notify.EventTypes() {
			if et.Copyable {
				copyID[et.Type] = fmt.Sprintf("copy-%d", len(copyID))
			}
		}
		contains(t, "saved settings", page, "送信の設定を保存しました", `value="花見サロン 予約係"`,
			`value="mail.test" id="`+copyID["mail.test"]+`" checked`, `value="staff.2fa_changed" id="`+copyID["staff.2fa_changed"]+`" checked`,
			`value="reservation.created" id="`+copyID["reservation.created"]+`">`)

		for _, c := range []struct {
			name string
			form url.Values
			want []string
		}{
			{"bad reply-to", url.Values{"sender_name": {"別名"}, "reply_to": {"info@@example"}, "copy_events": {"mail.test"}},
				[]string{`id="reply-to-error"`, "メールアドレスの形式で入力してください", `value="info@@example"`, `value="別名"`, `aria-describedby="reply-to-hint reply-to-error" aria-invalid="true"`}},
			{"invitation copied", url.Values{"sender_name": {"別名"}, "copy_events": {"staff.invited"}},
				[]string{`id="copies-error"`, "このメールは写しを送れません"}},
		} {
			bad := owner.post(t, adminBase+"/mail/settings", c.form, http.StatusBadRequest)
			contains(t, c.name, bad.body, c.want...)
			if got := e.settings(t); got.SenderName != st.SenderName || got.ReplyTo != st.ReplyTo || !slices.Equal(got.CopyEvents, st.CopyEvents) {
				t.Fatalf("%s changed the settings: %+v", c.name, got)
			}
		}
		if n := len(e.audit(t, "mail_settings.update")); n != 1 {
			t.Fatalf("%d settings changes logged after refusals", n)
		}
	})
}

// Roles: the front desk (mail view) reads the pages without forms and is
// refused every change with 403 (logged); a viewer (no mail) cannot open
// them and does not see them in the navigation; a post without the
// session's CSRF token changes nothing.
func TestConsoleMailPermissions(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		owner := e.signIn(t, "owner@salon-hanami.example.jp", authz.RoleOwner)
		desk := e.signIn(t, "desk@salon-hanami.example.jp", authz.RoleStaff)
		viewer := e.signIn(t, "viewer@salon-hanami.example.jp", authz.RoleViewer)

		page := desk.get(t, adminBase+"/mail", 200).body
		contains(t, "desk's mail page", page, `id="read-only"`, "<fieldset disabled>", ">表示</a>")
		if strings.Contains(page, "設定を保存</button>") {
			t.Error("the desk is offered the settings' save button")
		}
		ed := desk.get(t, inviteJa, 200).body
		if strings.Contains(ed, `id="save-button"`) || strings.Contains(ed, `id="test-button"`) || !strings.Contains(ed, `id="preview-button"`) {
			t.Error("the desk's editor offers changes, or no preview")
		}
		denied := len(e.audit(t, "access.denied"))
		good := url.Values{"subject": {goodSubj}, "body_text": {goodText}, "to": {"desk@salon-hanami.example.jp"}}
		for _, path := range []string{"/mail/settings", "/mail/templates/staff.invited/ja", "/mail/templates/staff.invited/ja/reset", "/mail/templates/staff.invited/ja/test"} {
			p := desk.post(t, adminBase+path, good, http.StatusForbidden)
			contains(t, path, p.body, "この操作は許可されていません")
		}
		if n := len(e.audit(t, "access.denied")); n != denied+4 {
			t.Errorf("%d refusals logged, want 4", n-denied)
		}
		// Preview changes nothing: viewing mail is enough.
		desk.post(t, inviteJa+"/preview", good, 200)
		if e.template(t, notify.EventStaffInvited, "ja").Custom || e.settings(t).SenderName != "" {
			t.Fatal("a refused change happened")
		}

		for _, path := range []string{"/mail", "/mail/deliveries", "/mail/templates/staff.invited/ja"} {
			viewer.get(t, adminBase+path, http.StatusForbidden)
		}
		if home := viewer.get(t, adminBase+"/", 200).body; strings.Contains(home, `href="`+adminBase+`/mail"`) {
			t.Error("the viewer's navigation shows mail")
		}
		if home := desk.get(t, adminBase+"/", 200).body; !strings.Contains(home, `href="`+adminBase+`/mail"`) {
			t.Error("the desk's navigation lacks mail")
		}

		// Without the session's token: refused, nothing saved.
		p := owner.do(t, "POST", inviteJa, url.Values{"subject": {goodSubj}, "body_text": {goodText}, "csrf_token": {"forged"}})
		if p.status != http.StatusForbidden || e.template(t, notify.EventStaffInvited, "ja").Custom {
			t.Fatalf("forged post: %d", p.status)
		}
	})
}

var rowRE = regexp.MustCompile(`<tr data-status="(sent|failed)">`)

// The sent-mail list shows each recorded message — time in the tenant's
// zone, recipient, type, status in words, Message-ID — newest first,
// filtered by status from the URL, fifty to a page.
func TestConsoleMailDeliveries(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		owner := e.signIn(t, "owner@salon-hanami.example.jp", authz.RoleOwner)
		contains(t, "empty list", owner.get(t, adminBase+"/mail/deliveries", 200).body, `id="deliveries-empty"`)

		ctx := context.Background()
		sentTo := unique("delivered")
		var sent notify.Delivery
		e.db(t, func(db bun.IDB) {
			var err error
			if sent, err = e.mail.SendTest(ctx, db, notify.TenantInfoOf(e.tn), notify.TestParams{To: sentTo}); err != nil {
				t.Fatal(err)
			}
		})
		// Failures, recorded by a service whose mail server is away, later.
		down, err := notify.ParseSMTPURL("smtp://127.0.0.1:1?tls=none")
		if err != nil {
			t.Fatal(err)
		}
		away, err := notify.NewService(notify.Config{SMTP: down, From: fromAddr, Now: func() time.Time { return testNow.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		e.db(t, func(db bun.IDB) {
			for i := range 55 {
				if _, err := away.SendTest(ctx, db, notify.TenantInfoOf(e.tn), notify.TestParams{To: "failed" + strconv.Itoa(i) + "@example.com"}); err == nil {
					t.Fatal("a send to a closed port succeeded")
				}
			}
		})

		all := owner.get(t, adminBase+"/mail/deliveries", 200).body
		rows := rowRE.FindAllStringSubmatch(all, -1)
		if len(rows) != 50 || rows[0][1] != "failed" {
			t.Fatalf("first page: %d rows", len(rows))
		}
		contains(t, "first page", all, "2026年11月27日(金) 13:04", "Asia/Tokyo", "⚠ 送信失敗", `rel="next"`, "1ページ目",
			`href="`+adminBase+`/mail/deliveries?page=2"`)
		next := owner.get(t, adminBase+"/mail/deliveries?page=2", 200).body
		rows = rowRE.FindAllStringSubmatch(next, -1)
		if len(rows) != 6 || rows[5][1] != "sent" || strings.Contains(next, `rel="next"`) || !strings.Contains(next, `rel="prev"`) {
			t.Fatalf("second page: %v", rows)
		}
		contains(t, "the sent one", next, sentTo, "<code class=\"message-id\">"+sent.MessageID+"</code>", "2026年11月27日(金) 12:04", "テストメール", "送信済み")

		only := owner.get(t, adminBase+"/mail/deliveries?status=sent", 200).body
		rows = rowRE.FindAllStringSubmatch(only, -1)
		if len(rows) != 1 || rows[0][1] != "sent" || !strings.Contains(only, `<option value="sent" selected>`) {
			t.Fatalf("sent only: %v", rows)
		}
		failed := owner.get(t, adminBase+"/mail/deliveries?status=failed&page=2", 200).body
		if rows = rowRE.FindAllStringSubmatch(failed, -1); len(rows) != 5 {
			t.Fatalf("failed, page 2: %d rows", len(rows))
		}
		contains(t, "failed, page 2", failed, `href="`+adminBase+`/mail/deliveries?status=failed"`)
	})
}
