package members

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Guard is a permission check as middleware: identity's API.Need for the
// tenant API, Console.Need for the console.
type Guard func(area authz.Area, action authz.Action) gin.HandlerFunc

// ConsoleShell is what the member pages need of the staff console
// (identity.Console provides it).
type ConsoleShell struct {
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	CSRF gin.HandlerFunc
	Fail func(c *gin.Context, err error)
	Need Guard
}

// ReservationsHook is the my page's extension point for reservations
// (which comes later in the module order and may not be imported here):
// given the signed-in member, it returns the HTML of the "upcoming and past
// reservations" section, already escaped. cmd/yoyaku wires it; nil shows a
// placeholder.
type ReservationsHook func(ctx context.Context, db bun.IDB, m Member, lang string) (template.HTML, error)

// HTTPConfig wires the HTTP side of members.
type HTTPConfig struct {
	Service *Service
	Views   *view.Renderer
	APINeed Guard        // for RegisterAPI
	Console ConsoleShell // for RegisterConsole
	// Perms answers whether the signed-in role may edit (console forms
	// are read-only otherwise).
	Perms identity.Permissions
	// PublicURL, when set, is where mailed links point (https://host, no
	// trailing slash); otherwise the request's scheme and host.
	PublicURL string
	// Reservations fills the my page's reservations section.
	Reservations ReservationsHook
}

// HTTP serves the members API, the booking-site pages and the console.
type HTTP struct{ cfg HTTPConfig }

// NewHTTP returns the HTTP side of members.
func NewHTTP(cfg HTTPConfig) *HTTP { return &HTTP{cfg: cfg} }

// Nav returns the console's navigation entry for members, for
// identity.ConsoleConfig.Nav.
func Nav() []identity.NavEntry {
	return []identity.NavEntry{{Area: authz.AreaMembers, Path: "/members", Label: "members.nav"}}
}

// RegisterAPI adds the members to the tenant API (g: "/api/v1" after the
// API key and Idempotency-Key middleware).
func (h *HTTP) RegisterAPI(g *gin.RouterGroup) {
	view, edit := h.cfg.APINeed(authz.AreaMembers, authz.ActionView), h.cfg.APINeed(authz.AreaMembers, authz.ActionEdit)
	g.POST("/members", edit, h.apiCreate)
	g.GET("/members", view, h.apiList)
	g.GET("/members/:id", view, h.apiGet)
	g.PATCH("/members/:id", edit, h.apiUpdate)
	g.DELETE("/members/:id", edit, h.apiWithdraw)
	g.POST("/member-attributes", edit, h.apiCreateAttribute)
	g.GET("/member-attributes", view, h.apiListAttributes)
	g.GET("/member-attributes/:id", view, h.apiGetAttribute)
	g.PATCH("/member-attributes/:id", edit, h.apiUpdateAttribute)
	g.DELETE("/member-attributes/:id", edit, h.apiDeleteAttribute)
}

// siteBase is the booking site's address of the request's tenant, for
// mailed links.
func (h *HTTP) siteBase(c *gin.Context, slug string) string {
	base := h.cfg.PublicURL
	if base == "" {
		scheme := "http"
		if c.Request.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + c.Request.Host
	}
	return strings.TrimRight(base, "/") + "/t/" + slug
}

func apiDB(c *gin.Context) (tenants.Tenant, bun.IDB, bool) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		httpx.Fail(c, err)
		return t, nil, false
	}
	return t, db, true
}

