package members

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

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// The booking site's member pages, under /t/{tenant}/: every one works
// without JavaScript (forms post, links navigate), in Japanese or English.
// The member session cookie is scoped to /t/{tenant}/, HttpOnly,
// SameSite=Lax and Secure over TLS; forms before sign-in carry a
// double-submit token, forms after it the session's CSRF token.
const (
	sessionCookie = "yoyaku_member"
	preAuthCookie = "yoyaku_member_csrf"
	siteReqKey    = "yoyaku.members.site"
	siteSessKey   = "yoyaku.members.session"
)

// RegisterSite adds the booking site's member pages to g ("/t/:tenant"
// after the tenant middleware).
func (h *HTTP) RegisterSite(g *gin.RouterGroup) {
	g.Use(noStore, h.loadSite)
	g.GET("/register", h.registerForm)
	g.POST("/register", h.preAuthCSRF, h.register)
	g.GET("/verify/:token", h.verifyForm)
	g.POST("/verify/:token", h.preAuthCSRF, h.verify)
	g.GET("/login", h.loginForm)
	g.POST("/login", h.preAuthCSRF, h.login)
	g.GET("/forgot", h.forgotForm)
	g.POST("/forgot", h.preAuthCSRF, h.forgot)
	g.GET("/reset/:token", h.resetForm)
	g.POST("/reset/:token", h.preAuthCSRF, h.reset)

	me := g.Group("", h.Session())
	me.POST("/logout", h.csrf, h.logout)
	me.GET("/mypage", h.mypage)
	me.GET("/mypage/profile", h.profileForm)
	me.POST("/mypage/profile", h.csrf, h.saveProfile)
	me.GET("/mypage/withdraw", h.withdrawForm)
	me.POST("/mypage/withdraw", h.csrf, h.withdraw)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

type siteReq struct {
	tenant tenants.Tenant
	db     bun.IDB
	base   string // /t/{slug}
}

func (h *HTTP) loadSite(c *gin.Context) {
	if h.setSite(c) {
		c.Next()
	}
}

// setSite puts the request's siteReq in c; false (and an error page)
// when the tenant's database is not there.
func (h *HTTP) setSite(c *gin.Context) bool {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.sitePageError(c, err)
		return false
	}
	c.Set(siteReqKey, siteReq{tenant: t, db: db, base: "/t/" + t.Slug})
	return true
}

func siteOf(c *gin.Context) siteReq {
	r, _ := c.Get(siteReqKey)
	return r.(siteReq)
}

// Session requires a signed-in member (others go to the login page) and
// puts it in the request's context (MemberFrom). For pages of other
// modules under /t/:tenant that are for members only.
func (h *HTTP) Session() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !h.attach(c) {
			r := siteOf(c)
			c.Redirect(http.StatusSeeOther, r.base+"/login?next="+url.QueryEscape(c.Request.URL.Path))
			c.Abort()
			return
		}
		c.Next()
	}
}

// OptionalSession puts the signed-in member, if any, in the request's
// context (MemberFrom) and lets everyone through: for the booking flow,
// which serves members and guests alike.
func (h *HTTP) OptionalSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := c.Get(siteReqKey); !ok && !h.setSite(c) {
			return // loadSite would run the rest of the chain before attach
		}
		h.attach(c)
		c.Next()
	}
}

// attach authenticates the member cookie into the context.
func (h *HTTP) attach(c *gin.Context) bool {
	r := siteOf(c)
	token, err := c.Cookie(sessionCookie)
	if err != nil || token == "" {
		return false
	}
	ctx := c.Request.Context()
	m, sess, err := h.cfg.Service.Authenticate(ctx, r.db, token)
	if err != nil {
		return false
	}
	c.Set(siteSessKey, sess)
	ctx = WithMember(ctx, m)
	ctx = auditlog.WithRequest(ctx, auditlog.Request{Actor: memberActor(m), SourceIP: c.ClientIP(),
		UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(ctx)})
	c.Request = c.Request.WithContext(ctx)
	return true
}

