package menus

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
)

// Guard is a permission check as middleware: identity's API.Need for the
// tenant API, Console.Need for the console.
type Guard func(area authz.Area, action authz.Action) gin.HandlerFunc

// ConsoleShell is what the catalog pages need of the staff console
// (identity.Console provides it).
type ConsoleShell struct {
	// Page renders a template inside the console's shell (see
	// identity.Console.Page).
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	CSRF gin.HandlerFunc                 // refuses a form post without the session's token
	Fail func(c *gin.Context, err error) // an error as a console page
	Need Guard                           // the signed-in role's permission check
}

// HTTPConfig wires the HTTP side of the catalog.
type HTTPConfig struct {
	Service *Service
	Views   *view.Renderer
	APINeed Guard        // for RegisterAPI
	Console ConsoleShell // for RegisterConsole
	// Perms answers whether the signed-in role may edit (forms are shown
	// read-only otherwise).
	Perms identity.Permissions
}

// HTTP serves the catalog's tenant API, public API and console pages.
type HTTP struct{ cfg HTTPConfig }

// NewHTTP returns the HTTP side of the catalog.
func NewHTTP(cfg HTTPConfig) *HTTP { return &HTTP{cfg: cfg} }

// Nav returns the console's navigation entries of the catalog, for
// identity.ConsoleConfig.Nav.
func Nav() []identity.NavEntry {
	return []identity.NavEntry{
		{Area: authz.AreaMenus, Path: "/menus", Label: "menus.nav.menus"},
		{Area: authz.AreaMenus, Path: "/categories", Label: "menus.nav.categories"},
		{Area: authz.AreaMenus, Path: "/providers", Label: "menus.nav.providers"},
		{Area: authz.AreaMenus, Path: "/resources", Label: "menus.nav.resources"},
	}
}

// RegisterAPI adds the catalog to the tenant API (g: "/api/v1" after the
// API key and Idempotency-Key middleware). Changes are PATCH (partial: what
// the body names changes; a list given replaces the whole list).
func (h *HTTP) RegisterAPI(g *gin.RouterGroup) {
	view, edit := h.cfg.APINeed(authz.AreaMenus, authz.ActionView), h.cfg.APINeed(authz.AreaMenus, authz.ActionEdit)
	g.POST("/categories", edit, h.createCategory)
	g.GET("/categories", view, h.listCategories)
	g.GET("/categories/:id", view, h.getCategory)
	g.PATCH("/categories/:id", edit, h.updateCategory)
	g.DELETE("/categories/:id", edit, h.deleteCategory)

	g.POST("/menus", edit, h.createMenu)
	g.GET("/menus", view, h.listMenus)
	g.GET("/menus/:id", view, h.getMenu)
	g.PATCH("/menus/:id", edit, h.updateMenu)
	g.DELETE("/menus/:id", edit, h.archiveMenu)

	g.POST("/providers", edit, h.createProvider)
	g.GET("/providers", view, h.listProviders)
	g.GET("/providers/:id", view, h.getProvider)
	g.PATCH("/providers/:id", edit, h.updateProvider)
	g.DELETE("/providers/:id", edit, h.deleteProvider)

	g.POST("/resources", edit, h.createResource)
	g.GET("/resources", view, h.listResources)
	g.GET("/resources/:id", view, h.getResource)
	g.PATCH("/resources/:id", edit, h.updateResource)
	g.DELETE("/resources/:id", edit, h.deleteResource)

	g.GET("/booking-rules", view, h.getRules)
	g.PUT("/booking-rules", edit, h.putRules)
}

// RegisterPublic adds the public catalog to g ("/api/v1/public/:tenant"
// after the tenant middleware).
func (h *HTTP) RegisterPublic(g *gin.RouterGroup) {
	g.GET("/menus", h.publicMenus)
}

// apiDB is the request's tenant database; a failure has been answered.
func apiDB(c *gin.Context) (bun.IDB, bool) {
	db, err := tenantdb.From(c.Request.Context())
	if err != nil {
		httpx.Fail(c, err)
		return nil, false
	}
	return db, true
}

