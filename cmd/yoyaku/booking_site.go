package main

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// registerBookingSite serves the guest booking flow on site ("/t/:tenant",
// rate limited, after the tenant middleware): the menu list is the site's
// home, then the calendar, the details form, the confirmation and the
// done page. It runs after registerReservations, whose service it books
// with.
//
// A member signed in on the booking site (members' OptionalSession puts
// them in the context: members.MemberFrom) books as that member with the
// profile filled in and members-only menus open; everyone else books as a
// guest.
func (a *app) registerBookingSite(site *gin.RouterGroup) {
	if a.memberSite != nil {
		site = site.Group("", a.memberSite.OptionalSession())
	}
	bs := reservations.NewSite(reservations.SiteConfig{
		Service: a.reservations, Menus: a.menus, Slots: a.slots, Views: a.views,
		Member: func(c *gin.Context) (reservations.SiteMember, bool) {
			m, ok := members.MemberFrom(c.Request.Context())
			if !ok {
				return reservations.SiteMember{}, false
			}
			p := m.Profile
			return reservations.SiteMember{ID: m.ID, Email: m.Email, Phone: p.Phone,
				Name: strings.TrimSpace(p.FamilyName + " " + p.GivenName),
				Kana: strings.TrimSpace(p.FamilyKana + " " + p.GivenKana)}, true
		},
	})
	bs.Register(site)
	if a.memberSite != nil {
		bs.RegisterMyChange(site) // the my page's 日時を変更
	}
}
