package timeslots_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// ---- The engine alone: random calendars, menus, blocks, occupancy ----

// avScenario is one random question for HoursAvailability, with what it
// was built from (so that the oracle re-derives the answer on its own).
type avScenario struct {
	zone   *time.Location
	bh     timeslots.BusinessHours
	owners map[timeslots.Owner]timeslots.WorkingHours
	cal    *timeslots.Calendar
	p      timeslots.HoursParams
}

func avLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// avRanges returns up to n random sorted, apart ranges of a day on a grid
// of step minutes (touching ranges allowed).
func avRanges(r *rand.Rand, n int, step int) []timeslots.Range {
	k := r.IntN(n + 1)
	if k == 0 {
		return nil
	}
	cuts := map[int]bool{}
	for len(cuts) < 2*k {
		cuts[r.IntN(1440/step+1)*step] = true
	}
	ms := slices.Sorted(func(yield func(int) bool) {
		for m := range cuts {
			if !yield(m) {
				return
			}
		}
	})
	var out []timeslots.Range
	for i := 0; i+1 < len(ms); i += 2 {
		out = append(out, timeslots.Range{Start: timeslots.Minute(ms[i]), End: timeslots.Minute(ms[i+1])})
	}
	if r.IntN(4) == 0 && len(out) > 1 && out[0].End < out[1].Start { // touching ranges now and then
		out[0].End = out[1].Start
	}
	return out
}

// Days near the 2026 changes of New York (03-08, 11-01) and London (03-29,
// 10-25), and ordinary ones with Japanese holidays.
var avBases = []string{"2026-03-06", "2026-03-27", "2026-10-23", "2026-10-30", "2026-04-28", "2026-09-19", "2026-12-28"}

func avRandom(t testing.TB, r *rand.Rand) avScenario {
	zones := []string{"America/New_York", "Europe/London", "Asia/Tokyo"}
	sc := avScenario{zone: avLoc(t, zones[r.IntN(len(zones))]), owners: map[timeslots.Owner]timeslots.WorkingHours{}}
	step := []int{5, 15, 30, 60}[r.IntN(4)]
	from := d(avBases[r.IntN(len(avBases))]).AddDays(r.IntN(3) - 1)
	to := from.AddDays(r.IntN(8))
	for wd := range 7 {
		sc.bh.Weekly[wd] = avRanges(r, 3, step)
	}
	if r.IntN(2) == 0 {
		sc.bh.HolidayHours = true
		sc.bh.Holiday = avRanges(r, 2, step)
	}
	for day := from.AddDays(-3); !day.After(to); day = day.AddDays(1) {
		switch x := r.IntN(10); {
		case x == 0:
			sc.bh.Closed = append(sc.bh.Closed, day)
		case x == 1:
			if rs := avRanges(r, 2, step); len(rs) > 0 {
				sc.bh.Special = append(sc.bh.Special, timeslots.SpecialDate{Date: day, Ranges: rs})
			}
		}
	}
	var whs []timeslots.WorkingHours
	var provs []string
	for i := range r.IntN(4) {
		id := fmt.Sprintf("p%d", i)
		provs = append(provs, id)
		wh := timeslots.WorkingHours{Owner: timeslots.Provider(id), Custom: r.IntN(2) == 0}
		if wh.Custom {
			for wd := range 7 {
				wh.Weekly[wd] = avRanges(r, 2, step)
			}
		}
		for day := from; !day.After(to); day = day.AddDays(1) {
			if r.IntN(8) == 0 {
				wh.DaysOff = append(wh.DaysOff, day)
			}
		}
		whs = append(whs, wh)
	}
	var needs []timeslots.ResourceNeed
	for i := range r.IntN(3) {
		id := fmt.Sprintf("r%d", i)
		q := 1 + r.IntN(3)
		needs = append(needs, timeslots.ResourceNeed{ID: id, Quantity: q, Need: 1 + r.IntN(q)})
		wh := timeslots.WorkingHours{Owner: timeslots.Resource(id), Custom: r.IntN(3) == 0}
		if wh.Custom {
			for wd := range 7 {
				wh.Weekly[wd] = avRanges(r, 2, step)
			}
		}
		whs = append(whs, wh)
	}
	for _, wh := range whs {
		sc.owners[wh.Owner] = wh
	}
	sc.cal = timeslots.NewCalendar(sc.zone, sc.bh, whs, from.Year)
	capacity := 1 + r.IntN(4)
	start := timeslots.Instant(from, 0, sc.zone)
	span := timeslots.Instant(to.AddDays(1), 0, sc.zone).Sub(start)
	var taken []timeslots.Taken
	for range r.IntN(60) {
		s := start.Add(time.Duration(r.Int64N(int64(span/time.Minute)))*time.Minute - 6*time.Hour)
		tk := timeslots.Taken{Kind: timeslots.OccupancyReservation, StartsAt: s, EndsAt: s.Add(time.Duration(15+r.IntN(300)) * time.Minute)}
		pick := func(ids []string) string {
			if len(ids) == 0 || r.IntN(3) == 0 {
				return ""
			}
			return ids[r.IntN(len(ids))]
		}
		var resIDs []string
		for _, n := range needs {
			resIDs = append(resIDs, n.ID)
		}
		if r.IntN(6) == 0 {
			tk.Kind = timeslots.OccupancyBlock
			if r.IntN(2) == 0 {
				tk.ProviderID = pick(provs)
			} else {
				tk.ResourceID = pick(resIDs)
			}
		} else {
			tk.MenuID = []string{"m", "m", "other"}[r.IntN(3)]
			tk.Seats = 1 + r.IntN(2)
			tk.ProviderID = pick(provs)
			tk.ResourceID = pick(resIDs)
			if tk.ResourceID != "" {
				tk.Quantity = 1 + r.IntN(2)
			}
		}
		taken = append(taken, tk)
	}
	sc.p = timeslots.HoursParams{
		From: from, To: to,
		Window: timeslots.BookingWindow{NotBefore: start.Add(time.Duration(r.IntN(72)-24) * time.Hour),
			LastDay: from.AddDays(r.IntN(10))},
		Duration:  time.Duration(5*(1+r.IntN(48))) * time.Minute,
		Unit:      timeslots.Minute([]int{5, 10, 15, 20, 30, 45, 60}[r.IntN(7)]),
		MenuID:    "m",
		Capacity:  capacity,
		Party:     1 + r.IntN(capacity),
		Providers: provs, Resources: needs, Taken: taken,
	}
	return sc
}

