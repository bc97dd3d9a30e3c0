package timeslots_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

func d(s string) timeslots.Date {
	x, err := timeslots.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return x
}

func rg(s string) timeslots.Range {
	a, ok1 := timeslots.ParseMinute(s[:5])
	b, ok2 := timeslots.ParseMinute(s[6:])
	if !ok1 || !ok2 {
		panic(s)
	}
	return timeslots.Range{Start: a, End: b}
}

func rgs(ss ...string) []timeslots.Range {
	var out []timeslots.Range
	for _, s := range ss {
		out = append(out, rg(s))
	}
	return out
}

func text(rs []timeslots.Range) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// salon is open Tuesday to Saturday 10-13 and 14-19 (a lunch break),
// Sunday 10-17, closed Mondays; on national holidays 10-16; closed
// 2026-12-31; open 2026-12-28 (a Monday) 10-15.
func salon() timeslots.BusinessHours {
	var w timeslots.Weekly
	for _, wd := range []time.Weekday{time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday} {
		w[wd] = rgs("10:00-13:00", "14:00-19:00")
	}
	w[time.Sunday] = rgs("10:00-17:00")
	return timeslots.BusinessHours{Weekly: w, HolidayHours: true, Holiday: rgs("10:00-16:00"),
		Closed:  []timeslots.Date{d("2026-12-31")},
		Special: []timeslots.SpecialDate{{Date: d("2026-12-28"), Ranges: rgs("10:00-15:00")}}}
}

func tokyo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestOpenRangesRules(t *testing.T) {
	bh := salon()
	var aya timeslots.Weekly // a provider working Tuesday and Wednesday afternoons
	aya[time.Tuesday] = rgs("12:00-18:00")
	aya[time.Wednesday] = rgs("12:00-18:00")
	owners := []timeslots.WorkingHours{
		{Owner: timeslots.Provider("aya"), Custom: true, Weekly: aya, DaysOff: []timeslots.Date{d("2026-12-16")}},
		{Owner: timeslots.Resource("room1"), DaysOff: []timeslots.Date{d("2026-12-15")}},
	}
	cal := timeslots.NewCalendar(tokyo(t), bh, owners, 2026)
	noHolidayRow := bh
	noHolidayRow.HolidayHours, noHolidayRow.Holiday = false, nil
	closedOnHolidays := bh
	closedOnHolidays.Holiday = nil
	tests := []struct {
		name string
		cal  *timeslots.Calendar
		day  string
		who  timeslots.Owner
		want []string
	}{
		{"a weekday: two ranges, the break between", cal, "2026-12-15", timeslots.Business(), []string{"10:00-13:00", "14:00-19:00"}},
		{"the weekly closing day", cal, "2026-12-14", timeslots.Business(), []string{}},
		{"a closed date on an open weekday", cal, "2026-12-31", timeslots.Business(), []string{}},
		{"a special date on the closing day", cal, "2026-12-28", timeslots.Business(), []string{"10:00-15:00"}},
		{"a holiday with holiday hours (Monday 2026-11-23)", cal, "2026-11-23", timeslots.Business(), []string{"10:00-16:00"}},
		{"国民の休日 uses holiday hours", cal, "2026-09-22", timeslots.Business(), []string{"10:00-16:00"}},
		{"振替休日 uses holiday hours", cal, "2026-05-06", timeslots.Business(), []string{"10:00-16:00"}},
		{"a holiday without a holiday row keeps its weekday", timeslots.NewCalendar(tokyo(t), noHolidayRow, nil), "2026-11-23", timeslots.Business(), []string{}},
		{"... on an open weekday", timeslots.NewCalendar(tokyo(t), noHolidayRow, nil), "2026-11-03", timeslots.Business(), []string{"10:00-13:00", "14:00-19:00"}},
		{"a holiday row with no hours is closed", timeslots.NewCalendar(tokyo(t), closedOnHolidays, nil), "2026-11-03", timeslots.Business(), []string{}},
		{"a special date on a holiday wins", timeslots.NewCalendar(tokyo(t), withSpecial(closedOnHolidays, "2026-11-03", "09:00-12:00"), nil), "2026-11-03", timeslots.Business(), []string{"09:00-12:00"}},
		{"a provider's own hours cut the business's", cal, "2026-12-15", timeslots.Provider("aya"), []string{"12:00-13:00", "14:00-18:00"}},
		{"a provider's day off", cal, "2026-12-16", timeslots.Provider("aya"), []string{}},
		{"a provider's weekday off", cal, "2026-12-17", timeslots.Provider("aya"), []string{}},
		{"a provider on a closed date", cal, "2026-12-29", timeslots.Provider("aya"), []string{"12:00-13:00", "14:00-18:00"}},
		{"a resource without own hours follows the business", cal, "2026-12-17", timeslots.Resource("room1"), []string{"10:00-13:00", "14:00-19:00"}},
		{"a resource's day off", cal, "2026-12-15", timeslots.Resource("room1"), []string{}},
		{"an owner not loaded follows the business", cal, "2026-12-17", timeslots.Provider("ken"), []string{"10:00-13:00", "14:00-19:00"}},
	}
	for _, tt := range tests {
		if got := text(tt.cal.OpenRanges(d(tt.day), tt.who)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %s %v: %v, want %v", tt.name, tt.day, tt.who, got, tt.want)
		}
	}
}

