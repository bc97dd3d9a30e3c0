package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Permissions is what the console and the tenant API need of the
// authorization policy (platform/authz implements it).
type Permissions interface {
	Can(ctx context.Context, db bun.IDB, tenantID, subject string, area authz.Area, action authz.Action) (bool, error)
	Levels(ctx context.Context, db bun.IDB, tenantID, subject string) (map[authz.Area]authz.Level, error)
	// CanManageOwners: may subject appoint, change or remove an owner.
	CanManageOwners(ctx context.Context, db bun.IDB, tenantID, subject string) (bool, error)
}

// ConsoleConfig wires the staff console.
type ConsoleConfig struct {
	Staff     *Service
	APIKeys   *APIKeyService
	AllowList *AllowListService
	Perms     Permissions
	Views     *view.Renderer
	// AssignRole records the role of a staff member or API key in the
	// authorization policy (subject "staff:<id>" / "apikey:<id>").
	AssignRole func(ctx context.Context, db bun.IDB, tenantID, subject, role string) error
	// Roles lists the roles a staff member or key can be given.
	Roles func(ctx context.Context, db bun.IDB, tenantID string) ([]string, error)
	// Events subscribes consumers (mail) to identity's events; Notify tells
	// the outbox dispatcher after a commit. Both may be nil (no mail).
	Events *outbox.Subscriptions
	Notify func(ctx context.Context, tenantID string, evs []outbox.Event)
	// Policy manages roles and answers owner-only questions for the roles
	// and staff detail pages (required by them).
	Policy RolePolicy
	// Unread, when set, counts the operator notices a staff member has not
	// read: the number on the お知らせ bell (notices.Service.UnreadCount).
	Unread func(ctx context.Context, db bun.IDB, t tenants.Tenant, staffID string) (int, error)
	// PublicURL, when set (YOYAKU_BASE_URL), is where mailed links point
	// (https://host, no trailing slash). Without it they take the scheme and
	// host of the request, which a client chooses: production sets it, so
	// that no one can have a reset link for someone else's account mailed
	// pointing at a host of theirs.
	PublicURL string
	// Nav adds the pages of other modules (mail, menus, calendar...) to the
	// console's navigation, after identity's own; each shows only to a role
	// that may view its area.
	Nav []NavEntry
}

// NavEntry is a page of another module in the console's navigation.
type NavEntry struct {
	Area  authz.Area // shown when the role may view this area
	Path  string     // under /t/{tenant}/admin, e.g. "/mail"
	Label string     // catalog key
	// Option, when set, is a tenant option the page needs (e.g. "audit_log").
	Option string
}

// Console serves the staff console at /t/{tenant}/admin/.
type Console struct{ cfg ConsoleConfig }

// NewConsole returns the console.
func NewConsole(cfg ConsoleConfig) *Console { return &Console{cfg: cfg} }

// Cookie names. The session cookie is scoped to the tenant's console path.
const (
	sessionCookie = "yoyaku_staff"
	preAuthCookie = "yoyaku_csrf"
)

