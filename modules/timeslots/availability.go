package timeslots

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// Availability is what a customer may book: for an hours menu the free
// start times, for a timetable or event menu its sessions with their free
// seats.
//
// An hours menu's start times are civil times on a grid of the slot unit
// (a tenant setting) from the start of each open range of the business. A
// start is offered when the booking, its duration plus the chosen options'
// extra minutes as elapsed time, fits inside that one open range; overlaps
// no block of the whole business; when the menu names providers, one of
// them (or the one asked for) works the whole time (their own hours) and
// nothing of theirs overlaps it; every resource the menu needs works the
// whole time and has the units free (the peak of the units held during
// the booking, plus those needed, within its quantity; a block on a
// resource holds all of it); and the menu's seats left (capacity minus the
// peak of seats held during the booking) are at least the party.
//
// Daylight saving: a civil time the clocks skip (02:30 in New York on
// 2026-03-08) is not offered at all, rather than shifted onto the jump; a
// civil time that occurs twice (01:30 on 2026-11-01) is offered once, at
// its first occurrence (Instant's rule), while the open range still lasts
// the extra hour for bookings that run through it.
//
// Sessions (timetable and event menus) are listed whether full or not,
// remaining 0 when full (never below), so that the booking site can show
// 満席 rather than a gap; closed sessions are left out.
//
// The menu's booking rules bound both: nothing starts before now plus
// ClosesMinutesBefore, or, with ClosesInBusinessDays, before the day that
// is ClosesBusinessDays open business days after today; nothing starts on
// a day after today plus OpensDaysBefore.

// MaxAvailabilityDays is the longest date range one question may span.
const MaxAvailabilityDays = 92

// Slot units: the grid of start times of hours menus.
const (
	DefaultSlotUnit = 30
	MinSlotUnit     = 5
	MaxSlotUnit     = 240
	SlotUnitStep    = 5
)

// SettingSlotUnit is the tenant setting holding the slot unit in minutes.
const SettingSlotUnit = "timeslots.slot_unit_minutes"

// AuditSettingsUpdate is the operation-log action of a settings change.
const AuditSettingsUpdate = "calendar.settings.update"

// AvailabilityQuery asks what one menu has free on some days.
type AvailabilityQuery struct {
	MenuID string
	Zone   *time.Location // the tenant's
	// From, To: civil dates in Zone, inclusive, at most
	// MaxAvailabilityDays apart.
	From, To   Date
	OptionIDs  []string // options chosen: their extra minutes add to the duration
	ProviderID string   // a provider asked for (指名); "" for any
	Party      int      // 0: the menu's PartyMin
	Now        time.Time
	// Public: asked by the booking site, which sees only public and
	// members-only menus (others are not found).
	Public bool
}

// Availability is the answer: the free starts or sessions, by start.
type Availability struct {
	MenuID string
	Zone   *time.Location
	Mode   menus.BookingMode
	Slots  []AvailableSlot
}

// AvailableSlot is one bookable start or session.
type AvailableSlot struct {
	StartsAt, EndsAt time.Time // in the query's zone
	Remaining        int       // seats left, ≥ 0
	SlotID           string    // the session's id ("" for hours menus)
}

// checkDays validates a date range of a question.
func checkDays(from, to Date) error {
	var v apperr.Validator
	if from.IsZero() {
		v.Add("from", "required", nil)
	}
	if to.IsZero() {
		v.Add("to", "required", nil)
	}
	if !from.IsZero() && !to.IsZero() {
		switch n := from.DaysUntil(to); {
		case n < 0:
			v.Add("to", "availability_to_before_from", map[string]any{"From": from.String()})
		case n+1 > MaxAvailabilityDays:
			v.Add("to", "availability_range_too_long", map[string]any{"Max": MaxAvailabilityDays})
		}
	}
	return v.Err()
}

