package identity

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

// consoleEnv is the console of one tenant on a real tenant registry, with
// the real authorization policy, templates and catalogs, and an outbox
// whose mail consumer is subscribed (so events are recorded) but never
// run: the tests read what was enqueued.
type consoleEnv struct {
	t      *testing.T
	svc    *Service
	clock  *fakeClock
	db     bun.IDB
	ctx    context.Context
	tenant tenants.Tenant
	router *gin.Engine
	base   string // /t/{slug}/admin

	mu       sync.Mutex
	notified []outbox.Event // what the console woke the dispatcher for
}

// preAuth is the double-submit token the tests send as cookie and field.
const preAuth = "pre-auth-csrf-token-of-the-console-tests-0123456789"

func newConsoleEnv(t *testing.T, loc dbx.Location) *consoleEnv {
	t.Helper()
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{SourceIP: testIP, UserAgent: testUA, RequestID: "req-test"})
	cfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: migrations.Tenant(string(loc.Engine))}
	if loc.Engine == dbx.MySQL {
		cfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	reg, err := tenantdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	u := uuid.Must(uuid.NewV7())
	id := hex.EncodeToString(u[:])
	p := tenantdb.Placement{TenantID: id, Name: loc.TenantDatabase(id)}
	if loc.Engine == dbx.MySQL {
		p.Server = tenantdb.DefaultServer
	}
	if err := reg.Provision(ctx, p); err != nil {
		t.Fatal(err)
	}
	h, err := reg.Acquire(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	db, err := h.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	svc, err := NewService(Config{Now: clock.Now, Password: TestPasswordParams()})
	if err != nil {
		t.Fatal(err)
	}
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
	e := &consoleEnv{t: t, svc: svc, clock: clock, db: db, ctx: ctx, router: r, base: "/t/" + testSlug + "/admin",
		tenant: tenants.Tenant{ID: id, Slug: testSlug, Name: "サロン花見", Status: tenants.StatusActive, TimeZone: "Asia/Tokyo", DB: p}}
	subs := outbox.NewSubscriptions()
	for _, typ := range []string{EventStaffInvited, EventStaffPasswordReset, EventStaff2FAChanged} {
		subs.Subscribe("mail", typ, func(context.Context, bun.IDB, outbox.Tenant, outbox.Event) error { return nil })
	}
	az := authz.New(authz.Config{})
	console := NewConsole(ConsoleConfig{Staff: svc, Perms: az, Policy: az, Views: views, Events: subs,
		Notify: func(_ context.Context, tenantID string, evs []outbox.Event) {
			if tenantID != id {
				t.Errorf("notified for tenant %q", tenantID)
			}
			e.mu.Lock()
			e.notified = append(e.notified, evs...)
			e.mu.Unlock()
		},
		AssignRole: az.Assign,
	})
	g := r.Group("/t/:tenant/admin", func(c *gin.Context) {
		handle := reg.Handle(p)
		defer handle.Release()
		c.Request = c.Request.WithContext(tenantdb.WithHandle(tenants.WithTenant(c.Request.Context(), e.tenant), handle))
		c.Next()
	})
	console.Register(g)
	return e
}

// staff makes an account with role and testPassword, its role in the policy.
func (e *consoleEnv) staff(email, name, role string) Staff {
	e.t.Helper()
	var st Staff
	var token string
	var err error
	if role == OwnerRole {
		st, token, err = e.svc.CreateOwner(e.ctx, e.db, email, name)
	} else {
		st, token, err = e.svc.Invite(e.ctx, e.db, Principal{Kind: PrincipalStaff, ID: "setup"}, email, name, role)
	}
	if err == nil {
		_, err = e.svc.RedeemSetup(e.ctx, e.db, token, testPassword, testSlug)
	}
	if err == nil {
		err = e.db.RunInTx(e.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return authz.New(authz.Config{}).Assign(ctx, tx, e.tenant.ID, authz.StaffSubject(st.ID), role)
		})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// call is one request: form posts carry the pre-auth CSRF token, or the
// session's when session is set.
type call struct {
	method, path string
	form         url.Values
	remote       string // client address; default testIP
	session      string // session token (cookie)
	lang         string // Accept-Language
}

func (e *consoleEnv) do(c call) *httptest.ResponseRecorder {
	e.t.Helper()
	var body *strings.Reader
	form := url.Values{}
	for k, v := range c.form {
		form[k] = v
	}
	if c.method == http.MethodPost {
		if c.session != "" {
			_, sess, err := e.svc.Authenticate(e.ctx, e.db, c.session)
			if sess.ID == "" {
				e.t.Fatalf("session: %v", err)
			}
			form.Set("csrf_token", CSRFToken(sess))
		} else {
			form.Set("csrf_token", preAuth)
		}
	}
	body = strings.NewReader(form.Encode())
	req := httptest.NewRequest(c.method, e.base+c.path, body)
	if c.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(&http.Cookie{Name: preAuthCookie, Value: preAuth})
	if c.session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.session})
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	remote := c.remote
	if remote == "" {
		remote = testIP
	}
	req.RemoteAddr = remote + ":40000"
	req.Header.Set("User-Agent", testUA)
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w
}

