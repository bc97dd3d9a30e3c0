package reservations

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// The my page's 「日時を変更」: a signed-in member picks another free
// start (hours menus) or session of the same menu over the next
// changeDays days and confirms; the move is Service.Move with the member
// (the change deadline and the booking window apply, and a full target
// rolls the whole move back, the booking kept where it was).

const (
	changeDays     = 14
	changeMaxTimes = 60
)

// RegisterMyChange adds the change page to g ("/t/:tenant" after the
// tenant middleware and members' OptionalSession, which puts the
// signed-in member in the context; without one the page sends to login).
func (s *Site) RegisterMyChange(g *gin.RouterGroup) {
	g.GET("/my/reservations/:id/change", s.load, s.myChangePage)
	g.POST("/my/reservations/:id/change", s.load, s.myChangePost)
}

type changeTime struct {
	Value, Label, Seats string
}

// myChangeOwn returns the member's reservation of the request and its
// menu, or answers the request itself (false).
func (s *Site) myChangeOwn(c *gin.Context) (members.Member, Reservation, menus.Menu, bool) {
	sc := bookSiteOf(c)
	m, ok := members.MemberFrom(c.Request.Context())
	if !ok {
		c.Redirect(http.StatusSeeOther, sc.base+"/login?next="+url.QueryEscape(c.Request.URL.Path))
		return m, Reservation{}, menus.Menu{}, false
	}
	r, err := s.cfg.Service.Get(c.Request.Context(), sc.db, c.Param("id"))
	if err == nil && r.MemberID != m.ID {
		err = ErrNotFound
	}
	if err != nil {
		s.fail(c, err)
		return m, r, menus.Menu{}, false
	}
	mn, err := s.cfg.Menus.Get(c.Request.Context(), sc.db, r.MenuID)
	if err != nil {
		s.fail(c, err)
		return m, r, mn, false
	}
	return m, r, mn, true
}

func (s *Site) myChangePage(c *gin.Context) {
	if _, r, mn, ok := s.myChangeOwn(c); ok {
		s.myChangeRender(c, http.StatusOK, r, mn, "")
	}
}

// myChangeRender shows the page: the current booking and, while it may
// still be changed, the free times to move to; msg is a catalog id.
func (s *Site) myChangeRender(c *gin.Context, status int, r Reservation, mn menus.Menu, msg string) {
	sc := bookSiteOf(c)
	now := s.cfg.Now()
	data := map[string]any{"Menu": siteMenuName(mn, sc.lang), "When": siteWhenLabel(r.StartsAt, r.EndsAt, sc.zone, sc.lang),
		"Number": r.Number, "BackHref": sc.base + "/mypage#reservations", "Action": c.Request.URL.Path,
		"CSRF": members.SessionCSRF(c)}
	deadline := r.StartsAt.Add(-time.Duration(mn.Effective.ChangeDeadlineMinutes) * time.Minute)
	if !r.Status.Active() || !now.Before(deadline) {
		if msg == "" {
			msg = "waitlist.change.deadline"
		}
		data["Closed"] = true
	} else {
		today := timeslots.DateOf(now.In(sc.zone))
		av, err := s.cfg.Slots.Availability(c.Request.Context(), sc.db, timeslots.AvailabilityQuery{MenuID: mn.ID,
			Zone: sc.zone, From: today, To: today.AddDays(changeDays - 1), Now: now, Public: true})
		if err != nil {
			s.fail(c, err)
			return
		}
		var times []changeTime
		for _, sl := range av.Slots {
			if sl.Remaining <= 0 || sl.StartsAt.Equal(r.StartsAt) || (sl.SlotID != "" && sl.SlotID == r.SlotID) {
				continue
			}
			t := changeTime{Value: sl.StartsAt.UTC().Format(time.RFC3339), Label: siteWhenLabel(sl.StartsAt, sl.EndsAt, sc.zone, sc.lang)}
			if sl.SlotID != "" {
				t.Value = "slot:" + sl.SlotID
				t.Seats = s.tr(c, "waitlist.change.seats", map[string]any{"N": sl.Remaining})
			}
			times = append(times, t)
			if len(times) == changeMaxTimes {
				break
			}
		}
		data["Times"] = times
	}
	if msg != "" {
		data["Message"] = s.tr(c, msg, nil)
	}
	s.render(c, status, "site_my_change.html", data)
}

func (s *Site) myChangePost(c *gin.Context) {
	sc := bookSiteOf(c)
	m, r, mn, ok := s.myChangeOwn(c)
	if !ok {
		return
	}
	if !members.CheckSessionCSRF(c, c.PostForm("csrf_token")) {
		c.Redirect(http.StatusSeeOther, sc.base+"/mypage?done=csrf#reservations")
		return
	}
	// The deadline first, so that it is what the member reads (Move
	// checks it again under the reservation's row, and also checks the
	// new time, which could fail first).
	if !r.Status.Active() {
		c.Redirect(http.StatusSeeOther, sc.base+"/mypage?done=move_refused#reservations")
		return
	}
	if deadline := r.StartsAt.Add(-time.Duration(mn.Effective.ChangeDeadlineMinutes) * time.Minute); !s.cfg.Now().Before(deadline) {
		s.myChangeRender(c, http.StatusConflict, r, mn, "waitlist.change.deadline")
		return
	}
	in := MoveInput{Customer: true, MemberID: m.ID}
	to := c.PostForm("to")
	if id, found := strings.CutPrefix(to, "slot:"); found && mn.BookingMode != menus.ModeHours {
		in.SlotID = id
	} else if at, err := time.Parse(time.RFC3339, to); err == nil && mn.BookingMode == menus.ModeHours {
		in.StartsAt = at.UTC()
	} else {
		s.myChangeRender(c, http.StatusUnprocessableEntity, r, mn, "waitlist.change.pick")
		return
	}
	_, err := s.cfg.Service.Move(c.Request.Context(), sc.db, sc.t, r.ID, in)
	if err == nil {
		c.Redirect(http.StatusSeeOther, sc.base+"/mypage?done=moved#reservations")
		return
	}
	var ae *apperr.Error
	code := ""
	if errors.As(err, &ae) {
		code = ae.Code
	}
	switch {
	case code == ErrSlotFull.Code || code == ErrProviderUnavailable.Code || code == ErrSlotClosed.Code ||
		code == ErrChanged.Code:
		s.myChangeRender(c, http.StatusConflict, r, mn, "waitlist.change.full")
	case code == ErrDeadline.Code:
		s.myChangeRender(c, http.StatusConflict, r, mn, "waitlist.change.deadline")
	case code == ErrStatus.Code:
		c.Redirect(http.StatusSeeOther, sc.base+"/mypage?done=move_refused#reservations")
	case apperr.KindOf(err) == apperr.KindInvalid || apperr.KindOf(err) == apperr.KindConflict ||
		apperr.KindOf(err) == apperr.KindNotFound && code != ErrNotFound.Code:
		// Not offered any more (the window, hours, a block) or gone.
		s.myChangeRender(c, http.StatusConflict, r, mn, "waitlist.change.unavailable")
	default:
		s.fail(c, err)
	}
}
