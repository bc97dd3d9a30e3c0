package reservations

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Translator returns message id in lang from the catalogs.
type Translator func(lang, id string, args map[string]any) string

// myPageTmpl is the my page's reservations section: markup only, every
// text from the catalogs (waitlist.mypage.*, waitlist.status.*).
var myPageTmpl = template.Must(template.New("my").Parse(`{{define "list"}}<ul class="my-reservations">
{{range .}}<li class="card" data-number="{{.Number}}"><p><strong>{{.When}}</strong> {{.Menu}}</p>
<p>{{.NumberLabel}} {{.Number}} · {{.Party}} · {{.Status}}</p>
{{if .ChangeURL}}<p><a class="button secondary change" href="{{.ChangeURL}}">{{.ChangeLabel}}</a></p>{{end}}
{{if .CancelURL}}<form method="post" action="{{.CancelURL}}" class="cancel"><input type="hidden" name="csrf_token" value="{{.CSRF}}"><label class="check"><input type="checkbox" name="confirm" value="1" required> {{.ConfirmLabel}}</label> <button type="submit" class="button secondary">{{.CancelLabel}}</button></form>{{end}}
</li>{{end}}</ul>{{end}}<h3>{{.UpcomingH}}</h3>{{if .Upcoming}}{{template "list" .Upcoming}}{{else}}<p>{{.None}}</p>{{end}}
<h3>{{.PastH}}</h3>{{if .Past}}{{template "list" .Past}}{{else}}<p>{{.None}}</p>{{end}}`))

type myItem struct {
	When, Menu, Number, NumberLabel, Party, Status, CancelURL, CSRF, CancelLabel string
	ConfirmLabel, ChangeURL, ChangeLabel                                         string
}

// MyPageSection returns the my page's reservations section
// (members.ReservationsHook): upcoming and past reservations, each
// upcoming one that may still be cancelled with a cancel button (a POST
// with the member's CSRF token, members.FormCSRF).
func (s *Service) MyPageSection(tr Translator) members.ReservationsHook {
	return func(ctx context.Context, db bun.IDB, m members.Member, lang string) (template.HTML, error) {
		t, _ := tenants.FromContext(ctx)
		zone, now := ZoneOf(t), s.clock()
		up, past, err := s.MemberReservations(ctx, db, m.ID)
		if err != nil {
			return "", err
		}
		csrf := members.FormCSRF(ctx)
		items := func(rs []Reservation, upcoming bool) ([]myItem, error) {
			out := make([]myItem, 0, len(rs))
			for _, r := range rs {
				mn, err := s.menus.Get(ctx, db, r.MenuID)
				if err != nil {
					return nil, err
				}
				name := mn.NameJA
				if lang == "en" && mn.NameEN != "" {
					name = mn.NameEN
				}
				it := myItem{When: formatWhen(r.StartsAt.In(zone), lang), Menu: name, Number: r.Number,
					NumberLabel: tr(lang, "waitlist.mypage.number", nil),
					Party:       tr(lang, "waitlist.mypage.party", map[string]any{"N": r.PartySize}),
					Status:      tr(lang, "waitlist.status."+string(r.Status), nil)}
				deadline := r.StartsAt.Add(-time.Duration(mn.Effective.CancelDeadlineMinutes) * time.Minute)
				changeBy := r.StartsAt.Add(-time.Duration(mn.Effective.ChangeDeadlineMinutes) * time.Minute)
				if upcoming && r.Status.Active() && now.Before(changeBy) && csrf != "" {
					it.ChangeURL = "/t/" + t.Slug + "/my/reservations/" + r.ID + "/change"
					it.ChangeLabel = tr(lang, "waitlist.mypage.change", nil)
				}
				if upcoming && r.Status.Active() && now.Before(deadline) && csrf != "" {
					it.CancelURL = "/t/" + t.Slug + "/my/reservations/" + r.ID + "/cancel"
					it.CSRF, it.CancelLabel = csrf, tr(lang, "waitlist.mypage.cancel", nil)
					it.ConfirmLabel = tr(lang, "waitlist.mypage.cancel_confirm", nil)
				}
				out = append(out, it)
			}
			return out, nil
		}
		u, err := items(up, true)
		if err != nil {
			return "", err
		}
		p, err := items(past, false)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		if err := myPageTmpl.Execute(&b, map[string]any{"Upcoming": u, "Past": p,
			"UpcomingH": tr(lang, "waitlist.mypage.upcoming", nil), "PastH": tr(lang, "waitlist.mypage.past", nil),
			"None": tr(lang, "waitlist.mypage.none", nil)}); err != nil {
			return "", errInternal(err)
		}
		return template.HTML(b.String()), nil // #nosec G203 -- html/template escaped every value
	}
}

var jaWeekdays = []string{"日", "月", "火", "水", "木", "金", "土"}

// formatWhen writes 2026年12月10日(木) 10:00 in Japanese and Thu, 10 Dec
// 2026 10:00 in English (UI.md).
func formatWhen(t time.Time, lang string) string {
	if lang == "en" {
		return t.Format("Mon, 2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日") + "(" + jaWeekdays[t.Weekday()] + ") " + t.Format("15:04")
}

// RegisterMyPage adds the my page's cancel form target to site
// ("/t/:tenant" after the tenant middleware); session is members'
// Session (signed-in members only).
func (h *HTTP) RegisterMyPage(site *gin.RouterGroup, session gin.HandlerFunc) {
	site.POST("/my/reservations/:id/cancel", session, h.myPageCancel)
}

func (h *HTTP) myPageCancel(c *gin.Context) {
	t, db, err := h.req(c)
	m, ok := members.MemberFrom(c.Request.Context())
	base := "/t/" + t.Slug
	switch {
	case err != nil:
		c.String(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
		return
	case !ok || !members.CheckSessionCSRF(c, c.PostForm("csrf_token")):
		c.Redirect(http.StatusSeeOther, base+"/mypage?done=csrf#reservations")
		return
	case c.PostForm("confirm") != "1":
		// The second step (UI.md: destructive actions are confirmed): the
		// form's required 「キャンセルします」 box, checked here too for
		// a browser that skips the required attribute.
		c.Redirect(http.StatusSeeOther, base+"/mypage?done=cancel_unconfirmed#reservations")
		return
	}
	_, err = h.svc.Change(c.Request.Context(), db, t, c.Param("id"), ActionCancel, ChangeInput{Customer: true, MemberID: m.ID})
	done := "cancelled"
	if err != nil {
		if apperr.KindOf(err) == apperr.KindInternal || apperr.KindOf(err) == apperr.KindUnavailable {
			c.String(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
			return
		}
		done = "cancel_refused"
	}
	c.Redirect(http.StatusSeeOther, base+"/mypage?done="+done+"#reservations")
}
