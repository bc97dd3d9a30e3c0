package reservations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// Config wires the service.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	Menus  *menus.Service
	Slots  *timeslots.Service
	// Events are the outbox subscriptions events are recorded for; Notify
	// is called after each commit with what was recorded (app.notifyOutbox).
	Events *outbox.Subscriptions
	Notify func(ctx context.Context, tenantID string, evs []outbox.Event)
	// RemindBefore: the reminder is due this long before the start
	// (default DefaultRemind).
	RemindBefore time.Duration
	// Payments takes prepayment for menus that require it (nil: such menus
	// answer payment_unavailable); PaymentWindow is how long a prepaid
	// booking holds its seat (default DefaultPaymentWindow).
	Payments      PaymentGateway
	PaymentWindow time.Duration
}

// Service books and keeps reservations.
type Service struct {
	log           *slog.Logger
	now           func() time.Time
	menus         *menus.Service
	slots         *timeslots.Service
	events        *outbox.Subscriptions
	notify        func(ctx context.Context, tenantID string, evs []outbox.Event)
	remindBefore  time.Duration
	payments      PaymentGateway
	paymentWindow time.Duration
}

// NewService returns the service.
func NewService(cfg Config) *Service {
	s := &Service{log: cfg.Logger, now: cfg.Now, menus: cfg.Menus, slots: cfg.Slots, events: cfg.Events,
		notify: cfg.Notify, remindBefore: cfg.RemindBefore, payments: cfg.Payments, paymentWindow: cfg.PaymentWindow}
	if s.paymentWindow <= 0 {
		s.paymentWindow = DefaultPaymentWindow
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.events == nil {
		s.events = outbox.NewSubscriptions()
	}
	if s.remindBefore <= 0 {
		s.remindBefore = DefaultRemind
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ZoneOf returns the tenant's time zone (Asia/Tokyo when unset or unknown).
func ZoneOf(t tenants.Tenant) *time.Location {
	for _, name := range []string{t.TimeZone, tenants.DefaultTimeZone} {
		if name == "" {
			continue
		}
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.FixedZone("JST", 9*3600)
}

// BookInput is a booking request.
type BookInput struct {
	MenuID     string
	SlotID     string    // timetable and event menus
	StartsAt   time.Time // hours menus
	PartySize  int
	ProviderID string // 指名; "" for any
	OptionIDs  []string
	Answers    map[string]any
	Customer   Customer
	MemberID   string
	Source     Source
	SourceIP   string
	UserAgent  string
	Lang       string
	// Overbook drops the capacity bound for this booking; the caller has
	// checked that the actor is an owner or admin.
	Overbook bool
	// RequestKey identifies the request (a hash of the idempotency scope
	// and key): a second booking with the same key answers the first.
	RequestKey string
	// CancelToken is the guest's cancel token when the caller derives it
	// (the booking site, from its secret request key, so that a replayed
	// double submit leads to the same cancel link); "" draws a random one.
	CancelToken string
	// waitlistID: the booking accepts this waitlist offer (AcceptOffer),
	// whose held seat it takes over.
	waitlistID string
}

// Booked is the answer of Book.
type Booked struct {
	Reservation
	// CancelToken is the guest's secret for the cancel link (public
	// bookings; "" on a replay: only its hash is kept).
	CancelToken string
	// Replayed: the request had booked already; this is that reservation.
	Replayed bool
	// Payment: the prepayment the customer completes (prepaid menus).
	Payment *Payment
}

// newNumber draws a reservation number: R, the booking date (yymmdd, the
// tenant's zone) and five characters without look-alikes (32^5 a day).
func newNumber(now time.Time, zone *time.Location) (string, error) {
	b := make([]byte, 0, 12)
	b = append(b, 'R')
	b = now.In(zone).AppendFormat(b, "060102")
	for range numberRandLen {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(numberAlphabet))))
		if err != nil {
			return "", errInternal(err)
		}
		b = append(b, numberAlphabet[n.Int64()])
	}
	return string(b), nil
}

// RequestKeyOf hashes an idempotency scope and key into a RequestKey.
func RequestKeyOf(scope, key string) string {
	if key == "" {
		return ""
	}
	h := sha256.Sum256([]byte(scope + "\x00" + key))
	return hex.EncodeToString(h[:])
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", errInternal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// actorOf names who acts, for created_by and cancelled_by.
func actorOf(ctx context.Context) string {
	if r, ok := auditlog.RequestFrom(ctx); ok && r.Actor.Kind != "" {
		if r.Actor.ID == "" {
			return string(r.Actor.Kind)
		}
		return string(r.Actor.Kind) + ":" + r.Actor.ID
	}
	return string(auditlog.ActorSystem)
}

// checkAnswers validates answers against m's questions: known questions,
// required ones present (not for staff), staff-only ones from staff only,
// choices from the list.
func checkAnswers(v *apperr.Validator, m menus.Menu, answers map[string]any, staff bool) map[string]any {
	out := map[string]any{}
	for id := range answers {
		if !slices.ContainsFunc(m.Questions, func(q menus.Question) bool { return q.ID == id }) {
			v.Add("answers."+id, "catalog_unknown_reference", nil)
		}
	}
	for _, q := range m.Questions {
		at := "answers." + q.ID
		a, given := answers[q.ID]
		if given && a == nil {
			given = false
		}
		if q.Requirement == menus.StaffOnly && !staff {
			if given {
				v.Add(at, "reservation_staff_only", nil)
			}
			continue
		}
		if !given {
			if q.Requirement == menus.Required && !staff {
				v.Add(at, "required", nil)
			}
			continue
		}
		switch q.Kind {
		case menus.KindMultipleChoice:
			list, ok := a.([]any)
			if !ok {
				v.Add(at, "type", map[string]any{"Type": "array"})
				continue
			}
			var picked []string
			for _, x := range list {
				str, ok := x.(string)
				switch {
				case !ok || !slices.Contains(q.Choices, str):
					v.Add(at, "oneof", map[string]any{"Param": q.Choices})
				case slices.Contains(picked, str):
					v.Add(at, "duplicate", nil)
				default:
					picked = append(picked, str)
				}
			}
			if len(picked) == 0 && q.Requirement == menus.Required && !staff {
				v.Add(at, "required", nil)
			}
			out[q.ID] = nonNil(picked)
		default:
			str, ok := a.(string)
			if !ok {
				v.Add(at, "type", map[string]any{"Type": "string"})
				continue
			}
			limit := MaxAnswerText
			if q.Kind == menus.KindLongText {
				limit = MaxAnswerLong
			}
			switch {
			case str == "" && q.Requirement == menus.Required && !staff:
				v.Add(at, "required", nil)
			case q.Kind == menus.KindSingleChoice && str != "" && !slices.Contains(q.Choices, str):
				v.Add(at, "oneof", map[string]any{"Param": q.Choices})
			case q.Kind == menus.KindDate && str != "" && !validDate(str):
				v.Add(at, "calendar_date", map[string]any{"Min": timeslots.MinCalendarYear, "Max": timeslots.MaxCalendarYear})
			case utf8.RuneCountInString(str) > limit:
				v.Add(at, "max", map[string]any{"Param": limit})
			}
			out[q.ID] = str
		}
	}
	return out
}

func validDate(s string) bool {
	d, err := timeslots.ParseDate(s)
	return err == nil && d.Year >= timeslots.MinCalendarYear && d.Year <= timeslots.MaxCalendarYear
}

// checkOptions validates option ids and returns their price.
func checkOptions(v *apperr.Validator, m menus.Menu, ids []string) int64 {
	var price int64
	seen := map[string]bool{}
	for i, id := range ids {
		at := "options[" + strconv.Itoa(i) + "]"
		k := slices.IndexFunc(m.Options, func(o menus.Option) bool { return o.ID == id })
		switch {
		case k < 0:
			v.Add(at, "catalog_unknown_reference", nil)
		case seen[id]:
			v.Add(at, "duplicate", nil)
		default:
			seen[id] = true
			price += m.Options[k].Price
		}
	}
	return price
}

// periodOf returns the per-member limit's period around start in zone.
func periodOf(p menus.Period, start time.Time, zone *time.Location) (time.Time, time.Time) {
	d := timeslots.DateOf(start.In(zone))
	switch p {
	case menus.PeriodDay:
		return timeslots.Instant(d, 0, zone), timeslots.Instant(d.AddDays(1), 0, zone)
	case menus.PeriodWeek: // Monday to Sunday
		back := (int(d.Weekday()) + 6) % 7
		first := d.AddDays(-back)
		return timeslots.Instant(first, 0, zone), timeslots.Instant(first.AddDays(7), 0, zone)
	default:
		first := timeslots.NewDate(d.Year, d.Month, 1)
		next := timeslots.NewDate(d.Year, d.Month, 1).AddDays(40)
		next = timeslots.NewDate(next.Year, next.Month, 1)
		return timeslots.Instant(first, 0, zone), timeslots.Instant(next, 0, zone)
	}
}

// checkWindow applies the menu's booking window to a customer's start.
func (s *Service) checkWindow(ctx context.Context, db bun.IDB, m menus.Menu, zone *time.Location, start, now time.Time) error {
	today := timeslots.DateOf(now.In(zone))
	day := timeslots.DateOf(start.In(zone))
	to := day
	if to.Before(today) {
		to = today
	}
	if today.DaysUntil(to) > 800 {
		return ErrWindow
	}
	cal, err := s.slots.Load(ctx, db, zone, today, to)
	if err != nil {
		return err
	}
	w := timeslots.BookingWindowOf(cal, m.Effective, now)
	if start.Before(w.NotBefore) || day.After(w.LastDay) {
		return ErrWindow.WithArgs(map[string]any{"NotBefore": w.NotBefore.In(zone).Format(time.RFC3339),
			"LastDay": w.LastDay.String()})
	}
	return nil
}

// runTx runs fn in a transaction, again after a deadlock or busy database.
func runTx(ctx context.Context, db bun.IDB, fn func(ctx context.Context, tx bun.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = db.RunInTx(ctx, nil, fn)
		if err == nil || !retryable(err) {
			return err
		}
		// Exponential backoff with full jitter, capped: under a burst of
		// cancellations and joins on one session, InnoDB picks deadlock
		// victims repeatedly, and a short fixed pause only meets the same
		// crowd again.
		ceiling := min(5<<attempt, 250)
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(ceiling)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(1+n.Int64()) * time.Millisecond):
		}
	}
	return err
}

