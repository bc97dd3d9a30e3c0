package timeslots

import (
	"sort"
	"time"
)

// Japanese national holidays, computed (not looked up) from the 国民の祝日に
// 関する法律 (昭和23年法律第178号) as amended, for 1948-07-20 (the law's
// start) to 2099:
//
//   - the 国民の祝日 of each year under the law in force that year
//     (fixed dates; the Happy Monday days from 2000 and 2003; 春分の日 and
//     秋分の日 from the standard approximation of the equinoxes, which
//     matches the 国立天文台's dates up to 2099; the Olympic moves of 2020
//     and 2021; 天皇誕生日 on 29 April, 23 December or 23 February, and none
//     in 2019);
//   - the one-off days set by their own laws (1959, 1989, 1990, 1993, 2019),
//     which count as 国民の祝日;
//   - 振替休日: from 1973-04-12 a 国民の祝日 on a Sunday gives the next
//     day off (if that day is not itself a 国民の祝日); from 2007 the first
//     following day that is not a 国民の祝日;
//   - 国民の休日: from 1985-12-27 a day between two 国民の祝日 that is not
//     one itself (before 2007 not a Sunday nor a 振替休日).
//
// Names are data (the law's names, and the Cabinet Office's English ones),
// returned in both languages by the API, so they live here rather than in
// the UI's message catalogs.

// HolidayKind says why a day is a holiday.
type HolidayKind string

// The kinds of holiday.
const (
	HolidayNational   HolidayKind = "national"   // a 国民の祝日 (including the one-off days)
	HolidaySubstitute HolidayKind = "substitute" // 振替休日
	HolidayCitizens   HolidayKind = "citizens"   // 国民の休日, a day between two 国民の祝日
)

// Holiday is one national holiday.
type Holiday struct {
	Date   Date
	Name   string // Japanese, as the law names it: 元日, 振替休日, ...
	NameEn string // English: New Year's Day, Substitute Holiday, ...
	Kind   HolidayKind
}

// Years for which holidays are computed; outside them there are none.
const (
	FirstHolidayYear = 1948
	LastHolidayYear  = 2099
)

// lawStart is the day the holiday law came into force.
var lawStart = Date{1948, time.July, 20}

type holidayName struct{ ja, en string }

var (
	hGanjitsu    = holidayName{"元日", "New Year's Day"}
	hSeijin      = holidayName{"成人の日", "Coming of Age Day"}
	hKenkoku     = holidayName{"建国記念の日", "National Foundation Day"}
	hTenno       = holidayName{"天皇誕生日", "The Emperor's Birthday"}
	hShunbun     = holidayName{"春分の日", "Vernal Equinox Day"}
	hShowa       = holidayName{"昭和の日", "Showa Day"}
	hMidori      = holidayName{"みどりの日", "Greenery Day"}
	hKenpo       = holidayName{"憲法記念日", "Constitution Memorial Day"}
	hKodomo      = holidayName{"こどもの日", "Children's Day"}
	hUmi         = holidayName{"海の日", "Marine Day"}
	hYama        = holidayName{"山の日", "Mountain Day"}
	hKeiro       = holidayName{"敬老の日", "Respect for the Aged Day"}
	hShubun      = holidayName{"秋分の日", "Autumnal Equinox Day"}
	hTaiiku      = holidayName{"体育の日", "Health and Sports Day"}
	hSports      = holidayName{"スポーツの日", "Sports Day"}
	hBunka       = holidayName{"文化の日", "Culture Day"}
	hKinro       = holidayName{"勤労感謝の日", "Labour Thanksgiving Day"}
	hFurikae     = holidayName{"振替休日", "Substitute Holiday"}
	hKokumin     = holidayName{"国民の休日", "Citizens' Holiday"}
	hSokui       = holidayName{"即位の日", "Enthronement Day"}
	hSokuiRei    = holidayName{"即位礼正殿の儀", "Enthronement Ceremony"}
	hAkihitoWed  = holidayName{"皇太子明仁親王の結婚の儀", "Wedding of Crown Prince Akihito"}
	hTaiso       = holidayName{"昭和天皇の大喪の礼", "State Funeral of Emperor Showa"}
	hNaruhitoWed = holidayName{"皇太子徳仁親王の結婚の儀", "Wedding of Crown Prince Naruhito"}
)

// oneOff are the holidays set by laws of their own for one day each.
var oneOff = []struct {
	d Date
	n holidayName
}{
	{Date{1959, time.April, 10}, hAkihitoWed},
	{Date{1989, time.February, 24}, hTaiso},
	{Date{1990, time.November, 12}, hSokuiRei},
	{Date{1993, time.June, 9}, hNaruhitoWed},
	{Date{2019, time.May, 1}, hSokui},
	{Date{2019, time.October, 22}, hSokuiRei},
}

// nthMonday returns the n-th Monday of month m of year y.
func nthMonday(y int, m time.Month, n int) Date {
	first := Date{y, m, 1}
	off := (int(time.Monday) - int(first.Weekday()) + 7) % 7
	return Date{y, m, 1 + off + 7*(n-1)}
}

// VernalEquinoxDay returns the day of March of 春分の日 in year y
// (1900–2099), by the standard approximation of the equinox in JST.
func VernalEquinoxDay(y int) int {
	if y < 1980 {
		return int(20.8357 + 0.242194*float64(y-1980) - float64((y-1983)/4))
	}
	return int(20.8431 + 0.242194*float64(y-1980) - float64((y-1980)/4))
}

// AutumnalEquinoxDay returns the day of September of 秋分の日 in year y
// (1900–2099).
func AutumnalEquinoxDay(y int) int {
	if y < 1980 {
		return int(23.2588 + 0.242194*float64(y-1980) - float64((y-1983)/4))
	}
	return int(23.2488 + 0.242194*float64(y-1980) - float64((y-1980)/4))
}

