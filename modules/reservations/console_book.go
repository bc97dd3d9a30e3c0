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

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/i18n"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// Staff booking: a menu is chosen first (a GET form, so the calendar can
// link here with ?menu=&start=&slot=&provider=), then its form asks for
// the time (a start, or one of its sessions), the provider (or none),
// the party, options, the customer and the answers, staff-only questions
// included. Staff skip members' rules (window, required answers), never
// the capacity guard; an owner or admin may tick "overbook", which the
// service records in the operation log.

type questionView struct {
	ID, Name, Label, Kind, Value string
	Choices                      []cOption
	StaffOnly, Required          bool
	Errors                       []string
}

type bookFormView struct {
	Menu                              string // chosen menu id
	Hours                             bool
	Date, Time, Slot, Provider, Party string
	Name, Kana, Email, Phone          string
	Overbook                          bool
	Menus, Providers, Slots, Options  []cOption
	Questions                         []questionView
	Errors                            map[string][]string
	PartyMin, PartyMax                int
	MenuLabel                         string
	ProviderRequired                  bool
}

func (k *Console) newForm(c *gin.Context) {
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
	f := bookFormView{Menu: q.Get("menu"), Slot: q.Get("slot"), Provider: q.Get("provider"), Party: "1", Errors: map[string][]string{}}
	if at, ok := parseInstant(q.Get("start"), r.zone); ok {
		l := at.In(r.zone)
		f.Date, f.Time = l.Format(time.DateOnly), l.Format("15:04")
	}
	// Coming from a provider's empty time on the calendar without a menu:
	// offer the menus that provider serves first.
	k.renderBook(r, http.StatusOK, n, f, url.Values{}, nil)
}

func (k *Console) renderBook(r creq, status int, n cNames, f bookFormView, posted url.Values, data map[string]any) {
	ctx := r.c.Request.Context()
	if data == nil {
		data = map[string]any{}
	}
	f.Menus = nil
	for _, m := range n.menus {
		if m.Archived() {
			continue
		}
		if f.Provider != "" && f.Menu == "" && len(m.ProviderIDs) > 0 && !slices.Contains(m.ProviderIDs, f.Provider) {
			continue
		}
		f.Menus = append(f.Menus, cOption{Value: m.ID, Label: r.menuName(m), Selected: m.ID == f.Menu})
	}
	m, chosen := n.menu[f.Menu]
	if chosen && !m.Archived() {
		f.MenuLabel = r.menuName(m)
		f.Hours = m.BookingMode == menus.ModeHours
		f.PartyMin, f.PartyMax = max(m.PartyMin, 1), max(m.PartyMax, 1)
		for _, pid := range m.ProviderIDs {
			f.Providers = append(f.Providers, cOption{Value: pid, Label: n.provider[pid], Selected: pid == f.Provider})
		}
		if !f.Hours && k.cfg.Slots != nil {
			from := r.today
			ss, err := k.cfg.Slots.Slots(ctx, r.db, timeslots.SlotFilter{MenuID: m.ID, From: timeslots.Instant(from, 0, r.zone),
				To: timeslots.Instant(from.AddDays(120), 0, r.zone), Limit: 500})
			if err != nil {
				k.cfg.Shell.Fail(r.c, err)
				return
			}
			for _, s := range ss {
				label := r.span(s.StartsAt, s.EndsAt) + " " + r.tr("resv.console.seats_left", map[string]any{"Left": s.Remaining(), "Capacity": s.Capacity})
				if s.Closed {
					label += " " + r.tr("resv.console.closed", nil)
				}
				if name := n.provider[s.ProviderID]; name != "" {
					label += " · " + name
				}
				f.Slots = append(f.Slots, cOption{Value: s.ID, Label: label, Selected: s.ID == f.Slot})
			}
		}
		picked := posted["options"]
		for _, o := range m.Options {
			name := o.NameJA
			if r.lang == i18n.English && o.NameEN != "" {
				name = o.NameEN
			}
			label := r.tr("resv.console.option_label", map[string]any{"Name": name, "Price": r.yen(o.Price), "Minutes": o.ExtraMinutes})
			f.Options = append(f.Options, cOption{Value: o.ID, Label: label, Selected: slices.Contains(picked, o.ID)})
		}
		f.Questions = nil
		for _, q := range m.Questions {
			label := q.LabelJA
			if r.lang == i18n.English && q.LabelEN != "" {
				label = q.LabelEN
			}
			qv := questionView{ID: q.ID, Name: "answer." + q.ID, Label: label, Kind: string(q.Kind),
				Value: posted.Get("answer." + q.ID), StaffOnly: q.Requirement == menus.StaffOnly,
				Required: q.Requirement == menus.Required, Errors: f.Errors["answers."+q.ID]}
			for _, ch := range q.Choices {
				sel := qv.Value == ch
				if q.Kind == menus.KindMultipleChoice {
					sel = slices.Contains(posted["answer."+q.ID], ch)
				}
				qv.Choices = append(qv.Choices, cOption{Value: ch, Label: ch, Selected: sel})
			}
			f.Questions = append(f.Questions, qv)
		}
		if f.Hours && f.Date == "" {
			f.Date, f.Time = r.today.String(), "10:00"
		}
	}
	data["Form"] = f
	data["Chosen"] = chosen && !m.Archived()
	data["Admin"] = r.admin
	data["TimeZone"] = r.zone.String()
	k.cfg.Shell.Page(r.c, status, "console_reservations_new.html", "resv.console.new_title", data)
}

