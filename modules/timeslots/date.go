package timeslots

import (
	"errors"
	"fmt"
	"time"
)

// Date is a civil date (a day on a wall calendar, no zone): a tenant's
// closed day, a national holiday, the day whose hours are asked for. It is
// what a tenant means by "12 October", whatever its time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// NewDate returns the date y-m-d, normalised as time.Date does
// (2026-02-30 becomes 2026-03-02); use ParseDate for input.
func NewDate(y int, m time.Month, d int) Date {
	return DateOf(time.Date(y, m, d, 12, 0, 0, 0, time.UTC))
}

var errDate = errors.New("timeslots: not a date (YYYY-MM-DD)")

// ParseDate reads a date written YYYY-MM-DD, refusing any other form and
// any day the month does not have (2026-02-30).
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, errDate
	}
	num := func(p string) (int, bool) {
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return Date{}, errDate
	}
	out := Date{y, time.Month(m), d}
	if NewDate(y, time.Month(m), d) != out {
		return Date{}, errDate
	}
	return out, nil
}

// String writes the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// noon is d at 12:00 UTC, the anchor of date arithmetic (never near a
// day boundary, whatever is added).
func (d Date) noon() time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// AddDays returns the date n days after d (before, for n < 0).
func (d Date) AddDays(n int) Date { return DateOf(d.noon().AddDate(0, 0, n)) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.noon().Weekday() }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	}
	return cmpInt(d.Day, e.Day)
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// DaysUntil returns the number of days from d to e (negative when e is
// before d).
func (d Date) DaysUntil(e Date) int { return int(e.noon().Sub(d.noon()).Hours() / 24) }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
