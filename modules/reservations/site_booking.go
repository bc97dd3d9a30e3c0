package reservations

// The booking site (/t/{tenant}/): a guest, usually on a phone, picks a
// menu, a day and a time, fills in who they are, confirms and gets a
// reservation number. Every step is a server-rendered page that works
// without JavaScript (links navigate, forms post); web/static/booking.js
// only swaps the calendar's month in place.
//
// No session holds the flow: the chosen time travels in the query string
// (steps 2–3: a session id or a civil start, never personal data), the
// form's values in hidden fields of the confirmation page (posted, so no
// name or e-mail lands in a URL or an access log). A guest's forms carry a
// double-submit CSRF token (a cookie scoped to /t/{tenant}/ and the same
// value in the form).
//
// The confirmation page draws a secret key into a hidden field. Booking
// with it is idempotent: the request key is derived from the secret and
// the form's values, so a double click or a reload of the POST finds the
// reservation the first one made (Service.Book's request key), and the
// guest's cancel token is derived from the same secret, so both answers
// lead to the same done page and cancel link.
//
// A time taken by someone else between viewing and confirming sends the
// guest back to the day (step 2) with a friendly message and the nearest
// free times: never an error page.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// Booking-site tenant settings (tenants.GetSetting).
const (
	// SettingPricesIncludeTax: "false" hides the 税込 mark next to prices.
	// Until a tenant sets it, prices are shown as tax included, the usual
	// (and since 2021 the required) way of showing prices to consumers in
	// Japan.
	SettingPricesIncludeTax = "site.prices_include_tax"
	// SettingTermsURL: the tenant's terms of use, linked from the consent
	// checkbox ("" shows the checkbox without a link).
	SettingTermsURL = "site.terms_url"
)

const (
	siteCSRFCookie = "yoyaku_book_csrf"
	siteScope      = "site:"
	// siteNearestCount is how many free times a guest whose time was taken
	// is offered.
	siteNearestCount = 5
	// siteMaxMonthsAhead bounds the calendar's next links.
	siteMaxMonthsAhead = 24
)

// SiteMember is the signed-in member a booking is for (members.MemberFrom
// through SiteConfig.Member).
type SiteMember struct {
	ID    string
	Name  string
	Kana  string
	Email string
	Phone string
}

// SiteConfig wires the booking site.
type SiteConfig struct {
	Service *Service
	Menus   *menus.Service
	Slots   *timeslots.Service
	Views   *view.Renderer
	// Member returns the signed-in member, if any (nil: guests only).
	Member func(c *gin.Context) (SiteMember, bool)
	// DB returns the request's tenant database (default tenantdb.From).
	DB  func(ctx context.Context) (bun.IDB, error)
	Now func() time.Time
}

// Site serves the booking site's pages.
type Site struct {
	cfg SiteConfig
}

