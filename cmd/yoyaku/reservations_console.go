package main

import (
	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// registerReservationsConsole serves the console's reservation pages (the
// list, one reservation with its actions, the calendar, staff booking and
// blocks) on admin (signed-in staff), after registerReservations made the
// service.
func (a *app) registerReservationsConsole(admin *gin.RouterGroup, console *identity.Console) {
	reservations.NewConsole(reservations.ConsoleConfig{Service: a.reservations, Catalog: a.menus, Slots: a.slots, Perms: a.authz,
		Shell: reservations.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need},
	}).Register(admin)
}
