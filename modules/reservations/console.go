package reservations

// The staff console's reservation pages (/t/{tenant}/admin/reservations):
// the list with filters in the URL, one reservation with its history and
// the actions its state allows, the calendar (console_calendar.go), staff
// booking (console_book.go) and blocks. Pages only call the services:
// the guard, the state machine and the operation log live there.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"
	"golang.org/x/text/width"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/authz"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// ConsoleShell is what the reservation pages need of the staff console
// (identity.Console provides it).
type ConsoleShell struct {
	Page func(c *gin.Context, status int, name, titleKey string, data map[string]any)
	CSRF gin.HandlerFunc
	Fail func(c *gin.Context, err error)
	Need func(area authz.Area, action authz.Action) gin.HandlerFunc
}

// ConsoleCatalog is what the pages read of the menus module (its *Service)
// to name menus, providers and resources and fill the forms.
type ConsoleCatalog interface {
	Get(ctx context.Context, db bun.IDB, id string) (menus.Menu, error)
	List(ctx context.Context, db bun.IDB, p menus.ListParams) ([]menus.Menu, string, error)
	ListProviders(ctx context.Context, db bun.IDB, p menus.PageParams) ([]menus.Provider, string, error)
	ListResources(ctx context.Context, db bun.IDB, p menus.PageParams) ([]menus.Resource, string, error)
}

// ConsoleConfig wires the reservation pages.
type ConsoleConfig struct {
	Service *Service
	Catalog ConsoleCatalog
	Slots   *timeslots.Service // sessions to move to, blocks
	Shell   ConsoleShell
	// Perms decides which forms are shown (the posts are checked anyway).
	Perms identity.Permissions
}

// Console serves the reservation pages of the staff console.
type Console struct{ cfg ConsoleConfig }

// NewConsole returns the reservation pages.
func NewConsole(cfg ConsoleConfig) *Console { return &Console{cfg: cfg} }

// Nav is the pages' entry in the console navigation.
func Nav() []identity.NavEntry {
	return []identity.NavEntry{{Area: authz.AreaReservations, Path: "/reservations", Label: "resv.nav"}}
}

// Register adds the pages to g, the console's group of signed-in staff.
// Reading needs reservations: view; changing reservations: edit; blocks
// are the schedule's (schedule: edit), as on the tenant API.
func (k *Console) Register(g *gin.RouterGroup) {
	sh := k.cfg.Shell
	view, edit := sh.Need(authz.AreaReservations, authz.ActionView), sh.Need(authz.AreaReservations, authz.ActionEdit)
	block := sh.Need(authz.AreaSchedule, authz.ActionEdit)
	g.GET("/reservations", view, k.list)
	g.GET("/reservations/calendar", view, k.calendar)
	g.GET("/reservations/new", edit, k.newForm)
	g.POST("/reservations/new", sh.CSRF, edit, k.book)
	g.GET("/reservations/blocks/new", block, k.blockForm)
	g.POST("/reservations/blocks", sh.CSRF, block, k.createBlock)
	g.GET("/reservations/blocks/:id", view, k.blockPage)
	g.POST("/reservations/blocks/:id/delete", sh.CSRF, block, k.deleteBlock)
	g.GET("/reservations/:id", view, k.detail)
	g.POST("/reservations/:id/action", sh.CSRF, edit, k.action)
	g.POST("/reservations/:id/move", sh.CSRF, edit, k.move)
}

// creq is what every handler needs about its request.
type creq struct {
	c        *gin.Context
	t        tenants.Tenant
	db       bun.IDB
	zone     *time.Location
	base     string // /t/{slug}/admin
	lang     string
	cat      *i18n.Catalog
	canEdit  bool // reservations: edit
	canBlock bool // schedule: edit
	admin    bool // owner or admin: may overbook
	today    timeslots.Date
}

