package reservations

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/idempotency"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// NeedFunc is the tenant API's permission check (identity.API.Need).
type NeedFunc func(area authz.Area, action authz.Action) gin.HandlerFunc

// HTTPConfig wires the HTTP side.
type HTTPConfig struct {
	Service *Service
	APINeed NeedFunc
	// DB returns the request's tenant database (default tenantdb.From).
	DB func(ctx context.Context) (bun.IDB, error)
	// MemberSession puts a signed-in member in the context, if any
	// (members' OptionalSession); nil: guests only.
	MemberSession gin.HandlerFunc
}

// HTTP serves reservations on the tenant API and the public booking API.
type HTTP struct {
	svc           *Service
	need          NeedFunc
	db            func(ctx context.Context) (bun.IDB, error)
	memberSession gin.HandlerFunc
}

// NewHTTP returns the HTTP side.
func NewHTTP(cfg HTTPConfig) *HTTP {
	h := &HTTP{svc: cfg.Service, need: cfg.APINeed, db: cfg.DB, memberSession: cfg.MemberSession}
	if h.db == nil {
		h.db = tenantdb.From
	}
	if h.memberSession == nil {
		h.memberSession = func(c *gin.Context) { c.Next() }
	}
	return h
}

// RegisterAPI adds the tenant API routes to g ("/api/v1" after the API key
// middleware, whose group already keeps Idempotency-Key answers).
func (h *HTTP) RegisterAPI(g *gin.RouterGroup) {
	view, edit := h.need(authz.AreaReservations, authz.ActionView), h.need(authz.AreaReservations, authz.ActionEdit)
	g.GET("/reservations", view, h.list)
	g.GET("/reservations/:id", view, h.get)
	g.POST("/reservations", edit, h.book(false))
	g.POST("/reservations/:id/cancel", edit, h.change(ActionCancel))
	g.POST("/reservations/:id/confirm", edit, h.change(ActionConfirm))
	g.POST("/reservations/:id/reject", edit, h.change(ActionReject))
	g.POST("/reservations/:id/complete", edit, h.change(ActionComplete))
	g.POST("/reservations/:id/no-show", edit, h.change(ActionNoShow))
	g.POST("/reservations/:id/move", edit, h.move)
}

// RegisterPublic adds the booking API to g ("/api/v1/public/:tenant"
// after the tenant middleware). Its POSTs keep Idempotency-Key answers in
// the tenant's database, scoped to the public booking API of the tenant.
func (h *HTTP) RegisterPublic(g *gin.RouterGroup) {
	idem := idempotency.Middleware(idempotency.Config{
		DB:    func(c *gin.Context) (bun.IDB, error) { return h.db(c.Request.Context()) },
		Scope: publicScope,
	})
	g.POST("/reservations", h.anonymous, h.memberSession, idem, h.book(true))
	g.POST("/reservations/:id/cancel", h.anonymous, idem, h.publicCancel)
}

func (h *HTTP) idemDB(c *gin.Context) (bun.IDB, error) { return h.db(c.Request.Context()) }

func publicScope(c *gin.Context) string {
	t, _ := tenants.FromContext(c.Request.Context())
	return "public:" + t.ID
}

// anonymous records the public caller for the operation log: no account,
// its address and user agent.
func (h *HTTP) anonymous(c *gin.Context) {
	ctx := c.Request.Context()
	c.Request = c.Request.WithContext(auditlog.WithRequest(ctx, auditlog.Request{
		Actor: auditlog.Actor{Kind: auditlog.ActorAnonymous}, SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
		RequestID: logx.RequestID(ctx)}))
	c.Next()
}

type customerJSON struct {
	Name  string `json:"name" binding:"max=100,nocontrol"` // required of guests (Book)
	Kana  string `json:"kana" binding:"max=100,nocontrol"`
	Email string `json:"email" binding:"omitempty,email,max=254"`
	Phone string `json:"phone" binding:"max=32,nocontrol"`
}

type bookRequest struct {
	MenuID     string         `json:"menu_id" binding:"required,max=64"`
	StartsAt   string         `json:"starts_at" binding:"max=40"`
	SlotID     string         `json:"slot_id" binding:"max=64"`
	PartySize  *int           `json:"party_size"`
	ProviderID string         `json:"provider_id" binding:"max=64"`
	Options    []string       `json:"options" binding:"max=50"`
	Answers    map[string]any `json:"answers" binding:"max=50"`
	Customer   customerJSON   `json:"customer"`
	MemberID   string         `json:"member_id" binding:"max=64"`
	Lang       string         `json:"lang" binding:"omitempty,oneof=ja en"`
	Overbook   bool           `json:"overbook"`
}

type moveRequest struct {
	StartsAt   string `json:"starts_at" binding:"max=40"`
	SlotID     string `json:"slot_id" binding:"max=64"`
	ProviderID string `json:"provider_id" binding:"max=64"`
	Overbook   bool   `json:"overbook"`
}

type changeRequest struct {
	Reason string `json:"reason" binding:"max=500"`
	Token  string `json:"token" binding:"max=100"`
}

