package timeslots

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// MenuCatalog is what timetables need of the menus module (its *Service):
// the menu a session is for, and the providers and resources it may name.
type MenuCatalog interface {
	Get(ctx context.Context, db bun.IDB, id string) (menus.Menu, error)
	GetProvider(ctx context.Context, db bun.IDB, id string) (menus.Provider, error)
	GetResource(ctx context.Context, db bun.IDB, id string) (menus.Resource, error)
}

var errNoCatalog = apperr.Wrap(apperr.KindInternal, "internal", errors.New("timeslots: Config.Menus is not set"))

// Slots returns the sessions f selects, ordered by StartsAt, then ID.
func (s *Service) Slots(ctx context.Context, db bun.IDB, f SlotFilter) ([]Slot, error) {
	if f.Limit < 0 {
		return nil, apperr.Invalid(apperr.Field("limit", "range", map[string]any{"Min": 1, "Max": MaxSlotPage}))
	}
	return selectSlots(ctx, db, f)
}

// Slot returns the session id, or ErrSlotNotFound.
func (s *Service) Slot(ctx context.Context, db bun.IDB, id string) (Slot, error) {
	return selectSlot(ctx, db, id)
}

// Series returns the series id with all its sessions, or ErrSeriesNotFound.
func (s *Service) Series(ctx context.Context, db bun.IDB, id string) (Series, []Slot, error) {
	sr, err := selectSeries(ctx, db, id)
	if err != nil {
		return Series{}, nil, err
	}
	ss, err := seriesSlots(ctx, db, id, time.Time{})
	if err != nil {
		return Series{}, nil, err
	}
	return sr, ss, nil
}

// SlotInput is a session (or a series of them) as a client writes it.
type SlotInput struct {
	MenuID string
	// StartsAt is RFC 3339 with an offset ("2026-12-10T10:00:00+09:00"),
	// or a civil "YYYY-MM-DDTHH:MM" taken in the tenant's zone; a whole
	// minute either way.
	StartsAt   string
	Capacity   *int // nil: the menu's capacity
	ProviderID string
	ResourceID string
	Recurrence *RecurrenceInput // nil: a one-off session
}

// RecurrenceInput is a series' rule as a client writes it.
type RecurrenceInput struct {
	Freq     string   // "weekly" or "monthly"
	Weekdays []string // weekly: "mon".."sun"
	Nth      int      // monthly: 1–5, or -1 for the last
	Weekday  string   // monthly
	Until    string   // YYYY-MM-DD, inclusive; "" for none
	Count    int      // 0 for none; one of Until and Count is needed
}

// Created is what CreateSlots made: the sessions, and their series when
// they recur.
type Created struct {
	Series *Series
	Slots  []Slot
}

// SlotPatch changes the fields that are not nil.
type SlotPatch struct {
	Capacity   *int
	Closed     *bool
	ProviderID *string // "" clears
	ResourceID *string // "" clears
}

// SeriesDeletion is what DeleteSeries did.
type SeriesDeletion struct {
	Deleted []string // ids of the sessions deleted
	Kept    []string // ids of future sessions kept because they are booked
}

