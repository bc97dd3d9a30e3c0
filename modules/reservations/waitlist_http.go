package reservations

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/idempotency"
)

// RegisterWaitlist adds the waitlist: on the tenant API (g: "/api/v1"
// after the API key middleware) the session's line and the hold time; on
// the public API (public: "/api/v1/public/:tenant") joining, leaving and
// accepting an offer, as a signed-in member (HTTPConfig.MemberSession) or
// a guest with an e-mail address and the token answered on joining.
func (h *HTTP) RegisterWaitlist(api, public *gin.RouterGroup) {
	view, edit := h.need(authz.AreaReservations, authz.ActionView), h.need(authz.AreaReservations, authz.ActionEdit)
	api.GET("/slots/:id/waitlist", view, h.waitlistList)
	api.GET("/waitlist/settings", view, h.waitlistSettings)
	api.PUT("/waitlist/settings", edit, h.waitlistSetSettings)

	idem := idempotency.Middleware(idempotency.Config{DB: h.idemDB, Scope: publicScope})
	public.POST("/slots/:slot_id/waitlist", h.anonymous, h.memberSession, idem, h.waitlistJoin)
	public.DELETE("/slots/:slot_id/waitlist", h.anonymous, h.memberSession, h.waitlistLeave)
	public.POST("/waitlist/:id/accept", h.anonymous, h.memberSession, idem, h.waitlistAccept)
}

type waitlistJSON struct {
	ID            string `json:"id"`
	SlotID        string `json:"slot_id"`
	MenuID        string `json:"menu_id"`
	Status        string `json:"status"`
	Position      int    `json:"position,omitempty"`
	PartySize     int    `json:"party_size"`
	ExpiresAt     string `json:"expires_at,omitempty"`
	ReservationID string `json:"reservation_id,omitempty"`
	CreatedAt     string `json:"created_at"`
	// Staff see who waits; the public answer only its own token.
	Customer *customerOut `json:"customer,omitempty"`
	MemberID string       `json:"member_id,omitempty"`
	Token    string       `json:"token,omitempty"`
}

func toWaitlistJSON(e WaitlistEntry, zone *time.Location, staff bool) waitlistJSON {
	out := waitlistJSON{ID: e.ID, SlotID: e.SlotID, MenuID: e.MenuID, Status: string(e.Status), Position: e.Position,
		PartySize: e.PartySize, ReservationID: e.ReservationID, CreatedAt: e.CreatedAt.In(zone).Format(rfc3339Offset),
		Token: e.Token}
	if !e.ExpiresAt.IsZero() && e.Status == WaitOffered {
		out.ExpiresAt = e.ExpiresAt.In(zone).Format(rfc3339Offset)
	}
	if staff {
		c := customerOut(e.Customer)
		out.Customer, out.MemberID = &c, e.MemberID
	}
	return out
}