// NewSite returns the booking site.
func NewSite(cfg SiteConfig) *Site {
	if cfg.DB == nil {
		cfg.DB = tenantdb.From
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Site{cfg: cfg}
}

// Register adds the booking flow to g ("/t/:tenant" after the site's rate
// limit and tenant middleware): the menu list is the site's home.
func (s *Site) Register(g *gin.RouterGroup) {
	g.GET("/", s.load, s.menusPage)
	g.GET("/lang/:lang", s.switchLang)
	g.GET("/book/:menu", s.load, s.whenPage)
	g.GET("/book/:menu/form", s.load, s.formPage)
	g.POST("/book/:menu/form", s.load, s.checkCSRF, s.formPost)
	g.POST("/book/:menu/confirm", s.load, s.checkCSRF, s.confirmPost)
	g.GET("/book/:menu/waitlist", s.load, s.waitlistPage)
	g.POST("/book/:menu/waitlist", s.load, s.checkCSRF, s.waitlistPost)
	g.GET("/booked/:id", s.load, s.donePage)
	g.GET("/booked/:id/calendar.ics", s.load, s.ics)
}

// bookSiteCtx is what every page of a request shares.
type bookSiteCtx struct {
	t      tenants.Tenant
	db     bun.IDB
	zone   *time.Location
	base   string // /t/{slug}
	lang   string
	member SiteMember
	signed bool
}

// siteStep is one step of the indicator.
type siteStep struct {
	Label         string
	Current, Done bool
}

// siteSteps numbers the pages of the flow for the step indicator.
var siteSteps = map[string]int{"site_book_menus.html": 1, "site_book_when.html": 2, "site_book_form.html": 3,
	"site_book_confirm.html": 4, "site_book_done.html": 5}

const bookSiteCtxKey = "yoyaku.reservations.site"

func (s *Site) load(c *gin.Context) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := s.cfg.DB(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	sc := bookSiteCtx{t: t, db: db, zone: ZoneOf(t), base: "/t/" + t.Slug, lang: httpx.Lang(c)}
	if s.cfg.Member != nil {
		sc.member, sc.signed = s.cfg.Member(c)
	}
	c.Set(bookSiteCtxKey, sc)
	// Pages carry the visitor's choices and answers: never cached.
	c.Header("Cache-Control", "no-store")
	c.Next()
}

func bookSiteOf(c *gin.Context) bookSiteCtx {
	v, _ := c.Get(bookSiteCtxKey)
	return v.(bookSiteCtx)
}

func (s *Site) tr(c *gin.Context, id string, args map[string]any) string {
	return httpx.Catalog(c).T(httpx.Lang(c), id, args)
}

// fail shows err as the site's error page (a missing menu, a failure).
func (s *Site) fail(c *gin.Context, err error) {
	p := httpx.ProblemFor(c, err)
	if p.Status >= 500 {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "booking page failed", "status", p.Status, "err", err)
	}
	body := p.Detail
	if body == "" {
		body = s.tr(c, "booking.error.body", nil)
	}
	if p.Status == http.StatusNotFound {
		// A guest has no id to check: send them back to the start.
		p.Title, body = s.tr(c, "booking.error.not_found_title", nil), s.tr(c, "booking.error.not_found", nil)
	}
	s.cfg.Views.HTML(c, p.Status, "site_error.html", map[string]any{
		"Title": p.Title, "Body": body, "RequestID": logx.RequestID(c.Request.Context()),
	})
	c.Abort()
}

// render adds what every booking page shows (tenant, language switch).
func (s *Site) render(c *gin.Context, status int, name string, data map[string]any) {
	sc := bookSiteOf(c)
	data["TenantName"] = sc.t.Name
	data["Base"] = sc.base
	other := i18n.English
	if sc.lang == i18n.English {
		other = i18n.Japanese
	}
	data["OtherLang"] = other
	data["LangHref"] = sc.base + "/lang/" + other + "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
	if c.Request.Method != http.MethodGet {
		data["LangHref"] = sc.base + "/lang/" + other + "?next=" + url.QueryEscape(sc.base+"/")
	}
	data["Signed"] = sc.signed
	var steps []siteStep
	for i, id := range []string{"menu", "when", "form", "confirm", "done"} {
		steps = append(steps, siteStep{Label: s.tr(c, "booking.step."+id, nil), Current: siteSteps[name] == i+1,
			Done: i+1 < siteSteps[name]})
	}
	data["Steps"] = steps
	s.cfg.Views.HTML(c, status, name, data)
}

// switchLang keeps the visitor's language in the cookie the language
// middleware reads, then goes back to the page (only under this site).
func (s *Site) switchLang(c *gin.Context) {
	t, _ := tenants.FromContext(c.Request.Context())
	base := "/t/" + t.Slug
	lang := c.Param("lang")
	if lang != i18n.Japanese && lang != i18n.English {
		lang = i18n.Japanese
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: i18n.CookieName, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode})
	next := c.Query("next")
	if !strings.HasPrefix(next, base+"/") || strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "//") {
		next = base + "/"
	}
	c.Redirect(http.StatusSeeOther, next)
}

