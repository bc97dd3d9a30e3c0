package timeslots

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
)

// RegisterSlotsAPI adds the timetable routes to g, the tenant API group
// ("/api/v1" after the API key middleware): sessions under /slots, series
// under /slot-series. Viewing needs schedule: view, changing schedule:
// edit.
func (h *HTTP) RegisterSlotsAPI(g *gin.RouterGroup) {
	view, edit := h.apiNeed(authz.AreaSchedule, authz.ActionView), h.apiNeed(authz.AreaSchedule, authz.ActionEdit)
	g.GET("/slots", view, h.listSlots)
	g.POST("/slots", edit, h.createSlots)
	g.GET("/slots/:id", view, h.getSlot)
	g.PATCH("/slots/:id", edit, h.patchSlot)
	g.DELETE("/slots/:id", edit, h.deleteSlot)
	g.GET("/slot-series/:id", view, h.getSeries)
	g.DELETE("/slot-series/:id", edit, h.deleteSeries)
}

// slotJSON is a session as the API answers it; instants are RFC 3339 in
// the tenant's zone (with its offset).
type slotJSON struct {
	ID         string    `json:"id"`
	MenuID     string    `json:"menu_id"`
	SeriesID   *string   `json:"series_id"`
	StartsAt   string    `json:"starts_at"`
	EndsAt     string    `json:"ends_at"`
	Capacity   int       `json:"capacity"`
	Booked     int       `json:"booked"`
	Remaining  int       `json:"remaining"`
	ProviderID *string   `json:"provider_id"`
	ResourceID *string   `json:"resource_id"`
	Closed     bool      `json:"closed"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type recurrenceJSON struct {
	Freq     string   `json:"freq"`
	Weekdays []string `json:"weekdays,omitempty"`
	Nth      int      `json:"nth,omitempty"`
	Weekday  string   `json:"weekday,omitempty"`
	Until    string   `json:"until,omitempty"`
	Count    int      `json:"count,omitempty"`
}

// seriesJSON is a series as the API answers it.
type seriesJSON struct {
	ID         string         `json:"id"`
	MenuID     string         `json:"menu_id"`
	Recurrence recurrenceJSON `json:"recurrence"`
	StartTime  string         `json:"start_time"`
	TimeZone   string         `json:"time_zone"`
	From       string         `json:"from"`
	Capacity   int            `json:"capacity"`
	ProviderID *string        `json:"provider_id"`
	ResourceID *string        `json:"resource_id"`
	CreatedAt  time.Time      `json:"created_at"`
}

// seriesSlotsJSON is a series with its sessions (GET /api/v1/slot-series/{id}).
type seriesSlotsJSON struct {
	*seriesJSON
	Slots []slotJSON `json:"slots"`
}

type slotsCreatedJSON struct {
	Series *seriesJSON `json:"series"`
	Slots  []slotJSON  `json:"slots"`
}

type slotListJSON struct {
	TimeZone   string     `json:"time_zone"`
	Items      []slotJSON `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

type seriesDeletedJSON struct {
	Deleted []string `json:"deleted"`
	Kept    []string `json:"kept"`
}

// slotCreateRequest is the body of POST /api/v1/slots.
type slotCreateRequest struct {
	MenuID     string             `json:"menu_id"`
	StartsAt   string             `json:"starts_at"`
	Capacity   *int               `json:"capacity"`
	ProviderID string             `json:"provider_id"`
	ResourceID string             `json:"resource_id"`
	Recurrence *recurrenceRequest `json:"recurrence"`
}

type recurrenceRequest struct {
	Freq     string   `json:"freq"`
	Weekdays []string `json:"weekdays" binding:"max=7"`
	Nth      int      `json:"nth"`
	Weekday  string   `json:"weekday"`
	Until    string   `json:"until"`
	Count    int      `json:"count"`
}

// slotPatchRequest is the body of PATCH /api/v1/slots/{id}: what is
// present changes ("" clears provider_id or resource_id).
type slotPatchRequest struct {
	Capacity   *int    `json:"capacity"`
	Closed     *bool   `json:"closed"`
	ProviderID *string `json:"provider_id"`
	ResourceID *string `json:"resource_id"`
}

func slotOptString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toSlotJSON(s Slot, zone *time.Location) slotJSON {
	return slotJSON{ID: s.ID, MenuID: s.MenuID, SeriesID: slotOptString(s.SeriesID),
		StartsAt: s.StartsAt.In(zone).Format(time.RFC3339), EndsAt: s.EndsAt.In(zone).Format(time.RFC3339),
		Capacity: s.Capacity, Booked: s.Booked, Remaining: s.Remaining(), ProviderID: slotOptString(s.ProviderID),
		ResourceID: slotOptString(s.ResourceID), Closed: s.Closed, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

func toRecurrenceJSON(r Recurrence) recurrenceJSON {
	out := recurrenceJSON{Freq: string(r.Freq), Count: r.Count}
	if r.Freq == FreqWeekly {
		for _, wd := range r.Weekdays {
			out.Weekdays = append(out.Weekdays, weekdayKeys[wd])
		}
	} else {
		out.Nth, out.Weekday = r.Nth, weekdayKeys[r.Weekday]
	}
	if !r.Until.IsZero() {
		out.Until = r.Until.String()
	}
	return out
}

func toSeriesJSON(s Series) *seriesJSON {
	return &seriesJSON{ID: s.ID, MenuID: s.MenuID, Recurrence: toRecurrenceJSON(s.Rule), StartTime: s.StartTime.String(),
		TimeZone: s.TimeZone, From: s.From.String(), Capacity: s.Capacity, ProviderID: slotOptString(s.ProviderID),
		ResourceID: slotOptString(s.ResourceID), CreatedAt: s.CreatedAt}
}

func toSlotsJSON(ss []Slot, zone *time.Location) []slotJSON {
	out := make([]slotJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, toSlotJSON(s, zone))
	}
	return out
}

func (r slotCreateRequest) toInput() SlotInput {
	in := SlotInput{MenuID: r.MenuID, StartsAt: r.StartsAt, Capacity: r.Capacity, ProviderID: r.ProviderID, ResourceID: r.ResourceID}
	if r.Recurrence != nil {
		in.Recurrence = &RecurrenceInput{Freq: r.Recurrence.Freq, Weekdays: r.Recurrence.Weekdays, Nth: r.Recurrence.Nth,
			Weekday: r.Recurrence.Weekday, Until: r.Recurrence.Until, Count: r.Recurrence.Count}
	}
	return in
}

func (r slotPatchRequest) toPatch() SlotPatch {
	return SlotPatch{Capacity: r.Capacity, Closed: r.Closed, ProviderID: r.ProviderID, ResourceID: r.ResourceID}
}

// slotListRange reads a listing's dates: from and to (YYYY-MM-DD, to
// inclusive, at most MaxSlotListDays days) in zone, as the instants
// [from 00:00, the day after to 00:00). An empty from is today, an empty
// to a week after from.
func slotListRange(fromS, toS string, today Date, zone *time.Location) (time.Time, time.Time, error) {
	var v apperr.Validator
	dateArgs := map[string]any{"Min": MinCalendarYear, "Max": MaxCalendarYear}
	from, to := today, Date{}
	if fromS != "" {
		d, err := ParseDate(fromS)
		if err != nil || d.Year < MinCalendarYear || d.Year > MaxCalendarYear {
			v.Add("from", "calendar_date", dateArgs)
		}
		from = d
	}
	to = from.AddDays(6)
	if toS != "" {
		d, err := ParseDate(toS)
		if err != nil || d.Year < MinCalendarYear || d.Year > MaxCalendarYear {
			v.Add("to", "calendar_date", dateArgs)
		}
		to = d
	}
	if err := v.Err(); err != nil {
		return time.Time{}, time.Time{}, err
	}
	switch n := from.DaysUntil(to) + 1; {
	case n < 1:
		return time.Time{}, time.Time{}, apperr.Invalid(apperr.Field("to", "slot_range_order", map[string]any{"From": from.String()}))
	case n > MaxSlotListDays:
		return time.Time{}, time.Time{}, apperr.Invalid(apperr.Field("to", "slot_range_too_long", map[string]any{"Max": MaxSlotListDays}))
	}
	return Instant(from, 0, zone), Instant(to.AddDays(1), 0, zone), nil
}

func (h *HTTP) listSlots(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	zone := zoneOf(t)
	from, to, err := slotListRange(c.Query("from"), c.Query("to"), DateOf(h.svc.now().In(zone)), zone)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	f := SlotFilter{MenuID: c.Query("menu_id"), From: from, To: to, IncludeClosed: c.Query("include_closed") != "false",
		Limit: 100, After: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxSlotPage {
			httpx.Fail(c, apperr.Invalid(apperr.Field("limit", "range", map[string]any{"Min": 1, "Max": MaxSlotPage})))
			return
		}
		f.Limit = n
	}
	ss, err := h.svc.Slots(c.Request.Context(), db, f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := slotListJSON{TimeZone: zone.String(), Items: toSlotsJSON(ss, zone)}
	if len(ss) == f.Limit {
		out.NextCursor = ss[len(ss)-1].ID
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) createSlots(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req slotCreateRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	zone := zoneOf(t)
	cr, err := h.svc.CreateSlots(c.Request.Context(), db, zone, req.toInput())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := slotsCreatedJSON{Slots: toSlotsJSON(cr.Slots, zone)}
	if cr.Series != nil {
		out.Series = toSeriesJSON(*cr.Series)
		c.Header("Location", "/api/v1/slot-series/"+cr.Series.ID)
	} else {
		c.Header("Location", "/api/v1/slots/"+cr.Slots[0].ID)
	}
	c.JSON(http.StatusCreated, out)
}

func (h *HTTP) getSlot(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s, err := h.svc.Slot(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toSlotJSON(s, zoneOf(t)))
}

func (h *HTTP) patchSlot(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req slotPatchRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	s, err := h.svc.UpdateSlot(c.Request.Context(), db, c.Param("id"), req.toPatch())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toSlotJSON(s, zoneOf(t)))
}

func (h *HTTP) deleteSlot(c *gin.Context) {
	_, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if err := h.svc.DeleteSlot(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *HTTP) getSeries(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	sr, ss, err := h.svc.Series(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, seriesSlotsJSON{seriesJSON: toSeriesJSON(sr), Slots: toSlotsJSON(ss, zoneOf(t))})
}

func (h *HTTP) deleteSeries(c *gin.Context) {
	_, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	d, err := h.svc.DeleteSeries(c.Request.Context(), db, c.Param("id"))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := seriesDeletedJSON{Deleted: d.Deleted, Kept: d.Kept}
	if out.Deleted == nil {
		out.Deleted = []string{}
	}
	c.JSON(http.StatusOK, out)
}
