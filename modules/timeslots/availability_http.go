package timeslots

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
)

// RegisterAvailabilityAPI adds availability, blocks and the calendar's
// settings to the tenant API group g ("/api/v1" after the API key
// middleware).
func (h *HTTP) RegisterAvailabilityAPI(g *gin.RouterGroup) {
	view, edit := h.apiNeed(authz.AreaSchedule, authz.ActionView), h.apiNeed(authz.AreaSchedule, authz.ActionEdit)
	g.GET("/availability", view, h.availability(false))
	g.GET("/calendar/settings", view, h.getSettings)
	g.PUT("/calendar/settings", edit, h.putSettings)
	g.POST("/blocks", edit, h.createBlock)
	g.GET("/blocks", view, h.listBlocks)
	g.DELETE("/blocks/:id", edit, h.deleteBlock)
}

// RegisterPublicAvailability adds the booking site's availability to g
// ("/api/v1/public/:tenant" after the tenant middleware).
func (h *HTTP) RegisterPublicAvailability(g *gin.RouterGroup) {
	g.GET("/availability", h.availability(true))
}

// availabilityJSON is the answer of GET .../availability.
type availabilityJSON struct {
	MenuID   string          `json:"menu_id"`
	TimeZone string          `json:"time_zone"`
	Slots    []availSlotJSON `json:"slots"`
}

type availSlotJSON struct {
	StartsAt  string `json:"starts_at"` // RFC 3339 with the tenant's offset
	EndsAt    string `json:"ends_at"`
	Remaining int    `json:"remaining"`
	SlotID    string `json:"slot_id,omitempty"` // sessions only
}

func toAvailabilityJSON(a Availability) availabilityJSON {
	out := availabilityJSON{MenuID: a.MenuID, TimeZone: a.Zone.String(), Slots: make([]availSlotJSON, 0, len(a.Slots))}
	for _, s := range a.Slots {
		out.Slots = append(out.Slots, availSlotJSON{StartsAt: s.StartsAt.In(a.Zone).Format(rfc3339Offset),
			EndsAt: s.EndsAt.In(a.Zone).Format(rfc3339Offset), Remaining: s.Remaining, SlotID: s.SlotID})
	}
	return out
}

// rfc3339Offset writes an instant as RFC 3339 with its numeric offset,
// "+00:00" rather than "Z" for London in winter: the offset is the
// tenant's, not a statement that the time is UTC.
const rfc3339Offset = "2006-01-02T15:04:05-07:00"

// maxQueryOptions bounds ?options=.
const maxQueryOptions = 50

// dateParam reads a YYYY-MM-DD query parameter.
func dateParam(c *gin.Context, v *apperr.Validator, name string) Date {
	s := c.Query(name)
	if s == "" {
		v.Add(name, "required", nil)
		return Date{}
	}
	d, err := ParseDate(s)
	if err != nil || d.Year < MinCalendarYear || d.Year > MaxCalendarYear {
		v.Add(name, "calendar_date", map[string]any{"Min": MinCalendarYear, "Max": MaxCalendarYear})
		return Date{}
	}
	return d
}

// daysParams reads ?from=&to= and checks the range.
func daysParams(c *gin.Context, v *apperr.Validator) (Date, Date, error) {
	from, to := dateParam(c, v, "from"), dateParam(c, v, "to")
	if err := v.Err(); err != nil {
		return Date{}, Date{}, err
	}
	return from, to, checkDays(from, to)
}

// availabilityQuery reads the query string of GET .../availability.
func availabilityQuery(c *gin.Context) (AvailabilityQuery, error) {
	var v apperr.Validator
	q := AvailabilityQuery{MenuID: c.Query("menu_id"), ProviderID: c.Query("provider_id")}
	if q.MenuID == "" {
		v.Add("menu_id", "required", nil)
	}
	if s := c.Query("options"); s != "" {
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				q.OptionIDs = append(q.OptionIDs, id)
			}
		}
		if len(q.OptionIDs) > maxQueryOptions {
			v.Add("options", "max_items", map[string]any{"Param": maxQueryOptions})
		}
	}
	if s := c.Query("party"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			v.Add("party", "range", map[string]any{"Min": 1, "Max": 10000})
		}
		q.Party = n
	}
	var err error
	q.From, q.To, err = daysParams(c, &v)
	return q, err
}