// siteCSRFToken returns the guest's double-submit token, setting its cookie
// when missing.
func siteCSRFToken(c *gin.Context, base string) string {
	if v, err := c.Cookie(siteCSRFCookie); err == nil && len(v) >= 32 {
		return v
	}
	v := siteRandomKey()
	http.SetCookie(c.Writer, &http.Cookie{Name: siteCSRFCookie, Value: v, Path: base + "/", HttpOnly: true,
		Secure: c.Request.TLS != nil, SameSite: http.SameSiteLaxMode})
	return v
}

func (s *Site) checkCSRF(c *gin.Context) {
	cookie, err := c.Cookie(siteCSRFCookie)
	form := c.PostForm("csrf_token")
	if err != nil || len(cookie) < 32 || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		s.fail(c, apperr.New(apperr.KindForbidden, "csrf_invalid"))
		return
	}
	c.Next()
}

func siteRandomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// --- money, dates, names ---------------------------------------------------

func siteYen(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-¥" + b.String()
	}
	return "¥" + b.String()
}

var (
	siteWeekdaysJA = []string{"日", "月", "火", "水", "木", "金", "土"}
)

// siteDayLabel: 2026年12月10日(木) or Thu, 10 Dec 2026.
func siteDayLabel(d timeslots.Date, lang string) string {
	if lang == i18n.English {
		return d.Weekday().String()[:3] + ", " + strconv.Itoa(d.Day) + " " + d.Month.String()[:3] + " " + strconv.Itoa(d.Year)
	}
	return fmt.Sprintf("%d年%d月%d日(%s)", d.Year, int(d.Month), d.Day, siteWeekdaysJA[d.Weekday()])
}

// siteWhenLabel: 2026年12月10日(木) 10:00–11:00, with the zone named when it is
// not Japan's (the site's visitors are assumed to be in Japan).
func siteWhenLabel(start, end time.Time, zone *time.Location, lang string) string {
	st, en := start.In(zone), end.In(zone)
	s := siteDayLabel(timeslots.DateOf(st), lang) + " " + st.Format("15:04")
	if !end.IsZero() {
		s += "–" + en.Format("15:04")
	}
	if zone.String() != "Asia/Tokyo" {
		s += " (" + zone.String() + ")"
	}
	return s
}

func siteMonthLabel(y int, m time.Month, lang string) string {
	if lang == i18n.English {
		return m.String() + " " + strconv.Itoa(y)
	}
	return fmt.Sprintf("%d年%d月", y, int(m))
}

func siteMenuName(m menus.Menu, lang string) string {
	if lang == i18n.English && m.NameEN != "" {
		return m.NameEN
	}
	return m.NameJA
}

func siteMenuDesc(m menus.Menu, lang string) string {
	if lang == i18n.English && m.DescriptionEN != "" {
		return m.DescriptionEN
	}
	return m.DescriptionJA
}

func siteOptionName(o menus.Option, lang string) string {
	if lang == i18n.English && o.NameEN != "" {
		return o.NameEN
	}
	return o.NameJA
}

func siteQuestionLabel(q menus.Question, lang string) string {
	if lang == i18n.English && q.LabelEN != "" {
		return q.LabelEN
	}
	return q.LabelJA
}

func (s *Site) taxIncluded(ctx context.Context, db bun.IDB) bool {
	v, ok, err := tenants.GetSetting(ctx, db, SettingPricesIncludeTax)
	return err != nil || !ok || v != "false"
}

// priceLabel: ¥4,400（税込） / ¥4,400 (tax incl.); per person for sessions.
func (s *Site) priceLabel(c *gin.Context, price int64, perPerson, tax bool) string {
	out := siteYen(price)
	if perPerson {
		out += s.tr(c, "booking.price.per_person", nil)
	}
	if tax {
		out += s.tr(c, "booking.price.tax_included", nil)
	}
	return out
}

