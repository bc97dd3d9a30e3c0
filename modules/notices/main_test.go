package notices_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/web"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const token = "operator-token-for-notice-tests"

// clock is a settable clock shared by the services of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// hookCall is one call of OnPublished.
type hookCall struct {
	notice  notices.Notice
	tenants []string // slugs
}

// hook records OnPublished calls and fails while fail is set.
type hook struct {
	mu    sync.Mutex
	calls []hookCall
	fail  bool
}

func (h *hook) published(_ context.Context, n notices.Notice, ts []tenants.Tenant) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		return errors.New("mail queue down")
	}
	var slugs []string
	for _, t := range ts {
		slugs = append(slugs, t.Slug)
	}
	slices.Sort(slugs)
	h.calls = append(h.calls, hookCall{notice: n, tenants: slugs})
	return nil
}

func (h *hook) taken() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.calls
	h.calls = nil
	return out
}

func (h *hook) setFail(f bool) {
	h.mu.Lock()
	h.fail = f
	h.mu.Unlock()
}

// env is the control database, the tenant registry and the services of a
// test on one engine.
type env struct {
	loc     dbx.Location
	control *bun.DB
	reg     *tenantdb.Registry
	tenants *tenants.Service
	svc     *notices.Service
	clock   *clock
	hook    *hook
	cat     *i18n.Catalog
	views   *view.Renderer
}

// start is the clock's default: 1 December 2026, 09:00 in Tokyo.
var start = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, loc dbx.Location) *env {
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
	cfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: migrations.Tenant(string(loc.Engine))}
	if loc.Engine == dbx.MySQL {
		cfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	reg, err := tenantdb.New(cfg)
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
	e := &env{loc: loc, control: control, reg: reg, clock: &clock{t: start}, hook: &hook{}, cat: cat, views: views}
	e.tenants = tenants.NewService(tenants.Config{Control: control, Registry: reg, Location: loc})
	e.svc = notices.NewService(notices.Config{Control: control, Tenants: e.tenants, Now: e.clock.Now,
		OnPublished: e.hook.published})
	return e
}

