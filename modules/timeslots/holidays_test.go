package timeslots_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// official are the Cabinet Office's lists (内閣府「国民の祝日について」 and its
// syukujitsu.csv) for 2020–2027, written out date by date. The CSV names
// both 振替休日 and 国民の休日 "休日"; we name them apart.
var official = map[int]string{
	2020: `
2020-01-01 元日
2020-01-13 成人の日
2020-02-11 建国記念の日
2020-02-23 天皇誕生日
2020-02-24 振替休日
2020-03-20 春分の日
2020-04-29 昭和の日
2020-05-03 憲法記念日
2020-05-04 みどりの日
2020-05-05 こどもの日
2020-05-06 振替休日
2020-07-23 海の日
2020-07-24 スポーツの日
2020-08-10 山の日
2020-09-21 敬老の日
2020-09-22 秋分の日
2020-11-03 文化の日
2020-11-23 勤労感謝の日`,
	2021: `
2021-01-01 元日
2021-01-11 成人の日
2021-02-11 建国記念の日
2021-02-23 天皇誕生日
2021-03-20 春分の日
2021-04-29 昭和の日
2021-05-03 憲法記念日
2021-05-04 みどりの日
2021-05-05 こどもの日
2021-07-22 海の日
2021-07-23 スポーツの日
2021-08-08 山の日
2021-08-09 振替休日
2021-09-20 敬老の日
2021-09-23 秋分の日
2021-11-03 文化の日
2021-11-23 勤労感謝の日`,
	2022: `
2022-01-01 元日
2022-01-10 成人の日
2022-02-11 建国記念の日
2022-02-23 天皇誕生日
2022-03-21 春分の日
2022-04-29 昭和の日
2022-05-03 憲法記念日
2022-05-04 みどりの日
2022-05-05 こどもの日
2022-07-18 海の日
2022-08-11 山の日
2022-09-19 敬老の日
2022-09-23 秋分の日
2022-10-10 スポーツの日
2022-11-03 文化の日
2022-11-23 勤労感謝の日`,
	2023: `
2023-01-01 元日
2023-01-02 振替休日
2023-01-09 成人の日
2023-02-11 建国記念の日
2023-02-23 天皇誕生日
2023-03-21 春分の日
2023-04-29 昭和の日
2023-05-03 憲法記念日
2023-05-04 みどりの日
2023-05-05 こどもの日
2023-07-17 海の日
2023-08-11 山の日
2023-09-18 敬老の日
2023-09-23 秋分の日
2023-10-09 スポーツの日
2023-11-03 文化の日
2023-11-23 勤労感謝の日`,
	2024: `
2024-01-01 元日
2024-01-08 成人の日
2024-02-11 建国記念の日
2024-02-12 振替休日
2024-02-23 天皇誕生日
2024-03-20 春分の日
2024-04-29 昭和の日
2024-05-03 憲法記念日
2024-05-04 みどりの日
2024-05-05 こどもの日
2024-05-06 振替休日
2024-07-15 海の日
2024-08-11 山の日
2024-08-12 振替休日
2024-09-16 敬老の日
2024-09-22 秋分の日
2024-09-23 振替休日
2024-10-14 スポーツの日
2024-11-03 文化の日
2024-11-04 振替休日
2024-11-23 勤労感謝の日`,
	2025: `
2025-01-01 元日
2025-01-13 成人の日
2025-02-11 建国記念の日
2025-02-23 天皇誕生日
2025-02-24 振替休日
2025-03-20 春分の日
2025-04-29 昭和の日
2025-05-03 憲法記念日
2025-05-04 みどりの日
2025-05-05 こどもの日
2025-05-06 振替休日
2025-07-21 海の日
2025-08-11 山の日
2025-09-15 敬老の日
2025-09-23 秋分の日
2025-10-13 スポーツの日
2025-11-03 文化の日
2025-11-23 勤労感謝の日
2025-11-24 振替休日`,
	2026: `
2026-01-01 元日
2026-01-12 成人の日
2026-02-11 建国記念の日
2026-02-23 天皇誕生日
2026-03-20 春分の日
2026-04-29 昭和の日
2026-05-03 憲法記念日
2026-05-04 みどりの日
2026-05-05 こどもの日
2026-05-06 振替休日
2026-07-20 海の日
2026-08-11 山の日
2026-09-21 敬老の日
2026-09-22 国民の休日
2026-09-23 秋分の日
2026-10-12 スポーツの日
2026-11-03 文化の日
2026-11-23 勤労感謝の日`,
	2027: `
2027-01-01 元日
2027-01-11 成人の日
2027-02-11 建国記念の日
2027-02-23 天皇誕生日
2027-03-21 春分の日
2027-03-22 振替休日
2027-04-29 昭和の日
2027-05-03 憲法記念日
2027-05-04 みどりの日
2027-05-05 こどもの日
2027-07-19 海の日
2027-08-11 山の日
2027-09-20 敬老の日
2027-09-23 秋分の日
2027-10-11 スポーツの日
2027-11-03 文化の日
2027-11-23 勤労感謝の日`,
}

