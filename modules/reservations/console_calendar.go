package reservations

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// The calendar: a day or a week in columns by provider or resource (and a
// column for reservations with none), or a month of counts per day. Rows
// of the day view are half hours; an empty one offers to book or block it.

const (
	calStep     = 30 * time.Minute
	calMaxItems = 3000 // reservations read for one view
)

type calItem struct {
	Kind                                              string // "resv" or "block"
	Time, Title, Sub, Status, StatusClass, Link, Meta string
}

type calCell struct {
	Items           []calItem
	Book, Block     string // links offered on an empty cell
	BookLabel, Desc string
}

type calRow struct {
	Label string
	Cells []calCell
}

type calColumn struct{ ID, Name string }

type calMonthDay struct {
	Day, Link, Label string
	Count            int
	InMonth, IsToday bool
}

func (k *Console) calendar(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	view := c.DefaultQuery("view", "day")
	if view != "week" && view != "month" {
		view = "day"
	}
	by := c.DefaultQuery("by", "provider")
	if by != "resource" {
		by = "provider"
	}
	d := r.today
	if s := c.Query("date"); s != "" {
		if x, err := timeslots.ParseDate(s); err == nil && x.Year >= timeslots.MinCalendarYear && x.Year <= timeslots.MaxCalendarYear {
			d = x
		}
	}
	var from, to timeslots.Date // [from, to]
	var prev, next timeslots.Date
	switch view {
	case "day":
		from, to, prev, next = d, d, d.AddDays(-1), d.AddDays(1)
	case "week":
		from = d.AddDays(-((int(d.Weekday()) + 6) % 7))
		to, prev, next = from.AddDays(6), from.AddDays(-7), from.AddDays(7)
	default:
		from = timeslots.NewDate(d.Year, d.Month, 1)
		last := timeslots.NewDate(d.Year, d.Month, 28).AddDays(4)
		to = timeslots.NewDate(last.Year, last.Month, 1).AddDays(-1)
		prev = timeslots.NewDate(from.AddDays(-1).Year, from.AddDays(-1).Month, 1)
		next = to.AddDays(1)
	}
	ctx := c.Request.Context()
	var rs []Reservation
	f := Filter{From: timeslots.Instant(from, 0, r.zone), To: timeslots.Instant(to.AddDays(1), 0, r.zone), Limit: MaxPage}
	for {
		page, after, err := k.cfg.Service.List(ctx, r.db, f)
		if err != nil {
			k.cfg.Shell.Fail(c, err)
			return
		}
		for _, x := range page {
			if x.Status != StatusCancelled && x.Status != StatusRejected {
				rs = append(rs, x)
			}
		}
		if after == "" || len(rs) >= calMaxItems {
			break
		}
		f.After = after
	}
	var blocks []timeslots.Block
	if k.cfg.Slots != nil {
		if blocks, err = k.cfg.Slots.Blocks(ctx, r.db, r.zone, from, to); err != nil {
			k.cfg.Shell.Fail(c, err)
			return
		}
	}
	link := func(v string, day timeslots.Date, b string) string {
		return r.base + "/reservations/calendar?" + url.Values{"view": {v}, "date": {day.String()}, "by": {b}}.Encode()
	}
	data := map[string]any{"View": view, "By": by, "Date": d.String(), "TimeZone": r.zone.String(),
		"Prev": link(view, prev, by), "Next": link(view, next, by), "Today": link(view, r.today, by),
		"Day": link("day", d, by), "Week": link("week", d, by), "Month": link("month", d, by),
		"ByProvider": link(view, d, "provider"), "ByResource": link(view, d, "resource"),
		"CanEdit": r.canEdit, "CanBlock": r.canBlock, "Count": len(rs)}
	if c.Query("done") == "blocked" {
		data["Flash"] = r.tr("resv.console.done.blocked", nil)
	}
	if c.Query("done") == "unblocked" {
		data["Flash"] = r.tr("resv.console.done.unblocked", nil)
	}
	switch view {
	case "month":
		data["Title"] = r.tr("resv.console.month_of", map[string]any{"Year": d.Year, "Month": int(d.Month),
			"MonthShort": r.tr("slots.month_short."+strconv.Itoa(int(d.Month)), nil)})
		counts := map[timeslots.Date]int{}
		for _, x := range rs {
			counts[timeslots.DateOf(x.StartsAt.In(r.zone))]++
		}
		first := from.AddDays(-((int(from.Weekday()) + 6) % 7))
		var weeks [][]calMonthDay
		for w := first; !w.After(to); w = w.AddDays(7) {
			var week []calMonthDay
			for i := range 7 {
				day := w.AddDays(i)
				week = append(week, calMonthDay{Day: strconv.Itoa(day.Day), Link: link("day", day, by), Label: r.dateLabel(day),
					Count: counts[day], InMonth: day.Month == d.Month, IsToday: day == r.today})
			}
			weeks = append(weeks, week)
		}
		var heads []string
		for i := range 7 {
			heads = append(heads, r.tr("timeslots.wd."+strconv.Itoa((i+1)%7), nil))
		}
		data["Weeks"], data["Heads"] = weeks, heads
	default:
		cols := k.columns(r, n, by, rs)
		if view == "day" {
			data["Title"] = r.dateLabel(d)
			data["Rows"] = r.dayRows(d, cols, by, rs, blocks, n)
		} else {
			data["Title"] = r.tr("slots.console.week_of", map[string]any{"From": r.dateLabel(from), "To": r.dateLabel(to)})
			var rows []calRow
			for i := range 7 {
				day := from.AddDays(i)
				rows = append(rows, r.weekRow(day, cols, by, rs, blocks, n, link("day", day, by)))
			}
			data["Rows"] = rows
		}
		data["Columns"] = cols
	}
	k.cfg.Shell.Page(c, http.StatusOK, "console_reservations_calendar.html", "resv.console.calendar_title", data)
}