// --- step 1: menus -----------------------------------------------------------

type siteMenuCard struct {
	Name, Description, Duration, Price, Href, LoginHref string
	MembersOnly, Bookable                               bool
}

type siteMenuGroup struct {
	Name  string
	Menus []siteMenuCard
}

func (s *Site) menusPage(c *gin.Context) {
	sc := bookSiteOf(c)
	ctx := c.Request.Context()
	welcome, _, err := tenants.GetSetting(ctx, sc.db, tenants.SettingWelcome)
	if err != nil {
		s.fail(c, err)
		return
	}
	cat, err := s.cfg.Menus.PublicCatalog(ctx, sc.db)
	if err != nil {
		s.fail(c, err)
		return
	}
	tax := s.taxIncluded(ctx, sc.db)
	byCat := map[string][]siteMenuCard{}
	for _, m := range cat.Menus {
		card := siteMenuCard{Name: siteMenuName(m, sc.lang), Description: siteMenuDesc(m, sc.lang),
			Duration: s.tr(c, "booking.duration", map[string]any{"Minutes": m.DurationMinutes}),
			Price:    s.priceLabel(c, m.Price, m.BookingMode != menus.ModeHours, tax),
			Href:     sc.base + "/book/" + m.ID, MembersOnly: m.Visibility == menus.VisibilityMembers}
		card.Bookable = !card.MembersOnly || sc.signed
		if !card.Bookable {
			card.LoginHref = sc.base + "/login?next=" + url.QueryEscape(card.Href)
		}
		byCat[m.CategoryID] = append(byCat[m.CategoryID], card)
	}
	var groups []siteMenuGroup
	for _, k := range cat.Categories {
		if ms := byCat[k.ID]; len(ms) > 0 {
			name := k.NameJA
			if sc.lang == i18n.English && k.NameEN != "" {
				name = k.NameEN
			}
			groups = append(groups, siteMenuGroup{Name: name, Menus: ms})
			delete(byCat, k.ID)
		}
	}
	var rest []siteMenuCard // uncategorised, or in a category not listed
	for _, m := range cat.Menus {
		if ms, ok := byCat[m.CategoryID]; ok {
			rest = append(rest, ms...)
			delete(byCat, m.CategoryID)
		}
	}
	if len(rest) > 0 {
		groups = append(groups, siteMenuGroup{Name: s.tr(c, "booking.menus.other", nil), Menus: rest})
	}
	s.render(c, http.StatusOK, "site_book_menus.html", map[string]any{"Welcome": welcome, "Groups": groups})
}

// bookableMenu returns the menu of the ":menu" path parameter when the site
// may book it; a members-only menu sends a guest to the login page (false,
// answered).
func (s *Site) bookableMenu(c *gin.Context) (menus.Menu, bool) {
	sc := bookSiteOf(c)
	id := c.Param("menu")
	notFound := menus.ErrMenuNotFound
	if !validID(id) {
		s.fail(c, notFound)
		return menus.Menu{}, false
	}
	m, err := s.cfg.Menus.Get(c.Request.Context(), sc.db, id)
	if errors.Is(err, menus.ErrMenuNotFound) || (err == nil && (m.Archived() || m.Visibility == menus.VisibilityPrivate)) {
		s.fail(c, notFound)
		return menus.Menu{}, false
	}
	if err != nil {
		s.fail(c, err)
		return menus.Menu{}, false
	}
	if m.Visibility == menus.VisibilityMembers && !sc.signed {
		c.Redirect(http.StatusSeeOther, sc.base+"/login?next="+url.QueryEscape(sc.base+"/book/"+m.ID))
		c.Abort()
		return menus.Menu{}, false
	}
	return m, true
}

// --- step 2: when --------------------------------------------------------------

type siteDay struct {
	Day                                    int
	Date, State, Href, Holiday, Mark, Text string
	InMonth, Selected, Today, Sun, Sat     bool
}

