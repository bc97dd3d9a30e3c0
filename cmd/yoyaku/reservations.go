package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"

	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// registerReservations serves the booking engine: the tenant API
// (reservations area; apiNeed is identity.API.Need) and the public booking
// API on public ("/api/v1/public/:tenant"). The service is made here from
// the catalog and the calendar wireCatalog made; its events reach the
// outbox dispatcher after each commit.
//
// Members (modules/members) are not wired yet: a reservation keeps a
// member id only, and member lookups will be handed in here.
func (a *app) registerReservations(api, public *gin.RouterGroup, apiNeed reservations.NeedFunc) {
	if a.reservations == nil {
		a.reservations = reservations.NewService(reservations.Config{Logger: a.log, Menus: a.menus, Slots: a.slots,
			Events: a.subs, Notify: a.notifyOutbox, Payments: a.paymentGateway()})
	}
	cfg := reservations.HTTPConfig{Service: a.reservations, APINeed: apiNeed}
	if a.memberSite != nil {
		cfg.MemberSession = a.memberSite.OptionalSession()
	}
	h := reservations.NewHTTP(cfg)
	h.RegisterAPI(api)
	h.RegisterPublic(public)
	h.RegisterWaitlist(api, public)
	h.RegisterMember(public)
	a.memberReservations = a.reservations.MyPageSection(a.catalog.T)
}

// waitlistHoldDue is the outbox consumer of a waitlist offer's timer: the
// hold ends and the seat passes to the next in line.
func (a *app) waitlistHoldDue(ctx context.Context, db bun.IDB, t outbox.Tenant, e outbox.Event) error {
	if a.reservations == nil {
		return errors.New("reservations: not wired")
	}
	return a.reservations.WaitlistHoldHandler(a.tenants.GetByID)(ctx, db, t, e)
}

// registerMyPage serves the my page's cancel buttons on site ("/t/:tenant").
func (a *app) registerMyPage(site *gin.RouterGroup) {
	if a.memberSite == nil {
		return
	}
	reservations.NewHTTP(reservations.HTTPConfig{Service: a.reservations}).RegisterMyPage(site, a.memberSite.OptionalSession())
	// The member's JSON endpoints also live under the site, because the
	// member cookie is scoped to /t/{tenant}/ (a browser never sends it to
	// /api/v1/public/{tenant}/me/...): /t/{tenant}/api/me/reservations.
	// The cookie is SameSite=Lax and these POSTs take JSON, but a form on
	// another site could still post text/plain; so every write here must
	// carry the header X-Requested-With, which a cross-site page can only
	// send after a CORS preflight this server never grants.
	reservations.NewHTTP(reservations.HTTPConfig{Service: a.reservations, MemberSession: a.memberSite.OptionalSession()}).
		RegisterMember(site.Group("/api", requireXHR))
}

// errXHRRequired: a cookie-authenticated JSON write without the
// X-Requested-With header (the member API's CSRF guard).
var errXHRRequired = apperr.New(apperr.KindForbidden, "member_csrf_invalid")

// requireXHR refuses writes without an X-Requested-With header.
func requireXHR(c *gin.Context) {
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead && c.GetHeader("X-Requested-With") == "" {
		httpx.Fail(c, errXHRRequired)
		c.Abort()
		return
	}
	c.Next()
}
