package main

import (
	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// calendarNav is the business calendar's entry in the console navigation.
var calendarNav = identity.NavEntry{Area: authz.AreaSchedule, Path: "/calendar", Label: "timeslots.nav"}

// registerCalendar serves the business calendar: its tenant API routes on
// api (after the API key middleware; apiNeed is identity.API.Need) and its
// console page on admin (signed-in staff).
//
// Providers and resources are the menus module's; until their existence
// check is handed in here, any well-formed id is taken.
func (a *app) registerCalendar(api, admin *gin.RouterGroup, apiNeed timeslots.NeedFunc, console *identity.Console) {
	svc := timeslots.NewService(timeslots.Config{Logger: a.log})
	h := timeslots.NewHTTP(timeslots.HTTPConfig{Service: svc, Views: a.views, APINeed: apiNeed,
		Console: timeslots.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need}})
	h.RegisterAPI(api)
	h.RegisterConsole(admin)
}