type reservationJSON struct {
	ID           string         `json:"id"`
	Number       string         `json:"number"`
	Status       string         `json:"status"`
	MenuID       string         `json:"menu_id"`
	SlotID       string         `json:"slot_id,omitempty"`
	StartsAt     string         `json:"starts_at"`
	EndsAt       string         `json:"ends_at"`
	TimeZone     string         `json:"time_zone"`
	PartySize    int            `json:"party_size"`
	ProviderID   string         `json:"provider_id,omitempty"`
	Options      []string       `json:"options"`
	Answers      map[string]any `json:"answers"`
	Price        int64          `json:"price"`
	Customer     customerOut    `json:"customer"`
	MemberID     string         `json:"member_id,omitempty"`
	Source       string         `json:"source"`
	Overbooked   bool           `json:"overbooked"`
	Version      int            `json:"version"`
	CreatedAt    string         `json:"created_at"`
	UpdatedAt    string         `json:"updated_at"`
	CancelledAt  string         `json:"cancelled_at,omitempty"`
	CancelReason string         `json:"cancel_reason,omitempty"`
	CancelToken  string         `json:"cancel_token,omitempty"`
	// Payment: a prepaid booking's payment, completed in the browser.
	Payment *paymentJSON `json:"payment,omitempty"`
}

