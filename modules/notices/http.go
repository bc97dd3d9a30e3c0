package notices

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// ConsoleShell is what the notices page needs of the staff console
// (identity.Console provides it); declared here so this module does not
// reach into the console's internals.
type ConsoleShell struct {
	// Page renders template name inside the console's shell (navigation,
	// bell, user menu), setting data["Title"] from titleKey, data["CSRF"]
	// to the session's form token and data["Base"] to /t/{slug}/admin.
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	// CSRF refuses a form post without the session's token (middleware).
	CSRF gin.HandlerFunc
	// Fail shows an error as a console page.
	Fail func(c *gin.Context, err error)
}

// HTTPConfig wires the HTTP side.
type HTTPConfig struct {
	Service *Service
	Views   *view.Renderer
	Console ConsoleShell // needed by RegisterConsole only
	// StatusTTL is how long the status page reuses what it read (default
	// 10s; negative: not at all).
	StatusTTL time.Duration
}

// HTTP serves the operator's notice API, the console's お知らせ page and
// the public status page.
type HTTP struct {
	svc       *Service
	views     *view.Renderer
	console   ConsoleShell
	statusTTL time.Duration

	mu      sync.Mutex
	last    Status // the status page's last answer
	lastExp time.Time
}

// NewHTTP returns the HTTP side of the notices module.
func NewHTTP(cfg HTTPConfig) *HTTP {
	if cfg.StatusTTL == 0 {
		cfg.StatusTTL = 10 * time.Second
	}
	return &HTTP{svc: cfg.Service, views: cfg.Views, console: cfg.Console, statusTTL: max(cfg.StatusTTL, 0)}
}

// View is a notice as the operator API (and the CLI's --json) shows it.
type View struct {
	ID          string     `json:"id"`
	Kind        Kind       `json:"kind"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	StartsAt    time.Time  `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"`
	Tenants     []string   `json:"tenants"`
	Urgent      bool       `json:"urgent"`
	State       State      `json:"state"`
	Revision    int        `json:"revision"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	WithdrawnAt *time.Time `json:"withdrawn_at"`
	AnnouncedAt *time.Time `json:"announced_at"`
}

// ToView converts a notice for the operator at now.
func ToView(n Notice, now time.Time) View {
	ts := n.Tenants
	if ts == nil {
		ts = []string{}
	}
	return View{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, StartsAt: n.StartsAt,
		EndsAt: timePtr(n.EndsAt), Tenants: ts, Urgent: n.Urgent, State: n.State(now), Revision: n.Revision,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, WithdrawnAt: timePtr(n.WithdrawnAt),
		AnnouncedAt: timePtr(n.AnnouncedAt)}
}

// createRequest is the body of POST /api/v1/platform/notices.
type createRequest struct {
	Kind     Kind     `json:"kind"`
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	StartsAt string   `json:"starts_at"`
	EndsAt   string   `json:"ends_at"`
	Tenants  []string `json:"tenants"`
	Urgent   bool     `json:"urgent"`
}

func (r createRequest) toParams() CreateParams {
	return CreateParams{Kind: r.Kind, Title: r.Title, Body: r.Body, StartsAt: r.StartsAt, EndsAt: r.EndsAt,
		Tenants: r.Tenants, Urgent: r.Urgent}
}

// updateRequest is the body of PATCH /api/v1/platform/notices/{id}.
type updateRequest struct {
	Title    *string `json:"title"`
	Body     *string `json:"body"`
	StartsAt *string `json:"starts_at"`
	EndsAt   *string `json:"ends_at"`
	Urgent   *bool   `json:"urgent"`
}

func (r updateRequest) toParams() UpdateParams {
	return UpdateParams{Title: r.Title, Body: r.Body, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Urgent: r.Urgent}
}

// listResponse is a page of notices.
type listResponse struct {
	Items      []View `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// RegisterOperator adds the notice routes of the operator API to g
// ("/api/v1/platform", which must already require the operator token).
func (h *HTTP) RegisterOperator(g *gin.RouterGroup) {
	g.POST("/notices", h.create)
	g.GET("/notices", h.list)
	g.GET("/notices/:id", h.get)
	g.PATCH("/notices/:id", h.update)
	g.DELETE("/notices/:id", h.withdraw)
}

func (h *HTTP) create(c *gin.Context) {
	var req createRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	n, err := h.svc.Create(c.Request.Context(), req.toParams())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/platform/notices/"+n.ID)
	c.JSON(http.StatusCreated, ToView(n, h.svc.now()))
}

func (h *HTTP) list(c *gin.Context) {
	p := ListParams{State: State(c.Query("state")), After: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			httpx.Fail(c, apperr.Invalid(apperr.Field("limit", "range", map[string]any{"Min": 1, "Max": 1000})))
			return
		}
		p.Limit = n
	}
	ns, err := h.svc.List(c.Request.Context(), p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	now := h.svc.now()
	resp := listResponse{Items: make([]View, 0, len(ns))}
	for _, n := range ns {
		resp.Items = append(resp.Items, ToView(n, now))
	}
	limit := p.Limit
	if limit == 0 {
		limit = 100
	}
	if len(ns) == limit {
		resp.NextCursor = ns[len(ns)-1].ID
	}
	c.JSON(http.StatusOK, resp)
}

func (h *HTTP) get(c *gin.Context) {
	n, err := h.svc.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ToView(n, h.svc.now()))
}

func (h *HTTP) update(c *gin.Context) {
	var req updateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	n, err := h.svc.Update(c.Request.Context(), c.Param("id"), req.toParams())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ToView(n, h.svc.now()))
}