// Book makes a reservation (see the package doc for the guard).
func (s *Service) Book(ctx context.Context, db bun.IDB, t tenants.Tenant, in BookInput) (Booked, error) {
	zone, now := ZoneOf(t), s.clock()
	staff := in.Source.Staff()
	if !validID(in.MenuID) {
		return Booked{}, apperr.Invalid(apperr.Field("menu_id", "catalog_unknown_reference", nil))
	}
	m, err := s.menus.Get(ctx, db, in.MenuID)
	if errors.Is(err, menus.ErrMenuNotFound) {
		return Booked{}, apperr.Invalid(apperr.Field("menu_id", "catalog_unknown_reference", nil))
	}
	if err != nil {
		return Booked{}, err
	}
	if m.Archived() || (!staff && m.Visibility == menus.VisibilityPrivate) {
		return Booked{}, apperr.Invalid(apperr.Field("menu_id", "catalog_unknown_reference", nil))
	}
	var v apperr.Validator
	if in.PartySize < max(m.PartyMin, 1) || in.PartySize > max(m.PartyMax, 1) {
		v.Add("party_size", "range", map[string]any{"Min": max(m.PartyMin, 1), "Max": max(m.PartyMax, 1)})
	}
	optPrice := checkOptions(&v, m, in.OptionIDs)
	answers := checkAnswers(&v, m, in.Answers, staff)
	if in.Customer.Name == "" {
		v.Add("customer.name", "required", nil)
	}
	if !staff && in.Customer.Email == "" && in.MemberID == "" {
		v.Add("customer.email", "required", nil)
	}
	if in.Overbook && !staff {
		return Booked{}, ErrOverbookForbidden
	}
	if err := v.Err(); err != nil {
		return Booked{}, err
	}
	p, err := s.planFor(ctx, db, m, where{SlotID: in.SlotID, StartsAt: in.StartsAt, ProviderID: in.ProviderID,
		OptionIDs: in.OptionIDs, Party: in.PartySize}, &v)
	if err != nil {
		return Booked{}, err
	}
	if err := v.Err(); err != nil {
		return Booked{}, err
	}
	if in.RequestKey != "" {
		if prev, err := selectByRequestKey(ctx, db, in.RequestKey); err != nil || prev != nil {
			if err != nil {
				return Booked{}, err
			}
			return Booked{Reservation: fromRow(prev), Replayed: true}, nil
		}
	}
	if !staff && in.waitlistID == "" { // an offer's seat is held for it: no window
		if err := s.checkWindow(ctx, db, m, zone, p.start, now); err != nil {
			return Booked{}, err
		}
	}
	rules := m.Effective
	limitMember := !staff && in.MemberID != "" && rules.MaxPerMember > 0
	if limitMember {
		if err := ensureMemberGuard(ctx, db, in.MemberID); err != nil {
			return Booked{}, err
		}
	}
	if err := p.prepare(ctx, db); err != nil {
		return Booked{}, err
	}
	id, err := dbx.NewID()
	if err != nil {
		return Booked{}, err
	}
	status := StatusConfirmed
	if m.ApprovalRequired && !staff {
		status = StatusPending
	}
	prepaid := false
	if !staff && in.waitlistID == "" {
		policy, err := s.menus.PaymentPolicy(ctx, db, m.ID)
		if err != nil {
			return Booked{}, err
		}
		if prepaid = policy.PrepaymentRequired; prepaid {
			if s.payments == nil {
				return Booked{}, ErrPaymentUnavailable
			}
			status = StatusPending // until the payment succeeds
		}
	}
	price := m.Price + optPrice
	if m.BookingMode != menus.ModeHours {
		price *= int64(in.PartySize)
	}
	r := Reservation{ID: id, MenuID: m.ID, Mode: m.BookingMode, SlotID: p.slotID, StartsAt: p.start, EndsAt: p.end,
		PartySize: in.PartySize, OptionIDs: nonNil(in.OptionIDs), Answers: answers, Price: price, Status: status,
		Overbooked: in.Overbook, Customer: in.Customer, MemberID: in.MemberID, Lang: langOf(in.Lang, t),
		Source: in.Source, SourceIP: in.SourceIP, UserAgent: cut(in.UserAgent, 512), CreatedBy: actorOf(ctx), Version: 1,
		CreatedAt: now, UpdatedAt: now}
	for _, h := range p.resources {
		r.Resources = append(r.Resources, ResourceUse{ResourceID: h.id, Quantity: h.n})
	}
	var token string
	if !staff {
		if token = in.CancelToken; token == "" {
			if token, err = newToken(); err != nil {
				return Booked{}, err
			}
		}
	}
	var evs []outbox.Event
	err = runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		evs = nil
		r.ProviderID = ""
		// The member's guard row first: it is this transaction's first
		// statement, so on MySQL the count below reads after the lock.
		if limitMember {
			if err := lockMember(ctx, tx, in.MemberID); err != nil {
				return err
			}
			from, to := periodOf(rules.MaxPerMemberPeriod, p.start, zone)
			n, err := countMemberActive(ctx, tx, in.MemberID, m.ID, from, to)
			if err != nil {
				return err
			}
			if n >= rules.MaxPerMember {
				return ErrMemberLimit.WithArgs(map[string]any{"Max": rules.MaxPerMember, "Period": string(rules.MaxPerMemberPeriod)})
			}
		}
		if in.waitlistID != "" {
			if err := handOver(ctx, tx, in.waitlistID, r, now); err != nil {
				return err
			}
		}
		provider, err := p.take(ctx, tx, in.Overbook, now)
		if err != nil {
			return err
		}
		r.ProviderID = provider
		if !staff && m.BookingMode == menus.ModeHours {
			if err := s.offered(ctx, tx, m, zone, r, in.OptionIDs, now); err != nil {
				return err
			}
		}
		rw, err := toRow(r)
		if err != nil {
			return errInternal(err)
		}
		rw.RequestKey = in.RequestKey
		if token != "" {
			rw.CancelTokenHash = hashToken(token)
		}
		for attempt := 0; ; attempt++ {
			if rw.Number, err = newNumber(now, zone); err != nil {
				return err
			}
			err = insertRow(ctx, tx, rw)
			if !errors.Is(err, errDuplicateNumber) || attempt == 4 {
				break
			}
		}
		if err != nil {
			return err
		}
		r.Number = rw.Number
		if err := occupy(ctx, tx, r); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("number", nil, r.Number)
		ch.Add("status", nil, string(r.Status))
		ch.Add("menu_id", nil, r.MenuID)
		ch.Add("starts_at", nil, r.StartsAt)
		ch.Add("party_size", nil, r.PartySize)
		if r.SlotID != "" {
			ch.Add("slot_id", nil, r.SlotID)
		}
		if r.ProviderID != "" {
			ch.Add("provider_id", nil, r.ProviderID)
		}
		if r.Overbooked {
			ch.Add("overbook", nil, true)
		}
		if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditCreate, ObjectType: "reservation", ObjectID: r.ID,
			Changes: ch}); err != nil {
			return err
		}
		e := s.payload(r, m, zone)
		e.CancelToken = token
		if evs, err = s.record(ctx, tx, evs, EventCreated, r, e); err != nil {
			return err
		}
		if r.Status == StatusConfirmed {
			evs, err = s.remind(ctx, tx, evs, r, m, zone, now)
		}
		if err == nil && prepaid {
			evs, err = s.holdForPayment(ctx, tx, evs, r, now)
		}
		return err
	})
	if errors.Is(err, errDuplicateRequest) {
		prev, err := selectByRequestKey(ctx, db, in.RequestKey)
		if err != nil || prev == nil {
			return Booked{}, errInternal(errors.New("reservations: request key vanished"))
		}
		return Booked{Reservation: fromRow(prev), Replayed: true}, nil
	}
	if err != nil {
		return Booked{}, err
	}
	s.log.InfoContext(ctx, "reservation booked", "reservation_id", r.ID, "menu_id", r.MenuID, "status", string(r.Status))
	s.after(ctx, t, evs)
	if prepaid {
		pay, err := s.startPayment(ctx, db, t, r)
		if err != nil {
			return Booked{}, err
		}
		return Booked{Reservation: r, CancelToken: token, Payment: &pay}, nil
	}
	return Booked{Reservation: r, CancelToken: token}, nil
}

