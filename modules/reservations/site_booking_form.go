package reservations

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/members"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// Steps 3 (details), 4 (confirm) and 5 (done) of the booking site.

// siteForm is what the details form and the confirmation page post.
type siteForm struct {
	Start, SlotID, ProviderID string
	PartyRaw                  string
	Party                     int
	Options                   []string
	Name, Kana, Email, Phone  string
	Answers                   map[string][]string // question id → values
	Consent                   bool
}

// Form field names.
const (
	sfStart    = "start"
	sfSlot     = "slot"
	sfProvider = "provider"
	sfParty    = "party"
	sfOptions  = "options"
	sfName     = "name"
	sfKana     = "kana"
	sfEmail    = "email"
	sfPhone    = "phone"
	sfConsent  = "consent"
	sfKey      = "key"
	sfQPrefix  = "q."
	sfMaxField = 254
)

func readSiteForm(c *gin.Context, m menus.Menu) siteForm {
	f := siteForm{Start: c.PostForm(sfStart), SlotID: c.PostForm(sfSlot), ProviderID: c.PostForm(sfProvider),
		PartyRaw: strings.TrimSpace(c.PostForm(sfParty)), Name: strings.TrimSpace(c.PostForm(sfName)),
		Kana: strings.TrimSpace(c.PostForm(sfKana)), Email: strings.TrimSpace(c.PostForm(sfEmail)),
		Phone: strings.TrimSpace(c.PostForm(sfPhone)), Consent: c.PostForm(sfConsent) == "1", Answers: map[string][]string{}}
	for _, id := range c.PostFormArray(sfOptions) {
		if slices.ContainsFunc(m.Options, func(o menus.Option) bool { return o.ID == id }) && !slices.Contains(f.Options, id) {
			f.Options = append(f.Options, id)
		}
	}
	for _, q := range m.Questions {
		if q.Requirement == menus.StaffOnly {
			continue
		}
		var vals []string
		for _, v := range c.PostFormArray(sfQPrefix + q.ID) {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
		f.Answers[q.ID] = vals
	}
	f.Party, _ = strconv.Atoi(f.PartyRaw)
	return f
}

// values are the form as hidden fields (and the input of the request key).
func (f siteForm) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set(sfStart, f.Start)
	set(sfSlot, f.SlotID)
	set(sfProvider, f.ProviderID)
	set(sfParty, f.PartyRaw)
	v[sfOptions] = f.Options
	set(sfName, f.Name)
	set(sfKana, f.Kana)
	set(sfEmail, f.Email)
	set(sfPhone, f.Phone)
	for id, vals := range f.Answers {
		if len(vals) > 0 {
			v[sfQPrefix+id] = vals
		}
	}
	if f.Consent {
		v.Set(sfConsent, "1")
	}
	if len(f.Options) == 0 {
		delete(v, sfOptions)
	}
	return v
}

// chosen resolves the time of the form against availability now: the
// session (with its free seats) or the start (with the options' minutes).
func (s *Site) chosen(ctx context.Context, sc bookSiteCtx, m menus.Menu, f siteForm, opts []string) (timeslots.AvailableSlot, bool, error) {
	var day timeslots.Date
	var at time.Time
	if m.BookingMode == menus.ModeHours {
		var ok bool
		if at, ok = parseInstant(f.Start, sc.zone); !ok {
			return timeslots.AvailableSlot{}, false, nil
		}
		day = timeslots.DateOf(at.In(sc.zone))
	} else {
		if !validID(f.SlotID) {
			return timeslots.AvailableSlot{}, false, nil
		}
		sl, err := s.cfg.Slots.Slot(ctx, sc.db, f.SlotID)
		if apperr.KindOf(err) == apperr.KindNotFound || (err == nil && sl.MenuID != m.ID) {
			return timeslots.AvailableSlot{}, false, nil
		}
		if err != nil {
			return timeslots.AvailableSlot{}, false, err
		}
		at = sl.StartsAt
		day = timeslots.DateOf(sl.StartsAt.In(sc.zone))
	}
	provider := f.ProviderID
	if !slices.Contains(m.ProviderIDs, provider) || m.BookingMode != menus.ModeHours {
		provider = ""
	}
	av, err := s.cfg.Slots.Availability(ctx, sc.db, timeslots.AvailabilityQuery{MenuID: m.ID, Zone: sc.zone, From: day, To: day,
		OptionIDs: opts, ProviderID: provider, Now: s.cfg.Now(), Public: true})
	if apperr.KindOf(err) == apperr.KindInvalid {
		return timeslots.AvailableSlot{}, false, nil
	}
	if err != nil {
		return timeslots.AvailableSlot{}, false, err
	}
	for _, sl := range av.Slots {
		if (f.SlotID != "" && sl.SlotID == f.SlotID) || (f.SlotID == "" && sl.StartsAt.Equal(at)) {
			return sl, sl.Remaining > 0, nil
		}
	}
	return timeslots.AvailableSlot{StartsAt: at}, false, nil
}

