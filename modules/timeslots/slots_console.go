package timeslots

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"
	"golang.org/x/text/width"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// SlotsCatalog is what the timetable pages read of the menus module (its
// *Service) to name menus, providers and resources and fill the form.
type SlotsCatalog interface {
	List(ctx context.Context, db bun.IDB, p menus.ListParams) ([]menus.Menu, string, error)
	ListProviders(ctx context.Context, db bun.IDB, p menus.PageParams) ([]menus.Provider, string, error)
	ListResources(ctx context.Context, db bun.IDB, p menus.PageParams) ([]menus.Resource, string, error)
}

// RegisterTimetableConsole adds the timetable pages to g, the console's
// group of signed-in staff:
//
//   - GET /timetable?week=YYYY-MM-DD: the week (Monday to Sunday, in the
//     tenant's zone) with its sessions, and the form to add sessions;
//   - POST /timetable: add a session or a series;
//   - GET /timetable/slots/:id: one session, with its actions;
//   - POST /timetable/slots/:id (capacity, close, reopen), POST
//     /timetable/slots/:id/delete and POST /timetable/series/:id/delete
//     (each confirmed by a checkbox).
//
// Looking needs schedule: view, changing schedule: edit; perms decides
// whether the forms are shown (nil: shown, the posts still checked).
func (h *HTTP) RegisterTimetableConsole(g *gin.RouterGroup, catalog SlotsCatalog, perms identity.Permissions) {
	tc := &timetableConsole{h: h, catalog: catalog, perms: perms}
	view, edit := h.console.Need(authz.AreaSchedule, authz.ActionView), h.console.Need(authz.AreaSchedule, authz.ActionEdit)
	g.GET("/timetable", view, tc.week)
	g.POST("/timetable", h.console.CSRF, edit, tc.create)
	g.GET("/timetable/slots/:id", view, tc.slotPage)
	g.POST("/timetable/slots/:id", h.console.CSRF, edit, tc.slotAction)
	g.POST("/timetable/slots/:id/delete", h.console.CSRF, edit, tc.slotDelete)
	g.POST("/timetable/series/:id/delete", h.console.CSRF, edit, tc.seriesDelete)
}

type timetableConsole struct {
	h       *HTTP
	catalog SlotsCatalog
	perms   identity.Permissions
}

// ttReq is what every timetable handler needs about its request.
type ttReq struct {
	c       *gin.Context
	db      bun.IDB
	zone    *time.Location
	base    string // /t/{slug}/admin
	lang    string
	cat     *i18n.Catalog
	canEdit bool
	today   Date
}

func (tc *timetableConsole) req(c *gin.Context) (ttReq, bool) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		tc.h.console.Fail(c, err)
		return ttReq{}, false
	}
	can := true
	if tc.perms != nil {
		p, _ := identity.PrincipalFrom(ctx)
		if can, err = tc.perms.Can(ctx, db, t.ID, p.Subject(), authz.AreaSchedule, authz.ActionEdit); err != nil {
			tc.h.console.Fail(c, err)
			return ttReq{}, false
		}
	}
	zone := zoneOf(t)
	return ttReq{c: c, db: db, zone: zone, base: "/t/" + t.Slug + "/admin", lang: httpx.Lang(c), cat: httpx.Catalog(c),
		canEdit: can, today: DateOf(tc.h.svc.now().In(zone))}, true
}

func (r ttReq) t(id string, args map[string]any) string { return r.cat.T(r.lang, id, args) }

// names are the catalog's names for the pages.
type names struct {
	menus      []menus.Menu // timetable and event menus, not archived
	menu       map[string]string
	provider   map[string]string
	resource   map[string]string
	providers  []option
	resources  []option
	menuChoice []option
}

type option struct {
	Value, Label string
	Selected     bool
}

