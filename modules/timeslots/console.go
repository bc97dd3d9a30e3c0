package timeslots

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/width"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// RegisterConsole adds the business-hours page to g, the console's group
// of signed-in staff: GET /calendar (the form and the year view) and POST
// /calendar (save; checked by ConsoleShell.CSRF).
func (h *HTTP) RegisterConsole(g *gin.RouterGroup) {
	g.GET("/calendar", h.console.Need(authz.AreaSchedule, authz.ActionView), h.consolePage)
	g.POST("/calendar", h.console.CSRF, h.console.Need(authz.AreaSchedule, authz.ActionEdit), h.consoleSave)
	g.POST("/calendar/settings", h.console.CSRF, h.console.Need(authz.AreaSchedule, authz.ActionEdit), h.consoleSettings)
	h.registerHoursConsole(g)
}

// consoleSettings saves the slot unit: the grid on which hours menus
// offer their start times.
func (h *HTTP) consoleSettings(c *gin.Context) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	raw := strings.TrimSpace(width.Narrow.String(c.PostForm("slot_unit_minutes")))
	n, convErr := strconv.Atoi(raw)
	if convErr != nil {
		n = -1 // refused by the range check with its message
	}
	_, err = h.svc.SetSlotUnit(ctx, db, n)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid && len(ae.Fields) > 0 {
		bh, lerr := h.svc.BusinessHours(ctx, db)
		if lerr != nil {
			h.console.Fail(c, lerr)
			return
		}
		cat, lang := httpx.Catalog(c), httpx.Lang(c)
		var msgs []string
		for _, fe := range ae.Fields {
			msgs = append(msgs, cat.T(lang, "field."+fe.Code, fe.Args))
		}
		h.render(c, http.StatusBadRequest, bh, toForm(bh), map[string]any{
			"Error": cat.T(lang, "timeslots.console.error", nil), "UnitValue": raw, "UnitErrors": msgs})
		return
	}
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	t, _ := tenants.FromContext(ctx)
	c.Redirect(http.StatusSeeOther, "/t/"+t.Slug+"/admin/calendar?unit_saved=1#settings")
}

// The form writes a day's ranges as text, "10:00-13:00, 14:00-19:00";
// closed dates one a line; special dates one a line, "2026-12-29
// 10:00-15:00". Holidays keep their weekday's hours, are closed, or have
// the hours of the holiday row.
const (
	holidayWeekday = "weekday"
	holidayClosed  = "closed"
	holidayHours   = "hours"
)

// formOrder is the order of the weekday rows (Monday first, as Japanese
// business hours are written).
var formOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// calendarForm is what the form shows: the texts, and errors by input.
type calendarForm struct {
	Days        []formDay
	HolidayMode string
	Holiday     formDay
	Closed      string
	Special     string
	Errors      map[string][]string // input name → messages
}

type formDay struct {
	Key, Name, Label, Value string
	Errors                  []string
}

func rangesText(rs []Range) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

func toForm(bh BusinessHours) calendarForm {
	f := calendarForm{HolidayMode: holidayWeekday, Errors: map[string][]string{}}
	for _, wd := range formOrder {
		f.Days = append(f.Days, formDay{Key: weekdayKeys[wd], Name: "weekly_" + weekdayKeys[wd], Value: rangesText(bh.Weekly[wd])})
	}
	f.Holiday = formDay{Key: holidayDay, Name: "holiday", Value: rangesText(bh.Holiday)}
	if bh.HolidayHours {
		f.HolidayMode = holidayClosed
		if len(bh.Holiday) > 0 {
			f.HolidayMode = holidayHours
		}
	}
	var closed, special []string
	for _, d := range bh.Closed {
		closed = append(closed, d.String())
	}
	for _, s := range bh.Special {
		special = append(special, s.Date.String()+" "+rangesText(s.Ranges))
	}
	f.Closed = strings.Join(closed, "\n")
	f.Special = strings.Join(special, "\n")
	return f
}

// parseRangesText reads "10:00-13:00, 14:00-19:00" (full-width digits,
// 〜 and 、 accepted); what does not read is handed on for the service to
// name.
func parseRangesText(s string) []RangeInput {
	s = width.Narrow.String(s)
	s = strings.NewReplacer("、", ",", "〜", "-", "~", "-", "–", "-").Replace(s)
	var out []RangeInput
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		start, end, _ := strings.Cut(p, "-")
		out = append(out, RangeInput{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)})
	}
	return out
}

func formLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(width.Narrow.String(l)); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// fromForm reads the posted form into the service's input, and the form
// to show again if the input is refused.
func fromForm(c *gin.Context) (BusinessHoursInput, calendarForm) {
	f := calendarForm{HolidayMode: c.PostForm("holiday_mode"), Errors: map[string][]string{}}
	in := BusinessHoursInput{Weekly: map[string][]RangeInput{}}
	for _, wd := range formOrder {
		key := weekdayKeys[wd]
		v := c.PostForm("weekly_" + key)
		f.Days = append(f.Days, formDay{Key: key, Name: "weekly_" + key, Value: v})
		in.Weekly[key] = parseRangesText(v)
	}
	f.Holiday = formDay{Key: holidayDay, Name: "holiday", Value: c.PostForm("holiday")}
	switch f.HolidayMode {
	case holidayClosed:
		in.Holiday = &[]RangeInput{}
	case holidayHours:
		rs := parseRangesText(f.Holiday.Value)
		in.Holiday = &rs
	default:
		f.HolidayMode = holidayWeekday
	}
	f.Closed = c.PostForm("closed_dates")
	in.ClosedDates = formLines(f.Closed)
	f.Special = c.PostForm("special_dates")
	for _, l := range formLines(f.Special) {
		date, ranges, _ := strings.Cut(l, " ")
		in.SpecialDates = append(in.SpecialDates, SpecialDateInput{Date: date, Ranges: parseRangesText(ranges)})
	}
	return in, f
}

// placeErrors puts the field errors of err next to the inputs they are
// about: "weekly.mon[1].end" under Monday, "closed_dates[2]" under the
// closed dates with its line number.
func placeErrors(f *calendarForm, cat *i18n.Catalog, lang string, ae *apperr.Error) {
	for _, fe := range ae.Fields {
		args := map[string]any{"Field": fe.Field}
		for k, v := range fe.Args {
			args[k] = v
		}
		msg := cat.T(lang, "field."+fe.Code, args)
		if msg == "field."+fe.Code {
			msg = cat.T(lang, "field.invalid", args)
		}
		name, rest := fe.Field, ""
		if i := strings.IndexAny(fe.Field, ".["); i >= 0 {
			name, rest = fe.Field[:i], fe.Field[i:]
		}
		switch name {
		case "weekly":
			key, r, _ := strings.Cut(strings.TrimPrefix(rest, "."), "[")
			name, rest = "weekly_"+key, "["+r
		case "closed_dates", "special_dates", "days_off":
			if n, ok := index(rest); ok {
				msg = cat.T(lang, "timeslots.console.line", map[string]any{"Line": n + 1, "Message": msg})
			}
			rest = ""
		}
		if !formInputs[name] {
			name = ""
		}
		if n, ok := index(rest); ok {
			msg = cat.T(lang, "timeslots.console.range_n", map[string]any{"N": n + 1, "Message": msg})
		}
		f.Errors[name] = append(f.Errors[name], msg)
	}
	for i := range f.Days {
		f.Days[i].Errors = f.Errors[f.Days[i].Name]
	}
	f.Holiday.Errors = f.Errors["holiday"]
}

// formInputs are the inputs errors can be shown under; others go to the
// end of the form.
var formInputs = map[string]bool{"weekly_mon": true, "weekly_tue": true, "weekly_wed": true, "weekly_thu": true,
	"weekly_fri": true, "weekly_sat": true, "weekly_sun": true, "holiday": true, "closed_dates": true, "special_dates": true,
	"days_off": true} // days_off: the working-hours form of providers and resources

// index reads the leading "[n]" of a field path's rest.
func index(rest string) (int, bool) {
	if !strings.HasPrefix(rest, "[") {
		return 0, false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:end])
	return n, err == nil
}

func (h *HTTP) consolePage(c *gin.Context) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	bh, err := h.svc.BusinessHours(ctx, db)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	data := map[string]any{}
	if c.Query("saved") != "" {
		data["Flash"] = httpx.Catalog(c).T(httpx.Lang(c), "timeslots.console.saved", nil)
	}
	if c.Query("unit_saved") != "" {
		data["Flash"] = httpx.Catalog(c).T(httpx.Lang(c), "timeslots.settings.saved", nil)
	}
	h.render(c, http.StatusOK, bh, toForm(bh), data)
}

