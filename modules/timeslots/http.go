package timeslots

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/platform/view"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// NeedFunc is a permission check middleware: the caller's role must allow
// action in area (identity.API.Need for the API, identity.Console.Need for
// the console).
type NeedFunc func(area authz.Area, action authz.Action) gin.HandlerFunc

// ConsoleShell is what the calendar pages need of the staff console
// (identity.Console provides it).
type ConsoleShell struct {
	// Page renders template name inside the console's shell, setting
	// data["Title"], data["CSRF"] and data["Base"].
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	// CSRF refuses a form post without the session's token.
	CSRF gin.HandlerFunc
	// Fail shows an error as a console page.
	Fail func(c *gin.Context, err error)
	// Need is the console's permission check.
	Need NeedFunc
}

// HTTPConfig wires the HTTP side.
type HTTPConfig struct {
	Service *Service
	Views   *view.Renderer
	APINeed NeedFunc     // needed by RegisterAPI
	Console ConsoleShell // needed by RegisterConsole
	// OwnerName names providers and resources on their working-hours
	// pages (nil: their ids are shown).
	OwnerName OwnerNameFunc
}

// HTTP serves the calendar's part of the tenant API and the console.
type HTTP struct {
	svc     *Service
	views   *view.Renderer
	apiNeed NeedFunc
	console ConsoleShell

	ownerName OwnerNameFunc
}

// NewHTTP returns the HTTP side of the calendar.
func NewHTTP(cfg HTTPConfig) *HTTP {
	return &HTTP{svc: cfg.Service, views: cfg.Views, apiNeed: cfg.APINeed, console: cfg.Console, ownerName: cfg.OwnerName}
}

// RegisterAPI adds the calendar routes to g, the tenant API group
// ("/api/v1" after the API key middleware).
func (h *HTTP) RegisterAPI(g *gin.RouterGroup) {
	view, edit := h.apiNeed(authz.AreaSchedule, authz.ActionView), h.apiNeed(authz.AreaSchedule, authz.ActionEdit)
	g.GET("/calendar", view, h.getCalendar)
	g.PUT("/calendar", edit, h.putCalendar)
	g.GET("/calendar/holidays", view, h.holidays)
	g.GET("/calendar/providers/:id", view, h.getWorking(OwnerProvider))
	g.PUT("/calendar/providers/:id", edit, h.putWorking(OwnerProvider))
	g.GET("/calendar/resources/:id", view, h.getWorking(OwnerResource))
	g.PUT("/calendar/resources/:id", edit, h.putWorking(OwnerResource))
}

// rangeJSON is a range in the API: "HH:MM" times.
type rangeJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type specialJSON struct {
	Date   string      `json:"date"`
	Ranges []rangeJSON `json:"ranges" binding:"max=8"`
}

// calendarRequest is the body of PUT /api/v1/calendar.
type calendarRequest struct {
	Weekly       map[string][]rangeJSON `json:"weekly" binding:"required"`
	Holiday      *[]rangeJSON           `json:"holiday"`
	ClosedDates  []string               `json:"closed_dates" binding:"max=1000"`
	SpecialDates []specialJSON          `json:"special_dates" binding:"max=500,dive"`
}

// calendarJSON is the business calendar as the API answers it.
type calendarJSON struct {
	TimeZone     string                 `json:"time_zone,omitempty"`
	Weekly       map[string][]rangeJSON `json:"weekly"`
	Holiday      *[]rangeJSON           `json:"holiday"`
	ClosedDates  []string               `json:"closed_dates"`
	SpecialDates []specialJSON          `json:"special_dates"`
	UpdatedAt    *time.Time             `json:"updated_at,omitempty"`
}

// workingRequest is the body of PUT /api/v1/calendar/{providers|resources}/{id}.
type workingRequest struct {
	Weekly  map[string][]rangeJSON `json:"weekly"`
	DaysOff []string               `json:"days_off" binding:"max=1000"`
}

// workingJSON is a provider's or resource's calendar as the API answers it.
type workingJSON struct {
	ID        string                 `json:"id,omitempty"`
	Weekly    map[string][]rangeJSON `json:"weekly"`
	DaysOff   []string               `json:"days_off"`
	UpdatedAt *time.Time             `json:"updated_at,omitempty"`
}

func toRangesJSON(rs []Range) []rangeJSON {
	out := make([]rangeJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, rangeJSON{Start: r.Start.String(), End: r.End.String()})
	}
	return out
}

func toWeeklyJSON(w Weekly) map[string][]rangeJSON {
	out := make(map[string][]rangeJSON, 7)
	for wd, rs := range w {
		out[weekdayKeys[wd]] = toRangesJSON(rs)
	}
	return out
}

func toDatesJSON(ds []Date) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toCalendarJSON converts business hours for the API (and the audit log).
func toCalendarJSON(bh BusinessHours) calendarJSON {
	out := calendarJSON{Weekly: toWeeklyJSON(bh.Weekly), ClosedDates: toDatesJSON(bh.Closed),
		SpecialDates: make([]specialJSON, 0, len(bh.Special)), UpdatedAt: timePtr(bh.UpdatedAt)}
	if bh.HolidayHours {
		h := toRangesJSON(bh.Holiday)
		out.Holiday = &h
	}
	for _, s := range bh.Special {
		out.SpecialDates = append(out.SpecialDates, specialJSON{Date: s.Date.String(), Ranges: toRangesJSON(s.Ranges)})
	}
	return out
}