// nationalDays returns the 国民の祝日 of year y (no substitutes, no
// 国民の休日), unsorted.
func nationalDays(y int) map[Date]holidayName {
	out := map[Date]holidayName{}
	add := func(m time.Month, d int, n holidayName) { out[Date{y, m, d}] = n }
	addD := func(d Date, n holidayName) { out[d] = n }

	add(time.January, 1, hGanjitsu)
	switch {
	case y >= 2000:
		addD(nthMonday(y, time.January, 2), hSeijin)
	default:
		add(time.January, 15, hSeijin)
	}
	if y >= 1967 {
		add(time.February, 11, hKenkoku)
	}
	add(time.March, VernalEquinoxDay(y), hShunbun)
	switch {
	case y >= 2007:
		add(time.April, 29, hShowa)
	case y >= 1989:
		add(time.April, 29, hMidori)
	default:
		add(time.April, 29, hTenno)
	}
	add(time.May, 3, hKenpo)
	if y >= 2007 {
		add(time.May, 4, hMidori)
	}
	add(time.May, 5, hKodomo)
	switch {
	case y == 2020:
		add(time.July, 23, hUmi)
	case y == 2021:
		add(time.July, 22, hUmi)
	case y >= 2003:
		addD(nthMonday(y, time.July, 3), hUmi)
	case y >= 1996:
		add(time.July, 20, hUmi)
	}
	switch {
	case y == 2020:
		add(time.August, 10, hYama)
	case y == 2021:
		add(time.August, 8, hYama)
	case y >= 2016:
		add(time.August, 11, hYama)
	}
	switch {
	case y >= 2003:
		addD(nthMonday(y, time.September, 3), hKeiro)
	case y >= 1966:
		add(time.September, 15, hKeiro)
	}
	add(time.September, AutumnalEquinoxDay(y), hShubun)
	switch {
	case y == 2020:
		add(time.July, 24, hSports)
	case y == 2021:
		add(time.July, 23, hSports)
	case y >= 2022:
		addD(nthMonday(y, time.October, 2), hSports)
	case y >= 2000:
		addD(nthMonday(y, time.October, 2), hTaiiku)
	case y >= 1966:
		add(time.October, 10, hTaiiku)
	}
	add(time.November, 3, hBunka)
	add(time.November, 23, hKinro)
	switch {
	case y >= 2020:
		add(time.February, 23, hTenno)
	case y >= 1989 && y <= 2018:
		add(time.December, 23, hTenno)
	}
	for _, o := range oneOff {
		if o.d.Year == y {
			addD(o.d, o.n)
		}
	}
	for d := range out {
		if d.Before(lawStart) {
			delete(out, d)
		}
	}
	return out
}

// Holidays returns the national holidays of year y in date order; none
// outside FirstHolidayYear..LastHolidayYear.
func Holidays(y int) []Holiday {
	if y < FirstHolidayYear || y > LastHolidayYear {
		return nil
	}
	nat := nationalDays(y)
	// A substitute for a holiday of late December could fall in the next
	// year, and one of January needs the previous year's days: work on the
	// neighbouring years too and keep year y.
	for _, yy := range []int{y - 1, y + 1} {
		if yy >= FirstHolidayYear {
			for d, n := range nationalDays(yy) {
				nat[d] = n
			}
		}
	}
	out := map[Date]Holiday{}
	for d, n := range nat {
		out[d] = Holiday{Date: d, Name: n.ja, NameEn: n.en, Kind: HolidayNational}
	}
	substituteFrom := Date{1973, time.April, 12}
	newRules := Date{2007, time.January, 1}
	for d := range nat {
		if d.Weekday() != time.Sunday || d.Before(substituteFrom) {
			continue
		}
		next := d.AddDays(1)
		if d.Before(newRules) {
			if _, isHoliday := nat[next]; isHoliday {
				continue
			}
		} else {
			for {
				if _, isHoliday := nat[next]; !isHoliday {
					break
				}
				next = next.AddDays(1)
			}
		}
		out[next] = Holiday{Date: next, Name: hFurikae.ja, NameEn: hFurikae.en, Kind: HolidaySubstitute}
	}
	citizensFrom := Date{1985, time.December, 27}
	for d := range nat {
		between := d.AddDays(1)
		if _, ok := nat[between.AddDays(1)]; !ok || between.Before(citizensFrom) {
			continue
		}
		if _, taken := out[between]; taken {
			continue // a 国民の祝日 itself, or already a 振替休日
		}
		if between.Before(newRules) && between.Weekday() == time.Sunday {
			continue
		}
		out[between] = Holiday{Date: between, Name: hKokumin.ja, NameEn: hKokumin.en, Kind: HolidayCitizens}
	}
	list := make([]Holiday, 0, 24)
	for d, h := range out {
		if d.Year == y {
			list = append(list, h)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Date.Before(list[j].Date) })
	return list
}

// HolidayOn returns the national holiday on d, if d is one.
func HolidayOn(d Date) (Holiday, bool) {
	for _, h := range Holidays(d.Year) {
		if h.Date == d {
			return h, true
		}
	}
	return Holiday{}, false
}

// holidaySet is the set of holiday dates of the years it was asked about,
// computed once per year.
type holidaySet map[int]map[Date]Holiday

func (s holidaySet) on(d Date) (Holiday, bool) {
	m, ok := s[d.Year]
	if !ok {
		m = map[Date]Holiday{}
		for _, h := range Holidays(d.Year) {
			m[h.Date] = h
		}
		s[d.Year] = m
	}
	h, ok := m[d]
	return h, ok
}