func (e *consoleEnv) forgot(email, remote string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(call{method: http.MethodPost, path: "/forgot", form: url.Values{"email": {email}}, remote: remote})
}

// events returns the enqueued events of type typ, newest first.
func (e *consoleEnv) events(typ string) []outbox.Event {
	e.t.Helper()
	evs, err := outbox.List(e.ctx, e.db, outbox.Filter{Type: typ, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *consoleEnv) notifiedCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.notified)
}

func TestForgotPasswordAnswersAlike(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		owner := e.staff("owner@example.jp", "オーナー", OwnerRole)
		gone := e.staff("gone@example.jp", "元スタッフ", "staff")
		if _, err := e.svc.DisableStaff(e.ctx, e.db, owner.Principal(""), gone.ID); err != nil {
			t.Fatal(err)
		}

		form := e.do(call{method: http.MethodGet, path: "/forgot"})
		if form.Code != http.StatusOK || !strings.Contains(form.Body.String(), `action="`+e.base+`/forgot"`) {
			t.Fatalf("forgot form: %d\n%s", form.Code, form.Body)
		}
		login := e.do(call{method: http.MethodGet, path: "/login"})
		if !strings.Contains(login.Body.String(), `href="`+e.base+`/forgot"`) || !strings.Contains(login.Body.String(), "パスワードをお忘れの方") {
			t.Fatalf("the login page has no link to the forgot page:\n%s", login.Body)
		}

		// Known (any case), unknown and disabled addresses, each from an
		// address of its own: one answer, byte for byte.
		known := e.forgot(" Owner@Example.jp ", "192.0.2.1")
		unknown := e.forgot("nobody@example.jp", "192.0.2.2")
		disabled := e.forgot("gone@example.jp", "192.0.2.3")
		for _, w := range []*httptest.ResponseRecorder{known, unknown, disabled} {
			if w.Code != http.StatusOK {
				t.Fatalf("forgot: %d\n%s", w.Code, w.Body)
			}
		}
		if known.Body.String() != unknown.Body.String() || known.Body.String() != disabled.Body.String() {
			t.Fatalf("the answers differ:\nknown:\n%s\nunknown:\n%s\ndisabled:\n%s", known.Body, unknown.Body, disabled.Body)
		}
		if !strings.Contains(known.Body.String(), "登録されているメールアドレスであれば、再設定用のリンクをお送りしました。") {
			t.Fatalf("no 'a mail is on its way':\n%s", known.Body)
		}
		if strings.Contains(known.Body.String(), "owner@example.jp") {
			t.Fatal("the answer repeats the address")
		}

		// Exactly one mail, to the active account, with a working link.
		evs := e.events(EventStaffPasswordReset)
		if len(evs) != 1 || evs[0].AggregateID != owner.ID || e.notifiedCount() != 1 {
			t.Fatalf("%d reset events (%+v), %d notified; want 1 for the owner", len(evs), evs, e.notifiedCount())
		}
		var pl passwordResetPayload
		if err := evs[0].Decode(&pl); err != nil {
			t.Fatal(err)
		}
		if pl.Email != "owner@example.jp" || pl.DisplayName != "オーナー" || pl.Lang != "ja" ||
			!strings.HasPrefix(pl.ResetURL, "http://example.com"+e.base+"/reset/") ||
			!pl.ExpiresAt.Equal(e.clock.Now().Add(ResetTokenTTL)) {
			t.Fatalf("payload %+v", pl)
		}

		// A malformed address is told so, and nothing is sent.
		bad := e.forgot("not-an-address", "192.0.2.4")
		if bad.Code != http.StatusBadRequest || !strings.Contains(bad.Body.String(), `id="email-error"`) {
			t.Fatalf("malformed address: %d\n%s", bad.Code, bad.Body)
		}
		// In English when asked.
		en := e.do(call{method: http.MethodPost, path: "/forgot", form: url.Values{"email": {"nobody2@example.jp"}}, remote: "192.0.2.5", lang: "en"})
		if en.Code != http.StatusOK || !strings.Contains(en.Body.String(), "If the address is registered, a reset link is on its way.") {
			t.Fatalf("English answer: %d\n%s", en.Code, en.Body)
		}
		if n := len(e.events(EventStaffPasswordReset)); n != 1 {
			t.Fatalf("%d reset events, want still 1", n)
		}
	})
}

