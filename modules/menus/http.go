package menus

import (
	"bytes"
	"context"
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
	s := h.cfg.Service
	view, edit := h.cfg.APINeed(authz.AreaMenus, authz.ActionView), h.cfg.APINeed(authz.AreaMenus, authz.ActionEdit)
	g.POST("/categories", edit, createHandler[categoryCreateRequest]("/api/v1/categories/", s.CreateCategory, toCategoryJSON))
	g.GET("/categories", view, listHandler(pageOf, s.ListCategories, toCategoryJSON))
	g.GET("/categories/:id", view, getHandler(s.GetCategory, toCategoryJSON))
	g.PATCH("/categories/:id", edit, updateHandler[categoryUpdateRequest](s.UpdateCategory, toCategoryJSON))
	g.DELETE("/categories/:id", edit, deleteHandler(s.DeleteCategory))

	g.POST("/menus", edit, createHandler[menuCreateRequest]("/api/v1/menus/", s.CreateMenu, toMenuJSON))
	g.GET("/menus", view, listHandler(menuListParams, s.List, toMenuJSON))
	g.GET("/menus/:id", view, getHandler(s.Get, toMenuJSON))
	g.PATCH("/menus/:id", edit, updateHandler[menuUpdateRequest](s.UpdateMenu, toMenuJSON))
	// DELETE archives the menu; PATCH {"archived": false} restores it.
	g.DELETE("/menus/:id", edit, deleteHandler(func(ctx context.Context, db bun.IDB, id string) error {
		_, err := s.ArchiveMenu(ctx, db, id)
		return err
	}))

	g.POST("/providers", edit, createHandler[providerCreateRequest]("/api/v1/providers/", s.CreateProvider, toProviderJSON))
	g.GET("/providers", view, listHandler(pageOf, s.ListProviders, toProviderJSON))
	g.GET("/providers/:id", view, getHandler(s.GetProvider, toProviderJSON))
	g.PATCH("/providers/:id", edit, updateHandler[providerUpdateRequest](s.UpdateProvider, toProviderJSON))
	g.DELETE("/providers/:id", edit, deleteHandler(s.DeleteProvider))

	g.POST("/resources", edit, createHandler[resourceCreateRequest]("/api/v1/resources/", s.CreateResource, toResourceJSON))
	g.GET("/resources", view, listHandler(pageOf, s.ListResources, toResourceJSON))
	g.GET("/resources/:id", view, getHandler(s.GetResource, toResourceJSON))
	g.PATCH("/resources/:id", edit, updateHandler[resourceUpdateRequest](s.UpdateResource, toResourceJSON))
	g.DELETE("/resources/:id", edit, deleteHandler(s.DeleteResource))

	g.GET("/booking-rules", view, h.getRules)
	g.PUT("/booking-rules", edit, h.putRules)

	g.GET("/menus/:id/payment-policy", view, h.getPaymentPolicy)
	g.PUT("/menus/:id/payment-policy", edit, h.putPaymentPolicy)
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

// The tenant API's item handlers share one shape: the tenant database, the
// request's input, one service call, then the answer as JSON or, on any
// failure, the problem httpx.Fail writes. Each kind names its service calls
// and converters (in RegisterAPI); these helpers are the shape.

// apiItem is an item's JSON, which knows its id (for Location).
type apiItem interface{ itemID() string }

// listHandler answers GET of a collection: params reads the query (page and
// filters), list pages through, each item goes out through toJSON.
func listHandler[P, T, J any](params func(*gin.Context) (P, error), list func(context.Context, bun.IDB, P) ([]T, string, error), toJSON func(T) J) gin.HandlerFunc {
	return func(c *gin.Context) {
		db, ok := apiDB(c)
		if !ok {
			return
		}
		p, err := params(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		xs, next, err := list(c.Request.Context(), db, p)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		out := listJSON[J]{Items: make([]J, 0, len(xs)), NextCursor: next}
		for _, x := range xs {
			out.Items = append(out.Items, toJSON(x))
		}
		c.JSON(http.StatusOK, out)
	}
}

// getHandler answers GET of the item :id.
func getHandler[T, J any](get func(context.Context, bun.IDB, string) (T, error), toJSON func(T) J) gin.HandlerFunc {
	return func(c *gin.Context) {
		db, ok := apiDB(c)
		if !ok {
			return
		}
		x, err := get(c.Request.Context(), db, c.Param("id"))
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, toJSON(x))
	}
}

// createHandler answers POST to a collection: the body binds to R, whose
// toInput is what create takes; the new item is answered 201 with its
// Location (collection + id).
func createHandler[R interface{ toInput() I }, I, T any, J apiItem](collection string, create func(context.Context, bun.IDB, I) (T, error), toJSON func(T) J) gin.HandlerFunc {
	return func(c *gin.Context) {
		db, ok := apiDB(c)
		if !ok {
			return
		}
		var req R
		if err := httpx.BindJSON(c, &req); err != nil {
			httpx.Fail(c, err)
			return
		}
		x, err := create(c.Request.Context(), db, req.toInput())
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		out := toJSON(x)
		c.Header("Location", collection+out.itemID())
		c.JSON(http.StatusCreated, out)
	}
}

// updateHandler answers PATCH of the item :id: the body binds to R, whose
// toPatch is what update takes.
func updateHandler[R interface{ toPatch() P }, P, T, J any](update func(context.Context, bun.IDB, string, P) (T, error), toJSON func(T) J) gin.HandlerFunc {
	return func(c *gin.Context) {
		db, ok := apiDB(c)
		if !ok {
			return
		}
		var req R
		if err := httpx.BindJSON(c, &req); err != nil {
			httpx.Fail(c, err)
			return
		}
		x, err := update(c.Request.Context(), db, c.Param("id"), req.toPatch())
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, toJSON(x))
	}
}