func (k *Console) req(c *gin.Context) (creq, bool) {
	ctx := c.Request.Context()
	t, _ := tenants.FromContext(ctx)
	db, err := tenantdb.From(ctx)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return creq{}, false
	}
	p, _ := identity.PrincipalFrom(ctx)
	r := creq{c: c, t: t, db: db, zone: ZoneOf(t), base: "/t/" + t.Slug + "/admin", lang: httpx.Lang(c),
		cat: httpx.Catalog(c), canEdit: true, canBlock: true,
		admin: p.Role == authz.RoleOwner || p.Role == authz.RoleAdmin}
	if k.cfg.Perms != nil {
		for _, x := range []struct {
			area authz.Area
			dst  *bool
		}{{authz.AreaReservations, &r.canEdit}, {authz.AreaSchedule, &r.canBlock}} {
			if *x.dst, err = k.cfg.Perms.Can(ctx, db, t.ID, p.Subject(), x.area, authz.ActionEdit); err != nil {
				k.cfg.Shell.Fail(c, err)
				return creq{}, false
			}
		}
	}
	r.today = timeslots.DateOf(k.cfg.Service.clock().In(r.zone))
	return r, true
}

func (r creq) tr(id string, args map[string]any) string { return r.cat.T(r.lang, id, args) }

// dateLabel writes a date as a person reads it: 2026年12月10日(木), or
// Thu, 10 Dec 2026 (the calendar pages' catalog entries).
func (r creq) dateLabel(d timeslots.Date) string {
	return r.tr("slots.console.date", map[string]any{"Year": d.Year, "Month": int(d.Month), "Day": d.Day,
		"Weekday":    r.tr("timeslots.wd."+strconv.Itoa(int(d.Weekday())), nil),
		"MonthShort": r.tr("slots.month_short."+strconv.Itoa(int(d.Month)), nil)})
}

// when writes an instant in the tenant's zone: 2026年12月10日(木) 10:00.
func (r creq) when(t time.Time) string {
	l := t.In(r.zone)
	return r.dateLabel(timeslots.DateOf(l)) + " " + l.Format("15:04")
}

// span writes a reservation's time: the day, start and end.
func (r creq) span(from, to time.Time) string {
	a, b := from.In(r.zone), to.In(r.zone)
	if timeslots.DateOf(a) == timeslots.DateOf(b) {
		return r.when(from) + "–" + b.Format("15:04")
	}
	return r.when(from) + " – " + r.when(to)
}

func (r creq) statusLabel(s Status) string { return r.tr("resv.status."+string(s), nil) }

func (r creq) yen(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return r.tr("resv.console.yen", map[string]any{"Amount": b.String()})
}

// fieldMessage is the catalog's message for a field error.
func (r creq) fieldMessage(fe apperr.FieldError) string {
	args := map[string]any{"Field": fe.Field}
	for k, v := range fe.Args {
		args[k] = v
	}
	msg := r.tr("field."+fe.Code, args)
	if msg == "field."+fe.Code {
		msg = r.tr("field.invalid", args)
	}
	return msg
}

// problemMessage is the catalog's title and detail of a refusal.
func (r creq) problemMessage(ae *apperr.Error) string {
	msg := r.tr("problem."+ae.Code+".title", ae.Args)
	if d := r.tr("problem."+ae.Code+".detail", ae.Args); d != "problem."+ae.Code+".detail" {
		msg += " " + d
	}
	return msg
}

// names are the catalog's names for the pages.
type cNames struct {
	menus     []menus.Menu // all, archived included, in the catalog's order
	menu      map[string]menus.Menu
	providers []menus.Provider
	provider  map[string]string
	resources []menus.Resource
	resource  map[string]string
}

func (k *Console) names(r creq) (cNames, error) {
	ctx := r.c.Request.Context()
	n := cNames{menu: map[string]menus.Menu{}, provider: map[string]string{}, resource: map[string]string{}}
	ms, _, err := k.cfg.Catalog.List(ctx, r.db, menus.ListParams{IncludeArchived: true})
	if err != nil {
		return n, err
	}
	n.menus = ms
	for _, m := range ms {
		n.menu[m.ID] = m
	}
	if n.providers, _, err = k.cfg.Catalog.ListProviders(ctx, r.db, menus.PageParams{}); err != nil {
		return n, err
	}
	for _, p := range n.providers {
		n.provider[p.ID] = p.Name
	}
	if n.resources, _, err = k.cfg.Catalog.ListResources(ctx, r.db, menus.PageParams{}); err != nil {
		return n, err
	}
	for _, x := range n.resources {
		n.resource[x.ID] = x.Name
	}
	return n, nil
}

