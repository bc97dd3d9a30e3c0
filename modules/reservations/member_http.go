package reservations

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/idempotency"
)

// MemberPastLimit is how many past reservations the my page lists.
const MemberPastLimit = 50

// RegisterMember adds the signed-in member's own reservations to the
// public API (g: "/api/v1/public/:tenant"): the list, cancel before the
// cancel deadline and move before the change deadline. Without a member
// session they answer 401. The member cookie is SameSite=Lax and these
// POSTs take JSON only, which a cross-site form cannot send.
func (h *HTTP) RegisterMember(g *gin.RouterGroup) {
	idem := idempotency.Middleware(idempotency.Config{DB: h.idemDB, Scope: publicScope})
	g.GET("/me/reservations", h.memberSession, h.needMember, h.memberList)
	g.POST("/me/reservations/:id/cancel", h.anonymous, h.memberSession, h.needMember, idem, h.memberCancel)
	g.POST("/me/reservations/:id/move", h.anonymous, h.memberSession, h.needMember, idem, h.memberMove)
}

func (h *HTTP) needMember(c *gin.Context) {
	if _, ok := members.MemberFrom(c.Request.Context()); !ok {
		httpx.Fail(c, members.ErrSessionExpired)
		c.Abort()
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Next()
}

type memberListJSON struct {
	Upcoming []reservationJSON `json:"upcoming"`
	Past     []reservationJSON `json:"past"`
}

func (h *HTTP) memberList(c *gin.Context) {
	t, db, err := h.req(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	m, _ := members.MemberFrom(c.Request.Context())
	up, past, err := h.svc.MemberReservations(c.Request.Context(), db, m.ID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	zone := ZoneOf(t)
	out := memberListJSON{Upcoming: make([]reservationJSON, 0, len(up)), Past: make([]reservationJSON, 0, len(past))}
	for _, r := range up {
		out.Upcoming = append(out.Upcoming, toJSON(r, zone, true))
	}
	for _, r := range past {
		out.Past = append(out.Past, toJSON(r, zone, true))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) memberCancel(c *gin.Context) {
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
	m, _ := members.MemberFrom(c.Request.Context())
	r, err := h.svc.Change(c.Request.Context(), db, t, c.Param("id"), ActionCancel,
		ChangeInput{Reason: body.Reason, Customer: true, MemberID: m.ID})
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(r, ZoneOf(t), true))
}

func (h *HTTP) memberMove(c *gin.Context) {
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
	if body.Overbook {
		httpx.Fail(c, ErrOverbookForbidden)
		return
	}
	zone := ZoneOf(t)
	m, _ := members.MemberFrom(c.Request.Context())
	in := MoveInput{SlotID: body.SlotID, ProviderID: body.ProviderID, Customer: true, MemberID: m.ID}
	if body.StartsAt != "" {
		var ok bool
		if in.StartsAt, ok = parseInstant(body.StartsAt, zone); !ok {
			httpx.Fail(c, apperr.Invalid(apperr.Field("starts_at", "reservation_datetime", nil)))
			return
		}
	}
	r, err := h.svc.Move(c.Request.Context(), db, t, c.Param("id"), in)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(r, zone, true))
}