// Register adds the console to g ("/t/:tenant/admin", after the tenant and
// allow-list middleware).
func (k *Console) Register(g *gin.RouterGroup) {
	g.Use(noStore, k.loadReq)
	g.GET("/login", k.loginForm)
	g.POST("/login", k.preAuthCSRF, k.login)
	g.GET("/setup/:token", k.setupForm)
	g.POST("/setup/:token", k.preAuthCSRF, k.setup)
	g.GET("/forgot", k.forgotForm)
	g.POST("/forgot", k.preAuthCSRF, k.forgot)
	g.GET("/reset/:token", k.resetForm)
	g.POST("/reset/:token", k.preAuthCSRF, k.reset)

	pending := g.Group("", k.session(true))
	pending.GET("/2fa", k.totpForm)
	pending.POST("/2fa", k.csrf, k.totp)
	pending.GET("/2fa/enrol", k.enrolForm)
	pending.POST("/2fa/enrol", k.csrf, k.enrol)

	a := g.Group("", k.session(false))
	a.GET("/", k.home)
	a.POST("/logout", k.csrf, k.logout)
	a.GET("/account", k.account)
	a.POST("/account/logout-others", k.csrf, k.logoutOthers)
	a.POST("/account/password", k.csrf, k.changePassword)
	a.GET("/staff", k.need(authz.AreaStaff, authz.ActionView), k.staffList)
	a.POST("/staff/invite", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.invite)
	a.GET("/api-keys", k.need(authz.AreaSettings, authz.ActionView), k.apiKeys)
	a.POST("/api-keys", k.csrf, k.need(authz.AreaSettings, authz.ActionEdit), k.createAPIKey)
	a.POST("/api-keys/:id/revoke", k.csrf, k.need(authz.AreaSettings, authz.ActionEdit), k.revokeAPIKey)
	a.GET("/allowlist", k.need(authz.AreaSettings, authz.ActionView), k.allowList)
	a.POST("/allowlist", k.csrf, k.need(authz.AreaSettings, authz.ActionEdit), k.saveAllowList)
	a.GET("/security", k.need(authz.AreaSettings, authz.ActionView), k.security)
	a.POST("/security", k.csrf, k.need(authz.AreaSettings, authz.ActionEdit), k.saveSecurity)
	a.GET("/audit", k.need(authz.AreaAudit, authz.ActionView), k.auditPage)
	a.GET("/audit.csv", k.need(authz.AreaAudit, authz.ActionView), k.auditCSV)
	a.GET("/roles", k.need(authz.AreaStaff, authz.ActionView), k.rolesList)
	a.POST("/roles", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.createRole)
	a.GET("/roles/:name", k.need(authz.AreaStaff, authz.ActionView), k.roleEdit)
	a.POST("/roles/:name", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.updateRole)
	a.POST("/roles/:name/delete", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.deleteRole)
	a.GET("/staff/:id", k.need(authz.AreaStaff, authz.ActionView), k.staffDetail)
	a.POST("/staff/:id", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.updateStaff)
	a.POST("/staff/:id/disable", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.disableStaff)
	a.POST("/staff/:id/enable", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.enableStaff)
	a.POST("/staff/:id/reinvite", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.reinviteStaff)
	a.POST("/staff/:id/reset-2fa", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.resetStaffTwoFactor)
	a.POST("/staff/:id/send-reset", k.csrf, k.need(authz.AreaStaff, authz.ActionEdit), k.sendStaffReset)
}

// RequireSession lets only fully signed-in staff through, as the console's
// own pages do; for pages of other modules added to the console's group.
func (k *Console) RequireSession() gin.HandlerFunc { return k.session(false) }

// CSRF refuses a console form post without the session's token.
func (k *Console) CSRF(c *gin.Context) { k.csrf(c) }

// Page renders a page of another module inside the console's shell: it sets
// data["Title"] (from titleKey), data["CSRF"], data["Base"] and the shell.
func (k *Console) Page(c *gin.Context, status int, name, titleKey string, data map[string]any) {
	k.page(c, status, name, titleKey, data)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// req is what every console handler needs about its request.
type req struct {
	tenant tenants.Tenant
	db     bun.IDB
	base   string // /t/{slug}/admin
}

func (k *Console) req(c *gin.Context) (req, error) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := tenantdb.From(ctx)
	return req{tenant: t, db: db, base: "/t/" + t.Slug + "/admin"}, err
}

const reqKey = "yoyaku.console.req"

// loadReq opens the tenant's database once per console request and keeps
// what every handler needs; a failure is the error page, so handlers after
// it take the request with reqOf and need no error branch of their own.
func (k *Console) loadReq(c *gin.Context) {
	r, err := k.req(c)
	if err != nil {
		k.fail(c, err)
		return
	}
	c.Set(reqKey, r)
	c.Next()
}

// reqOf returns what loadReq kept.
func (k *Console) reqOf(c *gin.Context) req {
	r, _ := c.Get(reqKey)
	return r.(req)
}