func (r creq) menuName(m menus.Menu) string {
	if r.lang == i18n.English && m.NameEN != "" {
		return m.NameEN
	}
	return m.NameJA
}

func (n cNames) menuName(r creq, id string) string {
	if m, ok := n.menu[id]; ok {
		return r.menuName(m)
	}
	return id
}

// option is one choice of a select, radio or checkbox group.
type cOption struct {
	Value, Label string
	Selected     bool
}

func (n cNames) menuOptions(r creq, chosen string, bookable bool) []cOption {
	var out []cOption
	for _, m := range n.menus {
		if bookable && m.Archived() {
			continue
		}
		out = append(out, cOption{Value: m.ID, Label: r.menuName(m), Selected: m.ID == chosen})
	}
	return out
}

// ---- The list ----

// row is a reservation as the list and the calendar show it.
type resvView struct {
	ID, Number, Link, When, Time, Menu, Customer, Kana, Provider, Status, StatusClass string
	Party                                                                             int
	Overbooked                                                                        bool
}

func (r creq) view(x Reservation, n cNames) resvView {
	return resvView{ID: x.ID, Number: x.Number, Link: r.base + "/reservations/" + x.ID, When: r.span(x.StartsAt, x.EndsAt),
		Time: x.StartsAt.In(r.zone).Format("15:04") + "–" + x.EndsAt.In(r.zone).Format("15:04"),
		Menu: n.menuName(r, x.MenuID), Customer: x.Customer.Name, Kana: x.Customer.Kana, Provider: n.provider[x.ProviderID],
		Status: r.statusLabel(x.Status), StatusClass: "st-" + string(x.Status), Party: x.PartySize, Overbooked: x.Overbooked}
}

const listPageSize = 50

func (k *Console) list(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	q := c.Request.URL.Query()
	in := map[string]string{}
	for _, name := range []string{"from", "to", "status", "menu", "q", "sort", "page"} {
		in[name] = strings.TrimSpace(q.Get(name))
	}
	errs := map[string][]string{}
	f := Filter{MenuID: in["menu"], Status: Status(in["status"]), Query: in["q"], Limit: listPageSize,
		Desc: in["sort"] == "desc"}
	for _, p := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		if in[p.name] == "" {
			continue
		}
		d, err := timeslots.ParseDate(in[p.name])
		if err != nil || d.Year < timeslots.MinCalendarYear || d.Year > timeslots.MaxCalendarYear {
			errs[p.name] = append(errs[p.name], r.tr("resv.console.bad_date", nil))
			continue
		}
		if p.end {
			d = d.AddDays(1) // to is inclusive: the whole day
		}
		*p.dst = timeslots.Instant(d, 0, r.zone)
	}
	page := 1
	if in["page"] != "" {
		if page, err = strconv.Atoi(in["page"]); err != nil || page < 1 || (page-1)*listPageSize > MaxOffset {
			page = 1
		}
	}
	f.Offset = (page - 1) * listPageSize
	if f.Status != "" && !slices.Contains(Statuses(), f.Status) {
		errs["status"] = append(errs["status"], r.tr("resv.console.bad_choice", nil))
	}
	if f.MenuID != "" && !validID(f.MenuID) {
		errs["menu"] = append(errs["menu"], r.tr("resv.console.bad_choice", nil))
	}
	var rs []Reservation
	next := ""
	status := http.StatusOK
	if len(errs) == 0 {
		rs, next, err = k.cfg.Service.List(c.Request.Context(), r.db, f)
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind == apperr.KindInvalid {
			for _, fe := range ae.Fields {
				name := map[string]string{"menu_id": "menu", "offset": "page"}[fe.Field]
				if name == "" {
					name = fe.Field
				}
				errs[name] = append(errs[name], r.fieldMessage(fe))
			}
		} else if err != nil {
			k.cfg.Shell.Fail(c, err)
			return
		}
	}
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	rows := make([]resvView, 0, len(rs))
	for _, x := range rs {
		rows = append(rows, r.view(x, n))
	}
	link := func(p int) string {
		v := url.Values{}
		for _, name := range []string{"from", "to", "status", "menu", "q", "sort"} {
			if in[name] != "" {
				v.Set(name, in[name])
			}
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		return r.base + "/reservations?" + v.Encode()
	}
	sortLink := func(desc bool) string {
		v := url.Values{}
		for _, name := range []string{"from", "to", "status", "menu", "q"} {
			if in[name] != "" {
				v.Set(name, in[name])
			}
		}
		if desc {
			v.Set("sort", "desc")
		}
		return r.base + "/reservations?" + v.Encode()
	}
	var statuses []cOption
	for _, s := range Statuses() {
		statuses = append(statuses, cOption{Value: string(s), Label: r.statusLabel(s), Selected: string(s) == in["status"]})
	}
	data := map[string]any{"Rows": rows, "In": in, "Errors": errs, "Statuses": statuses,
		"Menus": n.menuOptions(r, in["menu"], false), "Page": page, "Desc": f.Desc, "SortLink": sortLink(!f.Desc),
		"CanEdit": r.canEdit, "TimeZone": r.zone.String(), "HasFilter": in["from"] != "" || in["to"] != "" ||
			in["status"] != "" || in["menu"] != "" || in["q"] != ""}
	if page > 1 {
		data["Prev"] = link(page - 1)
	}
	if next != "" {
		data["Next"] = link(page + 1)
	}
	k.cfg.Shell.Page(c, status, "console_reservations.html", "resv.console.list_title", data)
}

