package main

import (
	"context"
	"html/template"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/members"
)

// wireMembers makes the members service: identity's password hashing and
// session rules, mails through the outbox (notify maps member.verify and
// member.password_reset to templates).
func (a *app) wireMembers() {
	a.members = members.NewService(members.Config{Passwords: a.staff, Events: a.subs, Notify: a.notifyOutbox, Logger: a.log})
}

// registerMembers serves members: the tenant API on api (apiNeed is
// identity.API.Need), the booking-site pages (registration, sign-in, my
// page) on site ("/t/:tenant" after the tenant middleware) and the console
// pages on admin (signed-in staff). The my page's reservations section is
// whatever a.memberReservations renders when it is set (the reservations
// wiring sets it); until then it shows a placeholder.
func (a *app) registerMembers(api, site, admin *gin.RouterGroup, apiNeed members.Guard, console *identity.Console) {
	h := members.NewHTTP(members.HTTPConfig{Service: a.members, Views: a.views, APINeed: apiNeed, Perms: a.authz,
		PublicURL: a.cfg.BaseURL,
		Console:   members.ConsoleShell{Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need},
		Reservations: func(ctx context.Context, db bun.IDB, m members.Member, lang string) (template.HTML, error) {
			if a.memberReservations == nil {
				return "", nil
			}
			return a.memberReservations(ctx, db, m, lang)
		},
	})
	a.memberSite = h
	h.RegisterAPI(api)
	h.RegisterSite(site)
	h.RegisterConsole(admin)
}