// avDayRanges re-derives the business's ranges of day from the business
// hours, by the rules the calendar documents, as a minute map.
func avDayMinutes(bh timeslots.BusinessHours, day timeslots.Date) [1440]bool {
	var rs []timeslots.Range
	switch {
	case slices.ContainsFunc(bh.Special, func(s timeslots.SpecialDate) bool { return s.Date == day }):
		i := slices.IndexFunc(bh.Special, func(s timeslots.SpecialDate) bool { return s.Date == day })
		rs = bh.Special[i].Ranges
	case slices.Contains(bh.Closed, day):
	default:
		_, holiday := timeslots.HolidayOn(day)
		if bh.HolidayHours && holiday {
			rs = bh.Holiday
		} else {
			rs = bh.Weekly[day.Weekday()]
		}
	}
	var out [1440]bool
	for _, r := range rs {
		for m := r.Start; m < r.End; m++ {
			out[m] = true
		}
	}
	return out
}

// avOwnerMinutes is an owner's minutes of day: the business's, none on a
// day off, cut to its own weekly hours.
func avOwnerMinutes(sc avScenario, o timeslots.Owner, day timeslots.Date) [1440]bool {
	out := avDayMinutes(sc.bh, day)
	wh, ok := sc.owners[o]
	if !ok {
		return out
	}
	if slices.Contains(wh.DaysOff, day) {
		return [1440]bool{}
	}
	if wh.Custom {
		var own [1440]bool
		for _, r := range wh.Weekly[day.Weekday()] {
			for m := r.Start; m < r.End; m++ {
				own[m] = true
			}
		}
		for m := range out {
			out[m] = out[m] && own[m]
		}
	}
	return out
}

// avRangesOf turns a minute map into ranges.
func avRangesOf(ms [1440]bool) []timeslots.Range {
	var out []timeslots.Range
	for m := 0; m < 1440; m++ {
		if !ms[m] {
			continue
		}
		s := m
		for m < 1440 && ms[m] {
			m++
		}
		out = append(out, timeslots.Range{Start: timeslots.Minute(s), End: timeslots.Minute(m)})
	}
	return out
}

func avCovered(day timeslots.Date, ms [1440]bool, zone *time.Location, s, e time.Time) bool {
	for _, sp := range timeslots.Spans(day, avRangesOf(ms), zone) {
		if !s.Before(sp.Start) && !e.After(sp.End) {
			return true
		}
	}
	return false
}

// avPeak is the most held at once during [s, e) by the rows keep picks,
// by brute force over every instant where the sum can change.
func avPeak(taken []timeslots.Taken, s, e time.Time, keep func(timeslots.Taken) (int, bool)) int {
	best := 0
	points := []time.Time{s}
	for _, tk := range taken {
		if tk.StartsAt.After(s) && tk.StartsAt.Before(e) {
			points = append(points, tk.StartsAt)
		}
	}
	for _, x := range points {
		sum := 0
		for _, tk := range taken {
			if n, ok := keep(tk); ok && !x.Before(tk.StartsAt) && x.Before(tk.EndsAt) {
				sum += n
			}
		}
		best = max(best, sum)
	}
	return best
}

func avOverlaps(tk timeslots.Taken, s, e time.Time) bool {
	return tk.StartsAt.Before(e) && tk.EndsAt.After(s)
}