// backToDay sends the guest to step 2 on the day of at, saying the time
// was taken and offering the nearest free ones.
func (s *Site) backToDay(c *gin.Context, m menus.Menu, f siteForm, at time.Time) {
	sc := bookSiteOf(c)
	v := url.Values{}
	if !at.IsZero() {
		d := timeslots.DateOf(at.In(sc.zone))
		v.Set("date", d.String())
		v.Set("taken", at.In(sc.zone).Format("2006-01-02T15:04"))
	}
	if f.ProviderID != "" && slices.Contains(m.ProviderIDs, f.ProviderID) {
		v.Set("provider", f.ProviderID)
	}
	c.Redirect(http.StatusSeeOther, sc.base+"/book/"+m.ID+"?"+v.Encode())
	c.Abort()
}

// --- step 3: details -----------------------------------------------------------

type siteOption struct {
	ID, Label string
	Checked   bool
}

type siteChoice struct {
	Value   string
	Checked bool
	InputID string
}

type siteQuestion struct {
	ID, Name, InputID, Label, Kind, Value, Error string
	Required                                     bool
	Choices                                      []siteChoice
}

type siteErrors struct {
	msgs  map[string]string
	first string
}

func (e *siteErrors) add(field, msg string) {
	if e.msgs == nil {
		e.msgs = map[string]string{}
	}
	if _, ok := e.msgs[field]; ok {
		return
	}
	e.msgs[field] = msg
	if e.first == "" {
		e.first = field
	}
}

func (s *Site) formPage(c *gin.Context) {
	m, ok := s.bookableMenu(c)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	f := siteForm{Start: c.Query(sfStart), SlotID: c.Query(sfSlot), ProviderID: c.Query(sfProvider), Party: max(m.PartyMin, 1),
		Answers: map[string][]string{}}
	f.PartyRaw = strconv.Itoa(f.Party)
	if sc.signed {
		f.Name, f.Kana, f.Email, f.Phone = sc.member.Name, sc.member.Kana, sc.member.Email, sc.member.Phone
	}
	sl, ok, err := s.chosen(c.Request.Context(), sc, m, f, nil)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.backToDay(c, m, f, sl.StartsAt)
		return
	}
	s.renderForm(c, http.StatusOK, m, f, sl, siteErrors{})
}