// parseSlotStart reads a session's start: RFC 3339 with an offset, or a
// civil "YYYY-MM-DDTHH:MM" in zone. It returns the instant and its civil
// date and time of day in zone.
func parseSlotStart(s string, zone *time.Location) (time.Time, Date, Minute, bool) {
	if len(s) == 16 && s[10] == 'T' {
		d, err := ParseDate(s[:10])
		m, ok := ParseMinute(s[11:])
		if err != nil || !ok || m >= EndOfDay {
			return time.Time{}, Date{}, 0, false
		}
		t := Instant(d, m, zone)
		return t.UTC(), d, m, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Second() != 0 || t.Nanosecond() != 0 {
		return time.Time{}, Date{}, 0, false
	}
	local := t.In(zone)
	return t.UTC(), DateOf(local), Minute(local.Hour()*60 + local.Minute()), true
}

// slotHorizon is the last date a session may lie on: MaxSlotYearsAhead
// years after today in zone.
func (s *Service) slotHorizon(zone *time.Location) Date {
	today := DateOf(s.now().In(zone))
	return NewDate(today.Year+MaxSlotYearsAhead, today.Month, today.Day)
}

// checkSlotOwners checks a session's provider and resource: they exist,
// and are among the menu's when the menu lists any.
func (s *Service) checkSlotOwners(ctx context.Context, db bun.IDB, v *apperr.Validator, m menus.Menu, providerID, resourceID string) error {
	if providerID != "" {
		_, err := s.menus.GetProvider(ctx, db, providerID)
		switch {
		case errors.Is(err, menus.ErrProviderNotFound):
			v.Add("provider_id", "catalog_unknown_reference", nil)
		case err != nil:
			return err
		case len(m.ProviderIDs) > 0 && !slices.Contains(m.ProviderIDs, providerID):
			v.Add("provider_id", "slot_not_for_menu", nil)
		}
	}
	if resourceID != "" {
		_, err := s.menus.GetResource(ctx, db, resourceID)
		switch {
		case errors.Is(err, menus.ErrResourceNotFound):
			v.Add("resource_id", "catalog_unknown_reference", nil)
		case err != nil:
			return err
		case len(m.Resources) > 0 && !slices.ContainsFunc(m.Resources, func(r menus.ResourceNeed) bool { return r.ResourceID == resourceID }):
			v.Add("resource_id", "slot_not_for_menu", nil)
		}
	}
	return nil
}

func checkSlotCapacity(v *apperr.Validator, field string, n int) {
	v.Check(n >= 1 && n <= MaxSlotCapacity, field, "range", map[string]any{"Min": 1, "Max": MaxSlotCapacity})
}

// validRecurrence checks a rule; start is the first session's date and
// horizon the last date allowed.
func validRecurrence(v *apperr.Validator, in RecurrenceInput, start, horizon Date) Recurrence {
	const at = "recurrence."
	r := Recurrence{Freq: Freq(in.Freq), Count: in.Count}
	switch r.Freq {
	case FreqWeekly:
		if len(in.Weekdays) == 0 {
			v.Add(at+"weekdays", "min_items", map[string]any{"Param": 1})
		}
		for i, k := range in.Weekdays {
			wd, ok := weekdayOf(k)
			switch {
			case !ok:
				v.Add(at+"weekdays["+strconv.Itoa(i)+"]", "oneof", map[string]any{"Param": "mon tue wed thu fri sat sun"})
			case slices.Contains(r.Weekdays, wd):
				v.Add(at+"weekdays["+strconv.Itoa(i)+"]", "duplicate", nil)
			default:
				r.Weekdays = append(r.Weekdays, wd)
			}
		}
		slices.Sort(r.Weekdays)
		if in.Nth != 0 {
			v.Add(at+"nth", "slot_rule_mismatch", map[string]any{"Freq": in.Freq})
		}
		if in.Weekday != "" {
			v.Add(at+"weekday", "slot_rule_mismatch", map[string]any{"Freq": in.Freq})
		}
	case FreqMonthly:
		switch {
		case in.Nth == 0:
			v.Add(at+"nth", "required", nil)
		case in.Nth < -1 || in.Nth > 5:
			v.Add(at+"nth", "oneof", map[string]any{"Param": "1 2 3 4 5 -1"})
		}
		r.Nth = in.Nth
		wd, ok := weekdayOf(in.Weekday)
		switch {
		case in.Weekday == "":
			v.Add(at+"weekday", "required", nil)
		case !ok:
			v.Add(at+"weekday", "oneof", map[string]any{"Param": "mon tue wed thu fri sat sun"})
		}
		r.Weekday = wd
		if len(in.Weekdays) > 0 {
			v.Add(at+"weekdays", "slot_rule_mismatch", map[string]any{"Freq": in.Freq})
		}
	case "":
		v.Add(at+"freq", "required", nil)
	default:
		v.Add(at+"freq", "oneof", map[string]any{"Param": "weekly monthly"})
	}
	if in.Until != "" {
		d, err := ParseDate(in.Until)
		switch {
		case err != nil || d.Year < MinCalendarYear || d.Year > MaxCalendarYear:
			v.Add(at+"until", "calendar_date", map[string]any{"Min": MinCalendarYear, "Max": MaxCalendarYear})
		case !start.IsZero() && d.Before(start):
			v.Add(at+"until", "slot_until_before_start", map[string]any{"Start": start.String()})
		case d.After(horizon):
			v.Add(at+"until", "slot_too_far", map[string]any{"Max": horizon.String()})
		default:
			r.Until = d
		}
	}
	if in.Count != 0 && (in.Count < 1 || in.Count > MaxSlotsPerSeries) {
		v.Add(at+"count", "range", map[string]any{"Min": 1, "Max": MaxSlotsPerSeries})
	}
	if in.Until == "" && in.Count == 0 {
		v.Add(at+"until", "required", nil)
	}
	return r
}

// CreateSlots validates in and creates a one-off session, or a series and
// all its sessions, with one audit entry (slot.create or
// slot.series.create) in the same transaction. zone is the tenant's.
//
// Only timetable menus recur; event menus take one-off sessions; hours
// menus take none. A session may lie on a day the business calendar says
// is closed (staff decide). A series' sessions keep its civil time of day
// in zone on every date (see the package's timetable notes).
func (s *Service) CreateSlots(ctx context.Context, db bun.IDB, zone *time.Location, in SlotInput) (Created, error) {
	if s.menus == nil {
		return Created{}, errNoCatalog
	}
	var v apperr.Validator
	horizon := s.slotHorizon(zone)

	var menu menus.Menu
	menuOK := false
	if in.MenuID == "" {
		v.Add("menu_id", "required", nil)
	} else {
		m, err := s.menus.Get(ctx, db, in.MenuID)
		switch {
		case errors.Is(err, menus.ErrMenuNotFound):
			v.Add("menu_id", "catalog_unknown_reference", nil)
		case err != nil:
			return Created{}, err
		case m.Archived():
			v.Add("menu_id", "slot_menu_archived", nil)
		case m.BookingMode == menus.ModeHours:
			v.Add("menu_id", "slot_menu_mode", map[string]any{"Mode": string(m.BookingMode)})
		default:
			menu, menuOK = m, true
		}
	}

	start, day, minute, startOK := parseSlotStart(in.StartsAt, zone)
	switch {
	case in.StartsAt == "":
		v.Add("starts_at", "required", nil)
	case !startOK || day.Year < MinCalendarYear:
		v.Add("starts_at", "slot_datetime", nil)
		startOK = false
	case day.After(horizon):
		v.Add("starts_at", "slot_too_far", map[string]any{"Max": horizon.String()})
		startOK = false
	}

	capacity := 0
	if in.Capacity != nil {
		capacity = *in.Capacity
		checkSlotCapacity(&v, "capacity", capacity)
	} else if menuOK {
		capacity = menu.Capacity
	}
	if menuOK {
		if err := s.checkSlotOwners(ctx, db, &v, menu, in.ProviderID, in.ResourceID); err != nil {
			return Created{}, err
		}
	}

	var rule Recurrence
	if in.Recurrence != nil {
		if menuOK && menu.BookingMode != menus.ModeTimetable {
			v.Add("recurrence", "slot_recurrence_not_allowed", map[string]any{"Mode": string(menu.BookingMode)})
		}
		first := Date{}
		if startOK {
			first = day
		}
		rule = validRecurrence(&v, *in.Recurrence, first, horizon)
	}
	if err := v.Err(); err != nil {
		return Created{}, err
	}

	dates := []Date{day}
	if in.Recurrence != nil {
		dates = rule.Dates(day, MaxSlotsPerSeries)
		switch {
		case len(dates) == 0:
			return Created{}, apperr.Invalid(apperr.Field("recurrence", "slot_no_occurrence", nil))
		case len(dates) > MaxSlotsPerSeries:
			return Created{}, apperr.Invalid(apperr.Field("recurrence", "slot_too_many", map[string]any{"Max": MaxSlotsPerSeries}))
		}
	}

	now := s.stamp()
	length := time.Duration(menu.DurationMinutes) * time.Minute
	out := Created{Slots: make([]Slot, 0, len(dates))}
	var series *Series
	if in.Recurrence != nil {
		id, err := dbx.NewID()
		if err != nil {
			return Created{}, err
		}
		series = &Series{ID: id, MenuID: menu.ID, Rule: rule, StartTime: minute, TimeZone: zone.String(), From: day,
			Capacity: capacity, ProviderID: in.ProviderID, ResourceID: in.ResourceID, CreatedAt: now, UpdatedAt: now}
	}
	for _, d := range dates {
		id, err := dbx.NewID()
		if err != nil {
			return Created{}, err
		}
		at := start
		if series != nil {
			at = Instant(d, minute, zone).UTC()
		}
		sl := Slot{ID: id, MenuID: menu.ID, StartsAt: at, EndsAt: at.Add(length), Capacity: capacity,
			ProviderID: in.ProviderID, ResourceID: in.ResourceID, CreatedAt: now, UpdatedAt: now}
		if series != nil {
			sl.SeriesID = series.ID
		}
		out.Slots = append(out.Slots, sl)
	}
	out.Series = series

	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if series != nil {
			if err := insertSeries(ctx, tx, *series); err != nil {
				return err
			}
		}
		if err := insertSlots(ctx, tx, out.Slots); err != nil {
			return err
		}
		var ch auditlog.Changes
		if series == nil {
			sl := out.Slots[0]
			for _, f := range slotAuditFields(sl) {
				ch.Add(f.name, nil, f.value)
			}
			return slotAudit(ctx, tx, AuditSlotCreate, "slot", sl.ID, ch)
		}
		ch.Add("menu_id", nil, series.MenuID)
		ch.Add("recurrence", nil, recurrenceAudit(series.Rule))
		ch.Add("start_time", nil, series.StartTime.String())
		ch.Add("time_zone", nil, series.TimeZone)
		ch.Add("from", nil, series.From.String())
		ch.Add("capacity", nil, series.Capacity)
		ch.Add("provider_id", nil, series.ProviderID)
		ch.Add("resource_id", nil, series.ResourceID)
		ch.Add("sessions", nil, len(out.Slots))
		ch.Add("first_starts_at", nil, out.Slots[0].StartsAt)
		ch.Add("last_starts_at", nil, out.Slots[len(out.Slots)-1].StartsAt)
		return slotAudit(ctx, tx, AuditSeriesCreate, "slot_series", series.ID, ch)
	})
	if err != nil {
		return Created{}, err
	}
	s.log.InfoContext(ctx, "timetable sessions created", "menu_id", menu.ID, "sessions", len(out.Slots))
	return out, nil
}