// avOracle lists, by brute force from the scenario's own inputs, the starts
// HoursAvailability must offer.
func avOracle(sc avScenario) []timeslots.AvailableSlot {
	p, zone := sc.p, sc.zone
	out := []timeslots.AvailableSlot{}
	for day := p.From; !day.After(p.To) && !day.After(p.Window.LastDay); day = day.AddDays(1) {
		bm := avDayMinutes(sc.bh, day)
		for _, rg := range avRangesOf(bm) {
			for c := rg.Start; c < rg.End; c += p.Unit {
				// The first instant whose clocks read day c (time.Date may
				// pick either occurrence of a repeated time); none when the
				// clocks skip it.
				guess := time.Date(day.Year, day.Month, day.Day, int(c)/60, int(c)%60, 0, 0, zone)
				var s time.Time
				for _, shift := range []time.Duration{-2 * time.Hour, -time.Hour, -30 * time.Minute, 0, 30 * time.Minute, time.Hour, 2 * time.Hour} {
					x := guess.Add(shift)
					if h, m, _ := x.Clock(); timeslots.DateOf(x) == day && h*60+m == int(c) && (s.IsZero() || x.Before(s)) {
						s = x
					}
				}
				if s.IsZero() {
					continue
				}
				e := s.Add(p.Duration)
				var one [1440]bool
				for m := rg.Start; m < rg.End; m++ {
					one[m] = true
				}
				if s.Before(p.Window.NotBefore) || !avCovered(day, one, zone, s, e) {
					continue
				}
				ok := true
				for _, tk := range p.Taken {
					if tk.Kind == timeslots.OccupancyBlock && tk.ProviderID == "" && tk.ResourceID == "" && avOverlaps(tk, s, e) {
						ok = false
					}
				}
				seats := avPeak(p.Taken, s, e, func(tk timeslots.Taken) (int, bool) { return tk.Seats, tk.MenuID == p.MenuID })
				remaining := p.Capacity - seats
				ok = ok && remaining >= p.Party
				for _, n := range p.Resources {
					if !avCovered(day, avOwnerMinutes(sc, timeslots.Resource(n.ID), day), zone, s, e) {
						ok = false
					}
					for _, tk := range p.Taken {
						if tk.Kind == timeslots.OccupancyBlock && tk.ResourceID == n.ID && avOverlaps(tk, s, e) {
							ok = false
						}
					}
					used := avPeak(p.Taken, s, e, func(tk timeslots.Taken) (int, bool) {
						return tk.Quantity, tk.Kind == timeslots.OccupancyReservation && tk.ResourceID == n.ID
					})
					ok = ok && used+n.Need <= n.Quantity
				}
				if len(p.Providers) > 0 {
					free := false
					for _, id := range p.Providers {
						busy := slices.ContainsFunc(p.Taken, func(tk timeslots.Taken) bool { return tk.ProviderID == id && avOverlaps(tk, s, e) })
						if !busy && avCovered(day, avOwnerMinutes(sc, timeslots.Provider(id), day), zone, s, e) {
							free = true
						}
					}
					ok = ok && free
				}
				if ok {
					out = append(out, timeslots.AvailableSlot{StartsAt: s, EndsAt: e, Remaining: remaining})
				}
			}
		}
	}
	return out
}

func avSlotString(zone *time.Location, s timeslots.AvailableSlot) string {
	return fmt.Sprintf("%s–%s r%d %s", s.StartsAt.In(zone).Format(time.RFC3339), s.EndsAt.In(zone).Format(time.RFC3339), s.Remaining, s.SlotID)
}

