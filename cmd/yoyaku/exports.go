package main

import (
	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
)

// registerExports serves the CSV files: on the tenant API
// GET /exports/reservations.csv, GET /exports/members.csv and
// POST /imports/members (reservations: csv and members: csv), and the same
// downloads on the console (admin, signed-in staff) at
// /exports/reservations.csv and /exports/members.csv with the session's
// permission, which the console's reservation and member lists link to
// with their filters. Call after registerReservations and registerMembers.
func (a *app) registerExports(api, admin *gin.RouterGroup, apiNeed func(authz.Area, authz.Action) gin.HandlerFunc, console *identity.Console) {
	a.reservations.RegisterExportAPI(api, apiNeed)
	a.members.RegisterCSVAPI(api, apiNeed)
	admin.GET("/exports/reservations.csv", console.Need(authz.AreaReservations, authz.ActionCSV),
		a.reservations.ExportHandler(console.FailPage))
	admin.GET("/exports/members.csv", console.Need(authz.AreaMembers, authz.ActionCSV),
		a.members.ExportHandler(console.FailPage))
}