func (tc *timetableConsole) names(r ttReq) (names, error) {
	ctx := r.c.Request.Context()
	n := names{menu: map[string]string{}, provider: map[string]string{}, resource: map[string]string{}}
	if tc.catalog == nil {
		return n, nil
	}
	all, _, err := tc.catalog.List(ctx, r.db, menus.ListParams{IncludeArchived: true,
		BookingModes: []menus.BookingMode{menus.ModeTimetable, menus.ModeEvent}})
	if err != nil {
		return n, err
	}
	for _, m := range all {
		name := m.NameJA
		if r.lang == i18n.English && m.NameEN != "" {
			name = m.NameEN
		}
		n.menu[m.ID] = name
		if !m.Archived() {
			n.menus = append(n.menus, m)
			n.menuChoice = append(n.menuChoice, option{Value: m.ID,
				Label: r.t("slots.console.menu_option", map[string]any{"Name": name, "Mode": r.t("slots.mode."+string(m.BookingMode), nil),
					"Capacity": m.Capacity, "Minutes": m.DurationMinutes})})
		}
	}
	ps, _, err := tc.catalog.ListProviders(ctx, r.db, menus.PageParams{})
	if err != nil {
		return n, err
	}
	for _, p := range ps {
		n.provider[p.ID] = p.Name
		n.providers = append(n.providers, option{Value: p.ID, Label: p.Name})
	}
	rs, _, err := tc.catalog.ListResources(ctx, r.db, menus.PageParams{})
	if err != nil {
		return n, err
	}
	for _, x := range rs {
		n.resource[x.ID] = x.Name
		n.resources = append(n.resources, option{Value: x.ID, Label: x.Name})
	}
	return n, nil
}

func selectOptions(opts []option, value string) []option {
	out := make([]option, len(opts))
	for i, o := range opts {
		o.Selected = o.Value == value
		out[i] = o
	}
	return out
}

// mondayOf returns the Monday of d's week (weeks run Monday to Sunday).
func mondayOf(d Date) Date { return d.AddDays(-((int(d.Weekday()) + 6) % 7)) }

// dateLabel writes a date as a person reads it: 2026年12月10日(木), or
// Thu, 10 Dec 2026.
func (r ttReq) dateLabel(d Date) string {
	return r.t("slots.console.date", map[string]any{"Year": d.Year, "Month": int(d.Month), "Day": d.Day,
		"Weekday":    r.t("timeslots.wd."+strconv.Itoa(int(d.Weekday())), nil),
		"MonthShort": r.t("slots.month_short."+strconv.Itoa(int(d.Month)), nil)})
}

func clock(t time.Time) string { return t.Format("15:04") }

// ---- The week ----

type weekDay struct {
	Date, Label, ID string
	IsToday         bool
	Weekday         int
	Holiday         string
	Slots           []weekSlot
}

type weekSlot struct {
	ID, Time, Menu, Seats, Provider, Resource, Link string
	Closed, Full                                    bool
}

// slotForm is the add-session form: what was typed, and errors by input.
type slotForm struct {
	Menus, Providers, Resources []option
	Date, Time, Capacity        string
	Freq                        string // "", "weekly", "monthly"
	Weekdays                    []option
	Nths, MonthWeekdays         []option
	Until, Count                string
	Errors                      map[string][]string
}

func (r ttReq) weekdayChoices(chosen []string) []option {
	var out []option
	for _, wd := range formOrder {
		k := weekdayKeys[wd]
		sel := false
		for _, c := range chosen {
			sel = sel || c == k
		}
		out = append(out, option{Value: k, Label: r.t("timeslots.weekday."+k, nil), Selected: sel})
	}
	return out
}

func (r ttReq) newForm(n names, in url.Values) slotForm {
	f := slotForm{Date: in.Get("date"), Time: in.Get("time"), Capacity: in.Get("capacity"), Freq: in.Get("freq"),
		Until: in.Get("until"), Count: in.Get("count"), Errors: map[string][]string{}}
	f.Menus = selectOptions(n.menuChoice, in.Get("menu_id"))
	f.Providers = selectOptions(n.providers, in.Get("provider_id"))
	f.Resources = selectOptions(n.resources, in.Get("resource_id"))
	f.Weekdays = r.weekdayChoices(in["weekdays"])
	for _, v := range []string{"1", "2", "3", "4", "5", "-1"} {
		f.Nths = append(f.Nths, option{Value: v, Label: r.t("slots.console.nth."+v, nil), Selected: in.Get("nth") == v})
	}
	f.MonthWeekdays = r.weekdayChoices([]string{in.Get("weekday")})
	return f
}