// dayMarks are the calendar's marks by state, in words too (booking.day.*):
// a day's state is never told by colour alone.
var dayMarks = map[string]string{"open": "○", "full": "×", "closed": "休", "none": "–", "past": "–"}

type siteTime struct {
	Label, Seats, Href string
	Full               bool
	// WaitHref joins the waitlist of a full session.
	WaitHref string
}

type siteProvider struct {
	Name, Href string
	Current    bool
}

// siteWhen is the choice of step 2 as the query string carries it.
type siteWhen struct {
	month    timeslots.Date // the first of the month shown
	day      timeslots.Date // the chosen day (zero: none)
	provider string
}

func (s *Site) whenHref(base string, m menus.Menu, q siteWhen, day timeslots.Date) string {
	v := url.Values{}
	v.Set("month", fmt.Sprintf("%04d-%02d", q.month.Year, int(q.month.Month)))
	if !day.IsZero() {
		v.Set("month", fmt.Sprintf("%04d-%02d", day.Year, int(day.Month)))
		v.Set("date", day.String())
	}
	if q.provider != "" {
		v.Set("provider", q.provider)
	}
	return base + "/book/" + m.ID + "?" + v.Encode()
}

func (s *Site) formHref(base string, m menus.Menu, sl timeslots.AvailableSlot, provider string, zone *time.Location) string {
	v := url.Values{}
	if sl.SlotID != "" {
		v.Set("slot", sl.SlotID)
	} else {
		v.Set("start", sl.StartsAt.In(zone).Format("2006-01-02T15:04"))
	}
	if provider != "" {
		v.Set("provider", provider)
	}
	return base + "/book/" + m.ID + "/form?" + v.Encode()
}