func withSpecial(bh timeslots.BusinessHours, day, r string) timeslots.BusinessHours {
	bh.Special = append(slices.Clone(bh.Special), timeslots.SpecialDate{Date: d(day), Ranges: rgs(r)})
	return bh
}

// Properties over random calendars and every day of 2026–2027: ranges are
// sorted, apart and within the day; an owner's ranges lie within the
// business's; closed dates and days off have none; a holiday without hours
// has none; spans in the zone match the ranges outside daylight-saving days.
func TestOpenRangesProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 2026))
	randRanges := func() []timeslots.Range {
		var out []timeslots.Range
		at := timeslots.Minute(r.IntN(8) * 60)
		for range r.IntN(4) {
			start := at + timeslots.Minute(r.IntN(4)*15)
			end := start + timeslots.Minute(30+r.IntN(16)*30)
			if end > timeslots.EndOfDay {
				break
			}
			out = append(out, timeslots.Range{Start: start, End: end})
			at = end
		}
		return out
	}
	zone := tokyo(t)
	for round := range 30 {
		var bh timeslots.BusinessHours
		for wd := range 7 {
			bh.Weekly[wd] = randRanges()
		}
		bh.HolidayHours = r.IntN(2) == 0
		bh.Holiday = randRanges()
		closed := map[timeslots.Date]bool{}
		for range 20 {
			day := d("2026-01-01").AddDays(r.IntN(730))
			if !closed[day] {
				closed[day] = true
				bh.Closed = append(bh.Closed, day)
			}
		}
		var w timeslots.Weekly
		for wd := range 7 {
			w[wd] = randRanges()
		}
		off := []timeslots.Date{d("2026-01-01").AddDays(r.IntN(730)), d("2026-01-01").AddDays(r.IntN(730))}
		prov := timeslots.Provider("p")
		cal := timeslots.NewCalendar(zone, bh, []timeslots.WorkingHours{{Owner: prov, Custom: true, Weekly: w, DaysOff: off}}, 2026, 2027)
		for day := d("2026-01-01"); day.Year < 2028; day = day.AddDays(1) {
			biz := cal.OpenRanges(day, timeslots.Business())
			mine := cal.OpenRanges(day, prov)
			for _, rs := range [][]timeslots.Range{biz, mine} {
				for i, x := range rs {
					if x.Start < 0 || x.End > timeslots.EndOfDay || x.Start >= x.End || (i > 0 && rs[i-1].End >= x.Start) {
						t.Fatalf("round %d %s: ranges not sorted and apart: %v", round, day, rs)
					}
				}
			}
			for _, x := range mine {
				if !slices.ContainsFunc(biz, func(b timeslots.Range) bool { return b.Start <= x.Start && x.End <= b.End }) {
					t.Fatalf("round %d %s: provider range %v outside the business's %v", round, day, x, biz)
				}
			}
			if closed[day] && len(biz) > 0 {
				t.Fatalf("round %d %s: a closed date is open: %v", round, day, biz)
			}
			if slices.Contains(off, day) && len(mine) > 0 {
				t.Fatalf("round %d %s: a day off is open: %v", round, day, mine)
			}
			if _, hol := timeslots.HolidayOn(day); hol && bh.HolidayHours && len(bh.Holiday) == 0 && len(biz) > 0 {
				t.Fatalf("round %d %s: a holiday without hours is open", round, day)
			}
			spans := cal.Open(day, timeslots.Business())
			if len(spans) != len(biz) {
				t.Fatalf("round %d %s: %d spans for %d ranges", round, day, len(spans), len(biz))
			}
			for i, s := range spans {
				if got := s.End.Sub(s.Start); got != time.Duration(biz[i].End-biz[i].Start)*time.Minute {
					t.Fatalf("round %d %s: span %v lasts %v for %v", round, day, s, got, biz[i])
				}
			}
		}
	}
}