// page renders a console page with the shell (navigation by permission).
func (k *Console) page(c *gin.Context, status int, name, titleKey string, data map[string]any) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	sess, _ := c.Get("yoyaku.session")
	csrf := ""
	if s, ok := sess.(Session); ok {
		csrf = CSRFToken(s)
	}
	levels, err := k.cfg.Perms.Levels(ctx, r.db, r.tenant.ID, p.Subject())
	if err != nil {
		k.fail(c, err)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	unread := 0
	if k.cfg.Unread != nil && p.Kind == PrincipalStaff {
		// A failing count must not take every console page down with it.
		if n, err := k.cfg.Unread(ctx, r.db, r.tenant, p.ID); err == nil {
			unread = n
		} else {
			httpx.Logger(c).WarnContext(ctx, "counting unread notices", "err", err)
		}
	}
	cat := httpx.Catalog(c)
	data["Title"] = cat.T(httpx.Lang(c), titleKey, nil)
	data["CSRF"] = csrf
	data["Base"] = r.base
	data["Shell"] = shell{
		TenantName: r.tenant.Name, Base: r.base, UserName: p.Name, Role: p.Role, CSRF: csrf, Unread: unread,
		Nav: navFor(r, levels, c.FullPath(), k.cfg.Nav),
	}
	k.cfg.Views.HTML(c, status, name, data)
}

type shell struct {
	TenantName, Base, UserName, Role, CSRF string
	Unread                                 int
	Nav                                    []navItem
}

type navItem struct {
	URL, Label, Key string
	Current         bool
}

func navFor(r req, levels map[authz.Area]authz.Level, route string, extra []NavEntry) []navItem {
	route = strings.TrimPrefix(route, "/t/:tenant/admin")
	items := []navItem{
		{URL: r.base + "/", Label: "console.nav.home", Key: "t", Current: route == "/"},
		// Every staff member reads the operator's notices.
		{URL: r.base + "/notices", Label: "notices.nav", Key: "n", Current: route == "/notices"},
	}
	add := func(area authz.Area, path, label string) {
		if levels[area].Allows(authz.ActionView) {
			items = append(items, navItem{URL: r.base + path, Label: label, Current: route == path || strings.HasPrefix(route, path+"/")})
		}
	}
	add(authz.AreaStaff, "/staff", "console.nav.staff")
	add(authz.AreaStaff, "/roles", "console.roles.nav")
	add(authz.AreaSettings, "/api-keys", "console.nav.api_keys")
	add(authz.AreaSettings, "/allowlist", "console.nav.allowlist")
	add(authz.AreaSettings, "/security", "console.nav.security")
	if r.tenant.HasOption("audit_log") {
		add(authz.AreaAudit, "/audit", "console.nav.audit")
	}
	for _, e := range extra {
		if e.Option == "" || r.tenant.HasOption(e.Option) {
			add(e.Area, e.Path, e.Label)
		}
	}
	return items
}

// fail shows an error as a console page (HTML), never a JSON body.
func (k *Console) fail(c *gin.Context, err error) {
	p := httpx.ProblemFor(c, err)
	if p.Status >= 500 {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "console request failed", "status", p.Status, "err", err)
	}
	body := p.Detail
	if body == "" {
		body = p.Title
	}
	k.cfg.Views.HTML(c, p.Status, "site_error.html", map[string]any{
		"Title": p.Title, "Body": body, "RequestID": logx.RequestID(c.Request.Context()),
	})
	c.Abort()
}

// FailPage is fail for middleware outside the console (the allow-list).
func (k *Console) FailPage(c *gin.Context, err error) { k.fail(c, err) }