// toWorkingJSON converts working hours for the API (and the audit log).
func toWorkingJSON(wh WorkingHours) workingJSON {
	out := workingJSON{ID: wh.Owner.ID, DaysOff: toDatesJSON(wh.DaysOff), UpdatedAt: timePtr(wh.UpdatedAt)}
	if wh.Custom {
		out.Weekly = toWeeklyJSON(wh.Weekly)
	}
	return out
}

func fromRangesJSON(rs []rangeJSON) []RangeInput {
	out := make([]RangeInput, 0, len(rs))
	for _, r := range rs {
		out = append(out, RangeInput{Start: r.Start, End: r.End})
	}
	return out
}

func fromWeeklyJSON(w map[string][]rangeJSON) map[string][]RangeInput {
	if w == nil {
		return nil
	}
	out := make(map[string][]RangeInput, len(w))
	for k, rs := range w {
		out[k] = fromRangesJSON(rs)
	}
	return out
}

func (r calendarRequest) toInput() BusinessHoursInput {
	in := BusinessHoursInput{Weekly: fromWeeklyJSON(r.Weekly), ClosedDates: r.ClosedDates}
	if r.Holiday != nil {
		h := fromRangesJSON(*r.Holiday)
		in.Holiday = &h
	}
	for _, s := range r.SpecialDates {
		in.SpecialDates = append(in.SpecialDates, SpecialDateInput{Date: s.Date, Ranges: fromRangesJSON(s.Ranges)})
	}
	return in
}

func (r workingRequest) toInput() WorkingHoursInput {
	return WorkingHoursInput{Weekly: fromWeeklyJSON(r.Weekly), DaysOff: r.DaysOff}
}

// zoneOf returns the tenant's time zone (Asia/Tokyo when it has none the
// binary knows).
func zoneOf(t tenants.Tenant) *time.Location {
	if t.TimeZone != "" {
		if loc, err := time.LoadLocation(t.TimeZone); err == nil {
			return loc
		}
	}
	if loc, err := time.LoadLocation(tenants.DefaultTimeZone); err == nil {
		return loc
	}
	return time.FixedZone("JST", 9*3600)
}

func apiReq(c *gin.Context) (tenants.Tenant, bun.IDB, error) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := tenantdb.From(ctx)
	return t, db, err
}

func (h *HTTP) getCalendar(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	bh, err := h.svc.BusinessHours(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := toCalendarJSON(bh)
	out.TimeZone = zoneOf(t).String()
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) putCalendar(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req calendarRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	bh, err := h.svc.SaveBusinessHours(c.Request.Context(), db, req.toInput())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := toCalendarJSON(bh)
	out.TimeZone = zoneOf(t).String()
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) getWorking(kind OwnerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, db, err := apiReq(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		wh, err := h.svc.WorkingHours(c.Request.Context(), db, Owner{Kind: kind, ID: c.Param("id")})
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, toWorkingJSON(wh))
	}
}

func (h *HTTP) putWorking(kind OwnerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, db, err := apiReq(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		var req workingRequest
		if err := httpx.BindJSON(c, &req); err != nil {
			httpx.Fail(c, err)
			return
		}
		wh, err := h.svc.SaveWorkingHours(c.Request.Context(), db, Owner{Kind: kind, ID: c.Param("id")}, req.toInput())
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, toWorkingJSON(wh))
	}
}

// holidayJSON is a national holiday in the API.
type holidayJSON struct {
	Date   string `json:"date"`
	Name   string `json:"name"`
	NameEn string `json:"name_en"`
	Kind   string `json:"kind"`
}

type holidaysJSON struct {
	Year     int           `json:"year"`
	Holidays []holidayJSON `json:"holidays"`
}

func toHolidaysJSON(y int, hs []Holiday) holidaysJSON {
	out := holidaysJSON{Year: y, Holidays: make([]holidayJSON, 0, len(hs))}
	for _, h := range hs {
		out.Holidays = append(out.Holidays, holidayJSON{Date: h.Date.String(), Name: h.Name, NameEn: h.NameEn, Kind: string(h.Kind)})
	}
	return out
}

// yearParam reads ?year= (default: this year in the tenant's zone).
func (h *HTTP) yearParam(c *gin.Context, zone *time.Location) (int, error) {
	s := c.Query("year")
	if s == "" {
		return h.svc.now().In(zone).Year(), nil
	}
	y, err := strconv.Atoi(s)
	if err != nil || y < FirstHolidayYear || y > LastHolidayYear {
		return 0, apperr.Invalid(apperr.Field("year", "range", map[string]any{"Min": FirstHolidayYear, "Max": LastHolidayYear}))
	}
	return y, nil
}

func (h *HTTP) holidays(c *gin.Context) {
	t, _ := tenants.FromContext(c.Request.Context())
	y, err := h.yearParam(c, zoneOf(t))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toHolidaysJSON(y, Holidays(y)))
}