// columns are the providers (or resources) of the catalog, the ones the
// reservations shown name even when inactive, and "" for none.
func (k *Console) columns(r creq, n cNames, by string, rs []Reservation) []calColumn {
	var cols []calColumn
	seen := map[string]bool{}
	add := func(id, name string) {
		if !seen[id] {
			seen[id] = true
			cols = append(cols, calColumn{ID: id, Name: name})
		}
	}
	if by == "resource" {
		for _, x := range n.resources {
			if x.Active {
				add(x.ID, x.Name)
			}
		}
		for _, x := range rs {
			for _, u := range x.Resources {
				add(u.ResourceID, n.resource[u.ResourceID])
			}
		}
		add("", r.tr("resv.console.no_resource", nil))
		return cols
	}
	for _, p := range n.providers {
		if p.Active {
			add(p.ID, p.Name)
		}
	}
	for _, x := range rs {
		if x.ProviderID != "" {
			add(x.ProviderID, n.provider[x.ProviderID])
		}
	}
	add("", r.tr("resv.console.no_provider", nil))
	return cols
}

// inColumn reports whether reservation x shows in column col.
func inColumn(x Reservation, col, by string) bool {
	if by == "resource" {
		if col == "" {
			return len(x.Resources) == 0
		}
		return slices.ContainsFunc(x.Resources, func(u ResourceUse) bool { return u.ResourceID == col })
	}
	return x.ProviderID == col
}

// blockIn reports whether block b shows in column col: a whole-business
// block in every column, others in their provider's or resource's.
func blockIn(b timeslots.Block, col, by string) bool {
	if b.ProviderID == "" && b.ResourceID == "" {
		return true
	}
	if by == "resource" {
		return col != "" && b.ResourceID == col
	}
	return col != "" && b.ProviderID == col
}

func (r creq) resvItem(x Reservation, n cNames) calItem {
	v := r.view(x, n)
	sub := r.tr("resv.console.party", map[string]any{"Count": x.PartySize})
	return calItem{Kind: "resv", Time: v.Time, Title: v.Customer, Sub: v.Menu + " · " + sub, Status: v.Status,
		StatusClass: v.StatusClass, Link: v.Link}
}

