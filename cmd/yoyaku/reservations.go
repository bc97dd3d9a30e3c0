package main

import (
	"github.com/gin-gonic/gin"

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
			Events: a.subs, Notify: a.notifyOutbox})
	}
	h := reservations.NewHTTP(reservations.HTTPConfig{Service: a.reservations, APINeed: apiNeed})
	h.RegisterAPI(api)
	h.RegisterPublic(public)
}