// session requires a signed-in staff member. With pending set, a session
// still waiting for its second factor (or for enrolment) is let through too.
func (k *Console) session(pending bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := k.reqOf(c)
		ctx := c.Request.Context()
		token, _ := c.Cookie(sessionCookie)
		p, sess, err := k.cfg.Staff.Authenticate(ctx, r.db, token)
		switch {
		case err == nil:
		case errors.Is(err, ErrSecondFactorRequired) && sess.ID != "":
			if !pending {
				c.Redirect(http.StatusSeeOther, r.base+"/2fa")
				c.Abort()
				return
			}
		case errors.Is(err, ErrEnrolmentRequired) && sess.ID != "":
			if !pending {
				c.Redirect(http.StatusSeeOther, r.base+"/2fa/enrol")
				c.Abort()
				return
			}
		default:
			next := url.QueryEscape(c.Request.URL.Path)
			c.Redirect(http.StatusSeeOther, r.base+"/login?next="+next)
			c.Abort()
			return
		}
		if p.ID == "" && sess.StaffID != "" {
			if st, gerr := k.cfg.Staff.GetStaff(ctx, r.db, sess.StaffID); gerr == nil {
				p = st.Principal(sess.ID)
			}
		}
		c.Set("yoyaku.session", sess)
		ctx = WithPrincipal(ctx, p)
		ctx = auditlog.WithRequest(ctx, auditlog.Request{Actor: p.Actor(), SourceIP: c.ClientIP(),
			UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(ctx)})
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// need refuses a request the principal's role does not allow, with a 403
// page and an entry in the operation log.
func (k *Console) need(area authz.Area, action authz.Action) gin.HandlerFunc {
	return needing(area, action, k.cfg.Perms, k.fail)
}

// Need is the console's permission check for the pages of other modules
// (middleware after RequireSession): the signed-in role must allow action
// in area, or the request ends with the console's error page.
func (k *Console) Need(area authz.Area, action authz.Action) gin.HandlerFunc {
	return k.need(area, action)
}

// needing is the permission check the console and the tenant API share:
// the principal's role must allow action in area (a refusal is written to
// the operation log), and the audit area needs the tenant option audit_log.
// fail answers in the caller's form (an HTML page or problem JSON).
func needing(area authz.Area, action authz.Action, perms Permissions, fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		t, _ := tenants.FromContext(ctx)
		p, _ := PrincipalFrom(ctx)
		db, err := tenantdb.From(ctx)
		if err != nil {
			fail(c, err)
			return
		}
		ok, err := perms.Can(ctx, db, t.ID, p.Subject(), area, action)
		if err != nil {
			fail(c, err)
			return
		}
		if !ok {
			_, _ = auditlog.Record(ctx, db, auditlog.Entry{Action: "access.denied", ObjectType: string(area),
				ObjectID: string(action), Result: auditlog.ResultDenied})
			fail(c, ErrForbidden)
			return
		}
		if area == authz.AreaAudit && !t.HasOption("audit_log") {
			fail(c, ErrAuditLogOff)
			return
		}
		c.Next()
	}
}

// Errors of the console and API.
var (
	ErrForbidden   = apperr.New(apperr.KindForbidden, "permission_denied")
	ErrAuditLogOff = apperr.New(apperr.KindForbidden, "audit_log_not_enabled")
)

// csrf checks the form's token against the session's.
func (k *Console) csrf(c *gin.Context) {
	s, _ := c.Get("yoyaku.session")
	sess, ok := s.(Session)
	if !ok || !CheckCSRF(sess, c.PostForm("csrf_token")) {
		k.fail(c, ErrCSRFInvalid)
		return
	}
	c.Next()
}

// preAuthCSRF protects the forms shown before a session exists (login,
// setup) with a double-submit token: a random cookie that the form repeats.
func (k *Console) preAuthCSRF(c *gin.Context) {
	cookie, err := c.Cookie(preAuthCookie)
	form := c.PostForm("csrf_token")
	if err != nil || cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		k.fail(c, ErrCSRFInvalid)
		return
	}
	c.Next()
}