func (s *Site) renderForm(c *gin.Context, status int, m menus.Menu, f siteForm, sl timeslots.AvailableSlot, errs siteErrors) {
	sc := bookSiteOf(c)
	ctx := c.Request.Context()
	hi := max(m.PartyMax, 1)
	if m.BookingMode != menus.ModeHours && sl.Remaining > 0 {
		hi = min(hi, sl.Remaining)
	}
	var party []int
	for n := max(m.PartyMin, 1); n <= hi; n++ {
		party = append(party, n)
	}
	var opts []siteOption
	for _, o := range m.Options {
		label := siteOptionName(o, sc.lang) + " ＋" + s.priceLabel(c, o.Price, false, false)
		if o.ExtraMinutes > 0 {
			label += s.tr(c, "booking.form.option_minutes", map[string]any{"Minutes": o.ExtraMinutes})
		}
		opts = append(opts, siteOption{ID: o.ID, Label: label, Checked: slices.Contains(f.Options, o.ID)})
	}
	var qs []siteQuestion
	for i, q := range m.Questions {
		if q.Requirement == menus.StaffOnly {
			continue
		}
		qv := siteQuestion{ID: q.ID, Name: sfQPrefix + q.ID, InputID: "q" + strconv.Itoa(i), Label: siteQuestionLabel(q, sc.lang),
			Kind: string(q.Kind), Required: q.Requirement == menus.Required, Error: errs.msgs[sfQPrefix+q.ID]}
		vals := f.Answers[q.ID]
		if len(vals) > 0 {
			qv.Value = vals[0]
		}
		for j, ch := range q.Choices {
			qv.Choices = append(qv.Choices, siteChoice{Value: ch, Checked: slices.Contains(vals, ch),
				InputID: qv.InputID + "-" + strconv.Itoa(j)})
		}
		qs = append(qs, qv)
	}
	terms, _, err := tenants.GetSetting(ctx, sc.db, SettingTermsURL)
	if err != nil {
		s.fail(c, err)
		return
	}
	provider, err := s.providerName(c, m, f.ProviderID)
	if err != nil {
		s.fail(c, err)
		return
	}
	data := map[string]any{
		"Menu": s.menuSummary(c, m), "When": siteWhenLabel(sl.StartsAt, sl.EndsAt, sc.zone, sc.lang), "Provider": provider,
		"Form": f, "Party": party, "Options": opts, "Questions": qs, "Errors": errs.msgs, "First": errs.first,
		"HasErrors": len(errs.msgs) > 0, "ErrorCount": len(errs.msgs), "Terms": terms, "CSRF": siteCSRFToken(c, sc.base),
		"Action": sc.base + "/book/" + m.ID + "/form", "Sessions": m.BookingMode != menus.ModeHours,
		"BackHref": s.whenHref(sc.base, m, siteWhen{provider: f.ProviderID},
			timeslots.DateOf(sl.StartsAt.In(sc.zone))),
		"Hidden": siteHiddenOf(url.Values{sfStart: {f.Start}, sfSlot: {f.SlotID}, sfProvider: {f.ProviderID}}),
	}
	if sl.Remaining > 0 && m.BookingMode != menus.ModeHours {
		data["Seats"] = s.tr(c, "booking.when.seats_left", map[string]any{"Count": sl.Remaining})
	}
	s.render(c, status, "site_book_form.html", data)
}

type siteHidden struct{ Name, Value string }

func siteHiddenOf(v url.Values) []siteHidden {
	var out []siteHidden
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, val := range v[k] {
			if val != "" {
				out = append(out, siteHidden{Name: k, Value: val})
			}
		}
	}
	return out
}