// Over many random calendars, menus, blocks and occupancies, the engine
// offers exactly what the rules allow: every start lies in business hours
// (not in a break, on a closed day, or a holiday without hours), on the
// unit grid from its open range's start, a real local time and once; the
// booking with its duration fits inside one open range; a provider and
// the resources are free and working; seats left are at least the party
// and never negative; the booking window is kept.
func TestHoursAvailabilityProperties(t *testing.T) {
	offered := 0
	for seed := range uint64(600) {
		r := rand.New(rand.NewPCG(seed, 20261128))
		sc := avRandom(t, r)
		got := timeslots.HoursAvailability(sc.cal, sc.p)
		offered += len(got)
		for i, s := range got {
			day := timeslots.DateOf(s.StartsAt.In(sc.zone))
			h, m, _ := s.StartsAt.In(sc.zone).Clock()
			bm := avDayMinutes(sc.bh, day)
			switch {
			case s.StartsAt.Location().String() != sc.zone.String():
				t.Fatalf("seed %d: %s not in the tenant's zone", seed, avSlotString(sc.zone, s))
			case !bm[h*60+m]:
				t.Fatalf("seed %d: %s starts outside business hours (break, closed day or holiday)", seed, avSlotString(sc.zone, s))
			case s.EndsAt.Sub(s.StartsAt) != sc.p.Duration:
				t.Fatalf("seed %d: %s does not last %s", seed, avSlotString(sc.zone, s), sc.p.Duration)
			case s.Remaining < sc.p.Party || s.Remaining < 0 || s.Remaining > sc.p.Capacity:
				t.Fatalf("seed %d: %s remaining out of bounds (party %d)", seed, avSlotString(sc.zone, s), sc.p.Party)
			case s.StartsAt.Before(sc.p.Window.NotBefore) || day.After(sc.p.Window.LastDay) || day.Before(sc.p.From) || day.After(sc.p.To):
				t.Fatalf("seed %d: %s outside the window or the days asked", seed, avSlotString(sc.zone, s))
			case i > 0 && !got[i-1].StartsAt.Before(s.StartsAt):
				t.Fatalf("seed %d: %s not after the previous start", seed, avSlotString(sc.zone, s))
			}
		}
		want := avOracle(sc)
		if len(got) != len(want) || !slices.EqualFunc(got, want, func(a, b timeslots.AvailableSlot) bool {
			return a.StartsAt.Equal(b.StartsAt) && a.EndsAt.Equal(b.EndsAt) && a.Remaining == b.Remaining
		}) {
			var g, w []string
			for _, s := range got {
				g = append(g, avSlotString(sc.zone, s))
			}
			for _, s := range want {
				w = append(w, avSlotString(sc.zone, s))
			}
			t.Fatalf("seed %d (%s, %s..%s, unit %d, %s): engine and oracle differ\nengine:\n%s\noracle:\n%s", seed, sc.zone,
				sc.p.From, sc.p.To, sc.p.Unit, sc.p.Duration, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}
	if offered < 1000 {
		t.Fatalf("only %d starts offered over all scenarios: the generator is too strict to test much", offered)
	}
}

// ---- Daylight saving ----

func avLabels(slots []timeslots.AvailableSlot) []string {
	var out []string
	for _, s := range slots {
		out = append(out, s.StartsAt.Format("15:04-07:00"))
	}
	return out
}

// Across both 2026 changes in New York and London, the starts offered are
// real local times, each once, with their right offsets; bookings last
// their elapsed duration, and a range across the repeated hour lasts it.
func TestHoursAvailabilityDST(t *testing.T) {
	tests := []struct {
		zone, day string
		hours     string // the day's business hours
		want      []string
	}{
		// 02:00 → 03:00: 02:00 and 02:30 do not exist; 01:30 EST + 60 min
		// ends at 03:30 EDT, within 00:00–04:00 (three hours long).
		{"America/New_York", "2026-03-08", "00:00-04:00", []string{"00:00-05:00", "00:30-05:00", "01:00-05:00", "01:30-05:00", "03:00-04:00"}},
		// 02:00 → 01:00: 01:00 and 01:30 once (EDT); the range is 5 hours
		// long, so 02:30 EST still fits.
		{"America/New_York", "2026-11-01", "00:00-04:00", []string{"00:00-04:00", "00:30-04:00", "01:00-04:00", "01:30-04:00", "02:00-05:00", "02:30-05:00", "03:00-05:00"}},
		// 01:00 → 02:00 (GMT → BST).
		// 00:30 GMT + 60 min is 02:30 BST, before the 03:00 end.
		{"Europe/London", "2026-03-29", "00:00-03:00", []string{"00:00+00:00", "00:30+00:00", "02:00+01:00"}},
		// 02:00 → 01:00 (BST → GMT).
		{"Europe/London", "2026-10-25", "00:00-03:00", []string{"00:00+01:00", "00:30+01:00", "01:00+01:00", "01:30+01:00", "02:00+00:00"}},
	}
	for _, tt := range tests {
		zone := avLoc(t, tt.zone)
		var bh timeslots.BusinessHours
		for wd := range 7 {
			bh.Weekly[wd] = rgs(tt.hours)
		}
		day := d(tt.day)
		cal := timeslots.NewCalendar(zone, bh, nil, 2026)
		got := timeslots.HoursAvailability(cal, timeslots.HoursParams{From: day, To: day,
			Window:   timeslots.BookingWindow{LastDay: day.AddDays(1)},
			Duration: time.Hour, Unit: 30, MenuID: "m", Capacity: 1, Party: 1})
		if !slices.Equal(avLabels(got), tt.want) {
			t.Errorf("%s %s: %v, want %v", tt.zone, tt.day, avLabels(got), tt.want)
		}
		for _, s := range got {
			if s.EndsAt.Sub(s.StartsAt) != time.Hour {
				t.Errorf("%s %s: %s lasts %s", tt.zone, tt.day, s.StartsAt, s.EndsAt.Sub(s.StartsAt))
			}
		}
	}
}

// ---- With a database ----

type avEnv struct {
	db    *bun.DB
	svc   *timeslots.Service
	menus *menus.Service
	ctx   context.Context
	zone  *time.Location
	now   time.Time

	aya, ken, chair string // providers; a resource with 2 units
	cut, yoga       string // an hours menu (60 min, 2 seats, aya or ken, 1 chair, option +30); a timetable menu
	shampoo         string // the cut's option
}

func newAvEnv(t testing.TB, db *bun.DB, zoneName string, now time.Time) *avEnv {
	t.Helper()
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{
		Actor: auditlog.Actor{Kind: auditlog.ActorStaff, ID: "st1", Name: "hanako@example.jp", Role: "owner"}, RequestID: "req-av"})
	if _, err := dbx.Migrate(ctx, db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	ms := menus.NewService(menus.Config{Now: clock})
	exists := func(get func(context.Context, bun.IDB, string) error) timeslots.ExistsFunc {
		return func(ctx context.Context, db bun.IDB, id string) (bool, error) {
			err := get(ctx, db, id)
			if errors.Is(err, menus.ErrProviderNotFound) || errors.Is(err, menus.ErrResourceNotFound) {
				return false, nil
			}
			return err == nil, err
		}
	}
	svc := timeslots.NewService(timeslots.Config{Now: clock, Menus: ms,
		ProviderExists: exists(func(ctx context.Context, db bun.IDB, id string) error {
			_, err := ms.GetProvider(ctx, db, id)
			return err
		}),
		ResourceExists: exists(func(ctx context.Context, db bun.IDB, id string) error {
			_, err := ms.GetResource(ctx, db, id)
			return err
		}),
	})
	e := &avEnv{db: db, svc: svc, menus: ms, ctx: ctx, zone: avLoc(t, zoneName), now: now}
	must := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	p, err := ms.CreateProvider(ctx, db, menus.ProviderInput{Name: "綾", Active: true})
	e.aya = must(p.ID, err)
	p, err = ms.CreateProvider(ctx, db, menus.ProviderInput{Name: "健", Active: true})
	e.ken = must(p.ID, err)
	r, err := ms.CreateResource(ctx, db, menus.ResourceInput{Name: "セット面", Quantity: 2, Active: true})
	e.chair = must(r.ID, err)
	m, err := ms.CreateMenu(ctx, db, menus.MenuInput{NameJA: "カット", DurationMinutes: 60, Capacity: 2, PartyMax: 1,
		BookingMode: menus.ModeHours, ProviderIDs: []string{e.aya, e.ken},
		Resources: []menus.ResourceNeed{{ResourceID: e.chair, Quantity: 1}},
		Options:   []menus.OptionInput{{NameJA: "シャンプー", ExtraMinutes: 30}},
		Rules:     &menus.Rules{OpensDaysBefore: 60, MaxPerMemberPeriod: menus.PeriodMonth}})
	e.cut = must(m.ID, err)
	m, _ = ms.Get(ctx, db, e.cut)
	e.shampoo = m.Options[0].ID
	m, err = ms.CreateMenu(ctx, db, menus.MenuInput{NameJA: "ヨガ", DurationMinutes: 60, Capacity: 10, BookingMode: menus.ModeTimetable,
		Rules: &menus.Rules{OpensDaysBefore: 60, MaxPerMemberPeriod: menus.PeriodMonth}})
	e.yoga = must(m.ID, err)
	return e
}

// salonWeek: 10:00–13:00 and 14:00–18:00 Tuesday to Sunday, Monday closed.
func (e *avEnv) salonWeek(t testing.TB) {
	t.Helper()
	week := map[string][]timeslots.RangeInput{}
	for _, k := range []string{"tue", "wed", "thu", "fri", "sat", "sun"} {
		week[k] = ris("10:00-13:00", "14:00-18:00")
	}
	if _, err := e.svc.SaveBusinessHours(e.ctx, e.db, timeslots.BusinessHoursInput{Weekly: week}); err != nil {
		t.Fatal(err)
	}
}

func (e *avEnv) occupy(t testing.TB, o timeslots.Occupancy) {
	t.Helper()
	if err := e.db.RunInTx(e.ctx, nil, func(ctx context.Context, tx bun.Tx) error { return timeslots.Occupy(ctx, tx, o) }); err != nil {
		t.Fatal(err)
	}
}

func (e *avEnv) avail(t *testing.T, q timeslots.AvailabilityQuery) []string {
	t.Helper()
	q.Zone = e.zone
	a, err := e.svc.Availability(e.ctx, e.db, q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range a.Slots {
		out = append(out, fmt.Sprintf("%s-%s/%d", s.StartsAt.Format("01-02 15:04"), s.EndsAt.Format("15:04"), s.Remaining))
	}
	return out
}

func at(zone *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, zone)
	if err != nil {
		panic(err)
	}
	return t
}

// An hours menu on both engines: starts cut from the hours around the
// lunch break, options lengthen it, reservations take seats, providers and
// chairs, blocks take time, and the engine's answer equals the pure one
// computed from the same calendar and occupancy.
func TestAvailabilityHoursWithDB(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		zone := avLoc(t, "Asia/Tokyo")
		e := newAvEnv(t, db, "Asia/Tokyo", at(zone, "2026-12-01 09:00"))
		e.salonWeek(t)
		tue := d("2026-12-08")
		q := timeslots.AvailabilityQuery{MenuID: e.cut, From: tue, To: tue}
		all := e.avail(t, q)
		want := []string{"12-08 10:00-11:00/2", "12-08 10:30-11:30/2", "12-08 11:00-12:00/2", "12-08 11:30-12:30/2", "12-08 12:00-13:00/2",
			"12-08 14:00-15:00/2", "12-08 14:30-15:30/2", "12-08 15:00-16:00/2", "12-08 15:30-16:30/2", "12-08 16:00-17:00/2",
			"12-08 16:30-17:30/2", "12-08 17:00-18:00/2"}
		if !slices.Equal(all, want) {
			t.Fatalf("an empty Tuesday:\n%v\nwant\n%v", all, want)
		}
		// Monday is closed; the shampoo makes it 90 minutes.
		q.From, q.OptionIDs = d("2026-12-07"), []string{e.shampoo}
		if got := e.avail(t, q); len(got) != 10 || got[0] != "12-08 10:00-11:30/2" || got[3] != "12-08 11:30-13:00/2" || got[4] != "12-08 14:00-15:30/2" {
			t.Fatalf("with the shampoo: %v", got)
		}
		q.From, q.OptionIDs = tue, nil

		// Aya takes 10:00–11:00 for this menu (one seat, one chair); Ken
		// is off on Tuesdays; the business is blocked 16:00–17:00.
		e.occupy(t, timeslots.Occupancy{Kind: timeslots.OccupancyReservation, RefID: "rsv1", MenuID: e.cut, Seats: 1,
			ProviderID: e.aya, StartsAt: at(zone, "2026-12-08 10:00"), EndsAt: at(zone, "2026-12-08 11:00"),
			Resources: []timeslots.ResourceUse{{ResourceID: e.chair, Quantity: 1}}})
		if _, err := e.svc.SaveWorkingHours(e.ctx, db, timeslots.Provider(e.ken), timeslots.WorkingHoursInput{DaysOff: []string{"2026-12-08"}}); err != nil {
			t.Fatal(err)
		}
		b, err := e.svc.CreateBlock(e.ctx, db, timeslots.BlockInput{StartsAt: "2026-12-08T16:00:00+09:00", EndsAt: "2026-12-08T17:00:00+09:00", Reason: "研修"})
		if err != nil {
			t.Fatal(err)
		}
		got := e.avail(t, q)
		want = []string{"12-08 11:00-12:00/2", "12-08 11:30-12:30/2", "12-08 12:00-13:00/2",
			"12-08 14:00-15:00/2", "12-08 14:30-15:30/2", "12-08 15:00-16:00/2", "12-08 17:00-18:00/2"}
		if !slices.Equal(got, want) {
			t.Fatalf("with a reservation, a day off and a block:\n%v\nwant\n%v", got, want)
		}
		// Ken asked for by name: off all day.
		q.ProviderID = e.ken
		if got := e.avail(t, q); len(got) != 0 {
			t.Fatalf("Ken on his day off: %v", got)
		}
		q.ProviderID = ""
		// Without Ken's day off, seats and the chair limit 10:00.
		if _, err := e.svc.SaveWorkingHours(e.ctx, db, timeslots.Provider(e.ken), timeslots.WorkingHoursInput{}); err != nil {
			t.Fatal(err)
		}
		if got := e.avail(t, q); got[0] != "12-08 10:00-11:00/1" || got[1] != "12-08 10:30-11:30/1" || got[2] != "12-08 11:00-12:00/2" {
			t.Fatalf("Ken back: %v", got)
		}
		// A second chair taken by another menu 10:00–10:30: no chair left
		// for 10:00, 10:30 still has one.
		e.occupy(t, timeslots.Occupancy{Kind: timeslots.OccupancyReservation, RefID: "rsv2", MenuID: "other", Seats: 1,
			StartsAt: at(zone, "2026-12-08 10:00"), EndsAt: at(zone, "2026-12-08 10:30"),
			Resources: []timeslots.ResourceUse{{ResourceID: e.chair, Quantity: 1}}})
		if got := e.avail(t, q); got[0] != "12-08 10:30-11:30/1" {
			t.Fatalf("both chairs taken at 10:00: %v", got)
		}
		// Releasing gives the time back; deleting the block too.
		for _, ref := range []string{"rsv1", "rsv2"} {
			if ok, err := timeslots.Release(e.ctx, db, timeslots.OccupancyReservation, ref); err != nil || !ok {
				t.Fatalf("release %s: %v %v", ref, ok, err)
			}
		}
		if err := e.svc.DeleteBlock(e.ctx, db, b.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.avail(t, q); !slices.Equal(got, all) {
			t.Fatalf("all released: %v", got)
		}

		// The same answer as the pure engine over the same inputs, for a
		// busy fortnight.
		r := rand.New(rand.NewPCG(7, 7))
		var taken []timeslots.Taken
		for i := range 80 {
			s := at(zone, "2026-12-08 10:00").Add(time.Duration(r.IntN(14*24*4)) * 15 * time.Minute)
			o := timeslots.Occupancy{Kind: timeslots.OccupancyReservation, RefID: fmt.Sprintf("r%d", i), MenuID: e.cut, Seats: 1,
				ProviderID: []string{e.aya, e.ken, ""}[r.IntN(3)], StartsAt: s, EndsAt: s.Add(time.Duration(30+r.IntN(4)*30) * time.Minute)}
			if r.IntN(2) == 0 {
				o.Resources = []timeslots.ResourceUse{{ResourceID: e.chair, Quantity: 1}}
			}
			e.occupy(t, o)
			taken = append(taken, timeslots.Taken{Kind: o.Kind, StartsAt: o.StartsAt, EndsAt: o.EndsAt, MenuID: o.MenuID, Seats: o.Seats,
				ProviderID: o.ProviderID, ResourceID: e.chairIf(o), Quantity: len(o.Resources)})
		}
		q.To = tue.AddDays(13)
		a, err := e.svc.Availability(e.ctx, db, timeslots.AvailabilityQuery{MenuID: e.cut, Zone: zone, From: q.From, To: q.To})
		if err != nil {
			t.Fatal(err)
		}
		cal, err := e.svc.Load(e.ctx, db, zone, q.From, q.To, timeslots.Provider(e.aya), timeslots.Provider(e.ken), timeslots.Resource(e.chair))
		if err != nil {
			t.Fatal(err)
		}
		pure := timeslots.HoursAvailability(cal, timeslots.HoursParams{From: q.From, To: q.To,
			Window:   timeslots.BookingWindow{NotBefore: e.now, LastDay: d("2026-12-01").AddDays(60)},
			Duration: time.Hour, Unit: 30, MenuID: e.cut, Capacity: 2, Party: 1, Providers: []string{e.aya, e.ken},
			Resources: []timeslots.ResourceNeed{{ID: e.chair, Need: 1, Quantity: 2}}, Taken: taken})
		if len(a.Slots) == 0 || !slices.EqualFunc(a.Slots, pure, func(x, y timeslots.AvailableSlot) bool {
			return x.StartsAt.Equal(y.StartsAt) && x.EndsAt.Equal(y.EndsAt) && x.Remaining == y.Remaining
		}) {
			t.Fatalf("service %d starts, pure engine %d", len(a.Slots), len(pure))
		}
	})
}

func (e *avEnv) chairIf(o timeslots.Occupancy) string {
	if len(o.Resources) > 0 {
		return o.Resources[0].ResourceID
	}
	return ""
}

// Booking rules bound what is offered: closes M minutes before, or N
// business days before; opens N days before.
func TestAvailabilityRules(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		zone := avLoc(t, "Asia/Tokyo")
		e := newAvEnv(t, db, "Asia/Tokyo", at(zone, "2026-12-08 11:10")) // a Tuesday
		e.salonWeek(t)
		set := func(r menus.Rules) {
			t.Helper()
			r.MaxPerMemberPeriod = menus.PeriodMonth
			if _, err := e.menus.UpdateMenu(e.ctx, db, e.cut, menus.MenuPatch{SetRules: true, Rules: &r}); err != nil {
				t.Fatal(err)
			}
		}
		q := timeslots.AvailabilityQuery{MenuID: e.cut, From: d("2026-12-07"), To: d("2026-12-31")}
		set(menus.Rules{OpensDaysBefore: 3, ClosesMinutesBefore: 60})
		got := e.avail(t, q)
		// From 12:10 today (12:30 on the grid) to Friday the 11th.
		// 12:30 + 60 min would overrun the 13:00 break: 14:00 first.
		if got[0] != "12-08 14:00-15:00/2" || !strings.HasPrefix(got[len(got)-1], "12-11 17:00") {
			t.Fatalf("closes 60 min before, opens 3 days before: first %s, last %s", got[0], got[len(got)-1])
		}
		// Two business days before, on Tuesday the 8th: Wednesday and
		// Thursday are the two, so Thursday the 10th is the first day.
		set(menus.Rules{OpensDaysBefore: 30, ClosesInBusinessDays: true, ClosesBusinessDays: 2})
		if got := e.avail(t, q); !strings.HasPrefix(got[0], "12-10 10:00") {
			t.Fatalf("closes 2 business days before: first %s", got[0])
		}
		// OpensDaysBefore 0: today only.
		set(menus.Rules{OpensDaysBefore: 0})
		for _, s := range e.avail(t, q) {
			if !strings.HasPrefix(s, "12-08 ") {
				t.Fatalf("opens on the day: %s offered", s)
			}
		}
	})
}