// SessionCSRF returns a CSRF token for a form of the signed-in member's
// session ("" without one), for pages of other modules.
func SessionCSRF(c *gin.Context) string {
	s, _ := c.Get(siteSessKey)
	sess, _ := s.(Session)
	return CSRFToken(sess)
}

// CheckSessionCSRF reports whether token is a CSRF token of the signed-in
// member's session, for forms of other modules' member pages.
func CheckSessionCSRF(c *gin.Context, token string) bool {
	s, _ := c.Get(siteSessKey)
	sess, ok := s.(Session)
	return ok && CheckCSRF(sess, token)
}

type formCSRFKey struct{}

// FormCSRF returns the CSRF token the my page hands to its extension
// points (ReservationsHook) for their forms.
func FormCSRF(ctx context.Context) string {
	s, _ := ctx.Value(formCSRFKey{}).(string)
	return s
}

func (h *HTTP) csrf(c *gin.Context) {
	s, _ := c.Get(siteSessKey)
	sess, ok := s.(Session)
	if !ok || !CheckCSRF(sess, c.PostForm("csrf_token")) {
		h.sitePageError(c, ErrCSRFInvalid)
		return
	}
	c.Next()
}

func (h *HTTP) preAuthCSRF(c *gin.Context) {
	cookie, err := c.Cookie(preAuthCookie)
	form := c.PostForm("csrf_token")
	if err != nil || cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		h.sitePageError(c, ErrCSRFInvalid)
		return
	}
	c.Next()
}

func (h *HTTP) preAuthToken(c *gin.Context, base string) string {
	if v, err := c.Cookie(preAuthCookie); err == nil && len(v) >= 32 {
		return v
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	setCookie(c, base, preAuthCookie, v, 0)
	return v
}

func setCookie(c *gin.Context, base, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: base + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

func tr(c *gin.Context, id string, args map[string]any) string {
	return httpx.Catalog(c).T(httpx.Lang(c), id, args)
}

// sitePageError shows err as the site's error page.
func (h *HTTP) sitePageError(c *gin.Context, err error) {
	p := httpx.ProblemFor(c, err)
	if p.Status >= 500 {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "member page failed", "status", p.Status, "err", err)
	}
	body := p.Detail
	if body == "" {
		body = p.Title
	}
	h.cfg.Views.HTML(c, p.Status, "site_error.html", map[string]any{
		"Title": p.Title, "Body": body, "RequestID": logx.RequestID(c.Request.Context()),
	})
	c.Abort()
}

// page renders a member page with what every one needs.
func (h *HTTP) page(c *gin.Context, status int, name, titleKey string, data map[string]any) {
	r := siteOf(c)
	if data == nil {
		data = map[string]any{}
	}
	data["Title"] = tr(c, titleKey, nil)
	data["TenantName"] = r.tenant.Name
	data["Base"] = r.base
	if _, ok := data["CSRF"]; !ok {
		if s, ok := c.Get(siteSessKey); ok {
			data["CSRF"] = CSRFToken(s.(Session))
		} else {
			data["CSRF"] = h.preAuthToken(c, r.base)
		}
	}
	if m, ok := MemberFrom(c.Request.Context()); ok {
		data["Member"] = m
	}
	h.cfg.Views.HTML(c, status, name, data)
}

// problemOf turns err into field messages, the first field with an error
// and a summary line.
func problemOf(c *gin.Context, err error) (map[string]string, string, string) {
	p := httpx.ProblemFor(c, err)
	fields := map[string]string{}
	first := ""
	for _, f := range p.Errors {
		if _, seen := fields[f.Field]; !seen {
			fields[f.Field] = f.Message
			if first == "" {
				first = f.Field
			}
		}
	}
	summary := p.Title
	if len(p.Errors) > 0 {
		summary = tr(c, "members.form.error", nil)
	} else if p.Detail != "" {
		summary += " " + p.Detail
	}
	return fields, first, summary
}

func retryAfterHeader(c *gin.Context, err error) {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		if ra, ok := ae.Args["RetryAfter"].(int); ok && ra > 0 {
			c.Header("Retry-After", strconv.Itoa(ra))
		}
	}
}