func (s *Site) providerName(c *gin.Context, m menus.Menu, id string) (string, error) {
	if len(m.ProviderIDs) == 0 || m.BookingMode != menus.ModeHours {
		return "", nil
	}
	if id == "" || !slices.Contains(m.ProviderIDs, id) {
		return s.tr(c, "booking.when.provider_any", nil), nil
	}
	p, err := s.cfg.Menus.GetProvider(c.Request.Context(), bookSiteOf(c).db, id)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// validate checks the form as a person would want to hear about it: each
// message says what to do. It returns the normalised form (kana widened,
// phone digits ASCII).
func (s *Site) validate(c *gin.Context, m menus.Menu, f siteForm, sl timeslots.AvailableSlot) (siteForm, siteErrors) {
	var e siteErrors
	lo, hi := max(m.PartyMin, 1), max(m.PartyMax, 1)
	switch {
	case f.Party < lo || f.Party > hi:
		e.add(sfParty, s.tr(c, "booking.error.party", map[string]any{"Min": lo, "Max": hi}))
	case m.BookingMode != menus.ModeHours && f.Party > sl.Remaining:
		e.add(sfParty, s.tr(c, "booking.error.party_seats", map[string]any{"Count": sl.Remaining}))
	}
	if f.Name == "" {
		e.add(sfName, s.tr(c, "booking.error.name", nil))
	} else if utf8.RuneCountInString(f.Name) > 100 {
		e.add(sfName, s.tr(c, "booking.error.too_long", map[string]any{"Max": 100}))
	}
	if f.Kana == "" {
		e.add(sfKana, s.tr(c, "booking.error.kana_required", nil))
	} else if k, ok := members.NormalizeKana(f.Kana); !ok || utf8.RuneCountInString(k) > 100 {
		e.add(sfKana, s.tr(c, "booking.error.kana", nil))
	} else {
		f.Kana = k
	}
	if f.Email == "" {
		e.add(sfEmail, s.tr(c, "booking.error.email_required", nil))
	} else if a, err := mail.ParseAddress(f.Email); err != nil || a.Address != f.Email || len(f.Email) > sfMaxField {
		e.add(sfEmail, s.tr(c, "booking.error.email", nil))
	}
	if f.Phone == "" {
		e.add(sfPhone, s.tr(c, "booking.error.phone_required", nil))
	} else if p, ok := members.NormalizePhone(f.Phone); !ok {
		e.add(sfPhone, s.tr(c, "booking.error.phone", nil))
	} else {
		f.Phone = p
	}
	for _, q := range m.Questions {
		if q.Requirement == menus.StaffOnly {
			continue
		}
		at, vals := sfQPrefix+q.ID, f.Answers[q.ID]
		if len(vals) == 0 {
			if q.Requirement == menus.Required {
				key := "booking.error.answer_required"
				if q.Kind.HasChoices() {
					key = "booking.error.answer_choose"
				}
				e.add(at, s.tr(c, key, nil))
			}
			continue
		}
		switch q.Kind {
		case menus.KindSingleChoice, menus.KindMultipleChoice:
			for _, v := range vals {
				if !slices.Contains(q.Choices, v) {
					e.add(at, s.tr(c, "booking.error.answer_choose", nil))
				}
			}
			if q.Kind == menus.KindSingleChoice && len(vals) > 1 {
				e.add(at, s.tr(c, "booking.error.answer_choose", nil))
			}
		case menus.KindDate:
			if !validDate(vals[0]) {
				e.add(at, s.tr(c, "booking.error.answer_date", nil))
			}
		default:
			limit := MaxAnswerText
			if q.Kind == menus.KindLongText {
				limit = MaxAnswerLong
			}
			if utf8.RuneCountInString(vals[0]) > limit {
				e.add(at, s.tr(c, "booking.error.too_long", map[string]any{"Max": limit}))
			}
		}
	}
	if !f.Consent {
		e.add(sfConsent, s.tr(c, "booking.error.consent", nil))
	}
	return f, e
}

// formPost checks the details: errors come back at their fields, a valid
// form goes on to the confirmation page. "edit" (from the confirmation
// page's 修正する button) shows the form again as it was.
func (s *Site) formPost(c *gin.Context) {
	m, ok := s.bookableMenu(c)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	f := readSiteForm(c, m)
	sl, free, err := s.chosen(c.Request.Context(), sc, m, f, f.Options)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !free && len(f.Options) > 0 && m.BookingMode == menus.ModeHours {
		// The start may not fit with the options' extra minutes.
		if bare, ok, err := s.chosen(c.Request.Context(), sc, m, f, nil); err == nil && ok {
			var e siteErrors
			e.add(sfOptions, s.tr(c, "booking.error.options_time", nil))
			s.renderForm(c, http.StatusUnprocessableEntity, m, f, bare, e)
			return
		}
	}
	if !free {
		s.backToDay(c, m, f, sl.StartsAt)
		return
	}
	if c.PostForm("edit") == "1" {
		s.renderForm(c, http.StatusOK, m, f, sl, siteErrors{})
		return
	}
	f, errs := s.validate(c, m, f, sl)
	if len(errs.msgs) > 0 {
		s.renderForm(c, http.StatusUnprocessableEntity, m, f, sl, errs)
		return
	}
	s.renderConfirm(c, m, f, sl)
}

// --- step 4: confirm ---------------------------------------------------------

type siteRow struct{ Label, Value string }

func (s *Site) total(m menus.Menu, f siteForm) int64 {
	price := m.Price
	for _, o := range m.Options {
		if slices.Contains(f.Options, o.ID) {
			price += o.Price
		}
	}
	if m.BookingMode != menus.ModeHours {
		price *= int64(f.Party)
	}
	return price
}

func (s *Site) renderConfirm(c *gin.Context, m menus.Menu, f siteForm, sl timeslots.AvailableSlot) {
	sc := bookSiteOf(c)
	ctx := c.Request.Context()
	tax := s.taxIncluded(ctx, sc.db)
	provider, err := s.providerName(c, m, f.ProviderID)
	if err != nil {
		s.fail(c, err)
		return
	}
	rows := []siteRow{
		{s.tr(c, "booking.label.menu", nil), siteMenuName(m, sc.lang)},
		{s.tr(c, "booking.label.when", nil), siteWhenLabel(sl.StartsAt, sl.EndsAt, sc.zone, sc.lang)},
	}
	if provider != "" {
		rows = append(rows, siteRow{s.tr(c, "booking.label.provider", nil), provider})
	}
	rows = append(rows, siteRow{s.tr(c, "booking.label.party", nil), s.tr(c, "booking.party_count", map[string]any{"Count": f.Party})})
	var optNames []string
	for _, o := range m.Options {
		if slices.Contains(f.Options, o.ID) {
			optNames = append(optNames, siteOptionName(o, sc.lang)+" ＋"+siteYen(o.Price))
		}
	}
	if len(optNames) > 0 {
		rows = append(rows, siteRow{s.tr(c, "booking.label.options", nil), strings.Join(optNames, "、")})
	}
	rows = append(rows,
		siteRow{s.tr(c, "booking.label.name", nil), f.Name},
		siteRow{s.tr(c, "booking.label.kana", nil), f.Kana},
		siteRow{s.tr(c, "booking.label.email", nil), f.Email},
		siteRow{s.tr(c, "booking.label.phone", nil), f.Phone})
	for _, q := range m.Questions {
		if vals := f.Answers[q.ID]; len(vals) > 0 && q.Requirement != menus.StaffOnly {
			rows = append(rows, siteRow{siteQuestionLabel(q, sc.lang), strings.Join(vals, "、")})
		}
	}
	total := s.priceLabel(c, s.total(m, f), false, tax)
	breakdown := ""
	if m.BookingMode != menus.ModeHours && f.Party > 1 {
		breakdown = s.tr(c, "booking.confirm.breakdown", map[string]any{"Each": siteYen(s.total(m, siteForm{Options: f.Options, Party: 1})), "Count": f.Party})
	}
	s.render(c, http.StatusOK, "site_book_confirm.html", map[string]any{
		"Menu": s.menuSummary(c, m), "Rows": rows, "Total": total, "Breakdown": breakdown,
		"Hidden": siteHiddenOf(f.values()), "Key": siteRandomKey(), "CSRF": siteCSRFToken(c, sc.base),
		"Action": sc.base + "/book/" + m.ID + "/confirm", "EditAction": sc.base + "/book/" + m.ID + "/form",
	})
}

// siteRequestKeys derives the booking's request key and the guest's cancel
// token from the page's secret key and the form's values: the same
// confirmation posted twice books once and leads to the same page.
func siteRequestKeys(tenantID, key string, f siteForm) (requestKey, cancelToken string) {
	sum := sha256.Sum256([]byte(f.values().Encode()))
	material := key + "\x00" + hex.EncodeToString(sum[:])
	requestKey = RequestKeyOf(siteScope+tenantID, material)
	tok := sha256.Sum256([]byte("yoyaku.site.cancel\x00" + siteScope + tenantID + "\x00" + material))
	return requestKey, base64.RawURLEncoding.EncodeToString(tok[:])
}

func (s *Site) confirmPost(c *gin.Context) {
	m, ok := s.bookableMenu(c)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	ctx := c.Request.Context()
	f := readSiteForm(c, m)
	sl, free, err := s.chosen(ctx, sc, m, f, f.Options)
	if err != nil {
		s.fail(c, err)
		return
	}
	key := c.PostForm(sfKey)
	if len(key) < 32 || len(key) > 64 {
		key = siteRandomKey()
	}
	reqKey, token := siteRequestKeys(sc.t.ID, key, f)
	if !free {
		// Booked already by this very confirmation (a reload after the
		// first answer), or taken by someone else.
		if prev, err := selectByRequestKey(ctx, sc.db, reqKey); err == nil && prev != nil {
			c.Redirect(http.StatusSeeOther, sc.base+"/booked/"+prev.ID+"?token="+url.QueryEscape(token))
			return
		}
		s.backToDay(c, m, f, sl.StartsAt)
		return
	}
	f, errs := s.validate(c, m, f, sl)
	if len(errs.msgs) > 0 {
		s.renderForm(c, http.StatusUnprocessableEntity, m, f, sl, errs)
		return
	}
	answers := map[string]any{}
	for _, q := range m.Questions {
		vals := f.Answers[q.ID]
		switch {
		case len(vals) == 0:
		case q.Kind == menus.KindMultipleChoice:
			list := make([]any, len(vals))
			for i, v := range vals {
				list[i] = v
			}
			answers[q.ID] = list
		default:
			answers[q.ID] = vals[0]
		}
	}
	in := BookInput{MenuID: m.ID, SlotID: sl.SlotID, PartySize: f.Party, OptionIDs: f.Options, Answers: answers,
		Customer: Customer{Name: f.Name, Kana: f.Kana, Email: f.Email, Phone: f.Phone}, Source: SourcePublic,
		SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), Lang: sc.lang, RequestKey: reqKey, CancelToken: token}
	if m.BookingMode == menus.ModeHours {
		in.StartsAt = sl.StartsAt
		if slices.Contains(m.ProviderIDs, f.ProviderID) {
			in.ProviderID = f.ProviderID
		}
	}
	if sc.signed {
		in.MemberID = sc.member.ID
	}
	if _, ok := auditlog.RequestFrom(ctx); !ok {
		ctx = auditlog.WithRequest(ctx, auditlog.Request{Actor: auditlog.Actor{Kind: auditlog.ActorAnonymous},
			SourceIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: logx.RequestID(ctx)})
	}
	b, err := s.cfg.Service.Book(ctx, sc.db, sc.t, in)
	if err != nil && apperr.KindOf(err) == apperr.KindConflict {
		// A double submit's twin may lose the seat race to its own first
		// copy: that is a booking made, not a full slot.
		if prev, perr := selectByRequestKey(ctx, sc.db, reqKey); perr == nil && prev != nil {
			b, err = Booked{Reservation: fromRow(prev), Replayed: true}, nil
		}
	}
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, sc.base+"/booked/"+b.ID+"?token="+url.QueryEscape(token))
	case errors.Is(err, ErrSlotFull), errors.Is(err, ErrSlotClosed), errors.Is(err, ErrSlotUnavailable),
		errors.Is(err, ErrProviderUnavailable), errors.Is(err, ErrWindow):
		s.backToDay(c, m, f, sl.StartsAt)
	case apperr.KindOf(err) == apperr.KindInvalid || errors.Is(err, ErrMemberLimit):
		p := httpx.ProblemFor(c, err)
		var e siteErrors
		for _, fe := range p.Errors {
			field := fe.Field
			switch {
			case field == "party_size":
				field = sfParty
			case strings.HasPrefix(field, "customer."):
				field = strings.TrimPrefix(field, "customer.")
			case strings.HasPrefix(field, "answers."):
				field = sfQPrefix + strings.TrimPrefix(field, "answers.")
			case strings.HasPrefix(field, "options"):
				field = sfOptions
			}
			e.add(field, fe.Message)
		}
		if len(e.msgs) == 0 {
			msg := p.Detail
			if msg == "" {
				msg = p.Title
			}
			e.add(sfConsent, msg)
		}
		s.renderForm(c, http.StatusUnprocessableEntity, m, f, sl, e)
	default:
		s.fail(c, err)
	}
}