// Sessions: not closed ones in the range, with remaining seats (0 when
// full, never below) and their ids; the rules apply.
func TestAvailabilitySessions(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		zone := avLoc(t, "Europe/London")
		e := newAvEnv(t, db, "Europe/London", at(zone, "2026-10-20 09:00"))
		cr, err := e.svc.CreateSlots(e.ctx, db, zone, timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-10-21T19:00",
			Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"wed", "sun"}, Count: 4}})
		if err != nil {
			t.Fatal(err)
		}
		if len(cr.Slots) != 4 {
			t.Fatalf("sessions %d", len(cr.Slots))
		}
		// The first is full, the second closed.
		if _, err := db.NewUpdate().Table("timetable_slots").Set("booked = capacity").Where("id = ?", cr.Slots[0].ID).Exec(e.ctx); err != nil {
			t.Fatal(err)
		}
		closed := true
		if _, err := e.svc.UpdateSlot(e.ctx, db, cr.Slots[1].ID, timeslots.SlotPatch{Closed: &closed}); err != nil {
			t.Fatal(err)
		}
		a, err := e.svc.Availability(e.ctx, db, timeslots.AvailabilityQuery{MenuID: e.yoga, Zone: zone, From: d("2026-10-19"), To: d("2026-11-30")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range a.Slots {
			got = append(got, s.StartsAt.Format("2006-01-02T15:04:05-07:00")+"/"+fmt.Sprint(s.Remaining))
			if s.SlotID == "" {
				t.Fatalf("a session without its id: %+v", s)
			}
		}
		// 19:00 BST on the 21st, 19:00 GMT after the change of the 25th.
		want := []string{"2026-10-21T19:00:00+01:00/0", "2026-10-28T19:00:00+00:00/10", "2026-11-01T19:00:00+00:00/10"}
		if !slices.Equal(got, want) || a.Slots[0].SlotID != cr.Slots[0].ID {
			t.Fatalf("sessions %v, want %v", got, want)
		}
		// Opens 8 days before: the 1 November session is not offered yet.
		r := menus.Rules{OpensDaysBefore: 8, MaxPerMemberPeriod: menus.PeriodMonth}
		if _, err := e.menus.UpdateMenu(e.ctx, db, e.yoga, menus.MenuPatch{SetRules: true, Rules: &r}); err != nil {
			t.Fatal(err)
		}
		a, err = e.svc.Availability(e.ctx, db, timeslots.AvailabilityQuery{MenuID: e.yoga, Zone: zone, From: d("2026-10-19"), To: d("2026-11-30")})
		if err != nil || len(a.Slots) != 2 {
			t.Fatalf("opens 8 days before: %+v %v", a.Slots, err)
		}
	})
}