func (tc *timetableConsole) week(c *gin.Context) {
	r, ok := tc.req(c)
	if !ok {
		return
	}
	n, err := tc.names(r)
	if err != nil {
		tc.h.console.Fail(c, err)
		return
	}
	data := map[string]any{}
	switch c.Query("done") {
	case "created":
		data["Flash"] = r.t("slots.console.created", map[string]any{"Count": c.Query("n")})
	case "deleted":
		data["Flash"] = r.t("slots.console.deleted", nil)
	case "series_deleted":
		data["Flash"] = r.t("slots.console.series_deleted", map[string]any{"Count": c.Query("n"), "Kept": c.Query("kept")})
	}
	d := r.today
	if w := c.Query("week"); w != "" {
		if x, err := ParseDate(w); err == nil && x.Year >= MinCalendarYear && x.Year <= MaxCalendarYear {
			d = x
		}
	}
	form := r.newForm(n, url.Values{"date": {d.String()}, "time": {"10:00"}})
	tc.renderWeek(r, http.StatusOK, mondayOf(d), n, form, data)
}

func (tc *timetableConsole) renderWeek(r ttReq, status int, mon Date, n names, form slotForm, data map[string]any) {
	ctx := r.c.Request.Context()
	ss, err := tc.h.svc.Slots(ctx, r.db, SlotFilter{From: Instant(mon, 0, r.zone), To: Instant(mon.AddDays(7), 0, r.zone), IncludeClosed: true})
	if err != nil {
		tc.h.console.Fail(r.c, err)
		return
	}
	days := make([]weekDay, 7)
	for i := range days {
		d := mon.AddDays(i)
		days[i] = weekDay{Date: d.String(), Label: r.dateLabel(d), ID: "day-" + d.String(), IsToday: d == r.today, Weekday: int(d.Weekday())}
		if hol, ok := HolidayOn(d); ok {
			days[i].Holiday = hol.Name
			if r.lang == i18n.English {
				days[i].Holiday = hol.NameEn
			}
		}
	}
	for _, s := range ss {
		local := s.StartsAt.In(r.zone)
		i := mon.DaysUntil(DateOf(local))
		if i < 0 || i > 6 {
			continue
		}
		menu := n.menu[s.MenuID]
		if menu == "" {
			menu = s.MenuID
		}
		days[i].Slots = append(days[i].Slots, weekSlot{ID: s.ID, Time: clock(local) + "–" + clock(s.EndsAt.In(r.zone)), Menu: menu,
			Seats:    r.t("slots.console.seats", map[string]any{"Booked": s.Booked, "Capacity": s.Capacity}),
			Provider: n.provider[s.ProviderID], Resource: n.resource[s.ResourceID], Closed: s.Closed,
			Full: s.Booked >= s.Capacity, Link: r.base + "/timetable/slots/" + s.ID + "?week=" + mon.String()})
	}
	data["Days"] = days
	data["Week"] = map[string]any{
		"Title": r.t("slots.console.week_of", map[string]any{"From": r.dateLabel(mon), "To": r.dateLabel(mon.AddDays(6))}),
		"Prev":  mon.AddDays(-7).String(), "Next": mon.AddDays(7).String(), "This": mondayOf(r.today).String(),
		"Monday": mon.String(), "Count": len(ss)}
	data["Form"] = form
	data["CanEdit"] = r.canEdit
	data["HasMenus"] = len(n.menus) > 0
	data["TimeZone"] = r.zone.String()
	tc.h.console.Page(r.c, status, "console_timetable.html", "slots.console.title", data)
}