func TestForgotPasswordThrottled(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		e.staff("owner@example.jp", "オーナー", OwnerRole)

		// Per address: the known and the unknown one alike, from ever
		// new client addresses.
		ip := 0
		next := func() string { ip++; return "198.51.100." + string(rune('0'+ip/10)) + string(rune('0'+ip%10)) }
		for _, addr := range []string{"owner@example.jp", "nobody@example.jp"} {
			for i := range ResetMaxPerAddress {
				if w := e.forgot(addr, next()); w.Code != http.StatusOK {
					t.Fatalf("%s request %d: %d", addr, i+1, w.Code)
				}
			}
			w := e.forgot(strings.ToUpper(addr), next())
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
				!strings.Contains(w.Body.String(), "パスワード再設定の申し込みが多すぎます") {
				t.Fatalf("%s past the limit: %d %q\n%s", addr, w.Code, w.Header().Get("Retry-After"), w.Body)
			}
		}
		if n := len(e.events(EventStaffPasswordReset)); n != ResetMaxPerAddress {
			t.Fatalf("%d reset events, want %d", n, ResetMaxPerAddress)
		}

		// Per client address: many addresses from one client.
		for i := range ResetMaxPerSource {
			if w := e.forgot("someone"+string(rune('a'+i))+"@example.jp", otherIP); w.Code != http.StatusOK {
				t.Fatalf("request %d from one client: %d", i+1, w.Code)
			}
		}
		if w := e.forgot("someone-else@example.jp", otherIP); w.Code != http.StatusTooManyRequests {
			t.Fatalf("past the client's limit: %d", w.Code)
		}
		// The window passes: the owner may ask again.
		e.clock.Advance(ResetThrottleWindow + time.Second)
		if w := e.forgot("owner@example.jp", otherIP); w.Code != http.StatusOK {
			t.Fatalf("after the window: %d\n%s", w.Code, w.Body)
		}
		if n := len(e.events(EventStaffPasswordReset)); n != ResetMaxPerAddress+1 {
			t.Fatalf("%d reset events, want %d", n, ResetMaxPerAddress+1)
		}
	})
}

// resetToken returns the token of the newest reset mail.
func (e *consoleEnv) resetToken() string {
	e.t.Helper()
	evs := e.events(EventStaffPasswordReset)
	if len(evs) == 0 {
		e.t.Fatal("no reset event")
	}
	var pl passwordResetPayload
	if err := evs[0].Decode(&pl); err != nil {
		e.t.Fatal(err)
	}
	return pl.ResetURL[strings.LastIndex(pl.ResetURL, "/")+1:]
}