// fieldView is one input of a member form.
type fieldView struct {
	Name, Label, Type, Value, Error, Hint, Autocomplete string
	Req                                                 string // the "required" marker, translated; "" when optional
	Required, Autofocus                                 bool
	Options                                             []optionView
	Inputmode                                           string
}

type optionView struct {
	Value, Label string
	Selected     bool
}

// profileFields builds the profile inputs of in, with errors and the
// first error focused; attributes the member may see follow.
func profileFields(c *gin.Context, in ProfileInput, defs []Attribute, vals map[string]string, errs map[string]string, first string, staff bool) []fieldView {
	lang := httpx.Lang(c)
	req := func(f fieldView) fieldView {
		f.Error = errs[f.Name]
		f.Autofocus = first != "" && first == f.Name
		if f.Type == "" {
			f.Type = "text"
		}
		if f.Required {
			f.Req = tr(c, "members.required", nil)
		}
		return f
	}
	prefs := []optionView{{Value: "", Label: tr(c, "members.field.prefecture_none", nil)}}
	code, _ := ParsePrefecture(in.Prefecture)
	for _, p := range Prefectures() {
		label := p.NameJA
		if lang == "en" {
			label = p.NameEN
		}
		prefs = append(prefs, optionView{Value: strconv.Itoa(p.Code), Label: label, Selected: p.Code == code})
	}
	genders := []optionView{{Value: "", Label: tr(c, "members.field.gender_none", nil)}}
	for _, g := range Genders() {
		genders = append(genders, optionView{Value: string(g), Label: tr(c, "members.gender."+string(g), nil), Selected: string(g) == in.Gender})
	}
	out := []fieldView{
		req(fieldView{Name: "family_name", Label: tr(c, "members.field.family_name", nil), Value: in.FamilyName, Required: true, Autocomplete: "family-name"}),
		req(fieldView{Name: "given_name", Label: tr(c, "members.field.given_name", nil), Value: in.GivenName, Required: true, Autocomplete: "given-name"}),
		req(fieldView{Name: "family_kana", Label: tr(c, "members.field.family_kana", nil), Value: in.FamilyKana, Required: true, Hint: tr(c, "members.field.kana_hint", nil)}),
		req(fieldView{Name: "given_kana", Label: tr(c, "members.field.given_kana", nil), Value: in.GivenKana, Required: true, Hint: tr(c, "members.field.kana_hint", nil)}),
		req(fieldView{Name: "phone", Label: tr(c, "members.field.phone", nil), Type: "tel", Value: in.Phone, Autocomplete: "tel", Hint: tr(c, "members.field.phone_hint", nil)}),
		req(fieldView{Name: "postal_code", Label: tr(c, "members.field.postal_code", nil), Value: in.PostalCode, Autocomplete: "postal-code", Inputmode: "numeric", Hint: tr(c, "members.field.postal_code_hint", nil)}),
		req(fieldView{Name: "prefecture", Label: tr(c, "members.field.prefecture", nil), Type: "select", Options: prefs, Autocomplete: "address-level1"}),
		req(fieldView{Name: "address1", Label: tr(c, "members.field.address1", nil), Value: in.Address1, Autocomplete: "address-line1"}),
		req(fieldView{Name: "address2", Label: tr(c, "members.field.address2", nil), Value: in.Address2, Autocomplete: "address-line2"}),
		req(fieldView{Name: "birth_date", Label: tr(c, "members.field.birth_date", nil), Type: "date", Value: in.BirthDate, Autocomplete: "bday"}),
		req(fieldView{Name: "gender", Label: tr(c, "members.field.gender", nil), Type: "select", Options: genders}),
	}
	for _, d := range defs {
		if d.Requirement == StaffOnly && !staff {
			continue
		}
		f := fieldView{Name: "attributes." + d.ID, Label: d.Label(lang), Value: vals[d.ID], Required: d.Requirement == Required && !staff}
		switch d.Kind {
		case AttrNumber:
			f.Inputmode = "decimal"
		case AttrDate:
			f.Type = "date"
		case AttrChoice:
			f.Type = "select"
			f.Options = []optionView{{Value: "", Label: tr(c, "members.field.prefecture_none", nil)}}
			for _, ch := range d.Choices {
				f.Options = append(f.Options, optionView{Value: ch, Label: ch, Selected: ch == vals[d.ID]})
			}
		}
		out = append(out, req(f))
	}
	return out
}

