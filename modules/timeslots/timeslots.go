// Package timeslots is when a tenant can be booked: its business calendar,
// Japan's national holidays, timetable slots, the time already taken
// (occupancy: reservations and staff blocks) and availability.
//
// The business calendar of a tenant holds opening hours per weekday
// (several ranges a day, the gaps between them being breaks), a row of
// hours for national holidays (or none: closed; or not set: holidays keep
// their weekday's hours), closed dates and special dates with hours of
// their own. Each provider (担当) and resource (設備) of the menus module may
// have its own weekly working hours and days off; one without its own hours
// works whenever the business is open.
//
// Hours are civil times ("10:00"–"18:00", "24:00" ending a day) in the
// tenant's IANA time zone; Open turns a day's ranges into instants,
// stating what happens on daylight-saving days (see Span). National
// holidays are computed by the law's rules for 1948–2099 (holidays.go).
//
// The contract for the availability engine: load a Calendar once for a
// date range and the providers and resources it needs (Service.Load), then
// ask it, per day and owner, for the open ranges (Calendar.OpenRanges) or
// spans (Calendar.Open). Service.OpenRanges does both for a single day.
//
// Timetable slots (slots.go) are the sessions of timetable and event
// menus: one-off, or recurring series materialised as rows at their civil
// time of day in the tenant's zone. Each holds its capacity and the seats
// booked, which only guarded statements change (booked never exceeds
// capacity); Service.Slots lists them for the availability engine.
//
// Availability (availability.go) answers, for a menu and up to 92 days,
// the free start times of an hours menu — on the tenant's slot-unit grid,
// inside one open range, with a free provider, enough units of each
// resource and seats left, outside blocks, inside the menu's booking-rule
// window — or the sessions of a timetable or event menu with the seats
// left. It reads the calendar once and the occupancy (or the sessions)
// once per call. Reservations record what they take with Occupy and
// Release in their own transactions; holding the line against
// overbooking under concurrency is theirs.
package timeslots

import (
	"fmt"
	"slices"
	"time"
)

// Minute is a time of day in minutes after midnight: 0 ("00:00") to 1440
// ("24:00", which only ends a range: the end of the day).
type Minute int

// EndOfDay is "24:00".
const EndOfDay Minute = 24 * 60

// ParseMinute reads "HH:MM" (two digits each, 00:00–24:00).
func ParseMinute(s string) (Minute, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return Minute(h*60 + m), true
}

// String writes the time as HH:MM.
func (m Minute) String() string { return fmt.Sprintf("%02d:%02d", int(m)/60, int(m)%60) }

// Range is an open period of one day in civil time: from Start up to (not
// including) End, Start < End.
type Range struct {
	Start, End Minute
}

// String writes the range as HH:MM-HH:MM.
func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }

// Ranges of one day are kept sorted and apart (a range ending where the
// next starts is allowed: it is one stretch written as two).

// intersect returns the parts of a that lie in b (both sorted and apart).
func intersect(a, b []Range) []Range {
	var out []Range
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s, e := max(a[i].Start, b[j].Start), min(a[i].End, b[j].End)
		if s < e {
			out = append(out, Range{s, e})
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}

// merge joins ranges that touch, so that 10:00-12:00 and 12:00-18:00
// read as 10:00-18:00 (sorted input).
func merge(rs []Range) []Range {
	out := make([]Range, 0, len(rs))
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].End >= r.Start {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// OwnerKind is whose calendar it is.
type OwnerKind string

// The owners of calendars.
const (
	OwnerBusiness OwnerKind = "business" // the tenant's business hours
	OwnerProvider OwnerKind = "provider" // a provider (担当) of the menus module
	OwnerResource OwnerKind = "resource" // a resource (設備) of the menus module
)

// Owner names a calendar: the business, or a provider or resource by id.
type Owner struct {
	Kind OwnerKind
	ID   string // empty for the business
}

// Business is the tenant's own calendar.
func Business() Owner { return Owner{Kind: OwnerBusiness} }

// Provider is the calendar of provider id.
func Provider(id string) Owner { return Owner{Kind: OwnerProvider, ID: id} }

// Resource is the calendar of resource id.
func Resource(id string) Owner { return Owner{Kind: OwnerResource, ID: id} }

// Weekly is opening hours per weekday, indexed by time.Weekday (Sunday 0);
// a day without ranges is closed.
type Weekly [7][]Range

// weekdayKeys are the API's names of the weekdays, by time.Weekday.
var weekdayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// WeekdayKey returns the API's name of wd: "sun", "mon", ...
func WeekdayKey(wd time.Weekday) string { return weekdayKeys[wd] }

// weekdayOf returns the weekday named key.
func weekdayOf(key string) (time.Weekday, bool) {
	i := slices.Index(weekdayKeys[:], key)
	return time.Weekday(i), i >= 0
}

// SpecialDate is a date with hours of its own, whatever its weekday or
// holiday says.
type SpecialDate struct {
	Date   Date
	Ranges []Range
}

// BusinessHours is a tenant's business calendar.
type BusinessHours struct {
	Weekly Weekly
	// HolidayHours says whether national holidays have hours of their own
	// (Holiday: none means closed); when false they keep their weekday's.
	HolidayHours bool
	Holiday      []Range
	Closed       []Date        // sorted
	Special      []SpecialDate // sorted by date
	UpdatedAt    time.Time     // zero: never saved
	UpdatedBy    string
}

// WorkingHours is a provider's or resource's own calendar.
type WorkingHours struct {
	Owner Owner
	// Custom says whether the owner has weekly hours of its own; without
	// them it works whenever the business is open.
	Custom    bool
	Weekly    Weekly
	DaysOff   []Date // sorted
	UpdatedAt time.Time
	UpdatedBy string
}

// Limits of a calendar, so that one tenant cannot store without end.
const (
	MaxRangesPerDay = 8
	MaxClosedDates  = 1000
	MaxSpecialDates = 500
	MaxDaysOff      = 1000
	// Dates of a calendar lie in these years.
	MinCalendarYear = 2000
	MaxCalendarYear = LastHolidayYear
)