// officialCounts are the number of days off per year in the lists above,
// counted separately as a check on the tables themselves.
var officialCounts = map[int]int{2020: 18, 2021: 17, 2022: 16, 2023: 17, 2024: 21, 2025: 19, 2026: 18, 2027: 17}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func listed(hs []timeslots.Holiday) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.Date.String()+" "+h.Name)
	}
	return out
}

func TestHolidaysMatchOfficialLists(t *testing.T) {
	for y := 2020; y <= 2027; y++ {
		want := lines(official[y])
		if len(want) != officialCounts[y] {
			t.Fatalf("%d: the test's table has %d days, its count says %d", y, len(want), officialCounts[y])
		}
		got := listed(timeslots.Holidays(y))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%d:\n got %v\nwant %v", y, got, want)
		}
	}
}

func TestHolidayKindsAndEnglishNames(t *testing.T) {
	for y := 2020; y <= 2027; y++ {
		for _, h := range timeslots.Holidays(y) {
			if h.NameEn == "" || h.Name == "" {
				t.Errorf("%s: missing a name: %+v", h.Date, h)
			}
			want := timeslots.HolidayNational
			switch h.Name {
			case "振替休日":
				want = timeslots.HolidaySubstitute
			case "国民の休日":
				want = timeslots.HolidayCitizens
			}
			if h.Kind != want {
				t.Errorf("%s %s: kind %s, want %s", h.Date, h.Name, h.Kind, want)
			}
		}
	}
	h, ok := timeslots.HolidayOn(timeslots.Date{Year: 2026, Month: time.September, Day: 22})
	if !ok || h.NameEn != "Citizens' Holiday" || h.Kind != timeslots.HolidayCitizens {
		t.Errorf("2026-09-22: %+v %v", h, ok)
	}
	if _, ok := timeslots.HolidayOn(timeslots.Date{Year: 2026, Month: time.September, Day: 24}); ok {
		t.Error("2026-09-24 is not a holiday")
	}
}