// profileInputOf reads the profile and attribute inputs of a form.
func profileInputOf(c *gin.Context, defs []Attribute) (ProfileInput, map[string]string) {
	in := ProfileInput{
		FamilyName: c.PostForm("family_name"), GivenName: c.PostForm("given_name"),
		FamilyKana: c.PostForm("family_kana"), GivenKana: c.PostForm("given_kana"),
		Phone: c.PostForm("phone"), PostalCode: c.PostForm("postal_code"), Prefecture: c.PostForm("prefecture"),
		Address1: c.PostForm("address1"), Address2: c.PostForm("address2"), BirthDate: c.PostForm("birth_date"),
		Gender: c.PostForm("gender"),
	}
	vals := map[string]string{}
	for _, d := range defs {
		if v, ok := c.GetPostForm("attributes." + d.ID); ok {
			vals[d.ID] = v
		}
	}
	return in, vals
}

func patchOf(in ProfileInput) ProfilePatch {
	return ProfilePatch{FamilyName: &in.FamilyName, GivenName: &in.GivenName, FamilyKana: &in.FamilyKana, GivenKana: &in.GivenKana,
		Phone: &in.Phone, PostalCode: &in.PostalCode, Prefecture: &in.Prefecture, Address1: &in.Address1, Address2: &in.Address2,
		BirthDate: &in.BirthDate, Gender: &in.Gender}
}

func (h *HTTP) registerPage(c *gin.Context, status int, email string, in ProfileInput, vals map[string]string, err error) {
	r := siteOf(c)
	defs, derr := h.cfg.Service.Attributes(c.Request.Context(), r.db)
	if derr != nil {
		h.sitePageError(c, derr)
		return
	}
	data := map[string]any{"Email": email}
	errs, first, summary := map[string]string{}, "", ""
	if err != nil {
		errs, first, summary = problemOf(c, err)
		data["Error"] = summary
	}
	data["EmailError"], data["PasswordError"] = errs["email"], errs["password"]
	data["FocusEmail"], data["FocusPassword"] = first == "email", first == "password"
	data["Fields"] = profileFields(c, in, defs, vals, errs, first, false)
	h.page(c, status, "site_member_register.html", "members.site.register.title", data)
}

func (h *HTTP) registerForm(c *gin.Context) {
	h.registerPage(c, http.StatusOK, "", ProfileInput{}, nil, nil)
}

func (h *HTTP) register(c *gin.Context) {
	r := siteOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	defs, err := h.cfg.Service.Attributes(ctx, r.db)
	if err != nil {
		h.sitePageError(c, err)
		return
	}
	in, vals := profileInputOf(c, defs)
	email := c.PostForm("email")
	_, err = h.cfg.Service.Register(ctx, r.db, r.tenant.Slug, RegisterInput{Email: email, Password: c.PostForm("password"),
		Profile: in, Attributes: vals, Lang: httpx.Lang(c)}, h.siteBase(c, r.tenant.Slug))
	if err != nil && !errors.Is(err, ErrEmailTaken) {
		if httpx.StatusOf(apperr.KindOf(err)) >= 500 {
			h.sitePageError(c, err)
			return
		}
		h.registerPage(c, httpx.StatusOf(apperr.KindOf(err)), email, in, vals, err)
		return
	}
	// A taken address is answered like a registration: whether someone is
	// a member shows only in their mailbox.
	h.page(c, http.StatusOK, "site_member_message.html", "members.site.register.title",
		map[string]any{"Message": tr(c, "members.site.register.sent", nil)})
}