type customerOut struct {
	Name  string `json:"name"`
	Kana  string `json:"kana"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// rfc3339Offset writes instants with the tenant's numeric offset.
const rfc3339Offset = "2006-01-02T15:04:05-07:00"

func toJSON(r Reservation, zone *time.Location, public bool) reservationJSON {
	out := reservationJSON{ID: r.ID, Number: r.Number, Status: string(r.Status), MenuID: r.MenuID, SlotID: r.SlotID,
		StartsAt: r.StartsAt.In(zone).Format(rfc3339Offset), EndsAt: r.EndsAt.In(zone).Format(rfc3339Offset),
		TimeZone: zone.String(), PartySize: r.PartySize, ProviderID: r.ProviderID, Options: nonNil(r.OptionIDs),
		Answers: r.Answers, Price: r.Price, Customer: customerOut(r.Customer), MemberID: r.MemberID, Source: string(r.Source),
		Overbooked: r.Overbooked, Version: r.Version, CreatedAt: r.CreatedAt.In(zone).Format(rfc3339Offset),
		UpdatedAt: r.UpdatedAt.In(zone).Format(rfc3339Offset), CancelReason: r.CancelReason}
	if r.CancelledAt != nil {
		out.CancelledAt = r.CancelledAt.In(zone).Format(rfc3339Offset)
	}
	if out.Answers == nil {
		out.Answers = map[string]any{}
	}
	if public {
		// The booking site sees its own booking, not the staff's notes.
		out.Source, out.Overbooked = "", false
	}
	return out
}

// parseInstant reads RFC 3339 with an offset, or a civil
// "YYYY-MM-DDTHH:MM" in zone.
func parseInstant(s string, zone *time.Location) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04", s, zone); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

func (h *HTTP) req(c *gin.Context) (tenants.Tenant, bun.IDB, error) {
	t, _ := tenants.FromContext(c.Request.Context())
	db, err := h.db(c.Request.Context())
	return t, db, err
}

func sourceOf(c *gin.Context, public bool) (Source, identity.Principal) {
	if public {
		return SourcePublic, identity.Principal{}
	}
	p, _ := identity.PrincipalFrom(c.Request.Context())
	if p.Kind == identity.PrincipalStaff {
		return SourceStaff, p
	}
	return SourceAPI, p
}

func (h *HTTP) book(public bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		t, db, err := h.req(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		var body bookRequest
		if err := httpx.BindJSON(c, &body); err != nil {
			httpx.Fail(c, err)
			return
		}
		zone := ZoneOf(t)
		src, p := sourceOf(c, public)
		in := BookInput{MenuID: body.MenuID, SlotID: body.SlotID, ProviderID: body.ProviderID, OptionIDs: body.Options,
			Answers: body.Answers, Customer: Customer(body.Customer), Source: src, SourceIP: c.ClientIP(),
			UserAgent: c.Request.UserAgent(), Lang: body.Lang, Overbook: body.Overbook}
		if in.Lang == "" {
			in.Lang = httpx.Lang(c)
		}
		var v apperr.Validator
		if body.PartySize == nil {
			v.Add("party_size", "required", nil)
		} else {
			in.PartySize = *body.PartySize
		}
		if body.StartsAt != "" {
			if in.StartsAt, _ = parseInstant(body.StartsAt, zone); in.StartsAt.IsZero() {
				v.Add("starts_at", "reservation_datetime", nil)
			}
		}
		if public && body.MemberID != "" {
			// Members book through their own session (members module);
			// the public API cannot claim a member id.
			v.Add("member_id", "reservation_staff_only", nil)
		}
		if !public {
			in.MemberID = body.MemberID
		} else if m, ok := members.MemberFrom(c.Request.Context()); ok {
			// A signed-in member books as themselves; their saved profile
			// fills what the request leaves out.
			in.MemberID = m.ID
			saved := memberCustomer(m)
			for _, f := range []struct {
				dst *string
				v   string
			}{{&in.Customer.Name, saved.Name},
				{&in.Customer.Kana, saved.Kana}, {&in.Customer.Email, saved.Email}, {&in.Customer.Phone, saved.Phone}} {
				if *f.dst == "" {
					*f.dst = f.v
				}
			}
		}
		if err := v.Err(); err != nil {
			httpx.Fail(c, err)
			return
		}
		if body.Overbook && (public || (p.Role != authz.RoleOwner && p.Role != authz.RoleAdmin)) {
			httpx.Fail(c, ErrOverbookForbidden)
			return
		}
		if key := c.GetHeader(idempotency.Header); key != "" {
			scope := publicScope(c)
			if !public {
				scope = p.Subject()
			}
			in.RequestKey = RequestKeyOf(scope, key)
		}
		b, err := h.svc.Book(c.Request.Context(), db, t, in)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		out := toJSON(b.Reservation, zone, public)
		out.CancelToken = b.CancelToken
		if b.Payment != nil {
			out.Payment = toPaymentJSON(*b.Payment, zone)
		}
		status := http.StatusCreated
		if b.Replayed {
			status = http.StatusOK
		}
		c.Header("Location", c.Request.URL.Path+"/"+b.ID)
		c.JSON(status, out)
	}
}

func (h *HTTP) get(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	r, err := h.svc.Get(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(r, ZoneOf(t), false))
}

type listJSON struct {
	Items []reservationJSON `json:"items"`
	Next  string            `json:"next,omitempty"`
}

func (h *HTTP) list(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	zone := ZoneOf(t)
	f := Filter{MenuID: c.Query("menu_id"), Status: Status(c.Query("status")), MemberID: c.Query("member_id"),
		Number: c.Query("number"), After: c.Query("after")}
	var v apperr.Validator
	for _, p := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		s := c.Query(p.name)
		if s == "" {
			continue
		}
		if d, err := time.ParseInLocation(time.DateOnly, s, zone); err == nil {
			if p.end {
				d = d.AddDate(0, 0, 1) // to is inclusive: the whole day
			}
			*p.dst = d.UTC()
		} else if at, ok := parseInstant(s, zone); ok {
			*p.dst = at
		} else {
			v.Add(p.name, "reservation_datetime", nil)
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPage {
			v.Add("limit", "range", map[string]any{"Min": 1, "Max": MaxPage})
		}
		f.Limit = n
	}
	if err := v.Err(); err != nil {
		httpx.Fail(c, err)
		return
	}
	rs, next, err := h.svc.List(c.Request.Context(), db, f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := listJSON{Items: make([]reservationJSON, 0, len(rs)), Next: next}
	for _, r := range rs {
		out.Items = append(out.Items, toJSON(r, zone, false))
	}
	c.JSON(http.StatusOK, out)
}

// bindOptional binds a JSON body when there is one (state changes may be
// sent without a body).
func bindOptional(c *gin.Context, dst any) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	return httpx.BindJSON(c, dst)
}

func (h *HTTP) change(action Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		t, db, err := h.req(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		var body changeRequest
		if err := bindOptional(c, &body); err != nil {
			httpx.Fail(c, err)
			return
		}
		r, err := h.svc.Change(c.Request.Context(), db, t, c.Param("id"), action, ChangeInput{Reason: body.Reason})
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, toJSON(r, ZoneOf(t), false))
	}
}

func (h *HTTP) publicCancel(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var body changeRequest
	if err := httpx.BindJSON(c, &body); err != nil {
		httpx.Fail(c, err)
		return
	}
	if body.Token == "" {
		httpx.Fail(c, apperr.Invalid(apperr.Field("token", "required", nil)))
		return
	}
	r, err := h.svc.Change(c.Request.Context(), db, t, c.Param("id"), ActionCancel,
		ChangeInput{Reason: body.Reason, Customer: true, Token: body.Token})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(r, ZoneOf(t), true))
}

func (h *HTTP) move(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var body moveRequest
	if err := httpx.BindJSON(c, &body); err != nil {
		httpx.Fail(c, err)
		return
	}
	zone := ZoneOf(t)
	in := MoveInput{SlotID: body.SlotID, ProviderID: body.ProviderID, Overbook: body.Overbook}
	if body.StartsAt != "" {
		var ok bool
		if in.StartsAt, ok = parseInstant(body.StartsAt, zone); !ok {
			httpx.Fail(c, apperr.Invalid(apperr.Field("starts_at", "reservation_datetime", nil)))
			return
		}
	}
	if _, p := sourceOf(c, false); body.Overbook && p.Role != authz.RoleOwner && p.Role != authz.RoleAdmin {
		httpx.Fail(c, ErrOverbookForbidden)
		return
	}
	r, err := h.svc.Move(c.Request.Context(), db, t, c.Param("id"), in)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(r, zone, false))
}
