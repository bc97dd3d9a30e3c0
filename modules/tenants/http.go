package tenants

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
)

// HTTP serves the operator's tenant API, resolves the tenant of
// tenant-scoped routes, and serves the tenant's public information.
type HTTP struct {
	svc   *Service
	views *view.Renderer
}

// NewHTTP returns the HTTP side of the tenants module.
func NewHTTP(svc *Service, views *view.Renderer) *HTTP { return &HTTP{svc: svc, views: views} }

// View is a tenant as the operator API (and the CLI's --json) shows it.
type View struct {
	ID            string    `json:"id"`
	Slug          string    `json:"slug"`
	Name          string    `json:"name"`
	TimeZone      string    `json:"time_zone"`
	Locale        string    `json:"locale"`
	ContactEmails []string  `json:"contact_emails"`
	Options       []string  `json:"options"`
	Status        Status    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ToView converts a tenant for the operator API.
func ToView(t Tenant) View {
	return View{ID: t.ID, Slug: t.Slug, Name: t.Name, TimeZone: t.TimeZone, Locale: t.Locale,
		ContactEmails: nonNil(t.ContactEmails), Options: nonNil(t.Options), Status: t.Status,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// createRequest is the body of POST /api/v1/platform/tenants.
type createRequest struct {
	Slug          string   `json:"slug"`
	Name          string   `json:"name"`
	TimeZone      string   `json:"time_zone"`
	Locale        string   `json:"locale"`
	ContactEmails []string `json:"contact_emails"`
	Options       []string `json:"options"`
	OwnerEmail    string   `json:"owner_email"`
}

func (r createRequest) toParams() CreateParams {
	return CreateParams{Slug: r.Slug, Name: r.Name, TimeZone: r.TimeZone, Locale: r.Locale,
		ContactEmails: r.ContactEmails, Options: r.Options, OwnerEmail: r.OwnerEmail}
}

// createdView is the answer to a creation: the tenant, and the owner's
// one-time setup link when an owner was made.
type createdView struct {
	View
	OwnerSetupURL string `json:"owner_setup_url,omitempty"`
}

// updateRequest is the body of PATCH /api/v1/platform/tenants/{slug}.
type updateRequest struct {
	Name          *string   `json:"name"`
	TimeZone      *string   `json:"time_zone"`
	Locale        *string   `json:"locale"`
	ContactEmails *[]string `json:"contact_emails"`
	Options       *[]string `json:"options"`
	Status        *Status   `json:"status"`
}

func (r updateRequest) toParams() UpdateParams {
	return UpdateParams{Name: r.Name, TimeZone: r.TimeZone, Locale: r.Locale,
		ContactEmails: r.ContactEmails, Options: r.Options, Status: r.Status}
}

// listResponse is a page of tenants.
type listResponse struct {
	Items      []View `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// RegisterOperator adds the tenant routes of the operator API to g, which
// must already require the operator token.
func (h *HTTP) RegisterOperator(g *gin.RouterGroup) {
	g.POST("/tenants", h.create)
	g.GET("/tenants", h.list)
	g.GET("/tenants/:slug", h.get)
	g.PATCH("/tenants/:slug", h.update)
}

func (h *HTTP) create(c *gin.Context) {
	var req createRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	t, err := h.svc.CreateTenant(c.Request.Context(), req.toParams())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/platform/tenants/"+t.Slug)
	c.JSON(http.StatusCreated, createdView{View: ToView(t.Tenant), OwnerSetupURL: t.OwnerSetupURL})
}

func (h *HTTP) list(c *gin.Context) {
	p := ListParams{Status: Status(c.Query("status")), After: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			httpx.Fail(c, apperr.Invalid(apperr.Field("limit", "range", map[string]any{"Min": 1, "Max": 1000})))
			return
		}
		p.Limit = n
	}
	ts, err := h.svc.List(c.Request.Context(), p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	resp := listResponse{Items: make([]View, 0, len(ts))}
	for _, t := range ts {
		resp.Items = append(resp.Items, ToView(t))
	}
	limit := p.Limit
	if limit == 0 {
		limit = 100
	}
	if len(ts) == limit {
		resp.NextCursor = ts[len(ts)-1].Slug
	}
	c.JSON(http.StatusOK, resp)
}

func (h *HTTP) get(c *gin.Context) {
	t, err := h.svc.Get(c.Request.Context(), c.Param("slug"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ToView(t))
}

func (h *HTTP) update(c *gin.Context) {
	var req updateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	t, err := h.svc.Update(c.Request.Context(), c.Param("slug"), req.toParams())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ToView(t))
}

type tenantKey struct{}

// WithTenant returns ctx carrying t, for middleware outside this package
// that resolves a tenant another way (an API key names its tenant).
func WithTenant(ctx context.Context, t Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// FromContext returns the tenant of a tenant-scoped request.
func FromContext(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(tenantKey{}).(Tenant)
	return t, ok
}

// APITenant resolves the ":tenant" path parameter of a JSON route; a missing,
// suspended or terminated tenant is answered with a problem.
func (h *HTTP) APITenant() gin.HandlerFunc {
	return h.resolve(func(c *gin.Context, _ Tenant, err error) { httpx.Fail(c, err) })
}

// SiteTenant resolves the ":tenant" path parameter of an HTML route; a
// missing, suspended or terminated tenant gets a readable page.
func (h *HTTP) SiteTenant() gin.HandlerFunc {
	return h.resolve(h.sitePage)
}

func (h *HTTP) resolve(fail func(*gin.Context, Tenant, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		t, err := h.svc.Resolve(ctx, c.Param("tenant"))
		if err != nil {
			fail(c, t, err)
			c.Abort()
			return
		}
		httpx.SetTenant(c, t.Slug)
		handle := h.svc.reg.Handle(t.DB)
		defer handle.Release()
		ctx = tenantdb.WithHandle(context.WithValue(ctx, tenantKey{}, t), handle)
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

func (h *HTTP) sitePage(c *gin.Context, t Tenant, err error) {
	p := httpx.ProblemFor(c, err)
	cat := httpx.Catalog(c)
	lang := httpx.Lang(c)
	title, body := p.Title, cat.T(lang, "site.error.body", nil)
	switch {
	case errors.Is(err, ErrSuspended):
		title = cat.T(lang, "site.suspended.title", nil)
		body = cat.T(lang, "site.suspended.body", map[string]any{"Name": t.Name})
	case errors.Is(err, ErrTerminated):
		body = cat.T(lang, "site.terminated.body", nil)
	case errors.Is(err, ErrNotFound):
		body = cat.T(lang, "site.not_found.body", nil)
	}
	if p.Status >= 500 {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "site request failed", "status", p.Status, "err", err)
	}
	c.Header("Cache-Control", "no-store")
	h.views.HTML(c, p.Status, "site_error.html", map[string]any{
		"Title": title, "Body": body, "RequestID": logx.RequestID(c.Request.Context()),
	})
}

// publicJSON is what anyone may read about a tenant.
type publicJSON struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
	Locale   string `json:"locale"`
	Welcome  string `json:"welcome"`
}

// SettingWelcome is the tenant setting holding the booking site's short
// welcome text.
const SettingWelcome = "site.welcome"

// RegisterPublic adds the public tenant routes to g ("/api/v1/public/:tenant",
// after APITenant).
func (h *HTTP) RegisterPublic(g *gin.RouterGroup) {
	g.GET("", h.publicInfo)
}

func (h *HTTP) publicInfo(c *gin.Context) {
	ctx := c.Request.Context()
	t, _ := FromContext(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	welcome, _, err := GetSetting(ctx, db, SettingWelcome)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, publicJSON{Slug: t.Slug, Name: t.Name, TimeZone: t.TimeZone, Locale: t.Locale, Welcome: welcome})
}