// ---- One reservation ----

type fieldView struct {
	Label, Value string
	StaffOnly    bool
}

type historyView struct {
	At, Actor, Action string
	Changes           []string
}

func (k *Console) detail(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	data := map[string]any{}
	if d := c.Query("done"); d != "" && slices.Contains([]string{"booked", "confirm", "reject", "cancel", "complete", "no_show", "move"}, d) {
		data["Flash"] = r.tr("resv.console.done."+d, nil)
	}
	k.renderDetail(r, http.StatusOK, c.Param("id"), data)
}

func (k *Console) renderDetail(r creq, status int, id string, data map[string]any) {
	ctx := r.c.Request.Context()
	x, err := k.cfg.Service.Get(ctx, r.db, id)
	if err != nil {
		k.cfg.Shell.Fail(r.c, err)
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(r.c, err)
		return
	}
	m := n.menu[x.MenuID]
	v := r.view(x, n)
	var opts []string
	for _, oid := range x.OptionIDs {
		label := oid
		if i := slices.IndexFunc(m.Options, func(o menus.Option) bool { return o.ID == oid }); i >= 0 {
			o := m.Options[i]
			label = o.NameJA
			if r.lang == i18n.English && o.NameEN != "" {
				label = o.NameEN
			}
			label += " (" + r.yen(o.Price) + ")"
		}
		opts = append(opts, label)
	}
	var answers []fieldView
	for _, q := range m.Questions {
		a, ok := x.Answers[q.ID]
		if !ok {
			continue
		}
		label := q.LabelJA
		if r.lang == i18n.English && q.LabelEN != "" {
			label = q.LabelEN
		}
		answers = append(answers, fieldView{Label: label, Value: consoleAnswer(a, r.tr("resv.console.list_sep", nil)),
			StaffOnly: q.Requirement == menus.StaffOnly})
	}
	var res []string
	for _, u := range x.Resources {
		name := n.resource[u.ResourceID]
		if name == "" {
			name = u.ResourceID
		}
		res = append(res, r.tr("resv.console.resource_use", map[string]any{"Name": name, "Quantity": u.Quantity}))
	}
	d := map[string]any{
		"R": v, "Menu": n.menuName(r, x.MenuID), "Options": opts, "Answers": answers, "Resources": res,
		"Email": x.Customer.Email, "Phone": x.Customer.Phone, "MemberID": x.MemberID,
		"Source": r.tr("resv.source."+string(x.Source), nil), "SourceIP": x.SourceIP, "UserAgent": x.UserAgent,
		"Price": r.yen(x.Price), "Created": r.when(x.CreatedAt), "Updated": r.when(x.UpdatedAt), "Version": x.Version,
		"CancelReason": x.CancelReason, "TimeZone": r.zone.String(), "CanEdit": r.canEdit, "Admin": r.admin,
		"Hours": x.Mode == menus.ModeHours,
	}
	if x.CancelledAt != nil {
		d["Cancelled"] = r.when(*x.CancelledAt)
	}
	// The actions its state allows.
	var actions []map[string]any
	for _, a := range []Action{ActionConfirm, ActionComplete, ActionNoShow, ActionReject, ActionCancel} {
		if Allowed(a, x.Status) {
			destructive := a != ActionConfirm && a != ActionComplete
			actions = append(actions, map[string]any{"Action": string(a), "Label": r.tr("resv.action."+string(a), nil),
				"Destructive": destructive, "Reason": a == ActionCancel || a == ActionReject,
				"Confirm": r.tr("resv.console.confirm."+string(a), nil)})
		}
	}
	d["Actions"] = actions
	d["CanMove"] = x.Status.Active()
	if x.Status.Active() && r.canEdit {
		if x.Mode == menus.ModeHours {
			var provs []cOption
			for _, pid := range m.ProviderIDs {
				provs = append(provs, cOption{Value: pid, Label: n.provider[pid]})
			}
			d["MoveProviders"] = provs
		} else if k.cfg.Slots != nil {
			ss, err := k.cfg.Slots.Slots(ctx, r.db, timeslots.SlotFilter{MenuID: x.MenuID,
				From: timeslots.Instant(r.today, 0, r.zone), To: timeslots.Instant(r.today.AddDays(90), 0, r.zone), Limit: 300})
			if err != nil {
				k.cfg.Shell.Fail(r.c, err)
				return
			}
			var choices []cOption
			for _, s := range ss {
				if s.ID == x.SlotID {
					continue
				}
				label := r.span(s.StartsAt, s.EndsAt) + " " + r.tr("resv.console.seats_left", map[string]any{"Left": s.Remaining(), "Capacity": s.Capacity})
				if s.Closed {
					label += " " + r.tr("resv.console.closed", nil)
				}
				choices = append(choices, cOption{Value: s.ID, Label: label})
			}
			d["MoveSlots"] = choices
		}
	}
	if _, ok := data["Move"]; !ok {
		l := x.StartsAt.In(r.zone)
		data["Move"] = map[string]string{"date": l.Format(time.DateOnly), "time": l.Format("15:04"), "provider": x.ProviderID, "slot": ""}
	}
	if _, ok := data["Errors"]; !ok {
		data["Errors"] = map[string][]string{}
	}
	// Its history: the operation log's entries for it, newest first.
	entries, err := auditlog.Search(ctx, r.db, auditlog.Filter{ObjectType: "reservation", ObjectID: x.ID, Limit: 200})
	if err != nil {
		k.cfg.Shell.Fail(r.c, err)
		return
	}
	var hist []historyView
	for _, e := range entries {
		h := historyView{At: r.when(e.At), Actor: e.Actor.Name, Action: r.tr("resv.audit."+e.Action, nil)}
		if h.Action == "resv.audit."+e.Action {
			h.Action = e.Action
		}
		if h.Actor == "" {
			h.Actor = r.tr("resv.actor."+string(e.Actor.Kind), nil)
		}
		for _, ch := range e.Changes {
			h.Changes = append(h.Changes, r.change(ch, n))
		}
		hist = append(hist, h)
	}
	d["History"] = hist
	for k, v := range d {
		data[k] = v
	}
	k.cfg.Shell.Page(r.c, status, "console_reservations_detail.html", "resv.console.detail_title", data)
}