// Earlier rules: each row is a date and what it was (or "-" for no holiday).
func TestHolidayRulesOverTime(t *testing.T) {
	tests := []struct {
		date, want string
	}{
		{"1948-04-29", "-"},    // before the law (1948-07-20)
		{"1948-09-23", "秋分の日"}, // the first 秋分の日
		{"1948-11-03", "文化の日"},
		{"1949-01-15", "成人の日"},
		{"1949-04-29", "天皇誕生日"},
		{"1959-04-10", "皇太子明仁親王の結婚の儀"},
		{"1966-09-15", "敬老の日"},
		{"1966-10-10", "体育の日"},
		{"1966-02-11", "-"}, // 建国記念の日 from 1967
		{"1967-02-11", "建国記念の日"},
		{"1973-02-12", "-"},    // 2/11 was a Sunday, before 振替休日 existed
		{"1973-04-30", "振替休日"}, // the first 振替休日 (天皇誕生日 on a Sunday)
		{"1979-09-24", "秋分の日"},
		{"1986-05-04", "-"},    // a Sunday between two holidays: no 国民の休日
		{"1987-05-04", "振替休日"}, // 5/3 Sunday
		{"1988-05-04", "国民の休日"},
		{"1988-04-29", "天皇誕生日"},
		{"1988-12-23", "-"},
		{"1989-01-02", "振替休日"}, // 元日 on a Sunday
		{"1989-01-16", "振替休日"},
		{"1989-02-24", "昭和天皇の大喪の礼"},
		{"1989-04-29", "みどりの日"},
		{"1989-05-04", "国民の休日"},
		{"1989-12-23", "天皇誕生日"},
		{"1990-11-12", "即位礼正殿の儀"},
		{"1992-05-04", "振替休日"}, // between two holidays, but a 振替休日 first
		{"1993-06-09", "皇太子徳仁親王の結婚の儀"},
		{"1995-07-20", "-"},
		{"1996-07-20", "海の日"},
		{"1997-05-04", "-"}, // Sunday: no 国民の休日 before 2007, no 振替休日 for it
		{"1999-01-15", "成人の日"},
		{"1999-10-11", "振替休日"}, // 体育の日 10/10 on a Sunday
		{"1999-10-10", "体育の日"},
		{"2000-01-10", "成人の日"}, // Happy Monday
		{"2000-01-15", "-"},
		{"2000-10-09", "体育の日"},
		{"2000-10-10", "-"},
		{"2002-07-20", "海の日"},
		{"2002-09-16", "振替休日"}, // 敬老の日 9/15 Sunday
		{"2003-07-21", "海の日"},
		{"2003-09-15", "敬老の日"},
		{"2006-04-29", "みどりの日"},
		{"2006-05-04", "国民の休日"},
		{"2007-04-29", "昭和の日"},
		{"2007-04-30", "振替休日"},
		{"2007-05-04", "みどりの日"},
		{"2008-05-06", "振替休日"}, // みどりの日 on a Sunday: the next non-holiday
		{"2009-05-06", "振替休日"}, // 憲法記念日 on a Sunday
		{"2009-09-22", "国民の休日"},
		{"2015-09-22", "国民の休日"},
		{"2016-08-11", "山の日"},
		{"2018-12-23", "天皇誕生日"},
		{"2018-12-24", "振替休日"},
		{"2019-02-23", "-"},
		{"2019-04-30", "国民の休日"},
		{"2019-05-01", "即位の日"},
		{"2019-05-02", "国民の休日"},
		{"2019-05-06", "振替休日"},
		{"2019-10-14", "体育の日"},
		{"2019-10-22", "即位礼正殿の儀"},
		{"2019-12-23", "-"},
		{"2020-10-12", "-"}, // moved to 7/24 for the Olympics
		{"2021-10-11", "-"},
		{"2021-07-19", "-"},
		{"2032-09-21", "国民の休日"},
		{"2099-12-31", "-"},
	}
	for _, tt := range tests {
		d, err := timeslots.ParseDate(tt.date)
		if err != nil {
			t.Fatal(err)
		}
		got := "-"
		if h, ok := timeslots.HolidayOn(d); ok {
			got = h.Name
		}
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.date, got, tt.want)
		}
	}
	counts := map[int]int{1989: 17, 2000: 15, 2007: 19, 2019: 22}
	for y, n := range counts {
		if got := len(timeslots.Holidays(y)); got != n {
			t.Errorf("%d: %d holidays %v, want %d", y, got, listed(timeslots.Holidays(y)), n)
		}
	}
	if timeslots.Holidays(1947) != nil || timeslots.Holidays(2100) != nil {
		t.Error("holidays outside 1948–2099")
	}
}

// Invariants of every year: sorted, unique, no 振替休日 or 国民の休日 on a
// Sunday or a 国民の祝日, and every 国民の祝日 on a Sunday (from 1973-04-12)
// has its 振替休日.
func TestHolidayInvariants(t *testing.T) {
	for y := timeslots.FirstHolidayYear; y <= timeslots.LastHolidayYear; y++ {
		hs := timeslots.Holidays(y)
		if len(hs) < 3 || len(hs) > 22 {
			t.Errorf("%d: %d holidays", y, len(hs))
		}
		byDate := map[timeslots.Date]timeslots.Holiday{}
		for i, h := range hs {
			if i > 0 && !hs[i-1].Date.Before(h.Date) {
				t.Errorf("%d: not sorted at %s", y, h.Date)
			}
			if h.Date.Year != y {
				t.Errorf("%d: holds %s", y, h.Date)
			}
			byDate[h.Date] = h
		}
		for _, h := range hs {
			if h.Kind != timeslots.HolidayNational && h.Date.Weekday() == time.Sunday {
				t.Errorf("%s: a %s on a Sunday", h.Date, h.Kind)
			}
			if h.Kind == timeslots.HolidayNational && h.Date.Weekday() == time.Sunday &&
				!h.Date.Before(timeslots.Date{Year: 1973, Month: time.April, Day: 12}) {
				next := h.Date.AddDays(1)
				found := false
				for range 7 {
					n, ok := timeslots.HolidayOn(next)
					if !ok {
						break
					}
					if n.Kind == timeslots.HolidaySubstitute {
						found = true
						break
					}
					next = next.AddDays(1)
				}
				if !found && !(h.Date.Year < 2007 && isNational(h.Date.AddDays(1))) {
					t.Errorf("%s %s on a Sunday has no 振替休日", h.Date, h.Name)
				}
			}
		}
	}
}

func isNational(d timeslots.Date) bool {
	h, ok := timeslots.HolidayOn(d)
	return ok && h.Kind == timeslots.HolidayNational
}