// nullable is a JSON field that tells absent from null: Set is true when
// the field was present, Value nil when it was null.
type nullable[T any] struct {
	Set   bool
	Value *T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// pageOf reads ?limit= and ?cursor=.
func pageOf(c *gin.Context) (PageParams, error) {
	p := PageParams{After: c.Query("cursor"), Limit: MaxPageSize}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxPageSize {
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

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ---- Categories ----

type categoryJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	NameEN    string    `json:"name_en"`
	Position  int       `json:"position"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toCategoryJSON(c Category) categoryJSON {
	return categoryJSON{ID: c.ID, Name: c.NameJA, NameEN: c.NameEN, Position: c.Position, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type categoryCreateRequest struct {
	Name     string `json:"name"`
	NameEN   string `json:"name_en"`
	Position int    `json:"position"`
}

type categoryUpdateRequest struct {
	Name     *string `json:"name"`
	NameEN   *string `json:"name_en"`
	Position *int    `json:"position"`
}

func (h *HTTP) createCategory(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req categoryCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	cat, err := h.cfg.Service.CreateCategory(c.Request.Context(), db, CategoryInput{NameJA: req.Name, NameEN: req.NameEN, Position: req.Position})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/categories/"+cat.ID)
	c.JSON(http.StatusCreated, toCategoryJSON(cat))
}

func (h *HTTP) listCategories(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	p, err := pageOf(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	cats, next, err := h.cfg.Service.ListCategories(c.Request.Context(), db, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON[categoryJSON]{Items: make([]categoryJSON, 0, len(cats)), NextCursor: next}
	for _, x := range cats {
		out.Items = append(out.Items, toCategoryJSON(x))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) getCategory(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	cat, err := h.cfg.Service.GetCategory(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toCategoryJSON(cat))
}

func (h *HTTP) updateCategory(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req categoryUpdateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	cat, err := h.cfg.Service.UpdateCategory(c.Request.Context(), db, c.Param("id"),
		CategoryPatch{NameJA: req.Name, NameEN: req.NameEN, Position: req.Position})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toCategoryJSON(cat))
}

func (h *HTTP) deleteCategory(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	if err := h.cfg.Service.DeleteCategory(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- Menus ----

type optionJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	NameEN       string `json:"name_en"`
	Price        int64  `json:"price"`
	ExtraMinutes int    `json:"extra_minutes"`
}

type questionJSON struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Label       string   `json:"label"`
	LabelEN     string   `json:"label_en"`
	Choices     []string `json:"choices"`
	Requirement string   `json:"requirement"`
}

type resourceNeedJSON struct {
	ResourceID string `json:"resource_id"`
	Quantity   int    `json:"quantity"`
}

type rulesJSON struct {
	OpensDaysBefore       int    `json:"opens_days_before"`
	ClosesMinutesBefore   int    `json:"closes_minutes_before"`
	ClosesInBusinessDays  bool   `json:"closes_in_business_days"`
	ClosesBusinessDays    int    `json:"closes_business_days"`
	CancelDeadlineMinutes int    `json:"cancel_deadline_minutes"`
	ChangeDeadlineMinutes int    `json:"change_deadline_minutes"`
	MaxPerMember          int    `json:"max_per_member"`
	MaxPerMemberPeriod    string `json:"max_per_member_period"`
}

func toRulesJSON(r Rules) rulesJSON {
	return rulesJSON{OpensDaysBefore: r.OpensDaysBefore, ClosesMinutesBefore: r.ClosesMinutesBefore,
		ClosesInBusinessDays: r.ClosesInBusinessDays, ClosesBusinessDays: r.ClosesBusinessDays,
		CancelDeadlineMinutes: r.CancelDeadlineMinutes, ChangeDeadlineMinutes: r.ChangeDeadlineMinutes,
		MaxPerMember: r.MaxPerMember, MaxPerMemberPeriod: string(r.MaxPerMemberPeriod)}
}

func (r rulesJSON) toRules() Rules {
	return Rules{OpensDaysBefore: r.OpensDaysBefore, ClosesMinutesBefore: r.ClosesMinutesBefore,
		ClosesInBusinessDays: r.ClosesInBusinessDays, ClosesBusinessDays: r.ClosesBusinessDays,
		CancelDeadlineMinutes: r.CancelDeadlineMinutes, ChangeDeadlineMinutes: r.ChangeDeadlineMinutes,
		MaxPerMember: r.MaxPerMember, MaxPerMemberPeriod: Period(r.MaxPerMemberPeriod)}
}

type menuJSON struct {
	ID               string             `json:"id"`
	CategoryID       *string            `json:"category_id"`
	Name             string             `json:"name"`
	NameEN           string             `json:"name_en"`
	Description      string             `json:"description"`
	DescriptionEN    string             `json:"description_en"`
	DurationMinutes  int                `json:"duration_minutes"`
	Price            int64              `json:"price"`
	Capacity         int                `json:"capacity"`
	PartyMin         int                `json:"party_min"`
	PartyMax         int                `json:"party_max"`
	BookingMode      string             `json:"booking_mode"`
	ApprovalRequired bool               `json:"approval_required"`
	Visibility       string             `json:"visibility"`
	Position         int                `json:"position"`
	Options          []optionJSON       `json:"options"`
	Questions        []questionJSON     `json:"questions"`
	ProviderIDs      []string           `json:"provider_ids"`
	Resources        []resourceNeedJSON `json:"resources"`
	Rules            *rulesJSON         `json:"rules"`
	EffectiveRules   rulesJSON          `json:"effective_rules"`
	Archived         bool               `json:"archived"`
	CreatedAt        time.Time          `json:"created_at"`
	UpdatedAt        time.Time          `json:"updated_at"`
}

func toOptionsJSON(os []Option) []optionJSON {
	out := make([]optionJSON, 0, len(os))
	for _, o := range os {
		out = append(out, optionJSON{ID: o.ID, Name: o.NameJA, NameEN: o.NameEN, Price: o.Price, ExtraMinutes: o.ExtraMinutes})
	}
	return out
}

func toQuestionJSON(q Question) questionJSON {
	ch := q.Choices
	if ch == nil {
		ch = []string{}
	}
	return questionJSON{ID: q.ID, Kind: string(q.Kind), Label: q.LabelJA, LabelEN: q.LabelEN, Choices: ch, Requirement: string(q.Requirement)}
}

func toMenuJSON(m Menu) menuJSON {
	out := menuJSON{ID: m.ID, CategoryID: strPtr(m.CategoryID), Name: m.NameJA, NameEN: m.NameEN,
		Description: m.DescriptionJA, DescriptionEN: m.DescriptionEN, DurationMinutes: m.DurationMinutes,
		Price: m.Price, Capacity: m.Capacity, PartyMin: m.PartyMin, PartyMax: m.PartyMax,
		BookingMode: string(m.BookingMode), ApprovalRequired: m.ApprovalRequired, Visibility: string(m.Visibility),
		Position: m.Position, Options: toOptionsJSON(m.Options), Questions: make([]questionJSON, 0, len(m.Questions)),
		ProviderIDs: m.ProviderIDs, Resources: make([]resourceNeedJSON, 0, len(m.Resources)),
		EffectiveRules: toRulesJSON(m.Effective), Archived: m.Archived(), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	if out.ProviderIDs == nil {
		out.ProviderIDs = []string{}
	}
	for _, q := range m.Questions {
		out.Questions = append(out.Questions, toQuestionJSON(q))
	}
	for _, r := range m.Resources {
		out.Resources = append(out.Resources, resourceNeedJSON{ResourceID: r.ResourceID, Quantity: r.Quantity})
	}
	if m.Rules != nil {
		r := toRulesJSON(*m.Rules)
		out.Rules = &r
	}
	return out
}

type optionRequest struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	NameEN       string `json:"name_en"`
	Price        int64  `json:"price"`
	ExtraMinutes int    `json:"extra_minutes"`
}

type questionRequest struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Label       string   `json:"label"`
	LabelEN     string   `json:"label_en"`
	Choices     []string `json:"choices"`
	Requirement string   `json:"requirement"`
}

func toOptionInputs(rs []optionRequest) []OptionInput {
	out := make([]OptionInput, len(rs))
	for i, r := range rs {
		out[i] = OptionInput{ID: r.ID, NameJA: r.Name, NameEN: r.NameEN, Price: r.Price, ExtraMinutes: r.ExtraMinutes}
	}
	return out
}

func toQuestionInputs(rs []questionRequest) []QuestionInput {
	out := make([]QuestionInput, len(rs))
	for i, r := range rs {
		out[i] = QuestionInput{ID: r.ID, Kind: QuestionKind(r.Kind), LabelJA: r.Label, LabelEN: r.LabelEN,
			Choices: r.Choices, Requirement: Requirement(r.Requirement)}
	}
	return out
}

func toNeeds(rs []resourceNeedJSON) []ResourceNeed {
	out := make([]ResourceNeed, len(rs))
	for i, r := range rs {
		out[i] = ResourceNeed{ResourceID: r.ResourceID, Quantity: r.Quantity}
	}
	return out
}

// menuCreateRequest is the body of POST /api/v1/menus.
type menuCreateRequest struct {
	CategoryID       *string            `json:"category_id"`
	Name             string             `json:"name"`
	NameEN           string             `json:"name_en"`
	Description      string             `json:"description"`
	DescriptionEN    string             `json:"description_en"`
	DurationMinutes  int                `json:"duration_minutes"`
	Price            int64              `json:"price"`
	Capacity         int                `json:"capacity"`
	PartyMin         int                `json:"party_min"`
	PartyMax         int                `json:"party_max"`
	BookingMode      string             `json:"booking_mode"`
	ApprovalRequired bool               `json:"approval_required"`
	Visibility       string             `json:"visibility"`
	Position         int                `json:"position"`
	Options          []optionRequest    `json:"options"`
	Questions        []questionRequest  `json:"questions"`
	ProviderIDs      []string           `json:"provider_ids"`
	Resources        []resourceNeedJSON `json:"resources"`
	Rules            *rulesJSON         `json:"rules"`
}

func (r menuCreateRequest) toInput() MenuInput {
	in := MenuInput{NameJA: r.Name, NameEN: r.NameEN, DescriptionJA: r.Description, DescriptionEN: r.DescriptionEN,
		DurationMinutes: r.DurationMinutes, Price: r.Price, Capacity: r.Capacity, PartyMin: r.PartyMin, PartyMax: r.PartyMax,
		BookingMode: BookingMode(r.BookingMode), ApprovalRequired: r.ApprovalRequired, Visibility: Visibility(r.Visibility),
		Position: r.Position, Options: toOptionInputs(r.Options), Questions: toQuestionInputs(r.Questions),
		ProviderIDs: r.ProviderIDs, Resources: toNeeds(r.Resources)}
	if r.CategoryID != nil {
		in.CategoryID = *r.CategoryID
	}
	if r.Rules != nil {
		rules := r.Rules.toRules()
		in.Rules = &rules
	}
	return in
}

// menuUpdateRequest is the body of PATCH /api/v1/menus/{id}: what it names
// changes; "rules": null returns to the tenant's defaults, "category_id":
// null uncategorises, "archived": false restores an archived menu.
type menuUpdateRequest struct {
	CategoryID       nullable[string]    `json:"category_id"`
	Name             *string             `json:"name"`
	NameEN           *string             `json:"name_en"`
	Description      *string             `json:"description"`
	DescriptionEN    *string             `json:"description_en"`
	DurationMinutes  *int                `json:"duration_minutes"`
	Price            *int64              `json:"price"`
	Capacity         *int                `json:"capacity"`
	PartyMin         *int                `json:"party_min"`
	PartyMax         *int                `json:"party_max"`
	BookingMode      *string             `json:"booking_mode"`
	ApprovalRequired *bool               `json:"approval_required"`
	Visibility       *string             `json:"visibility"`
	Position         *int                `json:"position"`
	Options          *[]optionRequest    `json:"options"`
	Questions        *[]questionRequest  `json:"questions"`
	ProviderIDs      *[]string           `json:"provider_ids"`
	Resources        *[]resourceNeedJSON `json:"resources"`
	Rules            nullable[rulesJSON] `json:"rules"`
	Archived         *bool               `json:"archived"`
}

func (r menuUpdateRequest) toPatch() MenuPatch {
	p := MenuPatch{NameJA: r.Name, NameEN: r.NameEN, DescriptionJA: r.Description, DescriptionEN: r.DescriptionEN,
		DurationMinutes: r.DurationMinutes, Price: r.Price, Capacity: r.Capacity, PartyMin: r.PartyMin,
		PartyMax: r.PartyMax, ApprovalRequired: r.ApprovalRequired, Position: r.Position, Archived: r.Archived}
	if r.CategoryID.Set {
		id := ""
		if r.CategoryID.Value != nil {
			id = *r.CategoryID.Value
		}
		p.CategoryID = &id
	}
	if r.BookingMode != nil {
		m := BookingMode(*r.BookingMode)
		p.BookingMode = &m
	}
	if r.Visibility != nil {
		v := Visibility(*r.Visibility)
		p.Visibility = &v
	}
	if r.Options != nil {
		o := toOptionInputs(*r.Options)
		p.Options = &o
	}
	if r.Questions != nil {
		q := toQuestionInputs(*r.Questions)
		p.Questions = &q
	}
	if r.ProviderIDs != nil {
		ids := *r.ProviderIDs
		p.ProviderIDs = &ids
	}
	if r.Resources != nil {
		n := toNeeds(*r.Resources)
		p.Resources = &n
	}
	if r.Rules.Set {
		p.SetRules = true
		if r.Rules.Value != nil {
			rules := r.Rules.Value.toRules()
			p.Rules = &rules
		}
	}
	return p
}

func (h *HTTP) createMenu(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req menuCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	m, err := h.cfg.Service.CreateMenu(c.Request.Context(), db, req.toInput())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/menus/"+m.ID)
	c.JSON(http.StatusCreated, toMenuJSON(m))
}

func oneOf[T ~string](c *gin.Context, name string, all []T) ([]T, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	for _, a := range all {
		if string(a) == v {
			return []T{a}, nil
		}
	}
	return nil, apperr.Invalid(apperr.Field(name, "oneof", enumParam(all)))
}

func (h *HTTP) listMenus(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	pp, err := pageOf(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	p := ListParams{PageParams: pp, CategoryID: c.Query("category_id"), IncludeArchived: c.Query("include_archived") == "true"}
	if p.Visibilities, err = oneOf(c, "visibility", Visibilities()); err != nil {
		httpx.Fail(c, err)
		return
	}
	if p.BookingModes, err = oneOf(c, "booking_mode", BookingModes()); err != nil {
		httpx.Fail(c, err)
		return
	}
	ms, next, err := h.cfg.Service.List(c.Request.Context(), db, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON[menuJSON]{Items: make([]menuJSON, 0, len(ms)), NextCursor: next}
	for _, m := range ms {
		out.Items = append(out.Items, toMenuJSON(m))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) getMenu(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	m, err := h.cfg.Service.Get(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMenuJSON(m))
}

func (h *HTTP) updateMenu(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req menuUpdateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	m, err := h.cfg.Service.UpdateMenu(c.Request.Context(), db, c.Param("id"), req.toPatch())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMenuJSON(m))
}

func (h *HTTP) archiveMenu(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	if _, err := h.cfg.Service.ArchiveMenu(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- Providers ----

type providerJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	StaffID   *string   `json:"staff_id"`
	Active    bool      `json:"active"`
	Position  int       `json:"position"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toProviderJSON(p Provider) providerJSON {
	return providerJSON{ID: p.ID, Name: p.Name, StaffID: strPtr(p.StaffID), Active: p.Active, Position: p.Position,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type providerCreateRequest struct {
	Name     string  `json:"name"`
	StaffID  *string `json:"staff_id"`
	Active   *bool   `json:"active"`
	Position int     `json:"position"`
}

type providerUpdateRequest struct {
	Name     *string          `json:"name"`
	StaffID  nullable[string] `json:"staff_id"`
	Active   *bool            `json:"active"`
	Position *int             `json:"position"`
}

func (h *HTTP) createProvider(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req providerCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	in := ProviderInput{Name: req.Name, Active: req.Active == nil || *req.Active, Position: req.Position}
	if req.StaffID != nil {
		in.StaffID = *req.StaffID
	}
	p, err := h.cfg.Service.CreateProvider(c.Request.Context(), db, in)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/providers/"+p.ID)
	c.JSON(http.StatusCreated, toProviderJSON(p))
}

func (h *HTTP) listProviders(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	p, err := pageOf(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	ps, next, err := h.cfg.Service.ListProviders(c.Request.Context(), db, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON[providerJSON]{Items: make([]providerJSON, 0, len(ps)), NextCursor: next}
	for _, x := range ps {
		out.Items = append(out.Items, toProviderJSON(x))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) getProvider(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	p, err := h.cfg.Service.GetProvider(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toProviderJSON(p))
}

func (h *HTTP) updateProvider(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req providerUpdateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	patch := ProviderPatch{Name: req.Name, Active: req.Active, Position: req.Position}
	if req.StaffID.Set {
		id := ""
		if req.StaffID.Value != nil {
			id = *req.StaffID.Value
		}
		patch.StaffID = &id
	}
	p, err := h.cfg.Service.UpdateProvider(c.Request.Context(), db, c.Param("id"), patch)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toProviderJSON(p))
}

func (h *HTTP) deleteProvider(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	if err := h.cfg.Service.DeleteProvider(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- Resources ----

type resourceJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Quantity  int       `json:"quantity"`
	Active    bool      `json:"active"`
	Position  int       `json:"position"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toResourceJSON(r Resource) resourceJSON {
	return resourceJSON{ID: r.ID, Name: r.Name, Quantity: r.Quantity, Active: r.Active, Position: r.Position,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type resourceCreateRequest struct {
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Active   *bool  `json:"active"`
	Position int    `json:"position"`
}

type resourceUpdateRequest struct {
	Name     *string `json:"name"`
	Quantity *int    `json:"quantity"`
	Active   *bool   `json:"active"`
	Position *int    `json:"position"`
}

func (h *HTTP) createResource(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req resourceCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	r, err := h.cfg.Service.CreateResource(c.Request.Context(), db,
		ResourceInput{Name: req.Name, Quantity: req.Quantity, Active: req.Active == nil || *req.Active, Position: req.Position})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/resources/"+r.ID)
	c.JSON(http.StatusCreated, toResourceJSON(r))
}

func (h *HTTP) listResources(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	p, err := pageOf(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	rs, next, err := h.cfg.Service.ListResources(c.Request.Context(), db, p)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON[resourceJSON]{Items: make([]resourceJSON, 0, len(rs)), NextCursor: next}
	for _, x := range rs {
		out.Items = append(out.Items, toResourceJSON(x))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) getResource(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	r, err := h.cfg.Service.GetResource(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toResourceJSON(r))
}

func (h *HTTP) updateResource(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req resourceUpdateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	r, err := h.cfg.Service.UpdateResource(c.Request.Context(), db, c.Param("id"),
		ResourcePatch{Name: req.Name, Quantity: req.Quantity, Active: req.Active, Position: req.Position})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toResourceJSON(r))
}

func (h *HTTP) deleteResource(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	if err := h.cfg.Service.DeleteResource(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// ---- Default rules ----

func (h *HTTP) getRules(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	r, err := h.cfg.Service.TenantRules(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toRulesJSON(r))
}

func (h *HTTP) putRules(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	var req rulesJSON
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	r, err := h.cfg.Service.SetTenantRules(c.Request.Context(), db, req.toRules())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toRulesJSON(r))
}

// ---- Public ----

// publicMenuJSON is a menu as the booking site shows it. A members-only
// menu shows its name, category and badge only; its details are for
// signed-in members (with the member login).
type publicMenuJSON struct {
	ID               string               `json:"id"`
	CategoryID       *string              `json:"category_id"`
	Name             string               `json:"name"`
	NameEN           string               `json:"name_en"`
	MembersOnly      bool                 `json:"members_only"`
	Description      string               `json:"description,omitempty"`
	DescriptionEN    string               `json:"description_en,omitempty"`
	DurationMinutes  int                  `json:"duration_minutes,omitempty"`
	Price            *int64               `json:"price,omitempty"`
	PartyMin         int                  `json:"party_min,omitempty"`
	PartyMax         int                  `json:"party_max,omitempty"`
	BookingMode      string               `json:"booking_mode,omitempty"`
	ApprovalRequired bool                 `json:"approval_required,omitempty"`
	Options          []optionJSON         `json:"options,omitempty"`
	Questions        []questionJSON       `json:"questions,omitempty"`
	Providers        []publicProviderJSON `json:"providers,omitempty"`
}

type publicProviderJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type publicCategoryJSON struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	NameEN string `json:"name_en"`
}

type publicCatalogJSON struct {
	Categories []publicCategoryJSON `json:"categories"`
	Menus      []publicMenuJSON     `json:"menus"`
}

// toPublicMenu shows m to the public: staff-only questions, inactive
// providers and everything of a members-only menu but its name are left out.
func toPublicMenu(m Menu, providers map[string]Provider) publicMenuJSON {
	out := publicMenuJSON{ID: m.ID, CategoryID: strPtr(m.CategoryID), Name: m.NameJA, NameEN: m.NameEN,
		MembersOnly: m.Visibility == VisibilityMembers}
	if out.MembersOnly {
		return out
	}
	price := m.Price
	out.Description, out.DescriptionEN = m.DescriptionJA, m.DescriptionEN
	out.DurationMinutes, out.Price, out.PartyMin, out.PartyMax = m.DurationMinutes, &price, m.PartyMin, m.PartyMax
	out.BookingMode, out.ApprovalRequired = string(m.BookingMode), m.ApprovalRequired
	out.Options = toOptionsJSON(m.Options)
	out.Questions = []questionJSON{}
	for _, q := range m.Questions {
		if q.Requirement != StaffOnly {
			out.Questions = append(out.Questions, toQuestionJSON(q))
		}
	}
	out.Providers = []publicProviderJSON{}
	for _, id := range m.ProviderIDs {
		if p, ok := providers[id]; ok && p.Active {
			out.Providers = append(out.Providers, publicProviderJSON{ID: p.ID, Name: p.Name})
		}
	}
	return out
}

func (h *HTTP) publicMenus(c *gin.Context) {
	db, ok := apiDB(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	cat, err := h.cfg.Service.PublicCatalog(ctx, db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	byID := make(map[string]Provider, len(cat.Providers))
	for _, p := range cat.Providers {
		byID[p.ID] = p
	}
	out := publicCatalogJSON{Categories: make([]publicCategoryJSON, 0, len(cat.Categories)), Menus: make([]publicMenuJSON, 0, len(cat.Menus))}
	for _, x := range cat.Categories {
		out.Categories = append(out.Categories, publicCategoryJSON{ID: x.ID, Name: x.NameJA, NameEN: x.NameEN})
	}
	for _, m := range cat.Menus {
		out.Menus = append(out.Menus, toPublicMenu(m, byID))
	}
	// The catalog changes rarely and is the same for everyone.
	c.Header("Cache-Control", "public, max-age=30")
	c.JSON(http.StatusOK, out)
}