// SlotUnit returns the tenant's slot unit in minutes (DefaultSlotUnit
// until set).
func (s *Service) SlotUnit(ctx context.Context, db bun.IDB) (int, error) {
	v, ok, err := tenants.GetSetting(ctx, db, SettingSlotUnit)
	if err != nil || !ok {
		return DefaultSlotUnit, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < MinSlotUnit || n > MaxSlotUnit {
		return DefaultSlotUnit, nil
	}
	return n, nil
}

// SetSlotUnit changes the tenant's slot unit, audited in the same
// transaction (calendar.settings.update); setting what is there logs
// nothing.
func (s *Service) SetSlotUnit(ctx context.Context, db bun.IDB, minutes int) (int, error) {
	var v apperr.Validator
	switch {
	case minutes < MinSlotUnit || minutes > MaxSlotUnit:
		v.Add("slot_unit_minutes", "range", map[string]any{"Min": MinSlotUnit, "Max": MaxSlotUnit})
	case minutes%SlotUnitStep != 0:
		v.Add("slot_unit_minutes", "catalog_step", map[string]any{"Step": SlotUnitStep})
	}
	if err := v.Err(); err != nil {
		return 0, err
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old, err := s.SlotUnit(ctx, tx)
		if err != nil {
			return err
		}
		if old == minutes {
			if _, set, err := tenants.GetSetting(ctx, tx, SettingSlotUnit); err != nil || set {
				return err
			}
		}
		if err := tenants.SetSetting(ctx, tx, SettingSlotUnit, strconv.Itoa(minutes), s.stamp()); err != nil {
			return err
		}
		var ch auditlog.Changes
		ch.Add("slot_unit_minutes", old, minutes)
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditSettingsUpdate, ObjectType: "calendar",
			ObjectID: "settings", Changes: ch})
		return err
	})
	if err != nil {
		return 0, err
	}
	return minutes, nil
}

// Availability answers q: one read of the menu (and of its providers and
// resources), one calendar Load, and one occupancy range query (hours
// menus) or one sessions query (timetable and event menus), whatever the
// number of days.
func (s *Service) Availability(ctx context.Context, db bun.IDB, q AvailabilityQuery) (Availability, error) {
	if err := checkDays(q.From, q.To); err != nil {
		return Availability{}, err
	}
	if s.menus == nil {
		return Availability{}, apperr.New(apperr.KindInternal, "internal")
	}
	if q.Zone == nil {
		q.Zone = time.UTC
	}
	if q.Now.IsZero() {
		q.Now = s.now()
	}
	if !ownerIDRE.MatchString(q.MenuID) {
		return Availability{}, menus.ErrMenuNotFound
	}
	m, err := s.menus.Get(ctx, db, q.MenuID)
	if err != nil {
		return Availability{}, err
	}
	if m.Archived() || (q.Public && m.Visibility == menus.VisibilityPrivate) {
		return Availability{}, menus.ErrMenuNotFound
	}
	extra, party, err := checkChoices(m, q)
	if err != nil {
		return Availability{}, err
	}
	out := Availability{MenuID: m.ID, Zone: q.Zone, Mode: m.BookingMode, Slots: []AvailableSlot{}}
	// One calendar for the days asked and today (business days are
	// counted from today for the rules).
	today := DateOf(q.Now.In(q.Zone))
	loadFrom := q.From
	if today.Before(loadFrom) {
		loadFrom = today
	}
	if m.BookingMode != menus.ModeHours {
		cal, err := s.Load(ctx, db, q.Zone, loadFrom, q.To)
		if err != nil {
			return Availability{}, err
		}
		win := BookingWindowOf(cal, m.Effective, q.Now)
		out.Slots, err = s.sessions(ctx, db, m, q, win)
		return out, err
	}

	providers := m.ProviderIDs
	if q.ProviderID != "" {
		providers = []string{q.ProviderID}
	}
	var active []string
	for _, id := range providers {
		p, err := s.menus.GetProvider(ctx, db, id)
		if apperr.KindOf(err) == apperr.KindNotFound {
			continue
		}
		if err != nil {
			return Availability{}, err
		}
		if p.Active {
			active = append(active, id)
		}
	}
	if len(providers) > 0 && len(active) == 0 {
		return out, nil // nobody can serve it
	}
	var needs []ResourceNeed
	for _, n := range m.Resources {
		r, err := s.menus.GetResource(ctx, db, n.ResourceID)
		if apperr.KindOf(err) == apperr.KindNotFound {
			return out, nil
		}
		if err != nil {
			return Availability{}, err
		}
		if !r.Active || r.Quantity < n.Quantity {
			return out, nil
		}
		needs = append(needs, ResourceNeed{ID: r.ID, Need: n.Quantity, Quantity: r.Quantity})
	}
	unit, err := s.SlotUnit(ctx, db)
	if err != nil {
		return Availability{}, err
	}
	owners := make([]Owner, 0, len(active)+len(needs))
	for _, id := range active {
		owners = append(owners, Provider(id))
	}
	resIDs := make([]string, 0, len(needs))
	for _, n := range needs {
		owners = append(owners, Resource(n.ID))
		resIDs = append(resIDs, n.ID)
	}
	cal, err := s.Load(ctx, db, q.Zone, loadFrom, q.To, owners...)
	if err != nil {
		return Availability{}, err
	}
	taken, err := selectTaken(ctx, db, takenQuery{From: Instant(q.From, 0, q.Zone), To: Instant(q.To.AddDays(1), 0, q.Zone),
		MenuID: m.ID, Providers: active, Resources: resIDs})
	if err != nil {
		return Availability{}, err
	}
	out.Slots = HoursAvailability(cal, HoursParams{
		From: q.From, To: q.To, Window: BookingWindowOf(cal, m.Effective, q.Now),
		Duration: time.Duration(m.DurationMinutes+extra) * time.Minute, Unit: Minute(unit),
		MenuID: m.ID, Capacity: m.Capacity, Party: party, Providers: active, Resources: needs, Taken: taken,
	})
	return out, nil
}