// offered asks availability whether r's start is offered (business and
// provider hours, blocks, the grid), inside the booking's transaction
// after the guard held: the calendar does not yet hold r itself.
func (s *Service) offered(ctx context.Context, tx bun.IDB, m menus.Menu, zone *time.Location, r Reservation, opts []string, now time.Time) error {
	day := timeslots.DateOf(r.StartsAt.In(zone))
	a, err := s.slots.Availability(ctx, tx, timeslots.AvailabilityQuery{MenuID: m.ID, Zone: zone, From: day, To: day,
		OptionIDs: opts, ProviderID: r.ProviderID, Party: r.PartySize, Now: now, Public: true})
	if err != nil {
		if apperr.KindOf(err) == apperr.KindInvalid {
			return ErrSlotUnavailable
		}
		return err
	}
	for _, sl := range a.Slots {
		if sl.StartsAt.Equal(r.StartsAt) {
			return nil
		}
	}
	return ErrSlotUnavailable
}

func langOf(lang string, t tenants.Tenant) string {
	switch lang {
	case "ja", "en":
		return lang
	}
	if t.Locale == "en" {
		return "en"
	}
	return "ja"
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// payload is the event of r.
func (s *Service) payload(r Reservation, m menus.Menu, zone *time.Location) Event {
	return Event{ReservationID: r.ID, Number: r.Number, Status: string(r.Status), Version: r.Version, MenuID: m.ID,
		MenuName: m.NameJA, MenuNameEN: m.NameEN, StartsAt: r.StartsAt.In(zone).Format(time.RFC3339),
		EndsAt: r.EndsAt.In(zone).Format(time.RFC3339), TimeZone: zone.String(), PartySize: r.PartySize, Price: r.Price,
		CustomerName: r.Customer.Name, CustomerEmail: r.Customer.Email, MemberID: r.MemberID, Lang: r.Lang}
}

func (s *Service) record(ctx context.Context, tx bun.IDB, evs []outbox.Event, typ string, r Reservation, e Event) ([]outbox.Event, error) {
	got, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: typ, AggregateType: "reservation", AggregateID: r.ID,
		Payload: e})
	return append(evs, got...), err
}

