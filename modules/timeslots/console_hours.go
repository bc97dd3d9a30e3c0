package timeslots

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// OwnerNameFunc names a provider or resource for the console (the menus
// module keeps them; cmd/yoyaku hands the lookup in). A missing one is an
// error that the console shows as its own (404).
type OwnerNameFunc func(ctx context.Context, db bun.IDB, o Owner) (string, error)

// registerHoursConsole adds the working-hours pages of providers and
// resources: GET and POST /calendar/providers/:id and
// /calendar/resources/:id.
func (h *HTTP) registerHoursConsole(g *gin.RouterGroup) {
	view, edit := h.console.Need(authz.AreaSchedule, authz.ActionView), h.console.Need(authz.AreaSchedule, authz.ActionEdit)
	for _, kind := range []OwnerKind{OwnerProvider, OwnerResource} {
		path := "/calendar/" + string(kind) + "s/:id"
		g.GET(path, view, h.hoursPage(kind))
		g.POST(path, h.console.CSRF, edit, h.hoursSave(kind))
	}
}

// hoursForm is the working-hours form: a row per weekday, whether the
// owner keeps the business's hours, its days off.
type hoursForm struct {
	Own     bool // has weekly hours of its own
	Days    []formDay
	DaysOff string
	Errors  map[string][]string
}

func toHoursForm(wh WorkingHours) hoursForm {
	f := hoursForm{Own: wh.Custom, Errors: map[string][]string{}}
	for _, wd := range formOrder {
		f.Days = append(f.Days, formDay{Key: weekdayKeys[wd], Name: "weekly_" + weekdayKeys[wd], Value: rangesText(wh.Weekly[wd])})
	}
	days := make([]string, 0, len(wh.DaysOff))
	for _, d := range wh.DaysOff {
		days = append(days, d.String())
	}
	f.DaysOff = strings.Join(days, "\n")
	return f
}

func hoursFromForm(c *gin.Context) (WorkingHoursInput, hoursForm) {
	f := hoursForm{Own: c.PostForm("hours_mode") == "own", Errors: map[string][]string{}}
	var in WorkingHoursInput
	if f.Own {
		in.Weekly = map[string][]RangeInput{}
	}
	for _, wd := range formOrder {
		key := weekdayKeys[wd]
		v := c.PostForm("weekly_" + key)
		f.Days = append(f.Days, formDay{Key: key, Name: "weekly_" + key, Value: v})
		if f.Own {
			in.Weekly[key] = parseRangesText(v)
		}
	}
	f.DaysOff = c.PostForm("days_off")
	in.DaysOff = formLines(f.DaysOff)
	return in, f
}

// ownerOf reads the owner of the request and its name.
func (h *HTTP) ownerOf(c *gin.Context, kind OwnerKind) (Owner, string, bun.IDB, bool) {
	ctx := c.Request.Context()
	db, err := tenantdb.From(ctx)
	if err != nil {
		h.console.Fail(c, err)
		return Owner{}, "", nil, false
	}
	o := Owner{Kind: kind, ID: c.Param("id")}
	if err := h.svc.checkOwner(ctx, db, o); err != nil {
		h.console.Fail(c, err)
		return Owner{}, "", nil, false
	}
	name := o.ID
	if h.ownerName != nil {
		if name, err = h.ownerName(ctx, db, o); err != nil {
			h.console.Fail(c, err)
			return Owner{}, "", nil, false
		}
	}
	return o, name, db, true
}

func (h *HTTP) hoursPage(kind OwnerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		o, name, db, ok := h.ownerOf(c, kind)
		if !ok {
			return
		}
		wh, err := h.svc.WorkingHours(c.Request.Context(), db, o)
		if err != nil {
			h.console.Fail(c, err)
			return
		}
		data := map[string]any{}
		if c.Query("saved") != "" {
			data["Flash"] = httpx.Catalog(c).T(httpx.Lang(c), "timeslots.hours.saved", nil)
		}
		h.renderHours(c, http.StatusOK, o, name, toHoursForm(wh), data)
	}
}

func (h *HTTP) hoursSave(kind OwnerKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		o, name, db, ok := h.ownerOf(c, kind)
		if !ok {
			return
		}
		in, form := hoursFromForm(c)
		_, err := h.svc.SaveWorkingHours(c.Request.Context(), db, o, in)
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid && len(ae.Fields) > 0 {
			cat, lang := httpx.Catalog(c), httpx.Lang(c)
			cf := calendarForm{Days: form.Days, Errors: map[string][]string{}}
			placeErrors(&cf, cat, lang, ae)
			form.Days, form.Errors = cf.Days, cf.Errors
			h.renderHours(c, http.StatusBadRequest, o, name, form, map[string]any{"Error": cat.T(lang, "timeslots.console.error", nil)})
			return
		}
		if err != nil {
			h.console.Fail(c, err)
			return
		}
		t, _ := tenants.FromContext(c.Request.Context())
		c.Redirect(http.StatusSeeOther, "/t/"+t.Slug+"/admin/calendar/"+string(kind)+"s/"+o.ID+"?saved=1")
	}
}

func (h *HTTP) renderHours(c *gin.Context, status int, o Owner, name string, form hoursForm, data map[string]any) {
	cat, lang := httpx.Catalog(c), httpx.Lang(c)
	for i := range form.Days {
		form.Days[i].Label = cat.T(lang, "timeslots.weekday."+form.Days[i].Key, nil)
	}
	t, _ := tenants.FromContext(c.Request.Context())
	data["Form"] = form
	data["Kind"] = string(o.Kind)
	data["Name"] = name
	data["Action"] = "/t/" + t.Slug + "/admin/calendar/" + string(o.Kind) + "s/" + o.ID
	data["Back"] = "/t/" + t.Slug + "/admin/" + string(o.Kind) + "s"
	data["TimeZone"] = zoneOf(t).String()
	h.console.Page(c, status, "console_calendar_hours.html", "timeslots.hours.title_"+string(o.Kind), data)
}