type auditField struct {
	name  string
	value any
}

// slotAuditFields are what the operation log records of a session.
func slotAuditFields(sl Slot) []auditField {
	return []auditField{{"menu_id", sl.MenuID}, {"series_id", sl.SeriesID}, {"starts_at", sl.StartsAt},
		{"ends_at", sl.EndsAt}, {"capacity", sl.Capacity}, {"booked", sl.Booked}, {"provider_id", sl.ProviderID},
		{"resource_id", sl.ResourceID}, {"closed", sl.Closed}}
}

func recurrenceAudit(r Recurrence) map[string]any {
	out := map[string]any{"freq": string(r.Freq)}
	if r.Freq == FreqWeekly {
		keys := []string{}
		for _, wd := range r.Weekdays {
			keys = append(keys, weekdayKeys[wd])
		}
		out["weekdays"] = keys
	} else {
		out["nth"], out["weekday"] = r.Nth, weekdayKeys[r.Weekday]
	}
	if !r.Until.IsZero() {
		out["until"] = r.Until.String()
	}
	if r.Count > 0 {
		out["count"] = r.Count
	}
	return out
}

func slotAudit(ctx context.Context, tx bun.IDB, action, objectType, id string, ch auditlog.Changes) error {
	if _, err := auditlog.Append(ctx, tx, auditlog.Entry{Action: action, ObjectType: objectType, ObjectID: id, Changes: ch}); err != nil {
		return apperr.Wrap(apperr.KindInternal, "internal", err)
	}
	return nil
}