func (k *Console) preAuthToken(c *gin.Context, base string) string {
	if v, err := c.Cookie(preAuthCookie); err == nil && len(v) >= 32 {
		return v
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	k.setCookie(c, base, preAuthCookie, v, 0)
	return v
}

func (k *Console) setCookie(c *gin.Context, base, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: base + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// authPage renders a page shown before sign-in completes (no navigation).
func (k *Console) authPage(c *gin.Context, status int, name, titleKey string, data map[string]any) {
	r, _ := k.req(c)
	if data == nil {
		data = map[string]any{}
	}
	data["Title"] = httpx.Catalog(c).T(httpx.Lang(c), titleKey, nil)
	data["TenantName"] = r.tenant.Name
	data["Base"] = r.base
	if _, ok := data["CSRF"]; !ok {
		data["CSRF"] = k.preAuthToken(c, r.base)
	}
	k.cfg.Views.HTML(c, status, name, data)
}

// formErrors turns a validation error into per-field messages and a summary.
func formErrors(c *gin.Context, err error) (map[string]string, string) {
	p := httpx.ProblemFor(c, err)
	fields := map[string]string{}
	for _, f := range p.Errors {
		if _, seen := fields[f.Field]; !seen {
			fields[f.Field] = f.Message
		}
	}
	summary := p.Title
	if len(p.Errors) == 0 && p.Detail != "" {
		summary = p.Title + " " + p.Detail
	}
	return fields, summary
}

func (k *Console) t(c *gin.Context, id string, args map[string]any) string {
	return httpx.Catalog(c).T(httpx.Lang(c), id, args)
}

func safeNext(base, next string) string {
	if strings.HasPrefix(next, base+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return base + "/"
}

func (k *Console) loginForm(c *gin.Context) {
	data := map[string]any{"Next": c.Query("next")}
	if c.Query("bye") == "1" {
		data["Flash"] = k.t(c, "console.login.logged_out", nil)
	}
	if c.Query("set") == "1" {
		data["Flash"] = k.t(c, "console.setup.done", nil)
	}
	if c.Query("reset") == "1" {
		data["Flash"] = k.t(c, "console.reset.done", nil)
	}
	k.authPage(c, http.StatusOK, "console_login.html", "console.login.title", data)
}

func (k *Console) login(c *gin.Context) {
	r := k.reqOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	email := strings.TrimSpace(c.PostForm("email"))
	token, _, needsTOTP, err := k.cfg.Staff.Login(ctx, r.db, r.tenant.Slug, email, c.PostForm("password"), c.ClientIP(), c.Request.UserAgent())
	if err != nil {
		status := httpx.StatusOf(apperr.KindOf(err))
		msg := k.t(c, "console.login.failed", nil)
		if !errors.Is(err, ErrLoginFailed) {
			_, msg = formErrors(c, err)
			var ae *apperr.Error
			if errors.As(err, &ae) {
				if ra, ok := ae.Args["RetryAfter"]; ok {
					c.Header("Retry-After", retryAfter(ra))
				}
			}
		}
		k.authPage(c, status, "console_login.html", "console.login.title", map[string]any{
			"Error": msg, "Email": email, "Next": c.PostForm("next"),
		})
		return
	}
	k.setCookie(c, r.base, sessionCookie, token, 0)
	if needsTOTP {
		c.Redirect(http.StatusSeeOther, r.base+"/2fa")
		return
	}
	c.Redirect(http.StatusSeeOther, safeNext(r.base, c.PostForm("next")))
}

// retryAfter renders an error's RetryAfter argument (seconds) for the
// Retry-After header.
func retryAfter(v any) string {
	if n, ok := v.(int); ok && n > 0 {
		return strconv.Itoa(n)
	}
	if n, ok := v.(int64); ok && n > 0 {
		return strconv.FormatInt(n, 10)
	}
	return "60"
}

func (k *Console) setupForm(c *gin.Context) {
	r := k.reqOf(c)
	email, _, err := k.cfg.Staff.CheckSetupToken(c.Request.Context(), r.db, c.Param("token"))
	if err != nil {
		k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_setup.html", "console.setup.title",
			map[string]any{"Invalid": true, "Error": k.t(c, "console.setup.invalid", nil)})
		return
	}
	k.authPage(c, http.StatusOK, "console_setup.html", "console.setup.title", map[string]any{"Email": email, "Token": c.Param("token")})
}

func (k *Console) setup(c *gin.Context) {
	r := k.reqOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	token := c.Param("token")
	email, _, err := k.cfg.Staff.CheckSetupToken(ctx, r.db, token)
	if err != nil {
		k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_setup.html", "console.setup.title",
			map[string]any{"Invalid": true, "Error": k.t(c, "console.setup.invalid", nil)})
		return
	}
	if _, err := k.cfg.Staff.RedeemSetup(ctx, r.db, token, c.PostForm("password"), r.tenant.Slug); err != nil {
		fields, summary := formErrors(c, err)
		k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_setup.html", "console.setup.title", map[string]any{
			"Email": email, "Token": token, "Error": summary, "PasswordError": fields["password"],
		})
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/login?set=1")
}

func (k *Console) current(c *gin.Context) Session {
	s, _ := c.Get("yoyaku.session")
	sess, _ := s.(Session)
	return sess
}

func (k *Console) totpForm(c *gin.Context) {
	r, _ := k.req(c)
	sess := k.current(c)
	if sess.Stage == StageFull {
		c.Redirect(http.StatusSeeOther, r.base+"/")
		return
	}
	k.authPage(c, http.StatusOK, "console_totp.html", "console.totp.title", map[string]any{"CSRF": CSRFToken(sess)})
}