func (h *HTTP) waitlistList(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	es, err := h.svc.Waitlist(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := make([]waitlistJSON, 0, len(es))
	for _, e := range es {
		out = append(out, toWaitlistJSON(e, ZoneOf(t), true))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type waitlistSettingsJSON struct {
	HoldMinutes int `json:"hold_minutes" binding:"required"`
}

func (h *HTTP) waitlistSettings(c *gin.Context) {
	_, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	d, err := h.svc.WaitlistHold(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, waitlistSettingsJSON{HoldMinutes: int(d.Minutes())})
}

func (h *HTTP) waitlistSetSettings(c *gin.Context) {
	_, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var body waitlistSettingsJSON
	if err := httpx.BindJSON(c, &body); err != nil {
		httpx.Fail(c, err)
		return
	}
	if err := h.svc.SetWaitlistHold(c.Request.Context(), db, time.Duration(body.HoldMinutes)*time.Minute); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, body)
}

type joinRequest struct {
	PartySize *int             `json:"party_size"`
	Customer  *joinCustomerReq `json:"customer"`
	Lang      string           `json:"lang" binding:"omitempty,oneof=ja en"`
}

type joinCustomerReq struct {
	Name  string `json:"name" binding:"max=100,nocontrol"`
	Kana  string `json:"kana" binding:"max=100,nocontrol"`
	Email string `json:"email" binding:"omitempty,email,max=254"`
	Phone string `json:"phone" binding:"max=32,nocontrol"`
}

// memberCustomer is the signed-in member's saved profile as a customer.
func memberCustomer(m members.Member) Customer {
	return Customer{Name: m.Profile.Name(), Kana: m.Profile.Kana(), Email: m.Email, Phone: m.Profile.Phone}
}

func (h *HTTP) waitlistJoin(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var body joinRequest
	if err := bindOptional(c, &body); err != nil {
		httpx.Fail(c, err)
		return
	}
	in := JoinInput{Lang: body.Lang}
	if in.Lang == "" {
		in.Lang = httpx.Lang(c)
	}
	if body.PartySize != nil {
		in.PartySize = *body.PartySize
		if in.PartySize < 1 {
			httpx.Fail(c, apperr.Invalid(apperr.Field("party_size", "min", map[string]any{"Param": 1})))
			return
		}
	}
	if m, ok := members.MemberFrom(c.Request.Context()); ok {
		in.MemberID, in.Customer = m.ID, memberCustomer(m)
	} else if body.Customer != nil {
		in.Customer = Customer(*body.Customer)
	}
	e, err := h.svc.JoinWaitlist(c.Request.Context(), db, t, c.Param("slot_id"), in)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toWaitlistJSON(e, ZoneOf(t), false))
}

type leaveRequest struct {
	ID    string `json:"id" form:"id" binding:"max=64"`
	Token string `json:"token" form:"token" binding:"max=100"`
}

func (h *HTTP) waitlistLeave(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var body leaveRequest
	if err := bindOptional(c, &body); err != nil {
		httpx.Fail(c, err)
		return
	}
	if body.ID == "" {
		body.ID, body.Token = c.Query("id"), c.Query("token")
	}
	ctx := c.Request.Context()
	who := WaitlistWho{Token: body.Token}
	if m, ok := members.MemberFrom(ctx); ok {
		who.MemberID = m.ID
		if body.ID == "" {
			e, err := h.svc.WaitlistEntryOf(ctx, db, c.Param("slot_id"), m.ID)
			if err != nil {
				httpx.Fail(c, err)
				return
			}
			body.ID = e.ID
		}
	}
	if body.ID == "" {
		httpx.Fail(c, apperr.Invalid(apperr.Field("id", "required", nil)))
		return
	}
	if who.MemberID == "" && who.Token == "" {
		httpx.Fail(c, apperr.Invalid(apperr.Field("token", "required", nil)))
		return
	}
	if e, err := h.svc.WaitlistEntryByID(ctx, db, body.ID); err != nil || e.SlotID != c.Param("slot_id") {
		httpx.Fail(c, ErrWaitlistNotFound)
		return
	}
	if err := h.svc.LeaveWaitlist(ctx, db, t, body.ID, who); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type acceptRequest struct {
	Token   string         `json:"token" binding:"max=100"`
	Options []string       `json:"options" binding:"max=50"`
	Answers map[string]any `json:"answers" binding:"max=50"`
}

func (h *HTTP) waitlistAccept(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var body acceptRequest
	if err := bindOptional(c, &body); err != nil {
		httpx.Fail(c, err)
		return
	}
	in := AcceptInput{WaitlistWho: WaitlistWho{Token: body.Token}, OptionIDs: body.Options, Answers: body.Answers,
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
	if m, ok := members.MemberFrom(c.Request.Context()); ok {
		in.MemberID = m.ID
		if cu := memberCustomer(m); cu.Name != "" {
			in.Customer = &cu
		}
	}
	if in.MemberID == "" && in.Token == "" {
		httpx.Fail(c, apperr.Invalid(apperr.Field("token", "required", nil)))
		return
	}
	b, err := h.svc.AcceptOffer(c.Request.Context(), db, t, c.Param("id"), in)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := toJSON(b.Reservation, ZoneOf(t), true)
	out.CancelToken = b.CancelToken
	c.JSON(http.StatusCreated, out)
}