// The approximation formulas give the day on which the equinox falls in
// JST; this checks them against Meeus's algorithm (Astronomical Algorithms,
// ch. 27) for every year, except where the equinox is within 10 minutes of
// midnight and the two methods may honestly differ.
func TestEquinoxFormulasAgreeWithAstronomy(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	compared := 0
	for y := 1948; y <= 2099; y++ {
		for _, tt := range []struct {
			name    string
			instant time.Time
			day     int
		}{
			{"vernal", equinox(y, false), timeslots.VernalEquinoxDay(y)},
			{"autumnal", equinox(y, true), timeslots.AutumnalEquinoxDay(y)},
		} {
			at := tt.instant.In(jst)
			mid := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, jst)
			if d := at.Sub(mid); d < 10*time.Minute || d > 24*time.Hour-10*time.Minute {
				continue
			}
			compared++
			if at.Day() != tt.day {
				t.Errorf("%d %s equinox at %s JST, formula says day %d", y, tt.name, at.Format(time.DateTime), tt.day)
			}
		}
	}
	if compared < 280 {
		t.Errorf("only %d equinoxes compared", compared)
	}
}

// equinox returns the instant of the March (or September) equinox of year
// y by Meeus's method, with ΔT from the Espenak–Meeus polynomials.
func equinox(y int, september bool) time.Time {
	m := (float64(y) - 2000) / 1000
	var jde0 float64
	if september {
		jde0 = 2451810.21715 + 365242.01767*m - 0.11575*m*m + 0.00337*m*m*m + 0.00078*m*m*m*m
	} else {
		jde0 = 2451623.80984 + 365242.37404*m + 0.05169*m*m - 0.00411*m*m*m - 0.00057*m*m*m*m
	}
	t := (jde0 - 2451545.0) / 36525
	w := (35999.373*t - 2.47) * math.Pi / 180
	dl := 1 + 0.0334*math.Cos(w) + 0.0007*math.Cos(2*w)
	terms := [][3]float64{
		{485, 324.96, 1934.136}, {203, 337.23, 32964.467}, {199, 342.08, 20.186}, {182, 27.85, 445267.112},
		{156, 73.14, 45036.886}, {136, 171.52, 22518.443}, {77, 222.54, 65928.934}, {74, 296.72, 3034.906},
		{70, 243.58, 9037.513}, {58, 119.81, 33718.147}, {52, 297.17, 150.678}, {50, 21.02, 2281.226},
		{45, 247.54, 29929.562}, {44, 325.15, 31555.956}, {29, 60.93, 4443.417}, {18, 155.12, 67555.328},
		{17, 288.79, 4562.452}, {16, 198.04, 62894.029}, {14, 199.76, 31436.921}, {12, 95.39, 14577.848},
		{12, 287.11, 31931.756}, {12, 320.81, 34777.259}, {9, 227.73, 1222.114}, {8, 15.45, 16859.074},
	}
	s := 0.0
	for _, c := range terms {
		s += c[0] * math.Cos((c[1]+c[2]*t)*math.Pi/180)
	}
	jde := jde0 + 0.00001*s/dl
	unix := (jde - 2440587.5) * 86400
	return time.Unix(int64(unix), 0).Add(-deltaT(float64(y)))
}

// deltaT is TT − UT for year y (Espenak and Meeus, NASA, 2006).
func deltaT(y float64) time.Duration {
	var s float64
	switch {
	case y < 1961:
		u := y - 1950
		s = 29.07 + 0.407*u - u*u/233 + u*u*u/2547
	case y < 1986:
		u := y - 1975
		s = 45.45 + 1.067*u - u*u/260 - u*u*u/718
	case y < 2005:
		u := y - 2000
		s = 63.86 + 0.3345*u - 0.060374*u*u + 0.0017275*u*u*u + 0.000651814*u*u*u*u + 0.00002373599*u*u*u*u*u
	case y < 2050:
		u := y - 2000
		s = 62.92 + 0.32217*u + 0.005589*u*u
	default:
		s = -20 + 32*((y-1820)/100)*((y-1820)/100) - 0.5628*(2150-y)
	}
	return time.Duration(s * float64(time.Second))
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{"2026-02-30", "2026-13-01", "2026-1-01", "26-01-01", "2026/01/01", "２０２６-01-01", "2026-00-10", "2026-01-00", "", "2026-02-29"} {
		if d, err := timeslots.ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) = %v, want an error", s, d)
		}
	}
	d, err := timeslots.ParseDate("2028-02-29")
	if err != nil || d.String() != "2028-02-29" || d.AddDays(1).String() != "2028-03-01" || d.Weekday() != time.Tuesday {
		t.Errorf("2028-02-29: %v %v", d, err)
	}
	if n := d.DaysUntil(timeslots.Date{Year: 2029, Month: time.February, Day: 28}); n != 365 {
		t.Errorf("DaysUntil = %d", n)
	}
	_ = fmt.Sprint(d)
}