// Ranges are civil times in the tenant's zone; on the days the clocks
// change, converting them to instants follows the rules of Span.
func TestDaylightSaving(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	ny, london := load("America/New_York"), load("Europe/London")
	utc := func(s string) time.Time {
		x, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name   string
		zone   *time.Location
		day    string
		ranges []string
		want   [][2]string // UTC
	}{
		{"NY ordinary day (EST, -5)", ny, "2026-03-07", []string{"09:00-17:00"}, [][2]string{{"2026-03-07T14:00:00Z", "2026-03-07T22:00:00Z"}}},
		{"NY spring forward: EDT from 03:00, a day of 23 hours", ny, "2026-03-08", []string{"09:00-17:00"}, [][2]string{{"2026-03-08T13:00:00Z", "2026-03-08T21:00:00Z"}}},
		{"NY spring forward: 01:00-03:00 lasts one hour", ny, "2026-03-08", []string{"01:00-03:00"}, [][2]string{{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"}}},
		{"NY spring forward: 02:30 does not exist and starts at 03:00 EDT", ny, "2026-03-08", []string{"02:30-04:00"}, [][2]string{{"2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}}},
		{"NY spring forward: a range inside the gap is dropped", ny, "2026-03-08", []string{"02:00-02:45", "10:00-11:00"}, [][2]string{{"2026-03-08T14:00:00Z", "2026-03-08T15:00:00Z"}}},
		{"NY spring forward: the whole day is 23 hours", ny, "2026-03-08", []string{"00:00-24:00"}, [][2]string{{"2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"}}},
		{"NY fall back: EST from 02:00 EDT", ny, "2026-11-01", []string{"09:00-17:00"}, [][2]string{{"2026-11-01T14:00:00Z", "2026-11-01T22:00:00Z"}}},
		{"NY fall back: 01:00-02:00 spans the repeated hour (two hours)", ny, "2026-11-01", []string{"01:00-02:00"}, [][2]string{{"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z"}}},
		{"NY fall back: 01:30 is its first occurrence (EDT)", ny, "2026-11-01", []string{"00:00-01:30"}, [][2]string{{"2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"}}},
		{"NY fall back: the whole day is 25 hours", ny, "2026-11-01", []string{"00:00-24:00"}, [][2]string{{"2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}}},
		{"London spring forward: BST from 02:00 (01:00 GMT)", london, "2026-03-29", []string{"09:00-17:00", "00:30-01:30"}, [][2]string{{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"}, {"2026-03-29T08:00:00Z", "2026-03-29T16:00:00Z"}}},
		{"London the day before (GMT)", london, "2026-03-28", []string{"09:00-17:00"}, [][2]string{{"2026-03-28T09:00:00Z", "2026-03-28T17:00:00Z"}}},
		{"London fall back: GMT from 02:00 BST", london, "2026-10-25", []string{"09:00-17:00"}, [][2]string{{"2026-10-25T09:00:00Z", "2026-10-25T17:00:00Z"}}},
		{"London fall back: 01:00-02:00 spans the repeated hour", london, "2026-10-25", []string{"01:00-02:00"}, [][2]string{{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"}}},
		{"London the day before (BST)", london, "2026-10-24", []string{"09:00-17:00"}, [][2]string{{"2026-10-24T08:00:00Z", "2026-10-24T16:00:00Z"}}},
	}
	for _, tt := range tests {
		var rs []timeslots.Range
		for _, s := range tt.ranges {
			rs = append(rs, rg(s))
		}
		slices.SortFunc(rs, func(a, b timeslots.Range) int { return int(a.Start - b.Start) })
		got := timeslots.Spans(d(tt.day), rs, tt.zone)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i, s := range got {
			if !s.Start.Equal(utc(tt.want[i][0])) || !s.End.Equal(utc(tt.want[i][1])) {
				t.Errorf("%s: span %d = %s–%s, want %s–%s", tt.name, i, s.Start.UTC().Format(time.RFC3339),
					s.End.UTC().Format(time.RFC3339), tt.want[i][0], tt.want[i][1])
			}
			if s.Start.Location() != tt.zone {
				t.Errorf("%s: span in %v, want the tenant's zone", tt.name, s.Start.Location())
			}
		}
	}
	// 02:30 on the spring-forward day is the moment of the jump; on the
	// fall-back day, 01:30 is the first of its two occurrences.
	if got := timeslots.Instant(d("2026-03-08"), 150, ny); got.Format(time.RFC3339) != "2026-03-08T03:00:00-04:00" {
		t.Errorf("02:30 on 2026-03-08 in New York = %s", got.Format(time.RFC3339))
	}
	if got := timeslots.Instant(d("2026-11-01"), 90, ny); got.Format(time.RFC3339) != "2026-11-01T01:30:00-04:00" {
		t.Errorf("01:30 on 2026-11-01 in New York = %s", got.Format(time.RFC3339))
	}
	if got := timeslots.Instant(d("2026-03-29"), 60, london); got.Format(time.RFC3339) != "2026-03-29T02:00:00+01:00" {
		t.Errorf("01:00 on 2026-03-29 in London = %s", got.Format(time.RFC3339))
	}
	// A calendar in New York: 2026-03-08 is a Sunday with the usual hours.
	var w timeslots.Weekly
	w[time.Sunday] = rgs("01:00-04:00")
	cal := timeslots.NewCalendar(ny, timeslots.BusinessHours{Weekly: w}, nil, 2026)
	spans := cal.Open(d("2026-03-08"), timeslots.Business())
	if len(spans) != 1 || spans[0].End.Sub(spans[0].Start) != 2*time.Hour {
		t.Errorf("01:00-04:00 on the spring-forward Sunday: %v, want 2 hours", spans)
	}
	spans = cal.Open(d("2026-11-01"), timeslots.Business())
	if len(spans) != 1 || spans[0].End.Sub(spans[0].Start) != 4*time.Hour {
		t.Errorf("01:00-04:00 on the fall-back Sunday: %v, want 4 hours", spans)
	}
}

func TestParseMinute(t *testing.T) {
	for s, want := range map[string]int{"00:00": 0, "09:05": 545, "23:59": 1439, "24:00": 1440} {
		if m, ok := timeslots.ParseMinute(s); !ok || int(m) != want {
			t.Errorf("ParseMinute(%q) = %d %v", s, m, ok)
		}
	}
	for _, s := range []string{"24:30", "24:01", "9:00", "09:60", "25:00", "0900", "09:00 ", "-1:00", "ab:cd", ""} {
		if _, ok := timeslots.ParseMinute(s); ok {
			t.Errorf("ParseMinute(%q) accepted", s)
		}
	}
}