// Bad questions are field errors; unknown, archived and (for the public)
// private menus are not found.
func TestAvailabilityBadInput(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		zone := avLoc(t, "Asia/Tokyo")
		e := newAvEnv(t, db, "Asia/Tokyo", at(zone, "2026-12-01 09:00"))
		day := d("2026-12-08")
		tests := []struct {
			name   string
			q      timeslots.AvailabilityQuery
			fields []string
		}{
			{"to before from", timeslots.AvailabilityQuery{MenuID: e.cut, From: day, To: day.AddDays(-1)}, []string{"to:availability_to_before_from"}},
			{"93 days", timeslots.AvailabilityQuery{MenuID: e.cut, From: day, To: day.AddDays(92)}, []string{"to:availability_range_too_long"}},
			{"ten years", timeslots.AvailabilityQuery{MenuID: e.cut, From: day, To: day.AddDays(3653)}, []string{"to:availability_range_too_long"}},
			{"no dates", timeslots.AvailabilityQuery{MenuID: e.cut}, []string{"from:required", "to:required"}},
			{"unknown option twice and a stranger", timeslots.AvailabilityQuery{MenuID: e.cut, From: day, To: day,
				OptionIDs: []string{e.shampoo, "nope", e.shampoo}, ProviderID: "stranger", Party: 3},
				[]string{"options[1]:catalog_unknown_reference", "options[2]:duplicate", "provider_id:catalog_unknown_reference", "party:range"}},
		}
		for _, tt := range tests {
			tt.q.Zone = zone
			_, err := e.svc.Availability(e.ctx, db, tt.q)
			if got := fieldsOf(err); !slices.Equal(got, tt.fields) {
				t.Errorf("%s: %v (%v), want %v", tt.name, got, err, tt.fields)
			}
		}
		// 92 days is fine.
		if _, err := e.svc.Availability(e.ctx, db, timeslots.AvailabilityQuery{MenuID: e.cut, Zone: zone, From: day, To: day.AddDays(91)}); err != nil {
			t.Fatalf("92 days: %v", err)
		}
		for _, id := range []string{"0123456789abcdef0123456789abcdef", "../x"} {
			if _, err := e.svc.Availability(e.ctx, db, timeslots.AvailabilityQuery{MenuID: id, Zone: zone, From: day, To: day}); !errors.Is(err, menus.ErrMenuNotFound) {
				t.Errorf("menu %q: %v", id, err)
			}
		}
		private := menus.VisibilityPrivate
		if _, err := e.menus.UpdateMenu(e.ctx, db, e.cut, menus.MenuPatch{Visibility: &private}); err != nil {
			t.Fatal(err)
		}
		q := timeslots.AvailabilityQuery{MenuID: e.cut, Zone: zone, From: day, To: day, Public: true}
		if _, err := e.svc.Availability(e.ctx, db, q); !errors.Is(err, menus.ErrMenuNotFound) {
			t.Errorf("a private menu for the public: %v", err)
		}
		q.Public = false
		if _, err := e.svc.Availability(e.ctx, db, q); err != nil {
			t.Errorf("a private menu for staff: %v", err)
		}
		if _, err := e.menus.ArchiveMenu(e.ctx, db, e.cut); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Availability(e.ctx, db, q); !errors.Is(err, menus.ErrMenuNotFound) {
			t.Errorf("an archived menu: %v", err)
		}
	})
}