func (k *Console) totp(c *gin.Context) {
	r := k.reqOf(c)
	sess := k.current(c)
	token, err := k.cfg.Staff.VerifyTOTP(c.Request.Context(), r.db, sess, strings.TrimSpace(c.PostForm("code")))
	if err != nil {
		msg := k.t(c, "console.totp.failed", nil)
		if !errors.Is(err, ErrTOTPInvalid) {
			_, msg = formErrors(c, err)
		}
		k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_totp.html", "console.totp.title",
			map[string]any{"CSRF": CSRFToken(sess), "Error": msg})
		return
	}
	k.setCookie(c, r.base, sessionCookie, token, 0)
	c.Redirect(http.StatusSeeOther, r.base+"/")
}

func (k *Console) enrolForm(c *gin.Context) {
	r := k.reqOf(c)
	sess := k.current(c)
	if sess.Stage == StageTOTP {
		c.Redirect(http.StatusSeeOther, r.base+"/2fa")
		return
	}
	en, err := k.cfg.Staff.BeginEnrol(c.Request.Context(), r.db, sess, r.tenant.Slug)
	if err != nil {
		k.fail(c, err)
		return
	}
	k.authPage(c, http.StatusOK, "console_enrol.html", "console.enrol.title", map[string]any{
		"CSRF": CSRFToken(sess), "Secret": en.Secret, "Required": sess.Stage == StageEnrol,
		// A data: URL keeps the secret off any other request; the CSP
		// allows data: images, and template.URL marks it as ours.
		"QR": template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRCodePNG)), //nolint:gosec // generated here, not user input
	})
}

func (k *Console) enrol(c *gin.Context) {
	r := k.reqOf(c)
	sess := k.current(c)
	ctx := c.Request.Context()
	var codes []string
	var evs []outbox.Event
	// Enrolment and the staff.2fa_changed mail commit together (the
	// service's transaction becomes a savepoint of this one).
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if codes, err = k.cfg.Staff.ConfirmEnrol(ctx, tx, sess, strings.TrimSpace(c.PostForm("code"))); err != nil {
			return err
		}
		st, err := k.cfg.Staff.GetStaff(ctx, tx, sess.StaffID)
		if err != nil {
			return err
		}
		evs, err = k.cfg.twoFactorChanged(ctx, tx, st, true, "", st.TOTPEnabledAt, httpx.Lang(c))
		return err
	})
	if err != nil {
		// A wrong code: show the same secret again (the pending one stays).
		_, summary := formErrors(c, err)
		k.authPage(c, httpx.StatusOf(apperr.KindOf(err)), "console_enrol.html", "console.enrol.title", map[string]any{
			"CSRF": CSRFToken(sess), "Error": summary, "Secret": c.PostForm("secret"), "Retry": true,
		})
		return
	}
	k.cfg.notify(ctx, r.tenant.ID, evs)
	k.authPage(c, http.StatusOK, "console_recovery.html", "console.enrol.title", map[string]any{
		"CSRF": CSRFToken(sess), "Codes": codes, "Flash": k.t(c, "console.enrol.done", nil),
	})
}

func (k *Console) home(c *gin.Context) {
	p, _ := PrincipalFrom(c.Request.Context())
	name := p.Name
	if st, err := k.cfg.Staff.GetStaff(c.Request.Context(), k.reqOf(c).db, p.ID); err == nil && st.DisplayName != "" {
		name = st.DisplayName
	}
	k.page(c, http.StatusOK, "console_home.html", "console.home.title", map[string]any{"Name": name})
}

func (k *Console) logout(c *gin.Context) {
	r := k.reqOf(c)
	token, _ := c.Cookie(sessionCookie)
	if err := k.cfg.Staff.Logout(c.Request.Context(), r.db, token); err != nil {
		k.fail(c, err)
		return
	}
	k.setCookie(c, r.base, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, r.base+"/login?bye=1")
}

func (k *Console) account(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	st, err := k.cfg.Staff.GetStaff(c.Request.Context(), r.db, p.ID)
	if err != nil {
		k.fail(c, err)
		return
	}
	data := map[string]any{"Staff": st}
	switch c.Query("done") {
	case "others":
		data["Flash"] = k.t(c, "console.account.logged_out_others", nil)
	case "password":
		data["Flash"] = k.t(c, "console.account.password_changed", nil)
	}
	k.page(c, http.StatusOK, "console_account.html", "console.account.title", data)
}