// checkChoices validates the options, provider and party of q against m
// and returns the options' extra minutes and the party size.
func checkChoices(m menus.Menu, q AvailabilityQuery) (extra, party int, err error) {
	var v apperr.Validator
	seen := map[string]bool{}
	for i, id := range q.OptionIDs {
		at := "options[" + strconv.Itoa(i) + "]"
		k := slices.IndexFunc(m.Options, func(o menus.Option) bool { return o.ID == id })
		switch {
		case k < 0:
			v.Add(at, "catalog_unknown_reference", nil)
		case seen[id]:
			v.Add(at, "duplicate", nil)
		default:
			seen[id] = true
			extra += m.Options[k].ExtraMinutes
		}
	}
	// A provider asked for must serve an hours menu; sessions are only
	// filtered by it.
	if q.ProviderID != "" && m.BookingMode == menus.ModeHours && !slices.Contains(m.ProviderIDs, q.ProviderID) {
		v.Add("provider_id", "catalog_unknown_reference", nil)
	}
	party = q.Party
	if party == 0 {
		party = m.PartyMin
	}
	party = max(party, 0)
	if party < max(m.PartyMin, 1) || (m.PartyMax > 0 && party > m.PartyMax) {
		v.Add("party", "range", map[string]any{"Min": max(m.PartyMin, 1), "Max": m.PartyMax})
	}
	return extra, party, v.Err()
}

// BookingWindow is when starts may be booked now under a menu's rules:
// not before NotBefore, not on a day after LastDay.
type BookingWindow struct {
	NotBefore time.Time
	LastDay   Date
}

// businessDaysAhead bounds the search for the n-th open business day.
const businessDaysAhead = 366

// BookingWindowOf applies rules r at now, counting business days on cal.
func BookingWindowOf(cal *Calendar, r menus.Rules, now time.Time) BookingWindow {
	zone := cal.Zone()
	today := DateOf(now.In(zone))
	w := BookingWindow{NotBefore: now, LastDay: today.AddDays(max(r.OpensDaysBefore, 0))}
	if !r.ClosesInBusinessDays {
		w.NotBefore = now.Add(time.Duration(max(r.ClosesMinutesBefore, 0)) * time.Minute)
		return w
	}
	if r.ClosesBusinessDays <= 0 {
		return w
	}
	d, n := today, 0
	for range businessDaysAhead {
		d = d.AddDays(1)
		if len(cal.OpenRanges(d, Business())) > 0 {
			if n++; n == r.ClosesBusinessDays {
				if first := Instant(d, 0, zone); first.After(w.NotBefore) {
					w.NotBefore = first
				}
				return w
			}
		}
	}
	w.LastDay = today.AddDays(-1) // no such business day: nothing bookable
	return w
}

// sessions lists the sessions of m that q and the window allow: one
// query, whatever the number of days.
func (s *Service) sessions(ctx context.Context, db bun.IDB, m menus.Menu, q AvailabilityQuery, w BookingWindow) ([]AvailableSlot, error) {
	from, to := Instant(q.From, 0, q.Zone), Instant(q.To.AddDays(1), 0, q.Zone)
	if w.NotBefore.After(from) {
		from = w.NotBefore
	}
	if last := Instant(w.LastDay.AddDays(1), 0, q.Zone); last.Before(to) {
		to = last
	}
	out := []AvailableSlot{}
	if !from.Before(to) {
		return out, nil
	}
	ss, err := s.Slots(ctx, db, SlotFilter{MenuID: m.ID, From: from, To: to})
	if err != nil {
		return nil, err
	}
	for _, x := range ss {
		if x.Closed || (q.ProviderID != "" && x.ProviderID != q.ProviderID) {
			continue
		}
		out = append(out, AvailableSlot{StartsAt: x.StartsAt.In(q.Zone), EndsAt: x.EndsAt.In(q.Zone),
			Remaining: max(x.Capacity-x.Booked, 0), SlotID: x.ID})
	}
	return out, nil
}