func (h *HTTP) availability(public bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		t, db, err := apiReq(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		q, err := availabilityQuery(c)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		q.Zone, q.Public = zoneOf(t), public
		a, err := h.svc.Availability(c.Request.Context(), db, q)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		// Free times change with every booking: never served from a cache.
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, toAvailabilityJSON(a))
	}
}

// settingsJSON is the calendar's settings in the API.
type settingsJSON struct {
	SlotUnitMinutes int `json:"slot_unit_minutes"`
}

type settingsRequest struct {
	SlotUnitMinutes *int `json:"slot_unit_minutes" binding:"required"`
}

func (h *HTTP) getSettings(c *gin.Context) {
	_, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	n, err := h.svc.SlotUnit(c.Request.Context(), db)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, settingsJSON{SlotUnitMinutes: n})
}

func (h *HTTP) putSettings(c *gin.Context) {
	_, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req settingsRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	n, err := h.svc.SetSlotUnit(c.Request.Context(), db, *req.SlotUnitMinutes)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, settingsJSON{SlotUnitMinutes: n})
}

// blockRequest is the body of POST /api/v1/blocks.
type blockRequest struct {
	StartsAt   string `json:"starts_at"`
	EndsAt     string `json:"ends_at"`
	ProviderID string `json:"provider_id"`
	ResourceID string `json:"resource_id"`
	Reason     string `json:"reason"`
}

func (r blockRequest) toInput() BlockInput {
	return BlockInput{StartsAt: r.StartsAt, EndsAt: r.EndsAt, ProviderID: r.ProviderID, ResourceID: r.ResourceID, Reason: r.Reason}
}

// blockJSON is a block in the API, its times in the tenant's zone.
type blockJSON struct {
	ID         string    `json:"id"`
	StartsAt   string    `json:"starts_at"`
	EndsAt     string    `json:"ends_at"`
	ProviderID *string   `json:"provider_id"`
	ResourceID *string   `json:"resource_id"`
	Reason     string    `json:"reason"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

type blockListJSON struct {
	Items []blockJSON `json:"items"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toBlockJSON(b Block, zone *time.Location) blockJSON {
	return blockJSON{ID: b.ID, StartsAt: b.StartsAt.In(zone).Format(rfc3339Offset), EndsAt: b.EndsAt.In(zone).Format(rfc3339Offset),
		ProviderID: optString(b.ProviderID), ResourceID: optString(b.ResourceID), Reason: b.Reason,
		CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt}
}

func (h *HTTP) createBlock(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var req blockRequest
	if err := httpx.BindJSON(c, &req); err != nil {
		httpx.Fail(c, err)
		return
	}
	b, err := h.svc.CreateBlock(c.Request.Context(), db, req.toInput())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toBlockJSON(b, zoneOf(t)))
}

func (h *HTTP) listBlocks(c *gin.Context) {
	t, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var v apperr.Validator
	from, to, err := daysParams(c, &v)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	zone := zoneOf(t)
	bs, err := h.svc.Blocks(c.Request.Context(), db, zone, from, to)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := blockListJSON{Items: make([]blockJSON, 0, len(bs))}
	for _, b := range bs {
		out.Items = append(out.Items, toBlockJSON(b, zone))
	}
	c.JSON(http.StatusOK, out)
}

func (h *HTTP) deleteBlock(c *gin.Context) {
	_, db, err := apiReq(c)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if err := h.svc.DeleteBlock(c.Request.Context(), db, c.Param("id")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