// deleteHandler answers DELETE of the item :id with 204.
func deleteHandler(del func(context.Context, bun.IDB, string) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		db, ok := apiDB(c)
		if !ok {
			return
		}
		if err := del(c.Request.Context(), db, c.Param("id")); err != nil {
			httpx.Fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
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

func (j categoryJSON) itemID() string { return j.ID }

func (r categoryCreateRequest) toInput() CategoryInput {
	return CategoryInput{NameJA: r.Name, NameEN: r.NameEN, Position: r.Position}
}

func (r categoryUpdateRequest) toPatch() CategoryPatch {
	return CategoryPatch{NameJA: r.Name, NameEN: r.NameEN, Position: r.Position}
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

func (j menuJSON) itemID() string { return j.ID }

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

// menuListParams reads GET /api/v1/menus' page and filters.
func menuListParams(c *gin.Context) (ListParams, error) {
	pp, err := pageOf(c)
	if err != nil {
		return ListParams{}, err
	}
	p := ListParams{PageParams: pp, CategoryID: c.Query("category_id"), IncludeArchived: c.Query("include_archived") == "true"}
	if p.Visibilities, err = oneOf(c, "visibility", Visibilities()); err != nil {
		return ListParams{}, err
	}
	if p.BookingModes, err = oneOf(c, "booking_mode", BookingModes()); err != nil {
		return ListParams{}, err
	}
	return p, nil
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

func (j providerJSON) itemID() string { return j.ID }

func (r providerCreateRequest) toInput() ProviderInput {
	in := ProviderInput{Name: r.Name, Active: r.Active == nil || *r.Active, Position: r.Position}
	if r.StaffID != nil {
		in.StaffID = *r.StaffID
	}
	return in
}

func (r providerUpdateRequest) toPatch() ProviderPatch {
	p := ProviderPatch{Name: r.Name, Active: r.Active, Position: r.Position}
	if r.StaffID.Set {
		id := ""
		if r.StaffID.Value != nil {
			id = *r.StaffID.Value
		}
		p.StaffID = &id
	}
	return p
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

func (j resourceJSON) itemID() string { return j.ID }

func (r resourceCreateRequest) toInput() ResourceInput {
	return ResourceInput{Name: r.Name, Quantity: r.Quantity, Active: r.Active == nil || *r.Active, Position: r.Position}
}

func (r resourceUpdateRequest) toPatch() ResourcePatch {
	return ResourcePatch{Name: r.Name, Quantity: r.Quantity, Active: r.Active, Position: r.Position}
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