func (k *Console) logoutOthers(c *gin.Context) {
	r := k.reqOf(c)
	sess := k.current(c)
	if _, err := k.cfg.Staff.LogoutOthers(c.Request.Context(), r.db, sess.StaffID, sess.ID); err != nil {
		k.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/account?done=others")
}

func (k *Console) roles(c *gin.Context, r req) []string {
	if k.cfg.Roles == nil {
		return authz.BuiltinRoleNames()
	}
	rs, err := k.cfg.Roles(c.Request.Context(), r.db, r.tenant.ID)
	if err != nil {
		return authz.BuiltinRoleNames()
	}
	return rs
}

func (k *Console) staffList(c *gin.Context) {
	k.staffPage(c, http.StatusOK, nil)
}

func (k *Console) staffPage(c *gin.Context, status int, data map[string]any) {
	r := k.reqOf(c)
	list, err := k.cfg.Staff.ListStaff(c.Request.Context(), r.db, StaffFilter{})
	if err != nil {
		k.fail(c, err)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["List"] = list
	data["Roles"] = k.roles(c, r)
	k.page(c, status, "console_staff.html", "console.staff.title", data)
}

func (k *Console) invite(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	email, name, role := strings.TrimSpace(c.PostForm("email")), strings.TrimSpace(c.PostForm("name")), c.PostForm("role")
	valid := false
	for _, x := range k.roles(c, r) {
		valid = valid || x == role
	}
	if !valid {
		k.staffPage(c, http.StatusBadRequest, map[string]any{"Error": k.t(c, "field.oneof", map[string]any{"Param": strings.Join(k.roles(c, r), " ")}),
			"Email": email, "Name": name})
		return
	}
	if err := mayGrant(ctx, k.cfg.Perms, r.db, r.tenant, p, role); err != nil {
		k.fail(c, err)
		return
	}
	link := ""
	var evs []outbox.Event
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		st, tok, err := k.cfg.Staff.Invite(ctx, tx, p, email, name, role)
		if err == nil && k.cfg.AssignRole != nil {
			err = k.cfg.AssignRole(ctx, tx, r.tenant.ID, authz.StaffSubject(st.ID), role)
		}
		if err != nil {
			return err
		}
		link = schemeHost(c) + r.base + "/setup/" + tok
		evs, err = k.cfg.invited(ctx, tx, st, link, p, httpx.Lang(c))
		return err
	})
	if err != nil {
		fields, summary := formErrors(c, err)
		k.staffPage(c, httpx.StatusOf(apperr.KindOf(err)), map[string]any{"Error": summary, "Fields": fields, "Email": email, "Name": name})
		return
	}
	if k.cfg.Notify != nil {
		k.cfg.Notify(ctx, r.tenant.ID, evs)
	}
	k.staffPage(c, http.StatusOK, map[string]any{"Flash": k.t(c, "console.staff.invited", nil), "InviteLink": link})
}

func schemeHost(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

func (k *Console) apiKeys(c *gin.Context) { k.apiKeysPage(c, http.StatusOK, nil) }

func (k *Console) apiKeysPage(c *gin.Context, status int, data map[string]any) {
	r := k.reqOf(c)
	list, err := k.cfg.APIKeys.ListAPIKeys(c.Request.Context(), r.db)
	if err != nil {
		k.fail(c, err)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["List"] = list
	data["Roles"] = k.roles(c, r)
	k.page(c, status, "console_apikeys.html", "console.apikeys.title", data)
}

func (k *Console) createAPIKey(c *gin.Context) {
	r := k.reqOf(c)
	ctx := c.Request.Context()
	p, _ := PrincipalFrom(ctx)
	role := c.PostForm("role")
	if err := mayGrant(ctx, k.cfg.Perms, r.db, r.tenant, p, role); err != nil {
		k.fail(c, err)
		return
	}
	var key string
	err := r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var k2 APIKey
		var err error
		key, k2, err = k.cfg.APIKeys.CreateAPIKey(ctx, tx, r.tenant.ID, p, strings.TrimSpace(c.PostForm("name")), role)
		if err == nil && k.cfg.AssignRole != nil {
			err = k.cfg.AssignRole(ctx, tx, r.tenant.ID, "apikey:"+k2.ID, role)
		}
		return err
	})
	if err != nil {
		fields, summary := formErrors(c, err)
		k.apiKeysPage(c, httpx.StatusOf(apperr.KindOf(err)), map[string]any{"Error": summary, "Fields": fields, "Name": c.PostForm("name")})
		return
	}
	k.apiKeysPage(c, http.StatusOK, map[string]any{"Flash": k.t(c, "console.apikeys.created", nil), "NewKey": key})
}