// formInput maps a field of the service's errors to the form's input.
func formInput(field string, f slotForm) string {
	switch {
	case field == "starts_at":
		if _, err := ParseDate(strings.TrimSpace(f.Date)); err != nil {
			return "date"
		}
		return "time"
	case field == "menu_id", field == "capacity", field == "provider_id", field == "resource_id":
		return field
	case field == "recurrence", field == "recurrence.freq":
		return "freq"
	case strings.HasPrefix(field, "recurrence.weekdays"):
		return "weekdays"
	case strings.HasPrefix(field, "recurrence."):
		return strings.TrimPrefix(field, "recurrence.")
	}
	return ""
}

// fieldMessage is the catalog's message for a field error.
func (r ttReq) fieldMessage(fe apperr.FieldError) string {
	args := map[string]any{"Field": fe.Field}
	for k, v := range fe.Args {
		args[k] = v
	}
	msg := r.t("field."+fe.Code, args)
	if msg == "field."+fe.Code {
		msg = r.t("field.invalid", args)
	}
	return msg
}

// problemMessage is the catalog's title and detail of a refusal.
func (r ttReq) problemMessage(ae *apperr.Error) string {
	msg := r.t("problem."+ae.Code+".title", ae.Args)
	if d := r.t("problem."+ae.Code+".detail", ae.Args); d != "problem."+ae.Code+".detail" {
		msg += " " + d
	}
	return msg
}

func narrow(s string) string { return strings.TrimSpace(width.Narrow.String(s)) }

func (tc *timetableConsole) create(c *gin.Context) {
	r, ok := tc.req(c)
	if !ok {
		return
	}
	n, err := tc.names(r)
	if err != nil {
		tc.h.console.Fail(c, err)
		return
	}
	_ = c.PostForm("menu_id") // parses the form into c.Request.PostForm
	form := r.newForm(n, c.Request.PostForm)
	in := SlotInput{MenuID: c.PostForm("menu_id"), ProviderID: c.PostForm("provider_id"), ResourceID: c.PostForm("resource_id")}
	date, tm := narrow(form.Date), narrow(form.Time)
	if date != "" || tm != "" {
		in.StartsAt = date + "T" + tm
	}
	var pre apperr.Validator // what the form itself cannot read
	if v := narrow(form.Capacity); v != "" {
		if x, err := strconv.Atoi(v); err != nil {
			pre.Add("capacity", "catalog_integer", nil)
		} else {
			in.Capacity = &x
		}
	}
	switch form.Freq {
	case string(FreqWeekly), string(FreqMonthly):
		rec := &RecurrenceInput{Freq: form.Freq, Until: narrow(form.Until)}
		if form.Freq == string(FreqWeekly) {
			rec.Weekdays = c.PostFormArray("weekdays")
			if rec.Weekdays == nil {
				rec.Weekdays = []string{}
			}
		} else {
			rec.Weekday = c.PostForm("weekday")
			rec.Nth, _ = strconv.Atoi(c.PostForm("nth"))
		}
		if v := narrow(form.Count); v != "" {
			if x, err := strconv.Atoi(v); err != nil {
				pre.Add("recurrence.count", "catalog_integer", nil)
			} else {
				rec.Count = x
			}
		}
		in.Recurrence = rec
	default:
		form.Freq = ""
	}
	var created Created
	err = pre.Err()
	if err == nil {
		created, err = tc.h.svc.CreateSlots(c.Request.Context(), r.db, r.zone, in)
	}
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid {
		for _, fe := range ae.Fields {
			name := formInput(fe.Field, form)
			form.Errors[name] = append(form.Errors[name], r.fieldMessage(fe))
		}
		mon := r.today
		if d, err := ParseDate(date); err == nil {
			mon = d
		}
		tc.renderWeek(r, http.StatusBadRequest, mondayOf(mon), n, form, map[string]any{"Error": r.t("slots.console.error", nil)})
		return
	}
	if err != nil {
		tc.h.console.Fail(c, err)
		return
	}
	first := DateOf(created.Slots[0].StartsAt.In(r.zone))
	c.Redirect(http.StatusSeeOther, r.base+"/timetable?week="+mondayOf(first).String()+"&done=created&n="+strconv.Itoa(len(created.Slots))+"#week")
}