// change writes one changed field of the history for people: statuses in
// words, instants in the tenant's zone, ids by their names.
func (r creq) change(ch auditlog.Change, n cNames) string {
	val := func(raw []byte) string {
		if len(raw) == 0 || string(raw) == "null" {
			return "—"
		}
		s := strings.Trim(string(raw), `"`)
		switch ch.Field {
		case "status":
			return r.statusLabel(Status(s))
		case "starts_at":
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return r.when(t)
			}
		case "menu_id":
			return n.menuName(r, s)
		case "provider_id":
			if p := n.provider[s]; p != "" {
				return p
			}
		}
		return s
	}
	label := r.tr("resv.field."+ch.Field, nil)
	if label == "resv.field."+ch.Field {
		label = ch.Field
	}
	if len(ch.Old) == 0 || string(ch.Old) == "null" {
		return label + ": " + val(ch.New)
	}
	return label + ": " + val(ch.Old) + " → " + val(ch.New)
}

// narrow folds full-width digits and signs typed in Japanese input mode.
func consoleNarrow(s string) string { return strings.TrimSpace(width.Narrow.String(s)) }

func consoleAnswer(a any, sep string) string {
	switch a := a.(type) {
	case string:
		return a
	case []any:
		var parts []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, sep)
	case []string:
		return strings.Join(a, sep)
	}
	return ""
}

