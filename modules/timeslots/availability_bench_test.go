package timeslots_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// The benchmarks of issue 5: a month of availability for an hours menu
// with 10,000 reservations in that month, and for a timetable of 2,000
// sessions, on every engine (dbtest.NewDB takes a *testing.B; MariaDB runs
// when dbtest can have one). Run with
//
//	go test -run '^$' -bench Availability -benchtime 20x ./modules/timeslots/

var benchNow = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

const (
	benchReservations = 10000
	benchSessions     = 2000
	benchProviders    = 40
)

var benchFrom, benchTo = timeslots.Date{Year: 2026, Month: time.December, Day: 1}, timeslots.Date{Year: 2026, Month: time.December, Day: 31}

// benchSalon is a large salon: open 09:00–21:00 every day, an hours menu
// of 60 minutes with 100 seats served by any of 40 stylists on one of 40
// chairs, and 10,000 reservations of it in December.
type benchSalon struct {
	e         *avEnv
	menu      string
	providers []string
	chairs    string
	taken     []timeslots.Taken
}

func newBenchSalon(b *testing.B, db *bun.DB) *benchSalon {
	b.Helper()
	e := newAvEnv(b, db, "Asia/Tokyo", benchNow)
	week := map[string][]timeslots.RangeInput{}
	for _, k := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		week[k] = ris("09:00-21:00")
	}
	if _, err := e.svc.SaveBusinessHours(e.ctx, db, timeslots.BusinessHoursInput{Weekly: week}); err != nil {
		b.Fatal(err)
	}
	s := &benchSalon{e: e}
	for i := range benchProviders {
		p, err := e.menus.CreateProvider(e.ctx, db, menus.ProviderInput{Name: fmt.Sprintf("stylist %d", i), Active: true})
		if err != nil {
			b.Fatal(err)
		}
		s.providers = append(s.providers, p.ID)
	}
	r, err := e.menus.CreateResource(e.ctx, db, menus.ResourceInput{Name: "chair", Quantity: 40, Active: true})
	if err != nil {
		b.Fatal(err)
	}
	s.chairs = r.ID
	m, err := e.menus.CreateMenu(e.ctx, db, menus.MenuInput{NameJA: "カット", DurationMinutes: 60, Capacity: 100, PartyMax: 1,
		BookingMode: menus.ModeHours, ProviderIDs: s.providers, Resources: []menus.ResourceNeed{{ResourceID: s.chairs, Quantity: 1}},
		Rules: &menus.Rules{OpensDaysBefore: 90, MaxPerMemberPeriod: menus.PeriodMonth}})
	if err != nil {
		b.Fatal(err)
	}
	s.menu = m.ID
	zone := e.zone
	rng := rand.New(rand.NewPCG(5, 5))
	err = db.RunInTx(e.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for i := range benchReservations {
			day := benchFrom.AddDays(rng.IntN(31))
			start := timeslots.Instant(day, timeslots.Minute(9*60+15*rng.IntN(44)), zone)
			o := timeslots.Occupancy{Kind: timeslots.OccupancyReservation, RefID: fmt.Sprintf("rsv%05d", i), MenuID: s.menu, Seats: 1,
				ProviderID: s.providers[rng.IntN(len(s.providers))], StartsAt: start, EndsAt: start.Add(time.Duration(30+15*rng.IntN(5)) * time.Minute),
				Resources: []timeslots.ResourceUse{{ResourceID: s.chairs, Quantity: 1}}}
			if err := timeslots.Occupy(ctx, tx, o); err != nil {
				return err
			}
			s.taken = append(s.taken, timeslots.Taken{Kind: o.Kind, StartsAt: o.StartsAt, EndsAt: o.EndsAt, MenuID: o.MenuID, Seats: 1,
				ProviderID: o.ProviderID, ResourceID: s.chairs, Quantity: 1})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkAvailabilityHoursMonth(b *testing.B) {
	for _, eng := range dbtest.Engines {
		b.Run(string(eng), func(b *testing.B) {
			db := dbtest.NewDB(b, eng)
			s := newBenchSalon(b, db)
			q := timeslots.AvailabilityQuery{MenuID: s.menu, Zone: s.e.zone, From: benchFrom, To: benchTo}
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a, err := s.e.svc.Availability(s.e.ctx, db, q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(a.Slots)
			}
			if n == 0 {
				b.Fatal("nothing offered: the benchmark measures nothing")
			}
			b.ReportMetric(float64(n), "starts")
		})
	}
}

// The same month computed from memory: the engine without the database.
func BenchmarkAvailabilityHoursEngine(b *testing.B) {
	db := dbtest.NewDB(b, dbx.SQLite)
	s := newBenchSalon(b, db)
	owners := []timeslots.Owner{timeslots.Resource(s.chairs)}
	for _, p := range s.providers {
		owners = append(owners, timeslots.Provider(p))
	}
	// In start order, as the range query answers.
	slices.SortFunc(s.taken, func(a, b timeslots.Taken) int { return a.StartsAt.Compare(b.StartsAt) })
	cal, err := s.e.svc.Load(s.e.ctx, db, s.e.zone, benchFrom, benchTo, owners...)
	if err != nil {
		b.Fatal(err)
	}
	p := timeslots.HoursParams{From: benchFrom, To: benchTo, Window: timeslots.BookingWindow{NotBefore: benchNow, LastDay: benchTo},
		Duration: time.Hour, Unit: 30, MenuID: s.menu, Capacity: 100, Party: 1, Providers: s.providers,
		Resources: []timeslots.ResourceNeed{{ID: s.chairs, Need: 1, Quantity: 40}}, Taken: s.taken}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(timeslots.HoursAvailability(cal, p)) == 0 {
			b.Fatal("nothing offered")
		}
	}
}

func BenchmarkAvailabilityTimetableMonth(b *testing.B) {
	for _, eng := range dbtest.Engines {
		b.Run(string(eng), func(b *testing.B) {
			db := dbtest.NewDB(b, eng)
			e := newAvEnv(b, db, "Asia/Tokyo", benchNow)
			// 2,000 sessions in December: daily series every 15 minutes
			// from 06:00, 31 sessions each (the last series shorter).
			every := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
			made := 0
			for k := 0; made < benchSessions; k++ {
				count := min(31, benchSessions-made)
				at := fmt.Sprintf("2026-12-01T%02d:%02d", 6+k/4, 15*(k%4))
				cr, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.yoga, StartsAt: at,
					Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: every, Count: count}})
				if err != nil {
					b.Fatal(err)
				}
				made += len(cr.Slots)
			}
			q := timeslots.AvailabilityQuery{MenuID: e.yoga, Zone: e.zone, From: benchFrom, To: benchTo}
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a, err := e.svc.Availability(e.ctx, db, q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(a.Slots)
			}
			if n != benchSessions {
				b.Fatalf("%d sessions offered, want %d", n, benchSessions)
			}
			b.ReportMetric(float64(n), "sessions")
		})
	}
}