func (e *env) tenant(t *testing.T, slug string) tenants.Tenant {
	t.Helper()
	tn, err := e.tenants.Create(context.Background(), tenants.CreateParams{Slug: slug, Name: "店舗 " + slug})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// tenantDB runs fn with the database of tenant tn.
func (e *env) tenantDB(t *testing.T, tn tenants.Tenant, fn func(db bun.IDB)) {
	t.Helper()
	h, err := e.reg.Acquire(context.Background(), tn.DB)
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

func (e *env) count(t *testing.T) int {
	t.Helper()
	n, err := e.control.NewSelect().TableExpr("notices").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// testShell stands in for the console's shell (identity renders the real
// one): the fields console_head reads.
type testShell struct {
	TenantName, Base, UserName, Role, CSRF string
	Unread                                 int
	Nav                                    []struct {
		URL, Label, Key string
		Current         bool
	}
}

// staffHeader names the signed-in staff member of a console request in
// these tests; the real console reads its session cookie.
const staffHeader = "X-Test-Staff"

func csrfFor(staffID string) string { return "csrf-" + staffID }

// newServer wires the routes as cmd/yoyaku is to: the operator API behind
// the operator token, the status page, and the console page behind the
// tenant middleware and a stand-in for the console's session, shell and
// CSRF check.
func newServer(t *testing.T, e *env) *gin.Engine {
	t.Helper()
	r, err := httpx.New(httpx.Options{Catalog: e.cat, MaxBodyBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	th := tenants.NewHTTP(e.tenants, e.views)
	failPage := func(c *gin.Context, err error) {
		p := httpx.ProblemFor(c, err)
		e.views.HTML(c, p.Status, "site_error.html", map[string]any{"Title": p.Title, "Body": p.Detail})
		c.Abort()
	}
	shell := notices.ConsoleShell{
		Page: func(c *gin.Context, status int, name, titleKey string, data map[string]any) {
			ctx := c.Request.Context()
			tn, _ := tenants.FromContext(ctx)
			p, _ := identity.PrincipalFrom(ctx)
			db, err := tenantdb.From(ctx)
			if err != nil {
				failPage(c, err)
				return
			}
			unread, err := e.svc.UnreadCount(ctx, db, tn, p.ID)
			if err != nil {
				failPage(c, err)
				return
			}
			base := "/t/" + tn.Slug + "/admin"
			data["Title"] = e.cat.T(httpx.Lang(c), titleKey, nil)
			data["CSRF"] = csrfFor(p.ID)
			data["Base"] = base
			data["Shell"] = testShell{TenantName: tn.Name, Base: base, UserName: p.Name, Role: p.Role,
				CSRF: csrfFor(p.ID), Unread: unread}
			e.views.HTML(c, status, name, data)
		},
		CSRF: func(c *gin.Context) {
			p, _ := identity.PrincipalFrom(c.Request.Context())
			if c.PostForm("csrf_token") != csrfFor(p.ID) {
				failPage(c, identity.ErrCSRFInvalid)
				return
			}
			c.Next()
		},
		Fail: failPage,
	}
	h := notices.NewHTTP(notices.HTTPConfig{Service: e.svc, Views: e.views, Console: shell, StatusTTL: -1})
	h.RegisterOperator(r.Group("/api/v1/platform", httpx.RequireToken(token)))
	h.RegisterStatus(r)
	session := func(c *gin.Context) {
		id := c.GetHeader(staffHeader)
		if id == "" {
			c.Redirect(http.StatusSeeOther, "/t/"+c.Param("tenant")+"/admin/login")
			c.Abort()
			return
		}
		ctx := identity.WithPrincipal(c.Request.Context(), identity.Principal{Kind: identity.PrincipalStaff,
			ID: id, Name: id + "@example.jp", Role: "staff"})
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
	h.RegisterConsole(r.Group("/t/:tenant/admin", th.SiteTenant(), session))
	return r
}

type call struct {
	method, url, body string
	auth              string // "" → the operator token; "-" → none
	contentType       string // "" → application/json
	lang              string
	staff             string     // console requests: the signed-in staff id
	form              url.Values // console form posts
}

func do(t *testing.T, r http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	switch {
	case c.form != nil:
		body = strings.NewReader(c.form.Encode())
	case c.body != "":
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.url, body)
	switch c.auth {
	case "":
		req.Header.Set("Authorization", "Bearer "+token)
	case "-":
	default:
		req.Header.Set("Authorization", c.auth)
	}
	switch {
	case c.form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case c.body != "":
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	if c.staff != "" {
		req.Header.Set(staffHeader, c.staff)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Errors []struct {
		Field, Code, Message string
	} `json:"errors"`
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, body %s", ct, w.Body)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// noticeJSON is the operator API's notice.
type noticeJSON struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	StartsAt    time.Time  `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
	Tenants     []string   `json:"tenants"`
	Urgent      bool       `json:"urgent"`
	State       string     `json:"state"`
	Revision    int        `json:"revision"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	WithdrawnAt *time.Time `json:"withdrawn_at"`
	AnnouncedAt *time.Time `json:"announced_at"`
}

func decodeView(t *testing.T, w *httptest.ResponseRecorder) noticeJSON {
	t.Helper()
	var v noticeJSON
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return v
}

// post creates a notice through the API and fails the test unless it is
// created.
func post(t *testing.T, r http.Handler, body string) noticeJSON {
	t.Helper()
	w := do(t, r, call{method: "POST", url: "/api/v1/platform/notices", body: body})
	if w.Code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, w.Code, w.Body)
	}
	return decodeView(t, w)
}

// at writes an instant for a request body.
func at(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func fieldsOf(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}