func (r creq) blockItem(b timeslots.Block) calItem {
	title := r.tr("resv.console.blocked", nil)
	return calItem{Kind: "block", Time: b.StartsAt.In(r.zone).Format("15:04") + "–" + b.EndsAt.In(r.zone).Format("15:04"),
		Title: title, Sub: b.Reason, StatusClass: "blocked", Link: r.base + "/reservations/blocks/" + b.ID}
}

func (r creq) offer(cell *calCell, at time.Time, col calColumn, by string, colName string) {
	l := at.In(r.zone)
	start := l.Format("2006-01-02T15:04")
	q := url.Values{"start": {start}}
	bq := url.Values{"start": {start}, "end": {l.Add(calStep).Format("2006-01-02T15:04")}}
	if col.ID != "" {
		q.Set(by, col.ID)
		bq.Set(by, col.ID)
	}
	if r.canEdit {
		cell.Book = r.base + "/reservations/new?" + q.Encode()
	}
	if r.canBlock {
		cell.Block = r.base + "/reservations/blocks/new?" + bq.Encode()
	}
	cell.Desc = r.when(at) + " " + colName
}

// dayRows lays a day out in half hours from 08:00 to 20:00, widened to
// what the day holds; an item shows in the row it starts in (or the
// first row, when it began the day before).
func (r creq) dayRows(d timeslots.Date, cols []calColumn, by string, rs []Reservation, blocks []timeslots.Block, n cNames) []calRow {
	dayStart := timeslots.Instant(d, 0, r.zone)
	dayEnd := timeslots.Instant(d.AddDays(1), 0, r.zone)
	first, last := dayStart.Add(8*time.Hour), dayStart.Add(20*time.Hour)
	widen := func(s, e time.Time) {
		if s.Before(dayStart) {
			s = dayStart
		}
		if e.After(dayEnd) {
			e = dayEnd
		}
		s = dayStart.Add(s.Sub(dayStart).Truncate(calStep))
		if s.Before(first) {
			first = s
		}
		if e.After(last) {
			last = e
		}
	}
	for _, x := range rs {
		widen(x.StartsAt, x.EndsAt)
	}
	for _, b := range blocks {
		widen(b.StartsAt, b.EndsAt)
	}
	var rows []calRow
	for at := first; at.Before(last); at = at.Add(calStep) {
		end := at.Add(calStep)
		row := calRow{Label: at.In(r.zone).Format("15:04")}
		for _, col := range cols {
			var cell calCell
			busy := false
			for _, x := range rs {
				if !inColumn(x, col.ID, by) {
					continue
				}
				startsHere := !x.StartsAt.Before(at) && x.StartsAt.Before(end) || (at.Equal(first) && x.StartsAt.Before(at))
				if startsHere {
					cell.Items = append(cell.Items, r.resvItem(x, n))
				}
				busy = busy || (x.StartsAt.Before(end) && x.EndsAt.After(at))
			}
			for _, b := range blocks {
				if !blockIn(b, col.ID, by) {
					continue
				}
				startsHere := !b.StartsAt.Before(at) && b.StartsAt.Before(end) || (at.Equal(first) && b.StartsAt.Before(at))
				if startsHere {
					cell.Items = append(cell.Items, r.blockItem(b))
				}
				busy = busy || (b.StartsAt.Before(end) && b.EndsAt.After(at))
			}
			if !busy {
				r.offer(&cell, at, col, by, col.Name)
			}
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	return rows
}

// weekRow is one day of the week view: each column lists the day's items.
func (r creq) weekRow(day timeslots.Date, cols []calColumn, by string, rs []Reservation, blocks []timeslots.Block, n cNames, dayLink string) calRow {
	from, to := timeslots.Instant(day, 0, r.zone), timeslots.Instant(day.AddDays(1), 0, r.zone)
	row := calRow{Label: r.dateLabel(day)}
	for _, col := range cols {
		var cell calCell
		for _, b := range blocks {
			if blockIn(b, col.ID, by) && b.StartsAt.Before(to) && b.EndsAt.After(from) {
				cell.Items = append(cell.Items, r.blockItem(b))
			}
		}
		for _, x := range rs {
			if inColumn(x, col.ID, by) && !x.StartsAt.Before(from) && x.StartsAt.Before(to) {
				cell.Items = append(cell.Items, r.resvItem(x, n))
			}
		}
		cell.Book = dayLink // the day view offers its free times
		cell.Desc = r.dateLabel(day) + " " + col.Name
		row.Cells = append(row.Cells, cell)
	}
	return row
}

// ---- Blocks ----

type blockFormView struct {
	Date, Start, EndDate, End, Target, Reason string
	Targets                                   []cOption
	Errors                                    map[string][]string
}

func (k *Console) targets(r creq, n cNames, chosen string) []cOption {
	out := []cOption{{Value: "", Label: r.tr("resv.console.whole_business", nil), Selected: chosen == ""}}
	for _, p := range n.providers {
		if p.Active || chosen == "provider:"+p.ID {
			v := "provider:" + p.ID
			out = append(out, cOption{Value: v, Label: r.tr("resv.console.target_provider", map[string]any{"Name": p.Name}), Selected: v == chosen})
		}
	}
	for _, x := range n.resources {
		if x.Active || chosen == "resource:"+x.ID {
			v := "resource:" + x.ID
			out = append(out, cOption{Value: v, Label: r.tr("resv.console.target_resource", map[string]any{"Name": x.Name}), Selected: v == chosen})
		}
	}
	return out
}

func (k *Console) blockForm(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	f := blockFormView{Date: r.today.String(), Start: "12:00", End: "13:00", Errors: map[string][]string{}}
	if s, ok := parseInstant(c.Query("start"), r.zone); ok {
		l := s.In(r.zone)
		f.Date, f.Start = l.Format(time.DateOnly), l.Format("15:04")
		f.End = l.Add(calStep).Format("15:04")
	}
	if e, ok := parseInstant(c.Query("end"), r.zone); ok {
		l := e.In(r.zone)
		if l.Format(time.DateOnly) != f.Date {
			f.EndDate = l.Format(time.DateOnly)
		}
		f.End = l.Format("15:04")
	}
	switch {
	case c.Query("provider") != "":
		f.Target = "provider:" + c.Query("provider")
	case c.Query("resource") != "":
		f.Target = "resource:" + c.Query("resource")
	}
	f.Targets = k.targets(r, n, f.Target)
	k.cfg.Shell.Page(c, http.StatusOK, "console_reservations_block.html", "resv.console.block_title", map[string]any{"Form": f, "TimeZone": r.zone.String()})
}

func (k *Console) createBlock(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	f := blockFormView{Date: c.PostForm("date"), Start: c.PostForm("start"), EndDate: c.PostForm("end_date"), End: c.PostForm("end"),
		Target: c.PostForm("target"), Reason: c.PostForm("reason"), Errors: map[string][]string{}}
	f.Targets = k.targets(r, n, f.Target)
	in := timeslots.BlockInput{Reason: f.Reason}
	if p, ok := strings.CutPrefix(f.Target, "provider:"); ok {
		in.ProviderID = p
	} else if x, ok := strings.CutPrefix(f.Target, "resource:"); ok {
		in.ResourceID = x
	}
	endDate := f.EndDate
	if consoleNarrow(endDate) == "" {
		endDate = f.Date
	}
	var pre apperr.Validator
	start, sok := parseInstant(consoleNarrow(f.Date)+"T"+consoleNarrow(f.Start), r.zone)
	end, eok := parseInstant(consoleNarrow(endDate)+"T"+consoleNarrow(f.End), r.zone)
	if !sok {
		pre.Add("starts_at", "reservation_datetime", nil)
	}
	if !eok {
		pre.Add("ends_at", "reservation_datetime", nil)
	}
	err = pre.Err()
	var b timeslots.Block
	if err == nil {
		in.StartsAt, in.EndsAt = start.In(r.zone).Format(time.RFC3339), end.In(r.zone).Format(time.RFC3339)
		b, err = k.cfg.Slots.CreateBlock(c.Request.Context(), r.db, in)
	}
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid {
		for _, fe := range ae.Fields {
			name := map[string]string{"starts_at": "start", "ends_at": "end", "provider_id": "target", "resource_id": "target"}[fe.Field]
			if name == "" {
				name = fe.Field
			}
			f.Errors[name] = append(f.Errors[name], r.fieldMessage(fe))
		}
		k.cfg.Shell.Page(c, http.StatusBadRequest, "console_reservations_block.html", "resv.console.block_title",
			map[string]any{"Form": f, "TimeZone": r.zone.String(), "Error": r.tr("resv.console.error", nil)})
		return
	}
	if errors.Is(err, timeslots.ErrBlockConflict) {
		// The time is already booked: the form again, saying so.
		k.cfg.Shell.Page(c, http.StatusConflict, "console_reservations_block.html", "resv.console.block_title",
			map[string]any{"Form": f, "TimeZone": r.zone.String(), "Error": r.tr("problem.block_conflict.detail", nil)})
		return
	}
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	by := "provider"
	if b.ResourceID != "" {
		by = "resource"
	}
	day := timeslots.DateOf(b.StartsAt.In(r.zone))
	c.Redirect(http.StatusSeeOther, r.base+"/reservations/calendar?"+url.Values{"view": {"day"}, "date": {day.String()}, "by": {by},
		"done": {"blocked"}}.Encode())
}

func (k *Console) blockPage(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	k.renderBlock(r, http.StatusOK, c.Param("id"), map[string]any{"Errors": map[string][]string{}})
}

func (k *Console) renderBlock(r creq, status int, id string, data map[string]any) {
	b, err := k.cfg.Slots.GetBlock(r.c.Request.Context(), r.db, id)
	if err != nil {
		k.cfg.Shell.Fail(r.c, err)
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(r.c, err)
		return
	}
	target := r.tr("resv.console.whole_business", nil)
	switch {
	case b.ProviderID != "":
		target = r.tr("resv.console.target_provider", map[string]any{"Name": n.provider[b.ProviderID]})
	case b.ResourceID != "":
		target = r.tr("resv.console.target_resource", map[string]any{"Name": n.resource[b.ResourceID]})
	}
	day := timeslots.DateOf(b.StartsAt.In(r.zone))
	data["Block"] = map[string]any{"ID": b.ID, "When": r.span(b.StartsAt, b.EndsAt), "Target": target, "Reason": b.Reason,
		"Calendar": r.base + "/reservations/calendar?" + url.Values{"view": {"day"}, "date": {day.String()}}.Encode()}
	data["CanBlock"] = r.canBlock
	data["TimeZone"] = r.zone.String()
	k.cfg.Shell.Page(r.c, status, "console_reservations_block_detail.html", "resv.console.block_detail_title", data)
}

func (k *Console) deleteBlock(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	id := c.Param("id")
	if c.PostForm("confirm") != "1" {
		fe := apperr.FieldError{Field: "confirm", Code: "reservation_confirm"}
		k.renderBlock(r, http.StatusBadRequest, id, map[string]any{"Errors": map[string][]string{"delete": {r.fieldMessage(fe)}},
			"Error": r.tr("resv.console.error", nil)})
		return
	}
	b, err := k.cfg.Slots.GetBlock(c.Request.Context(), r.db, id)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	if err := k.cfg.Slots.DeleteBlock(c.Request.Context(), r.db, id); err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	day := timeslots.DateOf(b.StartsAt.In(r.zone))
	c.Redirect(http.StatusSeeOther, r.base+"/reservations/calendar?"+url.Values{"view": {"day"}, "date": {day.String()},
		"done": {"unblocked"}}.Encode())
}