// ---- One session ----

type slotView struct {
	ID, Date, Time, Menu, Provider, Resource string
	Capacity, Booked, Remaining              int
	Closed                                   bool
	SeriesID, SeriesRule                     string
	Week                                     string
}

func (r ttReq) ruleText(sr Series) string {
	until := ""
	if !sr.Rule.Until.IsZero() {
		until = r.t("slots.console.rule_until", map[string]any{"Date": r.dateLabel(sr.Rule.Until)})
	}
	if sr.Rule.Count > 0 {
		until += r.t("slots.console.rule_count", map[string]any{"Count": sr.Rule.Count})
	}
	if sr.Rule.Freq == FreqWeekly {
		var wds []string
		for _, wd := range sr.Rule.Weekdays {
			wds = append(wds, r.t("timeslots.weekday."+weekdayKeys[wd], nil))
		}
		return r.t("slots.console.rule_weekly", map[string]any{"Weekdays": strings.Join(wds, r.t("slots.console.list_sep", nil)),
			"Time": sr.StartTime.String(), "Until": until})
	}
	return r.t("slots.console.rule_monthly", map[string]any{"Nth": r.t("slots.console.nth."+strconv.Itoa(sr.Rule.Nth), nil),
		"Weekday": r.t("timeslots.weekday."+weekdayKeys[sr.Rule.Weekday], nil), "Time": sr.StartTime.String(), "Until": until})
}

func (tc *timetableConsole) slotPage(c *gin.Context) {
	r, ok := tc.req(c)
	if !ok {
		return
	}
	data := map[string]any{"CapacityValue": ""}
	if c.Query("done") == "saved" {
		data["Flash"] = r.t("slots.console.saved", nil)
	}
	tc.renderSlot(r, http.StatusOK, c.Param("id"), data)
}

func (tc *timetableConsole) renderSlot(r ttReq, status int, id string, data map[string]any) {
	ctx := r.c.Request.Context()
	s, err := tc.h.svc.Slot(ctx, r.db, id)
	if err != nil {
		tc.h.console.Fail(r.c, err)
		return
	}
	n, err := tc.names(r)
	if err != nil {
		tc.h.console.Fail(r.c, err)
		return
	}
	local := s.StartsAt.In(r.zone)
	v := slotView{ID: s.ID, Date: r.dateLabel(DateOf(local)), Time: clock(local) + "–" + clock(s.EndsAt.In(r.zone)),
		Menu: n.menu[s.MenuID], Provider: n.provider[s.ProviderID], Resource: n.resource[s.ResourceID],
		Capacity: s.Capacity, Booked: s.Booked, Remaining: s.Remaining(), Closed: s.Closed, SeriesID: s.SeriesID,
		Week: mondayOf(DateOf(local)).String()}
	if v.Menu == "" {
		v.Menu = s.MenuID
	}
	if s.SeriesID != "" {
		if sr, _, err := tc.h.svc.Series(ctx, r.db, s.SeriesID); err == nil {
			v.SeriesRule = r.ruleText(sr)
		}
	}
	if data["CapacityValue"] == "" {
		data["CapacityValue"] = strconv.Itoa(s.Capacity)
	}
	data["Slot"] = v
	data["CanEdit"] = r.canEdit
	data["TimeZone"] = r.zone.String()
	if _, ok := data["Errors"]; !ok {
		data["Errors"] = map[string][]string{}
	}
	tc.h.console.Page(r.c, status, "console_timetable_slot.html", "slots.console.slot_title", data)
}