// ResourceNeed is a resource an hours menu needs: Need units of the
// Quantity it has.
type ResourceNeed struct {
	ID       string
	Need     int
	Quantity int
}

// HoursParams is everything HoursAvailability needs besides the calendar.
type HoursParams struct {
	From, To  Date          // civil dates, inclusive
	Window    BookingWindow // the rules' bounds
	Duration  time.Duration // elapsed: the menu's and the options' minutes
	Unit      Minute        // the grid of start times
	MenuID    string        // whose seats Taken may hold
	Capacity  int           // the menu's seats
	Party     int           // seats wanted, ≥ 1
	Providers []string      // any one of them must be free; empty: none needed
	Resources []ResourceNeed
	Taken     []Taken // occupancy overlapping the days
}

// HoursAvailability computes the free starts of an hours menu (see
// Availability) from a calendar that knows the providers and resources of
// p. It reads nothing: the same inputs give the same answer.
func HoursAvailability(cal *Calendar, p HoursParams) []AvailableSlot {
	out := []AvailableSlot{}
	if p.Unit <= 0 || p.Duration <= 0 || p.Party < 1 || p.Capacity < p.Party {
		return out
	}
	zone := cal.Zone()
	ix := indexTaken(p)
	provSpans := make([][]Span, len(p.Providers))
	resSpans := make([][]Span, len(p.Resources))
	var scratch []event
	for d := p.From; !d.After(p.To) && !d.After(p.Window.LastDay); d = d.AddDays(1) {
		if !Instant(d.AddDays(1), 0, zone).After(p.Window.NotBefore) {
			continue // the whole day is too soon
		}
		ranges := cal.OpenRanges(d, Business())
		if len(ranges) == 0 {
			continue
		}
		for i, id := range p.Providers {
			provSpans[i] = cal.Open(d, Provider(id))
		}
		for i, r := range p.Resources {
			resSpans[i] = cal.Open(d, Resource(r.ID))
		}
		for _, r := range ranges {
			sp := Spans(d, []Range{r}, zone)
			if len(sp) == 0 {
				continue // skipped by the clocks entirely
			}
			open := sp[0]
			for c := r.Start; c < r.End; c += p.Unit {
				start := Instant(d, c, zone)
				if h, m, _ := start.Clock(); DateOf(start) != d || Minute(h*60+m) != c {
					continue // a civil time the clocks skip
				}
				end := start.Add(p.Duration)
				if start.Before(open.Start) || end.After(open.End) || start.Before(p.Window.NotBefore) {
					continue
				}
				if overlapsAny(ix.business, start.UnixNano(), end.UnixNano()) {
					continue
				}
				var seats int
				seats, scratch = peak(ix.seats, start.UnixNano(), end.UnixNano(), scratch)
				remaining := p.Capacity - seats
				if remaining < p.Party {
					continue
				}
				if !resourcesFree(ix, p.Resources, resSpans, start, end, &scratch) {
					continue
				}
				if len(p.Providers) > 0 && !anyProviderFree(ix, p.Providers, provSpans, start, end) {
					continue
				}
				out = append(out, AvailableSlot{StartsAt: start.In(zone), EndsAt: end.In(zone), Remaining: remaining})
			}
		}
	}
	return out
}

func resourcesFree(ix takenIndex, needs []ResourceNeed, spans [][]Span, start, end time.Time, scratch *[]event) bool {
	s, e := start.UnixNano(), end.UnixNano()
	for i, n := range needs {
		if !covered(spans[i], start, end) || overlapsAny(ix.resBlocked[n.ID], s, e) {
			return false
		}
		var used int
		used, *scratch = peak(ix.resources[n.ID], s, e, *scratch)
		if used+n.Need > n.Quantity {
			return false
		}
	}
	return true
}

func anyProviderFree(ix takenIndex, ids []string, spans [][]Span, start, end time.Time) bool {
	s, e := start.UnixNano(), end.UnixNano()
	for i, id := range ids {
		if covered(spans[i], start, end) && !overlapsAny(ix.providers[id], s, e) {
			return true
		}
	}
	return false
}

