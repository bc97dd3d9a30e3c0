package timeslots

import (
	"slices"
	"time"
)

// Calendar answers, for a day and an owner, when the tenant is open. It is
// a snapshot (Service.Load reads one from the database; NewCalendar builds
// one from values) and safe for concurrent use.
//
// A day's business ranges come from, in order: a special date (its own
// ranges); a closed date (none); a national holiday when the business has
// holiday hours (those, none meaning closed); the weekday's ranges. A
// provider's or resource's ranges are the business's, none on its days
// off, and cut to its own weekly hours when it has them.
type Calendar struct {
	zone     *time.Location
	business BusinessHours
	closed   map[Date]bool
	special  map[Date][]Range
	owners   map[Owner]ownerCal
	holidays holidaySet // filled for the years given to NewCalendar, then read-only
}

type ownerCal struct {
	custom bool
	weekly Weekly
	off    map[Date]bool
}

// NewCalendar builds a calendar in zone from business hours and the
// working hours of providers and resources; years are the years whose
// holidays are prepared (others are computed on each call). An owner
// without working hours here works whenever the business is open.
func NewCalendar(zone *time.Location, bh BusinessHours, owners []WorkingHours, years ...int) *Calendar {
	c := &Calendar{zone: zone, business: bh, closed: map[Date]bool{}, special: map[Date][]Range{},
		owners: map[Owner]ownerCal{}, holidays: holidaySet{}}
	for _, d := range bh.Closed {
		c.closed[d] = true
	}
	for _, s := range bh.Special {
		c.special[s.Date] = s.Ranges
	}
	for _, w := range owners {
		oc := ownerCal{custom: w.Custom, weekly: w.Weekly, off: map[Date]bool{}}
		for _, d := range w.DaysOff {
			oc.off[d] = true
		}
		c.owners[w.Owner] = oc
	}
	for _, y := range years {
		c.holidays.on(Date{Year: y, Month: time.January, Day: 1})
	}
	return c
}

// Zone is the time zone the calendar's civil times are in.
func (c *Calendar) Zone() *time.Location { return c.zone }

// Holiday returns the national holiday on day, if it is one.
func (c *Calendar) Holiday(day Date) (Holiday, bool) {
	if m, ok := c.holidays[day.Year]; ok {
		h, ok := m[day]
		return h, ok
	}
	return HolidayOn(day)
}

// BusinessRanges returns the business's open ranges on day.
func (c *Calendar) BusinessRanges(day Date) []Range {
	if rs, ok := c.special[day]; ok {
		return slices.Clone(rs)
	}
	if c.closed[day] {
		return nil
	}
	if c.business.HolidayHours {
		if _, ok := c.Holiday(day); ok {
			return slices.Clone(c.business.Holiday)
		}
	}
	return slices.Clone(c.business.Weekly[day.Weekday()])
}

// OpenRanges returns the open ranges of owner on day, sorted and apart
// (touching ranges joined), in civil time; nil when closed.
func (c *Calendar) OpenRanges(day Date, o Owner) []Range {
	rs := c.BusinessRanges(day)
	if o.Kind != OwnerBusiness {
		if oc, ok := c.owners[o]; ok {
			switch {
			case oc.off[day]:
				return nil
			case oc.custom:
				rs = intersect(rs, oc.weekly[day.Weekday()])
			}
		}
	}
	if len(rs) == 0 {
		return nil
	}
	return merge(rs)
}

// Open returns the open spans of owner on day as instants.
func (c *Calendar) Open(day Date, o Owner) []Span {
	return Spans(day, c.OpenRanges(day, o), c.zone)
}

// Span is an open period as instants, Start before End.
//
// Civil times become instants by Instant: on a day whose clocks jump
// forward, a time in the gap (02:30 in New York on 2026-03-08) is the
// moment of the jump (03:00 EDT), so a range inside the gap is dropped and
// one across it is shorter by the gap; on a day whose clocks go back, a
// time that occurs twice is its first occurrence, so a range across the
// repeated hour is longer by it. A range ending at 24:00 ends when the
// next day begins.
type Span struct {
	Start, End time.Time
}

// Spans turns the ranges of day into instants in zone, dropping any that
// the clocks skip entirely.
func Spans(day Date, rs []Range, zone *time.Location) []Span {
	var out []Span
	for _, r := range rs {
		s := Instant(day, r.Start, zone)
		var e time.Time
		if r.End >= EndOfDay {
			e = Instant(day.AddDays(1), 0, zone)
		} else {
			e = Instant(day, r.End, zone)
		}
		if s.Before(e) {
			out = append(out, Span{Start: s, End: e})
		}
	}
	return out
}

// Instant returns the instant at which the clocks of zone read m on day;
// see Span for the days they skip or repeat it.
func Instant(day Date, m Minute, zone *time.Location) time.Time {
	wall := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute)
	// The offsets a day before and a day after bracket any change of
	// offset on this day; each gives a candidate instant, which is right
	// if the zone has that offset at it.
	_, before := wall.Add(-24 * time.Hour).In(zone).Zone()
	_, after := wall.Add(24 * time.Hour).In(zone).Zone()
	c1 := wall.Add(-time.Duration(before) * time.Second)
	c2 := wall.Add(-time.Duration(after) * time.Second)
	ok1 := offsetAt(c1, zone) == before
	ok2 := offsetAt(c2, zone) == after
	switch {
	case ok1 && ok2:
		if c2.Before(c1) {
			return c2.In(zone)
		}
		return c1.In(zone)
	case ok1:
		return c1.In(zone)
	case ok2:
		return c2.In(zone)
	}
	// In the gap: the moment the clocks jumped, the end of the period
	// the earlier candidate lies in.
	early := c1
	if c2.Before(c1) {
		early = c2
	}
	_, end := early.In(zone).ZoneBounds()
	return end.In(zone)
}

func offsetAt(t time.Time, zone *time.Location) int {
	_, off := t.In(zone).Zone()
	return off
}