type memberJSON struct {
	ID              string            `json:"id"`
	Number          string            `json:"number"`
	Email           string            `json:"email"`
	Status          string            `json:"status"`
	FamilyName      string            `json:"family_name"`
	GivenName       string            `json:"given_name"`
	FamilyKana      string            `json:"family_kana"`
	GivenKana       string            `json:"given_kana"`
	Phone           string            `json:"phone"`
	PostalCode      string            `json:"postal_code"`
	Prefecture      *int              `json:"prefecture"`
	PrefectureName  string            `json:"prefecture_name"`
	Address1        string            `json:"address1"`
	Address2        string            `json:"address2"`
	BirthDate       string            `json:"birth_date"`
	Gender          string            `json:"gender"`
	Attributes      map[string]string `json:"attributes"`
	HasPassword     bool              `json:"has_password"`
	EmailVerifiedAt *time.Time        `json:"email_verified_at"`
	LastLoginAt     *time.Time        `json:"last_login_at"`
	WithdrawnAt     *time.Time        `json:"withdrawn_at"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toMemberJSON(m Member, lang string) memberJSON {
	out := memberJSON{ID: m.ID, Number: m.Number, Email: m.Email, Status: string(m.Status),
		FamilyName: m.Profile.FamilyName, GivenName: m.Profile.GivenName, FamilyKana: m.Profile.FamilyKana,
		GivenKana: m.Profile.GivenKana, Phone: m.Profile.Phone, PostalCode: FormatPostalCode(m.Profile.PostalCode),
		PrefectureName: PrefectureName(m.Profile.Prefecture, lang), Address1: m.Profile.Address1,
		Address2: m.Profile.Address2, BirthDate: m.Profile.BirthDate, Gender: string(m.Profile.Gender),
		Attributes: m.Attributes, HasPassword: m.HasPassword, EmailVerifiedAt: optTime(m.EmailVerifiedAt),
		LastLoginAt: optTime(m.LastLoginAt), WithdrawnAt: optTime(m.WithdrawnAt), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if m.Profile.Prefecture > 0 {
		p := m.Profile.Prefecture
		out.Prefecture = &p
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	return out
}

// flexString takes a JSON string or number (a prefecture by code: 13 or
// "13" or "東京都").
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return err
		}
		*f = flexString(u)
		return nil
	}
	if s == "null" {
		*f = ""
		return nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return err
	}
	*f = flexString(s)
	return nil
}

type profileJSON struct {
	FamilyName *string     `json:"family_name"`
	GivenName  *string     `json:"given_name"`
	FamilyKana *string     `json:"family_kana"`
	GivenKana  *string     `json:"given_kana"`
	Phone      *string     `json:"phone"`
	PostalCode *string     `json:"postal_code"`
	Prefecture *flexString `json:"prefecture"`
	Address1   *string     `json:"address1"`
	Address2   *string     `json:"address2"`
	BirthDate  *string     `json:"birth_date"`
	Gender     *string     `json:"gender"`
}

func (p profileJSON) toPatch() ProfilePatch {
	var pref *string
	if p.Prefecture != nil {
		s := string(*p.Prefecture)
		pref = &s
	}
	return ProfilePatch{FamilyName: p.FamilyName, GivenName: p.GivenName, FamilyKana: p.FamilyKana, GivenKana: p.GivenKana,
		Phone: p.Phone, PostalCode: p.PostalCode, Prefecture: pref, Address1: p.Address1, Address2: p.Address2,
		BirthDate: p.BirthDate, Gender: p.Gender}
}

func (p profileJSON) toInput() ProfileInput {
	var in ProfileInput
	p.toPatch().apply(&in)
	return in
}

type memberCreateRequest struct {
	Email            string            `json:"email"`
	Password         string            `json:"password"`
	SendVerification bool              `json:"send_verification"`
	Attributes       map[string]string `json:"attributes"`
	profileJSON
}

type memberUpdateRequest struct {
	Email      *string           `json:"email"`
	Status     *string           `json:"status"`
	Attributes map[string]string `json:"attributes"`
	profileJSON
}

func (h *HTTP) apiCreate(c *gin.Context) {
	t, db, ok := apiDB(c)
	if !ok {
		return
	}
	var req memberCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	m, err := h.cfg.Service.Create(c.Request.Context(), db, t.Slug, CreateInput{Email: req.Email, Password: req.Password,
		Profile: req.toInput(), Attributes: req.Attributes, SendVerification: req.SendVerification, Lang: t.Locale},
		h.siteBase(c, t.Slug))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/members/"+m.ID)
	c.JSON(http.StatusCreated, toMemberJSON(m, httpx.Lang(c)))
}

// listParamsOf reads ?q=, ?status= (repeatable or comma-separated),
// ?cursor= and ?limit=.
func listParamsOf(c *gin.Context) (ListParams, error) {
	p := ListParams{Q: c.Query("q"), After: c.Query("cursor")}
	for _, v := range c.QueryArray("status") {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				p.Statuses = append(p.Statuses, Status(s))
			}
		}
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return p, apperr.Invalid(apperr.Field("limit", "range", map[string]any{"Min": 1, "Max": MaxPageSize}))
		}
		p.Limit = n
	}
	return p, nil
}

type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (h *HTTP) apiList(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	p, err := listParamsOf(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	ms, next, err := h.cfg.Service.List(c.Request.Context(), db, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON[memberJSON]{Items: make([]memberJSON, 0, len(ms)), NextCursor: next}
	for _, m := range ms {
		out.Items = append(out.Items, toMemberJSON(m, httpx.Lang(c)))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) apiGet(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	m, err := h.cfg.Service.Get(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMemberJSON(m, httpx.Lang(c)))
}

func (h *HTTP) apiUpdate(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	var req memberUpdateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	p := Patch{Email: req.Email, Profile: req.toPatch(), Attributes: req.Attributes}
	if req.Status != nil {
		st := Status(*req.Status)
		p.Status = &st
	}
	m, err := h.cfg.Service.Update(c.Request.Context(), db, c.Param("id"), p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMemberJSON(m, httpx.Lang(c)))
}

func (h *HTTP) apiWithdraw(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	m, err := h.cfg.Service.Withdraw(c.Request.Context(), db, c.Param("id"), staffActor(c))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMemberJSON(m, httpx.Lang(c)))
}

type attributeJSON struct {
	ID          string    `json:"id"`
	LabelJA     string    `json:"label_ja"`
	LabelEN     string    `json:"label_en"`
	Kind        string    `json:"kind"`
	Requirement string    `json:"requirement"`
	Choices     []string  `json:"choices"`
	Position    int       `json:"position"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toAttributeJSON(a Attribute) attributeJSON {
	ch := a.Choices
	if ch == nil {
		ch = []string{}
	}
	return attributeJSON{ID: a.ID, LabelJA: a.LabelJA, LabelEN: a.LabelEN, Kind: string(a.Kind), Requirement: string(a.Requirement),
		Choices: ch, Position: a.Position, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

type attributeCreateRequest struct {
	LabelJA     string   `json:"label_ja"`
	LabelEN     string   `json:"label_en"`
	Kind        string   `json:"kind"`
	Requirement string   `json:"requirement"`
	Choices     []string `json:"choices"`
	Position    int      `json:"position"`
}

type attributeUpdateRequest struct {
	LabelJA     *string   `json:"label_ja"`
	LabelEN     *string   `json:"label_en"`
	Requirement *string   `json:"requirement"`
	Choices     *[]string `json:"choices"`
	Position    *int      `json:"position"`
}

func (h *HTTP) apiCreateAttribute(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	var req attributeCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	a, err := h.cfg.Service.CreateAttribute(c.Request.Context(), db, AttributeInput{LabelJA: req.LabelJA, LabelEN: req.LabelEN,
		Kind: AttributeKind(req.Kind), Requirement: Requirement(req.Requirement), Choices: req.Choices, Position: req.Position})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/member-attributes/"+a.ID)
	c.JSON(http.StatusCreated, toAttributeJSON(a))
}

func (h *HTTP) apiListAttributes(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	as, err := h.cfg.Service.Attributes(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON[attributeJSON]{Items: make([]attributeJSON, 0, len(as))}
	for _, a := range as {
		out.Items = append(out.Items, toAttributeJSON(a))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) apiGetAttribute(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	a, err := h.cfg.Service.Attribute(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAttributeJSON(a))
}

func (h *HTTP) apiUpdateAttribute(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	var req attributeUpdateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	p := AttributePatch{LabelJA: req.LabelJA, LabelEN: req.LabelEN, Choices: req.Choices, Position: req.Position}
	if req.Requirement != nil {
		r := Requirement(*req.Requirement)
		p.Requirement = &r
	}
	a, err := h.cfg.Service.UpdateAttribute(c.Request.Context(), db, c.Param("id"), p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toAttributeJSON(a))
}

func (h *HTTP) apiDeleteAttribute(c *gin.Context) {
	_, db, ok := apiDB(c)
	if !ok {
		return
	}
	if err := h.cfg.Service.DeleteAttribute(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// staffActor is the signed-in staff member or API key of the request, as
// the operation log names it.
func staffActor(c *gin.Context) auditlog.Actor {
	p, _ := identity.PrincipalFrom(c.Request.Context())
	return p.Actor()
}