func (h *HTTP) verifyForm(c *gin.Context) {
	r := siteOf(c)
	// The link shows a button: mail scanners that open links must not use
	// it up.
	if _, err := h.cfg.Service.liveToken(c.Request.Context(), r.db, c.Param("token"), purposeVerify); err != nil {
		h.linkInvalid(c, err)
		return
	}
	h.page(c, http.StatusOK, "site_member_verify.html", "members.site.verify.title", map[string]any{"Token": c.Param("token")})
}

func (h *HTTP) linkInvalid(c *gin.Context, err error) {
	if !errors.Is(err, ErrTokenInvalid) {
		h.sitePageError(c, err)
		return
	}
	h.page(c, http.StatusGone, "site_member_message.html", "problem.member_link_invalid.title",
		map[string]any{"Message": tr(c, "problem.member_link_invalid.detail", nil), "Error": true})
}

func (h *HTTP) verify(c *gin.Context) {
	r := siteOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	if _, err := h.cfg.Service.Verify(ctx, r.db, c.Param("token")); err != nil {
		h.linkInvalid(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/login?verified=1")
}

func (h *HTTP) loginForm(c *gin.Context) {
	data := map[string]any{"Next": c.Query("next")}
	for q, key := range map[string]string{"verified": "members.site.verify.done", "bye": "members.site.login.bye",
		"reset": "members.site.login.reset_done", "withdrawn": "members.site.login.withdrawn"} {
		if c.Query(q) == "1" {
			data["Flash"] = tr(c, key, nil)
		}
	}
	h.page(c, http.StatusOK, "site_member_login.html", "members.site.login.title", data)
}

func safeNext(base, next string) string {
	if len(next) > len(base)+1 && next[:len(base)+1] == base+"/" && next[:2] != "//" && !containsAny(next, "\\\r\n") {
		return next
	}
	return base + "/mypage"
}

func containsAny(s, chars string) bool {
	for _, r := range chars {
		for _, x := range s {
			if x == r {
				return true
			}
		}
	}
	return false
}

func (h *HTTP) login(c *gin.Context) {
	r := siteOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	email := c.PostForm("email")
	token, _, err := h.cfg.Service.Login(ctx, r.db, email, c.PostForm("password"), c.ClientIP(), c.Request.UserAgent())
	if err != nil {
		status := httpx.StatusOf(apperr.KindOf(err))
		if status >= 500 {
			h.sitePageError(c, err)
			return
		}
		retryAfterHeader(c, err)
		_, _, summary := problemOf(c, err)
		h.page(c, status, "site_member_login.html", "members.site.login.title",
			map[string]any{"Error": summary, "Email": email, "Next": c.PostForm("next")})
		return
	}
	setCookie(c, r.base, sessionCookie, token, 0)
	c.Redirect(http.StatusSeeOther, safeNext(r.base, c.PostForm("next")))
}

func (h *HTTP) logout(c *gin.Context) {
	r := siteOf(c)
	token, _ := c.Cookie(sessionCookie)
	if err := h.cfg.Service.Logout(c.Request.Context(), r.db, token); err != nil {
		h.sitePageError(c, err)
		return
	}
	setCookie(c, r.base, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, r.base+"/login?bye=1")
}

func (h *HTTP) forgotForm(c *gin.Context) {
	h.page(c, http.StatusOK, "site_member_forgot.html", "members.site.forgot.title", nil)
}

// forgot answers every well-formed address alike.
func (h *HTTP) forgot(c *gin.Context) {
	r := siteOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	email := c.PostForm("email")
	err := h.cfg.Service.ForgotPassword(ctx, r.db, email, c.ClientIP(), h.siteBase(c, r.tenant.Slug), httpx.Lang(c))
	if err != nil {
		status := httpx.StatusOf(apperr.KindOf(err))
		if status >= 500 {
			h.sitePageError(c, err)
			return
		}
		retryAfterHeader(c, err)
		fields, _, summary := problemOf(c, err)
		h.page(c, status, "site_member_forgot.html", "members.site.forgot.title",
			map[string]any{"Error": summary, "EmailError": fields["email"], "Email": email})
		return
	}
	h.page(c, http.StatusOK, "site_member_forgot.html", "members.site.forgot.title",
		map[string]any{"Sent": true, "Flash": tr(c, "members.site.forgot.sent", nil)})
}

func (h *HTTP) resetForm(c *gin.Context) {
	r := siteOf(c)
	m, err := h.cfg.Service.CheckResetToken(c.Request.Context(), r.db, c.Param("token"))
	if err != nil {
		h.linkInvalid(c, err)
		return
	}
	h.page(c, http.StatusOK, "site_member_reset.html", "members.site.reset.title", map[string]any{"Email": m.Email, "Token": c.Param("token")})
}

func (h *HTTP) reset(c *gin.Context) {
	r := siteOf(c)
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{RequestID: logx.RequestID(c.Request.Context()),
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	token := c.Param("token")
	m, err := h.cfg.Service.ResetPassword(ctx, r.db, r.tenant.Slug, token, c.PostForm("password"))
	if err != nil {
		if errors.Is(err, ErrTokenInvalid) || httpx.StatusOf(apperr.KindOf(err)) >= 500 {
			h.linkInvalid(c, err)
			return
		}
		fields, _, summary := problemOf(c, err)
		h.page(c, httpx.StatusOf(apperr.KindOf(err)), "site_member_reset.html", "members.site.reset.title",
			map[string]any{"Email": m.Email, "Token": token, "Error": summary, "PasswordError": fields["password"]})
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/login?reset=1")
}

func (h *HTTP) mypage(c *gin.Context) {
	r := siteOf(c)
	ctx := c.Request.Context()
	m, _ := MemberFrom(ctx)
	lang := httpx.Lang(c)
	var section template.HTML
	if h.cfg.Reservations != nil {
		var err error
		hookCtx := context.WithValue(ctx, formCSRFKey{}, SessionCSRF(c))
		if section, err = h.cfg.Reservations(hookCtx, r.db, m, lang); err != nil {
			h.sitePageError(c, err)
			return
		}
	}
	defs, err := h.cfg.Service.Attributes(ctx, r.db)
	if err != nil {
		h.sitePageError(c, err)
		return
	}
	type row struct{ Label, Value string }
	rows := []row{
		{tr(c, "members.field.number", nil), m.Number},
		{tr(c, "members.field.email", nil), m.Email},
		{tr(c, "members.field.name", nil), m.Profile.Name()},
		{tr(c, "members.field.kana", nil), m.Profile.Kana()},
		{tr(c, "members.field.phone", nil), m.Profile.Phone},
		{tr(c, "members.field.postal_code", nil), FormatPostalCode(m.Profile.PostalCode)},
		{tr(c, "members.field.prefecture", nil), PrefectureName(m.Profile.Prefecture, lang)},
		{tr(c, "members.field.address1", nil), m.Profile.Address1},
		{tr(c, "members.field.address2", nil), m.Profile.Address2},
		{tr(c, "members.field.birth_date", nil), m.Profile.BirthDate},
	}
	if m.Profile.Gender != "" {
		rows = append(rows, row{tr(c, "members.field.gender", nil), tr(c, "members.gender."+string(m.Profile.Gender), nil)})
	}
	for _, d := range defs {
		if d.Requirement != StaffOnly {
			rows = append(rows, row{d.Label(lang), m.Attributes[d.ID]})
		}
	}
	data := map[string]any{"Rows": rows, "Reservations": section, "Name": m.Profile.Name()}
	// What the last action on the page did: a saved profile, or a
	// reservation cancelled (or refused) by the reservations section.
	switch c.Query("done") {
	case "saved":
		data["Flash"] = tr(c, "members.site.mypage.saved", nil)
	case "cancelled":
		data["Flash"] = tr(c, "waitlist.mypage.cancelled", nil)
	case "cancel_refused":
		data["Flash"] = tr(c, "waitlist.mypage.cancel_refused", nil)
	case "cancel_unconfirmed":
		data["Flash"] = tr(c, "waitlist.mypage.cancel_unconfirmed", nil)
	case "moved":
		data["Flash"] = tr(c, "waitlist.mypage.moved", nil)
	case "move_refused":
		data["Flash"] = tr(c, "waitlist.mypage.move_refused", nil)
	case "csrf":
		data["Flash"] = tr(c, "waitlist.mypage.csrf", nil)
	}
	h.page(c, http.StatusOK, "site_member_mypage.html", "members.site.mypage.title", data)
}

func (h *HTTP) profilePage(c *gin.Context, status int, in ProfileInput, vals map[string]string, err error) {
	r := siteOf(c)
	defs, derr := h.cfg.Service.Attributes(c.Request.Context(), r.db)
	if derr != nil {
		h.sitePageError(c, derr)
		return
	}
	data := map[string]any{}
	errs, first := map[string]string{}, ""
	if err != nil {
		var summary string
		errs, first, summary = problemOf(c, err)
		data["Error"] = summary
	}
	data["Fields"] = profileFields(c, in, defs, vals, errs, first, false)
	h.page(c, status, "site_member_profile.html", "members.site.profile.title", data)
}

func (h *HTTP) profileForm(c *gin.Context) {
	m, _ := MemberFrom(c.Request.Context())
	h.profilePage(c, http.StatusOK, InputOf(m.Profile), m.Attributes, nil)
}

func (h *HTTP) saveProfile(c *gin.Context) {
	r := siteOf(c)
	ctx := c.Request.Context()
	m, _ := MemberFrom(ctx)
	defs, err := h.cfg.Service.Attributes(ctx, r.db)
	if err != nil {
		h.sitePageError(c, err)
		return
	}
	in, vals := profileInputOf(c, defs)
	if _, err := h.cfg.Service.UpdateProfile(ctx, r.db, m, patchOf(in), vals); err != nil {
		if httpx.StatusOf(apperr.KindOf(err)) >= 500 {
			h.sitePageError(c, err)
			return
		}
		h.profilePage(c, httpx.StatusOf(apperr.KindOf(err)), in, vals, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/mypage?done=saved")
}

func (h *HTTP) withdrawForm(c *gin.Context) {
	h.page(c, http.StatusOK, "site_member_withdraw.html", "members.site.withdraw.title", nil)
}

func (h *HTTP) withdraw(c *gin.Context) {
	r := siteOf(c)
	ctx := c.Request.Context()
	m, _ := MemberFrom(ctx)
	if c.PostForm("confirm") != "1" {
		h.page(c, http.StatusBadRequest, "site_member_withdraw.html", "members.site.withdraw.title",
			map[string]any{"Error": tr(c, "members.site.withdraw.confirm_required", nil)})
		return
	}
	if _, err := h.cfg.Service.Withdraw(ctx, r.db, m.ID, memberActor(m)); err != nil {
		h.sitePageError(c, err)
		return
	}
	setCookie(c, r.base, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, r.base+"/login?withdrawn=1")
}