// bookInput maps a service field to the form's input.
func bookInput(field string, hours bool) string {
	switch {
	case field == "starts_at":
		return "time"
	case field == "slot_id":
		if hours {
			return "time"
		}
		return "slot"
	case field == "menu_id":
		return "menu"
	case field == "party_size":
		return "party"
	case field == "provider_id":
		return "provider"
	case strings.HasPrefix(field, "options"):
		return "options"
	case strings.HasPrefix(field, "customer."):
		return strings.TrimPrefix(field, "customer.")
	case strings.HasPrefix(field, "answers."):
		return field
	}
	return ""
}

func (k *Console) book(c *gin.Context) {
	r, ok := k.req(c)
	if !ok {
		return
	}
	n, err := k.names(r)
	if err != nil {
		k.cfg.Shell.Fail(c, err)
		return
	}
	_ = c.PostForm("menu_id") // parses the form
	posted := c.Request.PostForm
	f := bookFormView{Menu: posted.Get("menu_id"), Date: posted.Get("date"), Time: posted.Get("time"), Slot: posted.Get("slot_id"),
		Provider: posted.Get("provider_id"), Party: posted.Get("party"), Name: posted.Get("name"), Kana: posted.Get("kana"),
		Email: posted.Get("email"), Phone: posted.Get("phone"), Overbook: posted.Get("overbook") == "1",
		Errors: map[string][]string{}}
	m, chosen := n.menu[f.Menu]
	if !chosen {
		f.Errors["menu"] = []string{r.tr("resv.console.choose_menu", nil)}
		k.renderBook(r, http.StatusBadRequest, n, f, posted, map[string]any{"Error": r.tr("resv.console.error", nil)})
		return
	}
	hours := m.BookingMode == menus.ModeHours
	in := BookInput{MenuID: m.ID, ProviderID: f.Provider, OptionIDs: posted["options"], Source: SourceStaff,
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), Lang: r.lang, Overbook: f.Overbook,
		Customer: Customer{Name: strings.TrimSpace(f.Name), Kana: strings.TrimSpace(f.Kana), Email: strings.TrimSpace(f.Email),
			Phone: consoleNarrow(f.Phone)}}
	var pre apperr.Validator
	if x, err := strconv.Atoi(consoleNarrow(f.Party)); err != nil {
		pre.Add("party_size", "range", map[string]any{"Min": max(m.PartyMin, 1), "Max": max(m.PartyMax, 1)})
	} else {
		in.PartySize = x
	}
	if hours {
		at, ok := parseInstant(consoleNarrow(f.Date)+"T"+consoleNarrow(f.Time), r.zone)
		if !ok {
			pre.Add("starts_at", "reservation_datetime", nil)
		}
		in.StartsAt = at
	} else {
		in.SlotID = f.Slot
		if in.SlotID == "" {
			pre.Add("slot_id", "required", nil)
		}
	}
	if in.OptionIDs == nil {
		in.OptionIDs = []string{}
	}
	in.Answers = map[string]any{}
	for _, q := range m.Questions {
		key := "answer." + q.ID
		if q.Kind == menus.KindMultipleChoice {
			if vals := posted[key]; len(vals) > 0 {
				list := make([]any, len(vals))
				for i, v := range vals {
					list[i] = v
				}
				in.Answers[q.ID] = list
			}
			continue
		}
		if v := strings.TrimSpace(posted.Get(key)); v != "" {
			in.Answers[q.ID] = v
		}
	}
	if in.Overbook && !r.admin {
		err = ErrOverbookForbidden
	} else if err = pre.Err(); err == nil {
		var b Booked
		b, err = k.cfg.Service.Book(c.Request.Context(), r.db, r.t, in)
		if err == nil {
			c.Redirect(http.StatusSeeOther, r.base+"/reservations/"+b.ID+"?done=booked")
			return
		}
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || (ae.Kind != apperr.KindInvalid && ae.Kind != apperr.KindConflict && ae.Kind != apperr.KindForbidden) {
		k.cfg.Shell.Fail(c, err)
		return
	}
	status := http.StatusConflict
	summary := r.problemMessage(ae)
	switch ae.Kind {
	case apperr.KindInvalid:
		status, summary = http.StatusBadRequest, r.tr("resv.console.error", nil)
		for _, fe := range ae.Fields {
			name := bookInput(fe.Field, hours)
			f.Errors[name] = append(f.Errors[name], r.fieldMessage(fe))
		}
	case apperr.KindForbidden:
		status = http.StatusForbidden
	}
	k.renderBook(r, status, n, f, posted, map[string]any{"Error": summary})
}