// remind schedules r's reminder (replacing a pending one), unless its due
// time has passed: a booking made inside the reminder's lead time has its
// confirmation fresh in mind.
func (s *Service) remind(ctx context.Context, tx bun.IDB, evs []outbox.Event, r Reservation, m menus.Menu, zone *time.Location, now time.Time) ([]outbox.Event, error) {
	due := r.StartsAt.Add(-s.remindBefore)
	if !due.After(now) {
		_, err := outbox.Cancel(ctx, tx, EventReminder, r.ID)
		return evs, err
	}
	got, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: EventReminder, AggregateType: "reservation",
		AggregateID: r.ID, Payload: s.payload(r, m, zone), DueAt: due, Key: r.ID})
	return append(evs, got...), err
}

func (s *Service) after(ctx context.Context, t tenants.Tenant, evs []outbox.Event) {
	if s.notify != nil && len(evs) > 0 {
		s.notify(ctx, t.ID, evs)
	}
}

// Get returns reservation id.
func (s *Service) Get(ctx context.Context, db bun.IDB, id string) (Reservation, error) {
	r, err := selectRow(ctx, db, id)
	if err != nil {
		return Reservation{}, err
	}
	return fromRow(r), nil
}

// List returns a page of reservations by start, and the cursor of the
// next page ("" at the end).
func (s *Service) List(ctx context.Context, db bun.IDB, f Filter) ([]Reservation, string, error) {
	var v apperr.Validator
	if f.Limit == 0 {
		f.Limit = DefaultPage
	}
	if f.Limit < 1 || f.Limit > MaxPage {
		v.Add("limit", "range", map[string]any{"Min": 1, "Max": MaxPage})
	}
	if f.After != "" {
		if _, _, ok := parseCursor(f.After); !ok {
			v.Add("after", "invalid", nil)
		}
	}
	if f.Status != "" && !slices.Contains(Statuses(), f.Status) {
		v.Add("status", "oneof", map[string]any{"Param": Statuses()})
	}
	if f.MenuID != "" && !validID(f.MenuID) {
		v.Add("menu_id", "catalog_unknown_reference", nil)
	}
	if f.Offset < 0 || f.Offset > MaxOffset {
		v.Add("offset", "range", map[string]any{"Min": 0, "Max": MaxOffset})
	}
	if utf8.RuneCountInString(f.Query) > MaxQuery {
		v.Add("q", "max", map[string]any{"Param": MaxQuery})
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		v.Add("to", "availability_to_before_from", map[string]any{"From": f.From.Format(time.RFC3339)})
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	f.Limit++
	rows, err := selectRows(ctx, db, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) == f.Limit {
		rows = rows[:f.Limit-1]
		next = cursorOf(fromRow(&rows[len(rows)-1]))
	}
	out := make([]Reservation, len(rows))
	for i := range rows {
		out[i] = fromRow(&rows[i])
	}
	return out, next, nil
}

// constantEqual compares a token's hash with the stored one.
func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
