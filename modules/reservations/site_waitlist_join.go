package reservations

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// The booking site's 「キャンセル待ちに登録」: a full session of a timetable
// or event menu links here from the day view. A signed-in member joins
// with one click (their profile is the entry); a guest gives a name and an
// e-mail address, where the offer mail goes.

func (s *Site) waitHref(base string, m menus.Menu, slotID string) string {
	return base + "/book/" + m.ID + "/waitlist?slot=" + slotID
}

// waitSlot reads the session of the request (?slot= or the form's slot)
// for menu m; a session of another menu is not found.
func (s *Site) waitSlot(c *gin.Context, m menus.Menu, id string) (*slotState, bool) {
	sc := bookSiteOf(c)
	st, err := selectSlot(c.Request.Context(), sc.db, id)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	if st == nil || st.MenuID != m.ID {
		s.fail(c, ErrWaitlistNotFound)
		return nil, false
	}
	return st, true
}

func (s *Site) waitlistPage(c *gin.Context) {
	m, ok := s.bookableMenu(c)
	if !ok {
		return
	}
	st, ok := s.waitSlot(c, m, c.Query("slot"))
	if !ok {
		return
	}
	data := s.waitData(c, m, st, c.Query("slot"))
	s.render(c, http.StatusOK, "site_book_waitlist.html", data)
}

func (s *Site) waitData(c *gin.Context, m menus.Menu, st *slotState, slotID string) map[string]any {
	sc := bookSiteOf(c)
	return map[string]any{"Menu": siteMenuName(m, sc.lang), "When": siteWhenLabel(st.StartsAt, st.EndsAt, sc.zone, sc.lang),
		"Slot": slotID, "Action": s.waitHref(sc.base, m, slotID), "CSRF": siteCSRFToken(c, sc.base),
		"MemberName": sc.member.Name, "BackHref": sc.base + "/book/" + m.ID + "?date=" + st.StartsAt.In(sc.zone).Format("2006-01-02"),
		"Form": map[string]string{}, "Errors": map[string]string{}}
}

func (s *Site) waitlistPost(c *gin.Context) {
	m, ok := s.bookableMenu(c)
	if !ok {
		return
	}
	slotID := c.PostForm("slot")
	st, ok := s.waitSlot(c, m, slotID)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	in := JoinInput{Lang: sc.lang}
	form := map[string]string{"name": strings.TrimSpace(c.PostForm("name")), "email": strings.TrimSpace(c.PostForm("email"))}
	if sc.signed {
		in.MemberID = sc.member.ID
		in.Customer = Customer{Name: sc.member.Name, Kana: sc.member.Kana, Email: sc.member.Email, Phone: sc.member.Phone}
	} else {
		in.Customer = Customer{Name: form["name"], Email: form["email"]}
	}
	e, err := s.cfg.Service.JoinWaitlist(c.Request.Context(), sc.db, sc.t, slotID, in)
	data := s.waitData(c, m, st, slotID)
	data["Form"] = form
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid {
			errs := map[string]string{}
			for _, f := range ae.Fields {
				switch f.Field {
				case "customer.email":
					errs["email"] = s.tr(c, "booking.waitlist.email_error", nil)
				case "customer.name", "customer":
					errs["name"] = s.tr(c, "booking.waitlist.name_error", nil)
				}
			}
			if len(errs) > 0 {
				data["Errors"] = errs
				s.render(c, http.StatusUnprocessableEntity, "site_book_waitlist.html", data)
				return
			}
		}
		p := httpx.ProblemFor(c, err)
		if p.Status >= 500 {
			s.fail(c, err)
			return
		}
		data["Error"] = p.Detail
		if errors.Is(err, ErrWaitlistNotFull) {
			data["BookHref"] = s.formHref(sc.base, m, timeslots.AvailableSlot{SlotID: slotID}, "", sc.zone)
		}
		s.render(c, http.StatusConflict, "site_book_waitlist.html", data)
		return
	}
	data["Joined"], data["Position"] = true, e.Position
	data["Email"] = in.Customer.Email
	s.render(c, http.StatusCreated, "site_book_waitlist.html", data)
}