// UpdateSlot changes a session's capacity, closed state, provider or
// resource, audited (slot.update, before → after) in the same
// transaction. The capacity is written by one guarded statement (… WHERE
// booked <= the new capacity): below what is booked it is
// ErrSlotCapacityBelowBooked and nothing changes.
func (s *Service) UpdateSlot(ctx context.Context, db bun.IDB, id string, p SlotPatch) (Slot, error) {
	if !slotIDOK(id) {
		return Slot{}, ErrSlotNotFound
	}
	var v apperr.Validator
	if p.Capacity != nil {
		checkSlotCapacity(&v, "capacity", *p.Capacity)
	}
	if err := v.Err(); err != nil {
		return Slot{}, err
	}
	var out Slot
	var after func()
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		after = nil
		if err := lockSlot(ctx, tx, id); err != nil {
			return err
		}
		old, err := selectSlot(ctx, tx, id)
		if err != nil {
			return err
		}
		next := old
		if p.Capacity != nil {
			next.Capacity = *p.Capacity
		}
		if p.Closed != nil {
			next.Closed = *p.Closed
		}
		if p.ProviderID != nil {
			next.ProviderID = *p.ProviderID
		}
		if p.ResourceID != nil {
			next.ResourceID = *p.ResourceID
		}
		if (p.ProviderID != nil && next.ProviderID != old.ProviderID) || (p.ResourceID != nil && next.ResourceID != old.ResourceID) {
			if s.menus == nil {
				return errNoCatalog
			}
			m, err := s.menus.Get(ctx, tx, old.MenuID)
			if err != nil {
				return err
			}
			pid, rid := "", ""
			if next.ProviderID != old.ProviderID {
				pid = next.ProviderID
			}
			if next.ResourceID != old.ResourceID {
				rid = next.ResourceID
			}
			if err := s.checkSlotOwners(ctx, tx, &v, m, pid, rid); err != nil {
				return err
			}
			if err := v.Err(); err != nil {
				return err
			}
		}
		var ch auditlog.Changes
		ch.Add("capacity", old.Capacity, next.Capacity)
		ch.Add("closed", old.Closed, next.Closed)
		ch.Add("provider_id", old.ProviderID, next.ProviderID)
		ch.Add("resource_id", old.ResourceID, next.ResourceID)
		if len(ch) == 0 {
			out = old
			return nil
		}
		next.UpdatedAt = s.stamp()
		ok, err := updateSlotGuarded(ctx, tx, next)
		if err != nil {
			return err
		}
		if !ok {
			// The guard refused: more is booked than the new capacity.
			cur, err := selectSlot(ctx, tx, id)
			if err != nil {
				return err
			}
			return ErrSlotCapacityBelowBooked.WithArgs(map[string]any{"Booked": cur.Booked, "Capacity": next.Capacity})
		}
		out = next
		out.Booked = old.Booked
		if err := slotAudit(ctx, tx, AuditSlotUpdate, "slot", id, ch); err != nil {
			return err
		}
		// More room, or open again: the waitlist is offered the free seats
		// in this transaction, so nobody outside the line takes them first.
		if s.freed != nil && !next.Closed && (next.Capacity > old.Capacity || old.Closed) {
			if after, err = s.freed(ctx, tx, id); err != nil {
				return err
			}
			// The offers hold seats: the answer shows the session as it is.
			if cur, err := selectSlot(ctx, tx, id); err == nil {
				out.Booked = cur.Booked
			}
		}
		return nil
	})
	if err != nil {
		return Slot{}, err
	}
	if after != nil {
		after()
	}
	return out, nil
}