// covered reports whether one of spans holds [start, end).
func covered(spans []Span, start, end time.Time) bool {
	for _, s := range spans {
		if !start.Before(s.Start) && !end.After(s.End) {
			return true
		}
	}
	return false
}

// The index of occupancy works on Unix nanoseconds: sorting and comparing
// ten thousand int64 pairs is several times cheaper than time.Time.

// ispan is [s, e) in Unix nanoseconds.
type ispan struct{ s, e int64 }

// held is n units (or seats) held over [s, e).
type held struct {
	s, e int64
	n    int
}

// heldList is held amounts sorted by start, with the longest one's length
// bounding how far back an overlap may start.
type heldList struct {
	items  []held
	maxLen int64
}

type takenIndex struct {
	business   []ispan // merged blocks of the whole business
	providers  map[string][]ispan
	resBlocked map[string][]ispan
	resources  map[string]*heldList
	seats      *heldList
}

// indexTaken sorts the occupancy of p by what it holds.
func indexTaken(p HoursParams) takenIndex {
	ix := takenIndex{providers: map[string][]ispan{}, resBlocked: map[string][]ispan{}, resources: map[string]*heldList{},
		seats: &heldList{}}
	add := func(l *heldList, sp ispan, n int) {
		l.items = append(l.items, held{sp.s, sp.e, n})
		l.maxLen = max(l.maxLen, sp.e-sp.s)
	}
	for _, t := range p.Taken {
		sp := ispan{t.StartsAt.UnixNano(), t.EndsAt.UnixNano()}
		if sp.s >= sp.e {
			continue
		}
		if t.Kind == OccupancyBlock && t.ProviderID == "" && t.ResourceID == "" {
			ix.business = append(ix.business, sp)
		}
		if t.ProviderID != "" {
			ix.providers[t.ProviderID] = append(ix.providers[t.ProviderID], sp)
		}
		if t.ResourceID != "" {
			if t.Kind == OccupancyBlock {
				ix.resBlocked[t.ResourceID] = append(ix.resBlocked[t.ResourceID], sp)
			} else if t.Quantity > 0 {
				l := ix.resources[t.ResourceID]
				if l == nil {
					l = &heldList{}
					ix.resources[t.ResourceID] = l
				}
				add(l, sp, t.Quantity)
			}
		}
		if t.MenuID != "" && t.MenuID == p.MenuID && t.Seats > 0 {
			add(ix.seats, sp, t.Seats)
		}
	}
	ix.business = union(ix.business)
	for k, v := range ix.providers {
		ix.providers[k] = union(v)
	}
	for k, v := range ix.resBlocked {
		ix.resBlocked[k] = union(v)
	}
	sortHeld := func(l *heldList) {
		slices.SortFunc(l.items, func(a, b held) int { return cmp.Compare(a.s, b.s) })
	}
	for _, l := range ix.resources {
		sortHeld(l)
	}
	sortHeld(ix.seats)
	return ix
}

// union merges spans into sorted, disjoint ones.
func union(spans []ispan) []ispan {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b ispan) int { return cmp.Compare(a.s, b.s) })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.s <= last.e {
			last.e = max(last.e, s.e)
			continue
		}
		out = append(out, s)
	}
	return out
}

// overlapsAny reports whether [s, e) overlaps one of the sorted, disjoint
// spans.
func overlapsAny(spans []ispan, s, e int64) bool {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].e > s })
	return i < len(spans) && spans[i].s < e
}

type event struct {
	at int64
	n  int // + at a start, − at an end
}

// peak returns the most held at once during [s, e) (scratch is reused
// between calls).
func peak(l *heldList, s, e int64, scratch []event) (int, []event) {
	if l == nil || len(l.items) == 0 {
		return 0, scratch
	}
	lo := sort.Search(len(l.items), func(i int) bool { return l.items[i].s >= s-l.maxLen })
	evs := scratch[:0]
	for _, h := range l.items[lo:] {
		if h.s >= e {
			break
		}
		if h.e <= s {
			continue
		}
		evs = append(evs, event{max(h.s, s), h.n}, event{min(h.e, e), -h.n})
	}
	if len(evs) == 0 {
		return 0, evs
	}
	// Ends before starts at the same instant: [a, b) and [b, c) never
	// hold together.
	slices.SortFunc(evs, func(a, b event) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return a.n - b.n
	})
	best, cur := 0, 0
	for _, ev := range evs {
		cur += ev.n
		best = max(best, cur)
	}
	return best, evs
}