// ---- Blocks and settings ----

func TestBlocks(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		zone := avLoc(t, "Asia/Tokyo")
		e := newAvEnv(t, db, "Asia/Tokyo", at(zone, "2026-12-01 09:00"))
		bad := []struct {
			name   string
			in     timeslots.BlockInput
			fields []string
		}{
			{"empty", timeslots.BlockInput{}, []string{"starts_at:required", "ends_at:required"}},
			{"not RFC 3339", timeslots.BlockInput{StartsAt: "2026-12-08 10:00", EndsAt: "2026-12-08T25:00:00+09:00"},
				[]string{"starts_at:block_datetime", "ends_at:block_datetime"}},
			{"end before start", timeslots.BlockInput{StartsAt: "2026-12-08T10:00:00+09:00", EndsAt: "2026-12-08T10:00:00+09:00"},
				[]string{"ends_at:block_range_order"}},
			{"too long", timeslots.BlockInput{StartsAt: "2026-12-01T00:00:00+09:00", EndsAt: "2027-01-02T00:00:00+09:00"},
				[]string{"ends_at:block_too_long"}},
			{"strangers and a bad reason", timeslots.BlockInput{StartsAt: "2026-12-08T10:00:00+09:00", EndsAt: "2026-12-08T11:00:00+09:00",
				ProviderID: "nobody", ResourceID: "nothing", Reason: "a\nb"},
				[]string{"reason:nocontrol", "provider_id:catalog_unknown_reference", "resource_id:catalog_unknown_reference"}},
		}
		for _, tt := range bad {
			if _, err := e.svc.CreateBlock(e.ctx, db, tt.in); !slices.Equal(fieldsOf(err), tt.fields) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.fields)
			}
		}
		b, err := e.svc.CreateBlock(e.ctx, db, timeslots.BlockInput{StartsAt: "2026-12-08T10:00:00+09:00", EndsAt: "2026-12-08T12:00:00+09:00",
			ProviderID: e.aya, ResourceID: e.chair, Reason: "研修"})
		if err != nil {
			t.Fatal(err)
		}
		if !b.StartsAt.Equal(at(zone, "2026-12-08 10:00")) || b.ProviderID != e.aya || b.CreatedBy != "hanako@example.jp" {
			t.Fatalf("block %+v", b)
		}
		list, err := e.svc.Blocks(e.ctx, db, zone, d("2026-12-08"), d("2026-12-08"))
		if err != nil || len(list) != 1 || list[0].ID != b.ID || list[0].Reason != "研修" || list[0].ResourceID != e.chair {
			t.Fatalf("list %+v %v", list, err)
		}
		if list, _ := e.svc.Blocks(e.ctx, db, zone, d("2026-12-09"), d("2026-12-31")); len(list) != 0 {
			t.Fatalf("other days: %+v", list)
		}
		if _, err := e.svc.Blocks(e.ctx, db, zone, d("2026-12-09"), d("2027-12-31")); !slices.Equal(fieldsOf(err), []string{"to:availability_range_too_long"}) {
			t.Fatalf("a year of blocks: %v", err)
		}
		if err := e.svc.DeleteBlock(e.ctx, db, b.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteBlock(e.ctx, db, b.ID); !errors.Is(err, timeslots.ErrBlockNotFound) {
			t.Fatalf("deleted twice: %v", err)
		}
		envAudit := &env{db: db, svc: e.svc, ctx: e.ctx}
		if c, dl := auditEntries(t, envAudit, timeslots.AuditBlockCreate), auditEntries(t, envAudit, timeslots.AuditBlockDelete); len(c) != 1 || len(dl) != 1 || c[0].ObjectID != b.ID {
			t.Fatalf("audit: %+v %+v", c, dl)
		}

		// The slot unit: 30 by default, 5–240 in steps of 5, audited.
		if n, err := e.svc.SlotUnit(e.ctx, db); err != nil || n != 30 {
			t.Fatalf("default unit %d %v", n, err)
		}
		for _, n := range []int{0, 7, 300} {
			if _, err := e.svc.SetSlotUnit(e.ctx, db, n); fieldsOf(err) == nil {
				t.Errorf("unit %d taken", n)
			}
		}
		if _, err := e.svc.SetSlotUnit(e.ctx, db, 15); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetSlotUnit(e.ctx, db, 15); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.svc.SlotUnit(e.ctx, db); n != 15 || len(auditEntries(t, envAudit, timeslots.AuditSettingsUpdate)) != 1 {
			t.Fatalf("unit %d, audited %d times", n, len(auditEntries(t, envAudit, timeslots.AuditSettingsUpdate)))
		}
	})
}
