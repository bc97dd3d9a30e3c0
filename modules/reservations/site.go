package reservations

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// GuestPagesConfig wires the guest's booking-site pages.
type GuestPagesConfig struct {
	Service *Service
	Views   *view.Renderer
	// DB returns the request's tenant database (default tenantdb.From).
	DB func(c *gin.Context) (bun.IDB, error)
}

// GuestPages serves the guest's pages of the booking site: the cancel page that
// the link in the reservation mail opens.
type GuestPages struct {
	svc   *Service
	views *view.Renderer
	db    func(c *gin.Context) (bun.IDB, error)
}

// NewGuestPages returns the guest's booking-site pages.
func NewGuestPages(cfg GuestPagesConfig) *GuestPages {
	s := &GuestPages{svc: cfg.Service, views: cfg.Views, db: cfg.DB}
	if s.db == nil {
		s.db = func(c *gin.Context) (bun.IDB, error) { return tenantdb.From(c.Request.Context()) }
	}
	return s
}

// cancelCSRFCookie holds the double-submit token of the cancel form: the
// guest has no session, so the form carries the cookie's value and the POST
// must bring both (a page on another site can send the cookie but cannot
// read it).
const cancelCSRFCookie = "yoyaku_cancel_csrf"

// Register adds the pages to g ("/t/:tenant" after the site's rate limit
// and the tenant middleware). The link's GET only shows the reservation
// (mail scanners open links); the cancellation is the form's POST.
func (s *GuestPages) Register(g *gin.RouterGroup) {
	g.GET("/reservations/:id/cancel", s.cancelPage)
	g.POST("/reservations/:id/cancel", s.cancel)
}

// guestView is what the cancel page shows of a reservation.
type guestView struct {
	Number, Menu, When, Party, Status string
	Deadline                          string
}

func (s *GuestPages) base(c *gin.Context) (tenants.Tenant, string) {
	t, _ := tenants.FromContext(c.Request.Context())
	return t, "/t/" + t.Slug
}

// guestReservation finds reservation id when token is its guest's cancel
// token; any mismatch is ErrNotFound, so the page never tells a wrong
// token from a missing reservation.
func guestReservation(c *gin.Context, db bun.IDB, id, token string) (Reservation, error) {
	if token == "" || len(token) > 100 || !validID(id) {
		return Reservation{}, ErrNotFound
	}
	rw, err := selectRow(c.Request.Context(), db, id)
	if err != nil {
		return Reservation{}, err
	}
	if rw.CancelTokenHash == "" || !constantEqual(rw.CancelTokenHash, hashToken(token)) {
		return Reservation{}, ErrNotFound
	}
	return fromRow(rw), nil
}