// --- step 5: done --------------------------------------------------------------

// bookedByToken returns the reservation of the ":id" path parameter when
// the token matches its guest cancel token (nil, answered, otherwise).
func (s *Site) bookedByToken(c *gin.Context) (*row, bool) {
	sc := bookSiteOf(c)
	id, token := c.Param("id"), c.Query("token")
	notFound := ErrNotFound
	if !validID(id) || token == "" || len(token) > 100 {
		s.fail(c, notFound)
		return nil, false
	}
	r, err := selectRow(c.Request.Context(), sc.db, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (r.CancelTokenHash == "" || !constantEqual(hashToken(token), r.CancelTokenHash))) {
		s.fail(c, notFound)
		return nil, false
	}
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	return r, true
}

func (s *Site) donePage(c *gin.Context) {
	rw, ok := s.bookedByToken(c)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	r := fromRow(rw)
	m, err := s.cfg.Menus.Get(c.Request.Context(), sc.db, r.MenuID)
	if err != nil {
		s.fail(c, err)
		return
	}
	token := c.Query("token")
	q := "?token=" + url.QueryEscape(token)
	rows := []siteRow{
		{s.tr(c, "booking.label.menu", nil), siteMenuName(m, sc.lang)},
		{s.tr(c, "booking.label.when", nil), siteWhenLabel(r.StartsAt, r.EndsAt, sc.zone, sc.lang)},
		{s.tr(c, "booking.label.party", nil), s.tr(c, "booking.party_count", map[string]any{"Count": r.PartySize})},
		{s.tr(c, "booking.label.total", nil), s.priceLabel(c, r.Price, false, s.taxIncluded(c.Request.Context(), sc.db))},
	}
	s.render(c, http.StatusOK, "site_book_done.html", map[string]any{
		"Number": r.Number, "Pending": r.Status == StatusPending, "Cancelled": !r.Status.Active(),
		"Email": r.Customer.Email, "Rows": rows,
		"ICSHref":    sc.base + "/booked/" + r.ID + "/calendar.ics" + q,
		"CancelHref": sc.base + "/reservations/" + r.ID + "/cancel" + q,
	})
}