// refuse shows the session again with err next to input (status 400 or
// 409), or fails the page for other errors.
func (tc *timetableConsole) refuse(r ttReq, id, input string, err error, data map[string]any) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || (ae.Kind != apperr.KindInvalid && ae.Kind != apperr.KindConflict) {
		tc.h.console.Fail(r.c, err)
		return
	}
	errs := map[string][]string{}
	status := http.StatusConflict
	if ae.Kind == apperr.KindInvalid {
		status = http.StatusBadRequest
		for _, fe := range ae.Fields {
			errs[input] = append(errs[input], r.fieldMessage(fe))
		}
	}
	if len(errs[input]) == 0 {
		errs[input] = []string{r.problemMessage(ae)}
	}
	data["Errors"] = errs
	data["Error"] = r.t("slots.console.error", nil)
	tc.renderSlot(r, status, id, data)
}

func (tc *timetableConsole) slotAction(c *gin.Context) {
	r, ok := tc.req(c)
	if !ok {
		return
	}
	id := c.Param("id")
	var p SlotPatch
	input := "capacity"
	data := map[string]any{"CapacityValue": ""}
	switch c.PostForm("action") {
	case "close":
		p.Closed, input = ptrTo(true), "closed"
	case "reopen":
		p.Closed, input = ptrTo(false), "closed"
	default:
		v := c.PostForm("capacity")
		data["CapacityValue"] = v
		x, err := strconv.Atoi(narrow(v))
		if err != nil {
			tc.refuse(r, id, input, apperr.Invalid(apperr.Field("capacity", "catalog_integer", nil)), data)
			return
		}
		p.Capacity = &x
	}
	if _, err := tc.h.svc.UpdateSlot(c.Request.Context(), r.db, id, p); err != nil {
		tc.refuse(r, id, input, err, data)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/timetable/slots/"+id+"?done=saved")
}

func ptrTo[T any](v T) *T { return &v }

func (tc *timetableConsole) slotDelete(c *gin.Context) {
	r, ok := tc.req(c)
	if !ok {
		return
	}
	id := c.Param("id")
	data := map[string]any{"CapacityValue": ""}
	if c.PostForm("confirm") != "1" {
		tc.refuse(r, id, "delete", apperr.Invalid(apperr.Field("confirm", "slot_confirm", nil)), data)
		return
	}
	s, err := tc.h.svc.Slot(c.Request.Context(), r.db, id)
	if err != nil {
		tc.h.console.Fail(c, err)
		return
	}
	if err := tc.h.svc.DeleteSlot(c.Request.Context(), r.db, id); err != nil {
		tc.refuse(r, id, "delete", err, data)
		return
	}
	week := mondayOf(DateOf(s.StartsAt.In(r.zone))).String()
	c.Redirect(http.StatusSeeOther, r.base+"/timetable?week="+week+"&done=deleted#week")
}

func (tc *timetableConsole) seriesDelete(c *gin.Context) {
	r, ok := tc.req(c)
	if !ok {
		return
	}
	from := c.PostForm("slot") // the session page the form was on
	data := map[string]any{"CapacityValue": ""}
	if c.PostForm("confirm") != "1" && slotIDOK(from) {
		tc.refuse(r, from, "series", apperr.Invalid(apperr.Field("confirm", "slot_confirm", nil)), data)
		return
	}
	if c.PostForm("confirm") != "1" {
		tc.h.console.Fail(c, apperr.Invalid(apperr.Field("confirm", "slot_confirm", nil)))
		return
	}
	d, err := tc.h.svc.DeleteSeries(c.Request.Context(), r.db, c.Param("id"))
	if err != nil {
		tc.h.console.Fail(c, err)
		return
	}
	week := c.PostForm("week")
	if _, err := ParseDate(week); err != nil {
		week = mondayOf(r.today).String()
	}
	c.Redirect(http.StatusSeeOther, r.base+"/timetable?week="+week+"&done=series_deleted&n="+strconv.Itoa(len(d.Deleted))+
		"&kept="+strconv.Itoa(len(d.Kept))+"#week")
}