func (k *Console) revokeAPIKey(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	if _, err := k.cfg.APIKeys.RevokeAPIKey(c.Request.Context(), r.db, p, c.Param("id")); err != nil {
		k.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/api-keys")
}

func (k *Console) allowList(c *gin.Context) { k.allowListPage(c, http.StatusOK, nil) }

func (k *Console) allowListPage(c *gin.Context, status int, data map[string]any) {
	r := k.reqOf(c)
	if data == nil {
		data = map[string]any{}
	}
	if _, ok := data["Text"]; !ok {
		l, err := k.cfg.AllowList.Get(c.Request.Context(), r.db)
		if err != nil {
			k.fail(c, err)
			return
		}
		var lines []string
		for _, e := range l.Entries {
			line := e.CIDR
			if e.Note != "" {
				line += " " + e.Note
			}
			lines = append(lines, line)
		}
		data["Text"] = strings.Join(lines, "\n")
	}
	data["IP"] = c.ClientIP()
	k.page(c, status, "console_allowlist.html", "console.allowlist.title", data)
}

func (k *Console) saveAllowList(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	text := c.PostForm("entries")
	var entries []AllowListEntry
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cidr, note, _ := strings.Cut(line, " ")
		entries = append(entries, AllowListEntry{CIDR: cidr, Note: strings.TrimSpace(note)})
	}
	_, err := k.cfg.AllowList.Save(c.Request.Context(), r.db, p, entries, c.ClientIP(), c.PostForm("confirm_lockout") == "1")
	if errors.Is(err, ErrAllowListLockout) {
		k.allowListPage(c, http.StatusConflict, map[string]any{"Text": text, "Lockout": true})
		return
	}
	if err != nil {
		_, summary := formErrors(c, err)
		k.allowListPage(c, httpx.StatusOf(apperr.KindOf(err)), map[string]any{"Text": text, "Error": summary})
		return
	}
	k.allowListPage(c, http.StatusOK, map[string]any{"Flash": k.t(c, "console.allowlist.saved", nil)})
}

func (k *Console) security(c *gin.Context) { k.securityPage(c, http.StatusOK, nil) }

func (k *Console) securityPage(c *gin.Context, status int, data map[string]any) {
	r := k.reqOf(c)
	s, err := k.cfg.Staff.GetSecuritySettings(c.Request.Context(), r.db)
	if err != nil {
		k.fail(c, err)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Settings"] = s
	data["IdleMinutes"] = int(s.SessionIdle / time.Minute)
	data["AbsoluteHours"] = int(s.SessionAbsolute / time.Hour)
	k.page(c, status, "console_security.html", "console.security.title", data)
}

func (k *Console) saveSecurity(c *gin.Context) {
	r := k.reqOf(c)
	p, _ := PrincipalFrom(c.Request.Context())
	var u SecuritySettingsUpdate
	req2 := c.PostForm("require_2fa") == "1"
	u.RequireTwoFactor = &req2
	fields := map[string]string{}
	if v, ok := atoiForm(c.PostForm("idle_minutes")); ok {
		u.SessionIdleMinutes = &v
	} else {
		fields["session_idle_minutes"] = k.t(c, "field.type", map[string]any{"Type": "number"})
	}
	if v, ok := atoiForm(c.PostForm("absolute_hours")); ok {
		u.SessionAbsoluteHours = &v
	} else {
		fields["session_absolute_hours"] = k.t(c, "field.type", map[string]any{"Type": "number"})
	}
	if len(fields) == 0 {
		_, err := k.cfg.Staff.UpdateSecuritySettings(c.Request.Context(), r.db, p, u)
		if err == nil {
			k.securityPage(c, http.StatusOK, map[string]any{"Flash": k.t(c, "console.security.saved", nil)})
			return
		}
		var summary string
		fields, summary = formErrors(c, err)
		k.securityPage(c, httpx.StatusOf(apperr.KindOf(err)), map[string]any{"Fields": fields, "Error": summary})
		return
	}
	k.securityPage(c, http.StatusBadRequest, map[string]any{"Fields": fields})
}

func atoiForm(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}
