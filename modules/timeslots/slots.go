package timeslots

// Timetable slots: the sessions of `timetable` and `event` menus.
//
// A session (Slot) is a row with its own instants, capacity and count of
// booked seats; reservations book it with one guarded statement
// (UPDATE timetable_slots SET booked = booked + ? WHERE id = ? AND
// closed = ? AND booked + ? <= capacity, rows affected checked), and staff
// change its capacity with another (… WHERE id = ? AND booked <= ?), so
// booked never exceeds capacity whatever runs at the same time; a CHECK
// constraint backs both up.
//
// A recurring series (weekly on chosen weekdays, or monthly on the n-th or
// last weekday, e.g. 第2水曜) is materialised as rows when it is created:
// each occurrence is the series' civil time of day on its date in the
// tenant's zone, so a New York 10:00 class stays at 10:00 local time
// across daylight-saving changes (a time the clocks skip becomes the moment
// they jump, as Instant says). A session ends the menu's duration after it
// starts (elapsed time). Sessions may lie on days the business calendar
// marks closed: staff decide, the calendar does not veto them.

import (
	"slices"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// Slot is one timetable session.
type Slot struct {
	ID                   string // 32-hex uuid v7
	MenuID               string
	SeriesID             string    // "" for a one-off session
	StartsAt             time.Time // UTC
	EndsAt               time.Time // UTC: StartsAt + the menu's duration at creation
	Capacity             int
	Booked               int    // seats booked; reservations change it with one guarded UPDATE
	ProviderID           string // "" when none
	ResourceID           string // "" when none
	Closed               bool   // closed sessions take no bookings and are not offered
	CreatedAt, UpdatedAt time.Time
}

// Remaining is the number of free seats (0 when closed).
func (s Slot) Remaining() int {
	if s.Closed || s.Booked >= s.Capacity {
		return 0
	}
	return s.Capacity - s.Booked
}

// SlotFilter selects sessions for Slots.
type SlotFilter struct {
	MenuID        string    // "" any
	From, To      time.Time // sessions starting in [From, To)
	IncludeClosed bool
	Limit         int    // 0: no limit (internal callers); the API caps pages
	After         string // cursor (an id) for paging
}

// Freq is how a series recurs.
type Freq string

// The recurrences.
const (
	FreqWeekly  Freq = "weekly"  // on chosen weekdays every week
	FreqMonthly Freq = "monthly" // on the n-th (or last) weekday of every month
)

// Recurrence is the rule of a series. Its dates are the days from the
// first session's date on which the rule falls, up to Until (inclusive)
// and at most Count of them; one of the two must be set.
type Recurrence struct {
	Freq     Freq
	Weekdays []time.Weekday // weekly: the weekdays, sorted
	Nth      int            // monthly: 1–5 (the n-th), or -1 (the last)
	Weekday  time.Weekday   // monthly: which weekday
	Until    Date           // zero: none
	Count    int            // 0: none
}

// Dates returns the dates from first (inclusive) on which r falls, at most
// limit of them (and at most Count, and not after Until). It returns one
// more than limit when there would be more, so a caller can tell.
func (r Recurrence) Dates(first Date, limit int) []Date {
	var out []Date
	want := limit + 1
	if r.Count > 0 && r.Count < want {
		want = r.Count
	}
	in := func(d Date) bool { return r.Until.IsZero() || !d.After(r.Until) }
	switch r.Freq {
	case FreqWeekly:
		if len(r.Weekdays) == 0 {
			return nil
		}
		for d := first; len(out) < want && in(d); d = d.AddDays(1) {
			if slices.Contains(r.Weekdays, d.Weekday()) {
				out = append(out, d)
			}
		}
	case FreqMonthly:
		if r.Nth == 0 || r.Nth < -1 || r.Nth > 5 {
			return nil
		}
		// Months without an n-th weekday (a 5th Wednesday) are skipped; a
		// rule that never falls ends after this many months.
		for y, m, n := first.Year, first.Month, 0; len(out) < want && n < 12*(MaxSlotYearsAhead+1); n++ {
			if d, ok := nthWeekday(y, m, r.Nth, r.Weekday); ok && !d.Before(first) {
				if !in(d) {
					break
				}
				out = append(out, d)
			}
			if m == time.December {
				y, m = y+1, time.January
			} else {
				m++
			}
			if !in(Date{y, m, 1}) {
				break
			}
		}
	}
	return out
}

// nthWeekday returns the n-th (n ≥ 1) or last (n = -1) wd of month m of
// year y, if the month has one.
func nthWeekday(y int, m time.Month, n int, wd time.Weekday) (Date, bool) {
	if n == -1 {
		last := Date{y, m, 1}.AddDays(40)
		last = Date{last.Year, last.Month, 1}.AddDays(-1) // the month's last day
		back := (int(last.Weekday()) - int(wd) + 7) % 7
		return last.AddDays(-back), true
	}
	first := Date{y, m, 1}
	d := first.AddDays((int(wd)-int(first.Weekday())+7)%7 + 7*(n-1))
	return d, d.Month == m
}

// Series is a recurring set of sessions, as created.
type Series struct {
	ID         string
	MenuID     string
	Rule       Recurrence
	StartTime  Minute // civil time of day of every session
	TimeZone   string // the tenant's zone when the series was made
	From       Date   // the first session's date
	Capacity   int
	ProviderID string
	ResourceID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Limits of timetables.
const (
	// MaxSlotsPerSeries is the most sessions one series materialises.
	MaxSlotsPerSeries = 500
	// MaxSlotYearsAhead: sessions (and a series' until) lie at most this
	// many years after today.
	MaxSlotYearsAhead = 2
	// MaxSlotListDays is the longest date range one listing covers.
	MaxSlotListDays = 92
	// MaxSlotPage is the largest page of the API's list.
	MaxSlotPage = 200
	// MaxSlotCapacity is the most seats a session may have.
	MaxSlotCapacity = 10000
)

// Errors of timetables.
var (
	ErrSlotNotFound   = apperr.New(apperr.KindNotFound, "slot_not_found")
	ErrSeriesNotFound = apperr.New(apperr.KindNotFound, "slot_series_not_found")
	// ErrSlotCapacityBelowBooked: the capacity asked for is below the seats
	// already booked (409; Args: Booked, Capacity).
	ErrSlotCapacityBelowBooked = apperr.New(apperr.KindConflict, "slot_capacity_below_booked")
	// ErrSlotBooked: a session with booked seats cannot be deleted (409;
	// Args: Booked). Close it instead.
	ErrSlotBooked = apperr.New(apperr.KindConflict, "slot_booked")
)

// Audit actions of timetables.
const (
	AuditSlotCreate   = "slot.create"
	AuditSlotUpdate   = "slot.update"
	AuditSlotDelete   = "slot.delete"
	AuditSeriesCreate = "slot.series.create"
	AuditSeriesDelete = "slot.series.delete"
)