func (s *GuestPages) cancelPage(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer") // the token is in the URL
	db, err := s.db(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	token := c.Query("token")
	r, err := guestReservation(c, db, c.Param("id"), token)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !r.Status.Active() {
		s.gone(c)
		return
	}
	data, err := s.view(c, db, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	data["Token"] = token
	data["CSRF"] = s.csrfToken(c)
	s.render(c, http.StatusOK, data)
}

func (s *GuestPages) cancel(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	cookie, err := c.Cookie(cancelCSRFCookie)
	form := c.PostForm("csrf_token")
	if err != nil || cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		s.fail(c, errGuestCSRF)
		return
	}
	db, err := s.db(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	token := c.PostForm("token")
	r, err := guestReservation(c, db, c.Param("id"), token)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := auditlog.WithRequest(c.Request.Context(), auditlog.Request{Actor: auditlog.Actor{Kind: auditlog.ActorAnonymous},
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(c.Request.Context())})
	t, _ := s.base(c)
	done, err := s.svc.Change(ctx, db, t, r.ID, ActionCancel, ChangeInput{Customer: true, Token: token})
	switch {
	case errors.Is(err, ErrStatus):
		s.gone(c)
		return
	case errors.Is(err, ErrDeadline), errors.Is(err, ErrChanged):
		data, verr := s.view(c, db, r)
		if verr != nil {
			s.fail(c, verr)
			return
		}
		data["Error"] = httpx.ProblemFor(c, err).Detail
		if errors.Is(err, ErrDeadline) {
			data["Error"] = guestTr(c, "reservations.site.cancel.deadline_passed", "Deadline", data["Deadline"])
			data["Closed"] = true
		} else {
			data["Token"], data["CSRF"] = token, s.csrfToken(c)
		}
		s.render(c, http.StatusConflict, data)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	data, err := s.view(c, db, done)
	if err != nil {
		s.fail(c, err)
		return
	}
	data["Done"] = true
	s.render(c, http.StatusOK, data)
}

var errGuestCSRF = apperr.New(apperr.KindForbidden, "csrf_invalid")

// view is the page's data for r: what, when, how many, and the cancel
// deadline; Closed when it has passed.
func (s *GuestPages) view(c *gin.Context, db bun.IDB, r Reservation) (map[string]any, error) {
	t, base := s.base(c)
	lang := httpx.Lang(c)
	m, err := s.svc.menus.Get(c.Request.Context(), db, r.MenuID)
	if err != nil {
		return nil, err
	}
	zone := ZoneOf(t)
	menu := m.NameJA
	if lang == "en" && m.NameEN != "" {
		menu = m.NameEN
	}
	deadline := r.StartsAt.Add(-time.Duration(m.Effective.CancelDeadlineMinutes) * time.Minute)
	v := guestView{Number: r.Number, Menu: menu, When: guestSpan(r.StartsAt, r.EndsAt, zone, lang),
		Party:  guestTr(c, "reservations.site.cancel.party_value", "Count", r.PartySize),
		Status: guestTr(c, "reservations.site.cancel.status."+string(r.Status)), Deadline: guestTime(deadline, zone, lang)}
	return map[string]any{"TenantName": t.Name, "Base": base, "ID": r.ID, "R": v,
		"Closed": r.Status.Active() && !s.svc.clock().Before(deadline)}, nil
}

func (s *GuestPages) render(c *gin.Context, status int, data map[string]any) {
	data["Title"] = guestTr(c, "reservations.site.cancel.title")
	if data["Done"] == true {
		data["Title"] = guestTr(c, "reservations.site.cancel.done_title")
	}
	s.views.HTML(c, status, "site_cancel.html", data)
}

// gone is the page of a link whose reservation is no longer active: it
// was cancelled (maybe with this very link), rejected or has taken place.
func (s *GuestPages) gone(c *gin.Context) {
	_, base := s.base(c)
	t, _ := s.base(c)
	s.views.HTML(c, http.StatusGone, "site_cancel_invalid.html", map[string]any{"TenantName": t.Name, "Base": base,
		"Title": guestTr(c, "reservations.site.cancel.gone_title"), "Body": guestTr(c, "reservations.site.cancel.gone_body")})
}

// fail shows a wrong or unknown link as a calm not-found page, and other
// errors as the site's error page.
func (s *GuestPages) fail(c *gin.Context, err error) {
	t, base := s.base(c)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrToken) {
		s.views.HTML(c, http.StatusNotFound, "site_cancel_invalid.html", map[string]any{"TenantName": t.Name, "Base": base,
			"Title": guestTr(c, "reservations.site.cancel.invalid_title"), "Body": guestTr(c, "reservations.site.cancel.invalid_body")})
		return
	}
	p := httpx.ProblemFor(c, err)
	if p.Status >= 500 {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "cancel page failed", "status", p.Status, "err", err)
	}
	body := p.Detail
	if body == "" {
		body = p.Title
	}
	s.views.HTML(c, p.Status, "site_error.html", map[string]any{"Title": p.Title, "Body": body,
		"RequestID": logx.RequestID(c.Request.Context())})
}

// csrfToken returns the form's double-submit token, setting its cookie
// (scoped to the tenant's reservation pages) when there is none.
func (s *GuestPages) csrfToken(c *gin.Context) string {
	if v, err := c.Cookie(cancelCSRFCookie); err == nil && len(v) >= 32 {
		return v
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	_, base := s.base(c)
	http.SetCookie(c.Writer, &http.Cookie{Name: cancelCSRFCookie, Value: v, Path: base + "/reservations/",
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode})
	return v
}

func guestTr(c *gin.Context, id string, kv ...any) string {
	args := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			args[k] = kv[i+1]
		}
	}
	return httpx.Catalog(c).T(httpx.Lang(c), id, args)
}

var guestWeekdaysJa = []string{"日", "月", "火", "水", "木", "金", "土"}

// guestTime writes t in zone as the UI does: "2026年12月10日(木) 10:00",
// "Thu, 10 Dec 2026 10:00".
func guestTime(t time.Time, zone *time.Location, lang string) string {
	t = t.In(zone)
	if lang == "en" {
		return t.Format("Mon, 2 Jan 2006 15:04")
	}
	return fmt.Sprintf("%d年%d月%d日(%s) %s", t.Year(), t.Month(), t.Day(), guestWeekdaysJa[t.Weekday()], t.Format("15:04"))
}

// guestSpan writes a start and end, the end as a time alone on the same
// day, with the zone's abbreviation.
func guestSpan(start, end time.Time, zone *time.Location, lang string) string {
	s, e := start.In(zone), end.In(zone)
	z := " (" + s.Format("MST") + ")"
	if s.Year() == e.Year() && s.YearDay() == e.YearDay() {
		sep := "〜"
		if lang == "en" {
			sep = "–"
		}
		return guestTime(start, zone, lang) + sep + e.Format("15:04") + z
	}
	return guestTime(start, zone, lang) + " – " + guestTime(end, zone, lang) + z
}