// refuse shows the reservation again with err next to the form named
// input (400 or 409), or fails the page for other errors.
func (k *Console) refuse(r creq, id, input string, err error, data map[string]any) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || (ae.Kind != apperr.KindInvalid && ae.Kind != apperr.KindConflict &&
		ae.Kind != apperr.KindForbidden) {
		k.cfg.Shell.Fail(r.c, err)
		return
	}
	errs := map[string][]string{}
	status := http.StatusConflict
	if ae.Kind == apperr.KindForbidden {
		status = http.StatusForbidden
	}
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
	data["Error"] = r.tr("resv.console.error", nil)
	k.renderDetail(r, status, id, data)
}

func (k *Console) action(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	id := c.Param("id")
	a := Action(c.PostForm("action"))
	input := "action-" + string(a)
	data := map[string]any{"Reason": c.PostForm("reason")}
	if _, known := machine[a]; !known {
		k.refuse(r, id, "action", apperr.Invalid(apperr.Field("action", "oneof", nil)), data)
		return
	}
	if a != ActionConfirm && a != ActionComplete && c.PostForm("confirm") != "1" {
		k.refuse(r, id, input, apperr.Invalid(apperr.Field("confirm", "reservation_confirm", nil)), data)
		return
	}
	if _, err := k.cfg.Service.Change(c.Request.Context(), r.db, r.t, id, a, ChangeInput{Reason: strings.TrimSpace(c.PostForm("reason"))}); err != nil {
		k.refuse(r, id, input, err, data)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/reservations/"+id+"?done="+string(a))
}

func (k *Console) move(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	id := c.Param("id")
	mv := map[string]string{"date": c.PostForm("date"), "time": c.PostForm("time"), "provider": c.PostForm("provider_id"),
		"slot": c.PostForm("slot_id")}
	data := map[string]any{"Move": mv}
	in := MoveInput{SlotID: mv["slot"], ProviderID: mv["provider"], Overbook: c.PostForm("overbook") == "1"}
	if in.Overbook && !r.admin {
		k.refuse(r, id, "move", ErrOverbookForbidden, data)
		return
	}
	if in.SlotID == "" {
		at, ok := parseInstant(consoleNarrow(mv["date"])+"T"+consoleNarrow(mv["time"]), r.zone)
		if !ok {
			k.refuse(r, id, "move", apperr.Invalid(apperr.Field("starts_at", "reservation_datetime", nil)), data)
			return
		}
		in.StartsAt = at
	}
	if c.PostForm("confirm") != "1" {
		k.refuse(r, id, "move", apperr.Invalid(apperr.Field("confirm", "reservation_confirm", nil)), data)
		return
	}
	if _, err := k.cfg.Service.Move(c.Request.Context(), r.db, r.t, id, in); err != nil {
		k.refuse(r, id, "move", err, data)
		return
	}
	c.Redirect(http.StatusSeeOther, r.base+"/reservations/"+id+"?done=move")
}