func TestResetLinkSetsThePasswordOnce(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		e.staff("owner@example.jp", "オーナー", OwnerRole)
		old, _, _, err := e.svc.Login(e.ctx, e.db, testSlug, "owner@example.jp", testPassword, testIP, testUA)
		if err != nil {
			t.Fatal(err)
		}
		if w := e.forgot("owner@example.jp", ""); w.Code != http.StatusOK {
			t.Fatalf("forgot: %d", w.Code)
		}
		token := e.resetToken()

		page := e.do(call{method: http.MethodGet, path: "/reset/" + token})
		if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "owner@example.jp") ||
			!strings.Contains(page.Body.String(), `action="`+e.base+`/reset/`+token+`"`) {
			t.Fatalf("reset page: %d\n%s", page.Code, page.Body)
		}
		// The password rules of the setup page; the link stays good.
		weak := e.do(call{method: http.MethodPost, path: "/reset/" + token, form: url.Values{"password": {"short"}}})
		if weak.Code != http.StatusBadRequest || !strings.Contains(weak.Body.String(), `id="password-error"`) {
			t.Fatalf("weak password: %d\n%s", weak.Code, weak.Body)
		}
		const fresh = "a brand new passphrase for spring"
		ok := e.do(call{method: http.MethodPost, path: "/reset/" + token, form: url.Values{"password": {fresh}}})
		if ok.Code != http.StatusSeeOther || ok.Header().Get("Location") != e.base+"/login?reset=1" {
			t.Fatalf("reset: %d %q\n%s", ok.Code, ok.Header().Get("Location"), ok.Body)
		}
		done := e.do(call{method: http.MethodGet, path: "/login?reset=1"})
		if !strings.Contains(done.Body.String(), "パスワードを変更しました。") {
			t.Fatalf("login page after the reset:\n%s", done.Body)
		}
		// Single use.
		again := e.do(call{method: http.MethodPost, path: "/reset/" + token, form: url.Values{"password": {"yet another passphrase, longer"}}})
		if again.Code != http.StatusGone || !strings.Contains(again.Body.String(), "使用済み") {
			t.Fatalf("second use: %d\n%s", again.Code, again.Body)
		}
		if w := e.do(call{method: http.MethodGet, path: "/reset/" + token}); w.Code != http.StatusGone {
			t.Fatalf("used link's page: %d", w.Code)
		}
		// The new password signs in, the old one and the old session do not.
		if _, _, _, err := e.svc.Login(e.ctx, e.db, testSlug, "owner@example.jp", fresh, testIP, testUA); err != nil {
			t.Fatal(err)
		}
		_, _, _, err = e.svc.Login(e.ctx, e.db, testSlug, "owner@example.jp", testPassword, testIP, testUA)
		wantCode(t, err, "login_failed")
		_, _, err = e.svc.Authenticate(e.ctx, e.db, old)
		wantCode(t, err, "session_expired")

		// An invitation link is not a reset link.
		_, invite, err := e.svc.Invite(e.ctx, e.db, Principal{Kind: PrincipalStaff, ID: "x"}, "new@example.jp", "新人", "staff")
		if err != nil {
			t.Fatal(err)
		}
		if w := e.do(call{method: http.MethodGet, path: "/reset/" + invite}); w.Code != http.StatusGone {
			t.Fatalf("invitation link on the reset page: %d", w.Code)
		}
	})
}

// fullSession signs email in with testPassword (and code when it has TOTP)
// and returns the session token.
func (e *consoleEnv) fullSession(email string) string {
	e.t.Helper()
	tok, _, _, err := e.svc.Login(e.ctx, e.db, testSlug, email, testPassword, testIP, testUA)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// enrolByConsole turns TOTP on for the session's account through the
// console's enrolment form.
func (e *consoleEnv) enrolByConsole(session string) *httptest.ResponseRecorder {
	e.t.Helper()
	_, sess, _ := e.svc.Authenticate(e.ctx, e.db, session)
	en, err := e.svc.BeginEnrol(e.ctx, e.db, sess, testSlug)
	if err != nil {
		e.t.Fatal(err)
	}
	code, err := totp.GenerateCode(en.Secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(call{method: http.MethodPost, path: "/2fa/enrol", form: url.Values{"code": {code}}, session: session})
}

func (e *consoleEnv) twoFactorEvents() []twoFactorChangedPayload {
	e.t.Helper()
	var out []twoFactorChangedPayload
	for _, ev := range e.events(EventStaff2FAChanged) {
		var pl twoFactorChangedPayload
		if err := ev.Decode(&pl); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, pl)
	}
	return out
}

func TestTwoFactorChangesAreMailed(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		e.staff("owner@example.jp", "オーナー", OwnerRole)
		member := e.staff("staff@example.jp", "スタッフ", "staff")
		admin := e.fullSession("owner@example.jp")
		session := e.fullSession("staff@example.jp")

		// A wrong code changes nothing and mails nothing.
		if w := e.do(call{method: http.MethodGet, path: "/2fa/enrol", session: session}); w.Code != http.StatusOK {
			t.Fatalf("enrol page: %d", w.Code)
		}
		wrong := e.do(call{method: http.MethodPost, path: "/2fa/enrol", form: url.Values{"code": {"000000"}}, session: session})
		if wrong.Code != http.StatusBadRequest || len(e.twoFactorEvents()) != 0 {
			t.Fatalf("wrong code: %d, %d events", wrong.Code, len(e.twoFactorEvents()))
		}
		// The member turns it on: told, by no one else.
		if w := e.enrolByConsole(session); w.Code != http.StatusOK {
			t.Fatalf("enrol: %d\n%s", w.Code, w.Body)
		}
		got := e.twoFactorEvents()
		if len(got) != 1 || !got[0].Enabled || got[0].ChangedBy != "" || got[0].Email != "staff@example.jp" ||
			got[0].DisplayName != "スタッフ" || got[0].Lang != "ja" || !got[0].At.Equal(e.clock.Now()) {
			t.Fatalf("after enrolment: %+v", got)
		}
		// An administrator resets it: told, and who did it.
		w := e.do(call{method: http.MethodPost, path: "/staff/" + member.ID + "/reset-2fa", session: admin, lang: "en"})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("reset 2fa: %d\n%s", w.Code, w.Body)
		}
		got = e.twoFactorEvents()
		if len(got) != 2 || got[0].Enabled || got[0].ChangedBy != "オーナー" || got[0].Email != "staff@example.jp" || got[0].Lang != "en" {
			t.Fatalf("after the reset: %+v", got)
		}
		if e.notifiedCount() != 2 {
			t.Fatalf("%d events notified, want 2", e.notifiedCount())
		}
		// Resetting again is refused and mails nothing.
		if w := e.do(call{method: http.MethodPost, path: "/staff/" + member.ID + "/reset-2fa", session: admin}); w.Code != http.StatusConflict {
			t.Fatalf("second reset: %d", w.Code)
		}
		if n := len(e.twoFactorEvents()); n != 2 {
			t.Fatalf("%d events, want still 2", n)
		}
	})
}