func (h *HTTP) withdraw(c *gin.Context) {
	if _, err := h.svc.Withdraw(c.Request.Context(), c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// RegisterConsole adds the お知らせ page to g, the console's group of
// signed-in staff ("/t/:tenant/admin" after the tenant, allow-list and
// session middleware): GET /notices, POST /notices/{id}/read and POST
// /notices/read-all (both checked by ConsoleShell.CSRF).
func (h *HTTP) RegisterConsole(g *gin.RouterGroup) {
	g.GET("/notices", h.consoleList)
	g.POST("/notices/read-all", h.console.CSRF, h.consoleReadAll)
	g.POST("/notices/:id/read", h.console.CSRF, h.consoleRead)
}

// consoleReq is what the console handlers need about their request.
type consoleReq struct {
	tenant  tenants.Tenant
	staffID string
	base    string
}

func (h *HTTP) consoleReq(c *gin.Context) (consoleReq, bool) {
	ctx := c.Request.Context()
	t, ok := tenants.FromContext(ctx)
	p, pok := identity.PrincipalFrom(ctx)
	if !ok || !pok || p.Kind != identity.PrincipalStaff || p.ID == "" {
		h.console.Fail(c, identity.ErrForbidden)
		return consoleReq{}, false
	}
	return consoleReq{tenant: t, staffID: p.ID, base: "/t/" + t.Slug + "/admin"}, true
}

func (h *HTTP) consoleList(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	list, unread, err := h.svc.ForTenant(ctx, db, r.tenant, r.staffID)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	lang := httpx.Lang(c)
	cat := httpx.Catalog(c)
	zone := tenantZone(r.tenant)
	now := h.svc.now()
	items := make([]noticeView, 0, len(list))
	for _, tn := range list {
		it := toNoticeView(cat, lang, zone, tn.Notice, now, false)
		it.Read = tn.Read
		items = append(items, it)
	}
	data := map[string]any{"Items": items, "Unread": unread}
	switch c.Query("done") {
	case "read":
		data["Flash"] = cat.T(lang, "notices.done_read", nil)
	case "all":
		data["Flash"] = cat.T(lang, "notices.done_all_read", nil)
	}
	h.console.Page(c, http.StatusOK, "console_notices.html", "notices.title", data)
}

func (h *HTTP) consoleRead(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	if err := h.svc.MarkRead(ctx, db, r.tenant, r.staffID, c.Param("id")); err != nil {
		h.console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/notices?done=read")
}

func (h *HTTP) consoleReadAll(c *gin.Context) {
	r, ok := h.consoleReq(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	if _, err := h.svc.MarkAllRead(ctx, db, r.tenant, r.staffID); err != nil {
		h.console.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/notices?done=all")
}

func tenantZone(t tenants.Tenant) *time.Location {
	if loc, err := time.LoadLocation(t.TimeZone); err == nil && t.TimeZone != "" {
		return loc
	}
	return tokyo()
}

// noticeView is a notice as the pages show it: text from the catalogs,
// instants in the zone of the page.
type noticeView struct {
	ID         string
	Kind       Kind
	KindText   string
	Title      string
	When       string
	StateText  string
	Posted     string
	Paragraphs [][]string // the body: paragraphs of lines
	Urgent     bool
	Read       bool
}

func toNoticeView(cat *i18n.Catalog, lang string, zone *time.Location, n Notice, now time.Time, zoneName bool) noticeView {
	when := func(t time.Time) string {
		s := formatWhen(t, zone, lang)
		if zoneName {
			s += " " + t.In(zone).Format("MST")
		}
		return s
	}
	v := noticeView{ID: n.ID, Kind: n.Kind, Title: n.Title, Urgent: n.Urgent,
		KindText:   cat.T(lang, "notices.kind."+string(n.Kind), nil),
		StateText:  stateText(cat, lang, n, now),
		Posted:     cat.T(lang, "notices.posted", map[string]any{"At": when(n.CreatedAt)}),
		Paragraphs: paragraphs(n.Body)}
	switch {
	case n.Kind == KindEndOfService:
		v.When = cat.T(lang, "notices.when.end_of_service", map[string]any{"At": when(n.StartsAt)})
	case n.EndsAt.IsZero():
		v.When = cat.T(lang, "notices.when.from", map[string]any{"Start": when(n.StartsAt)})
	default:
		v.When = cat.T(lang, "notices.when.window", map[string]any{"Start": when(n.StartsAt), "End": when(n.EndsAt)})
	}
	return v
}

// stateText names a notice's state, in the kind's own words where the
// catalogs have them (an incident is "ongoing", then "resolved").
func stateText(cat *i18n.Catalog, lang string, n Notice, now time.Time) string {
	id := "notices.state." + string(n.State(now))
	if cat.Has(id + "." + string(n.Kind)) {
		id += "." + string(n.Kind)
	}
	return cat.T(lang, id, nil)
}

// paragraphs splits a plain-text body at blank lines into paragraphs of
// lines, for templates to join with <br> (html/template escapes each line).
func paragraphs(body string) [][]string {
	var out [][]string
	var cur []string
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, " ")
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

var jaWeekdays = [...]string{"日", "月", "火", "水", "木", "金", "土"}

// formatWhen writes an instant in zone as people read it: 2026年12月10日(木)
// 10:00 in Japanese, Thu, 10 Dec 2026 10:00 in English.
func formatWhen(t time.Time, zone *time.Location, lang string) string {
	t = t.In(zone)
	if lang == i18n.English {
		return t.Format("Mon, 2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日") + "(" + jaWeekdays[t.Weekday()] + ") " + t.Format("15:04")
}