func (h *HTTP) consoleSave(c *gin.Context) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	in, form := fromForm(c)
	_, err = h.svc.SaveBusinessHours(ctx, db, in)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid && len(ae.Fields) > 0 {
		bh, lerr := h.svc.BusinessHours(ctx, db)
		if lerr != nil {
			h.console.Fail(c, lerr)
			return
		}
		cat, lang := httpx.Catalog(c), httpx.Lang(c)
		placeErrors(&form, cat, lang, ae)
		h.render(c, http.StatusBadRequest, bh, form, map[string]any{"Error": cat.T(lang, "timeslots.console.error", nil)})
		return
	}
	if err != nil {
		h.console.Fail(c, err)
		return
	}
	t, _ := tenants.FromContext(ctx)
	c.Redirect(http.StatusSeeOther, "/t/"+t.Slug+"/admin/calendar?saved=1#hours")
}

// render shows the form and the year view of the saved calendar bh.
func (h *HTTP) render(c *gin.Context, status int, bh BusinessHours, form calendarForm, data map[string]any) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	zone := zoneOf(t)
	year, err := h.yearParam(c, zone)
	if err != nil {
		year = h.svc.now().In(zone).Year()
	}
	cat, lang := httpx.Catalog(c), httpx.Lang(c)
	for i := range form.Days {
		form.Days[i].Label = cat.T(lang, "timeslots.weekday."+form.Days[i].Key, nil)
	}
	form.Holiday.Label = cat.T(lang, "timeslots.holiday_row", nil)
	data["Form"] = form
	if _, ok := data["UnitValue"]; !ok {
		unit := DefaultSlotUnit
		if db, err := tenantdb.From(ctx); err == nil {
			if u, err := h.svc.SlotUnit(ctx, db); err == nil {
				unit = u
			}
		}
		data["UnitValue"] = strconv.Itoa(unit)
	}
	data["Year"] = yearView(NewCalendar(zone, bh, nil, year), year, DateOf(h.svc.now().In(zone)), lang)
	data["TimeZone"] = zone.String()
	data["Weekdays"] = []int{0, 1, 2, 3, 4, 5, 6}
	h.console.Page(c, status, "console_calendar.html", "timeslots.title", data)
}

// yearPage is the year view: twelve small months.
type yearPage struct {
	Year, Prev, Next int
	HasPrev, HasNext bool
	Months           []monthView
	Holidays         []holidayRow
}

type monthView struct {
	Month int
	Weeks [][]dayCell
}

// dayCell is one day of the year view. Marks are shown as text symbols
// (祝, 休, 特) explained by the legend, never by colour alone.
type dayCell struct {
	Day                      int // 0: a blank cell
	Date                     string
	Holiday                  string // the holiday's name, if any
	Closed, Special, IsToday bool
	Weekday                  int
}

type holidayRow struct {
	Date       string
	Month, Day int
	Weekday    int
	Name       string
	Closed     bool
}

func yearView(cal *Calendar, year int, today Date, lang string) yearPage {
	p := yearPage{Year: year, Prev: year - 1, Next: year + 1,
		HasPrev: year > FirstHolidayYear, HasNext: year < LastHolidayYear}
	special := map[Date]bool{}
	for _, s := range cal.business.Special {
		special[s.Date] = true
	}
	for m := time.January; m <= time.December; m++ {
		mv := monthView{Month: int(m)}
		first := Date{year, m, 1}
		week := make([]dayCell, 7)
		for d := first; d.Month == m; d = d.AddDays(1) {
			wd := int(d.Weekday())
			cell := dayCell{Day: d.Day, Date: d.String(), Weekday: wd, IsToday: d == today,
				Special: special[d], Closed: len(cal.BusinessRanges(d)) == 0}
			if h, ok := cal.Holiday(d); ok {
				cell.Holiday = h.Name
				if lang == i18n.English {
					cell.Holiday = h.NameEn
				}
				p.Holidays = append(p.Holidays, holidayRow{Date: d.String(), Month: int(m), Day: d.Day, Weekday: wd,
					Name: cell.Holiday, Closed: cell.Closed})
			}
			week[wd] = cell
			if wd == int(time.Saturday) {
				mv.Weeks = append(mv.Weeks, week)
				week = make([]dayCell, 7)
			}
		}
		if week[0].Day != 0 || hasDay(week) {
			mv.Weeks = append(mv.Weeks, week)
		}
		p.Months = append(p.Months, mv)
	}
	return p
}

func hasDay(week []dayCell) bool {
	for _, c := range week {
		if c.Day != 0 {
			return true
		}
	}
	return false
}