func (s *Site) whenPage(c *gin.Context) {
	m, ok := s.bookableMenu(c)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	ctx := c.Request.Context()
	now := s.cfg.Now()
	today := timeslots.DateOf(now.In(sc.zone))
	thisMonth := timeslots.NewDate(today.Year, today.Month, 1)
	q := siteWhen{month: thisMonth}
	if d, err := timeslots.ParseDate(c.Query("date")); err == nil && !d.Before(today) {
		q.day = d
		q.month = timeslots.NewDate(d.Year, d.Month, 1)
	} else if mt, err := time.Parse("2006-01", c.Query("month")); err == nil {
		q.month = timeslots.NewDate(mt.Year(), mt.Month(), 1)
	}
	if q.month.Before(thisMonth) {
		q.month = thisMonth
	}
	if last := siteAddMonths(thisMonth, siteMaxMonthsAhead); q.month.After(last) {
		q.month = last
	}
	if p := c.Query("provider"); slices.Contains(m.ProviderIDs, p) {
		q.provider = p
	}
	next := siteAddMonths(q.month, 1)
	lastDay := next.AddDays(-1)
	from := q.month
	if from.Before(today) {
		from = today
	}
	av, err := s.cfg.Slots.Availability(ctx, sc.db, timeslots.AvailabilityQuery{MenuID: m.ID, Zone: sc.zone, From: from,
		To: lastDay, ProviderID: q.provider, Now: now, Public: true})
	if err != nil {
		s.fail(c, err)
		return
	}
	cal, err := s.cfg.Slots.Load(ctx, sc.db, sc.zone, q.month, lastDay)
	if err != nil {
		s.fail(c, err)
		return
	}
	free, sessions := map[timeslots.Date]bool{}, map[timeslots.Date]bool{}
	for _, sl := range av.Slots {
		d := timeslots.DateOf(sl.StartsAt.In(sc.zone))
		sessions[d] = true
		if sl.Remaining > 0 {
			free[d] = true
		}
	}
	if len(free) == 0 && c.Query("month") == "" && c.Query("date") == "" && c.Query("taken") == "" {
		// Nothing left this month (often so near its end, or before a
		// timetable starts): open on the next one.
		c.Redirect(http.StatusSeeOther, s.whenHref(sc.base, m, siteWhen{month: next, provider: q.provider}, timeslots.Date{}))
		return
	}
	// Six weeks from the Sunday on or before the first: the grid's height
	// never changes from month to month (no layout shift).
	start := q.month.AddDays(-int(q.month.Weekday()))
	cells := make([]siteDay, 0, 42)
	var holidays []string
	for i := range 42 {
		d := start.AddDays(i)
		cell := siteDay{Day: d.Day, Date: d.String(), InMonth: d.Month == q.month.Month, Today: d == today,
			Selected: d == q.day, Sun: d.Weekday() == time.Sunday, Sat: d.Weekday() == time.Saturday}
		if h, ok := cal.Holiday(d); ok && cell.InMonth {
			cell.Holiday = h.Name
			if sc.lang == i18n.English {
				cell.Holiday = h.NameEn
			}
			holidays = append(holidays, s.tr(c, "booking.when.holiday_line",
				map[string]any{"Day": siteDayLabel(d, sc.lang), "Name": cell.Holiday}))
		}
		switch {
		case !cell.InMonth:
			cell.State = "out"
		case d.Before(today):
			cell.State = "past"
		case free[d]:
			cell.State = "open"
			cell.Href = s.whenHref(sc.base, m, q, d)
		case sessions[d]:
			cell.State = "full"
		case m.BookingMode == menus.ModeHours && len(cal.BusinessRanges(d)) == 0:
			cell.State = "closed"
		default:
			cell.State = "none"
		}
		if cell.InMonth {
			cell.Mark = dayMarks[cell.State]
			cell.Text = s.tr(c, "booking.day."+cell.State, nil)
		}
		cells = append(cells, cell)
	}
	weeks := make([][]siteDay, 0, 6)
	for i := 0; i < len(cells); i += 7 {
		weeks = append(weeks, cells[i:i+7])
	}
	data := map[string]any{
		"Menu": s.menuSummary(c, m), "Month": siteMonthLabel(q.month.Year, q.month.Month, sc.lang), "Weeks": weeks,
		"Holidays": holidays, "Weekdays": siteWeekdayHeads(sc.lang), "Sessions": m.BookingMode != menus.ModeHours,
	}
	if q.month.After(thisMonth) {
		data["PrevHref"] = s.whenHref(sc.base, m, siteWhen{month: siteAddMonths(q.month, -1), provider: q.provider}, timeslots.Date{})
	}
	if !next.After(siteAddMonths(thisMonth, siteMaxMonthsAhead)) {
		data["NextHref"] = s.whenHref(sc.base, m, siteWhen{month: next, provider: q.provider}, timeslots.Date{})
	}
	if len(m.ProviderIDs) > 0 && m.BookingMode == menus.ModeHours {
		ps := []siteProvider{{Name: s.tr(c, "booking.when.provider_any", nil), Current: q.provider == "",
			Href: s.whenHref(sc.base, m, siteWhen{month: q.month}, q.day)}}
		for _, id := range m.ProviderIDs {
			p, err := s.cfg.Menus.GetProvider(ctx, sc.db, id)
			if err != nil || !p.Active {
				continue
			}
			ps = append(ps, siteProvider{Name: p.Name, Current: q.provider == id,
				Href: s.whenHref(sc.base, m, siteWhen{month: q.month, provider: id}, q.day)})
		}
		data["Providers"] = ps
	}
	if !q.day.IsZero() {
		data["DayLabel"] = siteDayLabel(q.day, sc.lang)
		var times []siteTime
		for _, sl := range av.Slots {
			if timeslots.DateOf(sl.StartsAt.In(sc.zone)) != q.day {
				continue
			}
			times = append(times, s.siteTime(c, m, sl, q.provider))
		}
		data["Times"] = times
	}
	if at, ok := parseInstant(c.Query("taken"), sc.zone); ok {
		data["Taken"] = true
		near, err := s.nearest(ctx, sc, m, q.provider, at, now)
		if err != nil {
			s.fail(c, err)
			return
		}
		var choices []siteTime
		for _, sl := range near {
			tc := s.siteTime(c, m, sl, q.provider)
			tc.Label = siteWhenLabel(sl.StartsAt, sl.EndsAt, sc.zone, sc.lang)
			choices = append(choices, tc)
		}
		data["Nearest"] = choices
	}
	s.render(c, http.StatusOK, "site_book_when.html", data)
}