// DeleteSlot deletes a session with nothing booked (one guarded statement,
// … WHERE booked = 0), audited as slot.delete in the same transaction; a
// booked one is ErrSlotBooked (close it instead).
func (s *Service) DeleteSlot(ctx context.Context, db bun.IDB, id string) error {
	if !slotIDOK(id) {
		return ErrSlotNotFound
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockSlot(ctx, tx, id); err != nil {
			return err
		}
		old, err := selectSlot(ctx, tx, id)
		if err != nil {
			return err
		}
		ok, err := deleteSlotGuarded(ctx, tx, id)
		if err != nil {
			return err
		}
		if !ok {
			cur, err := selectSlot(ctx, tx, id)
			if err != nil {
				return err
			}
			return ErrSlotBooked.WithArgs(map[string]any{"Booked": cur.Booked})
		}
		var ch auditlog.Changes
		for _, f := range slotAuditFields(old) {
			ch.Add(f.name, f.value, nil)
		}
		return slotAudit(ctx, tx, AuditSlotDelete, "slot", id, ch)
	})
}

// DeleteSeries deletes the sessions of series id that have not started
// and have nothing booked (each by the guarded statement of DeleteSlot);
// booked ones and past ones stay, as does the series itself. One audit
// entry (slot.series.delete) names what went, when anything did.
func (s *Service) DeleteSeries(ctx context.Context, db bun.IDB, id string) (SeriesDeletion, error) {
	if _, err := selectSeries(ctx, db, id); err != nil {
		return SeriesDeletion{}, err
	}
	from := s.now().UTC()
	var out SeriesDeletion
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		deleted, err := deleteSeriesFree(ctx, tx, id, from)
		if err != nil {
			return err
		}
		rest, err := seriesSlots(ctx, tx, id, from)
		if err != nil {
			return err
		}
		out = SeriesDeletion{Deleted: deleted, Kept: []string{}}
		for _, sl := range rest {
			out.Kept = append(out.Kept, sl.ID)
		}
		if len(deleted) == 0 {
			return nil
		}
		var ch auditlog.Changes
		ch.Add("deleted_sessions", nil, deleted)
		ch.Add("kept_booked_sessions", nil, out.Kept)
		return slotAudit(ctx, tx, AuditSeriesDelete, "slot_series", id, ch)
	})
	if err != nil {
		return SeriesDeletion{}, err
	}
	return out, nil
}