// ics answers a minimal RFC 5545 calendar of the booking for the guest's
// own calendar app. (The confirmation mail carries notify's fuller one;
// reservations may not import notify, which comes after it in the module
// order. Both use the UID <reservation id>@<host>, so an import of each
// is one event.)
func (s *Site) ics(c *gin.Context) {
	rw, ok := s.bookedByToken(c)
	if !ok {
		return
	}
	sc := bookSiteOf(c)
	r := fromRow(rw)
	m, err := s.cfg.Menus.Get(c.Request.Context(), sc.db, r.MenuID)
	if err != nil {
		s.fail(c, err)
		return
	}
	host := c.Request.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	const stamp = "20060102T150405Z"
	var b strings.Builder
	line := func(s string) { b.WriteString(siteFoldICS(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Yoyaku//Booking site//" + strings.ToUpper(sc.lang))
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("BEGIN:VEVENT")
	line("UID:" + r.ID + "@" + host)
	line("DTSTAMP:" + r.UpdatedAt.UTC().Format(stamp))
	line("SEQUENCE:" + strconv.Itoa(max(r.Version-1, 0)))
	line("DTSTART:" + r.StartsAt.UTC().Format(stamp))
	line("DTEND:" + r.EndsAt.UTC().Format(stamp))
	line("SUMMARY:" + siteEscapeICS(siteMenuName(m, sc.lang)+" ("+sc.t.Name+")"))
	line("DESCRIPTION:" + siteEscapeICS(s.tr(c, "booking.done.number", nil)+": "+r.Number))
	switch {
	case r.Status == StatusPending:
		line("STATUS:TENTATIVE")
	case r.Status.Active():
		line("STATUS:CONFIRMED")
	default:
		line("STATUS:CANCELLED")
	}
	line("END:VEVENT")
	line("END:VCALENDAR")
	out := b.String()
	c.Header("Content-Disposition", `attachment; filename="`+r.Number+`.ics"`)
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", []byte(out))
}

// siteEscapeICS escapes a TEXT value (RFC 5545 3.3.11).
func siteEscapeICS(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", "").Replace(s)
}

// siteFoldICS ends a content line with CRLF, folded at 75 octets without
// splitting a UTF-8 character.
func siteFoldICS(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		w := utf8.RuneLen(r)
		if n+w > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += w
	}
	b.WriteString("\r\n")
	return b.String()
}