func (s *Site) siteTime(c *gin.Context, m menus.Menu, sl timeslots.AvailableSlot, provider string) siteTime {
	sc := bookSiteOf(c)
	tc := siteTime{Label: sl.StartsAt.In(sc.zone).Format("15:04") + "–" + sl.EndsAt.In(sc.zone).Format("15:04"),
		Full: sl.Remaining <= 0}
	if m.BookingMode != menus.ModeHours {
		if tc.Full {
			tc.Seats = s.tr(c, "booking.when.full", nil)
		} else {
			tc.Seats = s.tr(c, "booking.when.seats_left", map[string]any{"Count": sl.Remaining})
		}
	}
	if !tc.Full {
		tc.Href = s.formHref(sc.base, m, sl, provider, sc.zone)
	} else if sl.SlotID != "" {
		tc.WaitHref = s.waitHref(sc.base, m, sl.SlotID)
	}
	return tc
}

// nearest returns the free times closest to at (a week before to two
// weeks after), nearest first then by time.
func (s *Site) nearest(ctx context.Context, sc bookSiteCtx, m menus.Menu, provider string, at, now time.Time) ([]timeslots.AvailableSlot, error) {
	today := timeslots.DateOf(now.In(sc.zone))
	day := timeslots.DateOf(at.In(sc.zone))
	from, to := day.AddDays(-7), day.AddDays(14)
	if from.Before(today) {
		from = today
	}
	if to.Before(from) {
		return nil, nil
	}
	av, err := s.cfg.Slots.Availability(ctx, sc.db, timeslots.AvailabilityQuery{MenuID: m.ID, Zone: sc.zone, From: from,
		To: to, ProviderID: provider, Now: now, Public: true})
	if err != nil {
		return nil, err
	}
	var free []timeslots.AvailableSlot
	for _, sl := range av.Slots {
		if sl.Remaining > 0 && !sl.StartsAt.Equal(at) {
			free = append(free, sl)
		}
	}
	dist := func(t time.Time) time.Duration {
		d := t.Sub(at)
		if d < 0 {
			return -d
		}
		return d
	}
	sort.SliceStable(free, func(i, j int) bool { return dist(free[i].StartsAt) < dist(free[j].StartsAt) })
	free = free[:min(len(free), siteNearestCount)]
	sort.SliceStable(free, func(i, j int) bool { return free[i].StartsAt.Before(free[j].StartsAt) })
	return free, nil
}

func siteAddMonths(d timeslots.Date, n int) timeslots.Date {
	t := time.Date(d.Year, d.Month+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	return timeslots.NewDate(t.Year(), t.Month(), 1)
}

func siteWeekdayHeads(lang string) []string {
	if lang == i18n.English {
		return []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	}
	return siteWeekdaysJA
}

type siteMenuView struct {
	ID, Name, Duration, Price string
	Approval                  bool
}

func (s *Site) menuSummary(c *gin.Context, m menus.Menu) siteMenuView {
	sc := bookSiteOf(c)
	return siteMenuView{ID: m.ID, Name: siteMenuName(m, sc.lang),
		Duration: s.tr(c, "booking.duration", map[string]any{"Minutes": m.DurationMinutes}),
		Price:    s.priceLabel(c, m.Price, m.BookingMode != menus.ModeHours, s.taxIncluded(c.Request.Context(), sc.db)),
		Approval: m.ApprovalRequired}
}