func TestAdministratorSendsResetLink(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newConsoleEnv(t, loc)
		e.staff("owner@example.jp", "オーナー", OwnerRole)
		member := e.staff("staff@example.jp", "スタッフ", "staff")
		admin := e.fullSession("owner@example.jp")

		page := e.do(call{method: http.MethodGet, path: "/staff/" + member.ID, session: admin})
		if !strings.Contains(page.Body.String(), `action="`+e.base+`/staff/`+member.ID+`/send-reset"`) {
			t.Fatalf("no send-reset button:\n%s", page.Body)
		}
		w := e.do(call{method: http.MethodPost, path: "/staff/" + member.ID + "/send-reset", session: admin})
		if w.Code != http.StatusSeeOther || !strings.HasSuffix(w.Header().Get("Location"), "?done=reset_sent") {
			t.Fatalf("send reset: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
		}
		evs := e.events(EventStaffPasswordReset)
		if len(evs) != 1 || evs[0].AggregateID != member.ID {
			t.Fatalf("reset events %+v", evs)
		}
		sent := e.entries("staff.password_reset_sent")
		if len(sent) != 1 || sent[0].ObjectID != member.ID || sent[0].Actor.Name != "owner@example.jp" {
			t.Fatalf("audit %+v", sent)
		}
		// A member without the staff edit permission cannot send one.
		self := e.fullSession("staff@example.jp")
		if w := e.do(call{method: http.MethodPost, path: "/staff/" + member.ID + "/send-reset", session: self}); w.Code != http.StatusForbidden {
			t.Fatalf("send reset without permission: %d", w.Code)
		}
		if n := len(e.events(EventStaffPasswordReset)); n != 1 {
			t.Fatalf("%d reset events, want still 1", n)
		}
		// The link works for the member.
		ok := e.do(call{method: http.MethodPost, path: "/reset/" + e.resetToken(), form: url.Values{"password": {"the member's new passphrase"}}})
		if ok.Code != http.StatusSeeOther {
			t.Fatalf("redeem: %d\n%s", ok.Code, ok.Body)
		}
	})
}

func (e *consoleEnv) entries(action string) []auditlog.Entry {
	e.t.Helper()
	got, err := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func TestSendPasswordResetNeedsAnActiveAccount(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		owner := e.owner("owner@example.jp")
		member := e.invited(owner, "staff@example.jp", "staff")
		rl, err := e.svc.SendPasswordReset(e.ctx, db, owner.Principal(""), member.ID)
		if err != nil || !rl.Issued() || rl.Staff.ID != member.ID || !rl.ExpiresAt.Equal(e.clock.Now().Add(ResetTokenTTL)) {
			t.Fatalf("SendPasswordReset = %+v, %v", rl, err)
		}
		if _, err := e.svc.DisableStaff(e.ctx, db, owner.Principal(""), member.ID); err != nil {
			t.Fatal(err)
		}
		// Disabling revoked the link sent before, and no new one is issued.
		_, err = e.svc.RedeemSetup(e.ctx, db, rl.Token, "a fresh passphrase for the member", testSlug)
		wantCode(t, err, "setup_token_invalid")
		_, err = e.svc.SendPasswordReset(e.ctx, db, owner.Principal(""), member.ID)
		wantCode(t, err, "staff_disabled")
		// The forgot form answers a disabled account like an unknown one.
		rl, err = e.svc.ForgotPassword(e.ctx, db, "staff@example.jp", testIP)
		if err != nil || rl.Issued() {
			t.Fatalf("ForgotPassword for a disabled account = %+v, %v", rl, err)
		}
	})
}
