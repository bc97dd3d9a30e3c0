package timeslots_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// ---- Recurrence rules, without a database ----

func dates(ds []timeslots.Date) []string {
	out := []string{}
	for _, x := range ds {
		out = append(out, x.String())
	}
	return out
}

func TestRecurrenceDates(t *testing.T) {
	tests := []struct {
		name  string
		rule  timeslots.Recurrence
		first string
		limit int
		want  []string
	}{
		{"weekly Mon and Wed until", timeslots.Recurrence{Freq: timeslots.FreqWeekly, Weekdays: []time.Weekday{time.Monday, time.Wednesday},
			Until: d("2026-12-16")}, "2026-12-02", 500, []string{"2026-12-02", "2026-12-07", "2026-12-09", "2026-12-14", "2026-12-16"}},
		{"weekly by count, the first day not on the rule", timeslots.Recurrence{Freq: timeslots.FreqWeekly, Weekdays: []time.Weekday{time.Saturday},
			Count: 3}, "2026-12-01", 500, []string{"2026-12-05", "2026-12-12", "2026-12-19"}},
		{"weekly over the year's end", timeslots.Recurrence{Freq: timeslots.FreqWeekly, Weekdays: []time.Weekday{time.Thursday},
			Until: d("2027-01-08")}, "2026-12-24", 500, []string{"2026-12-24", "2026-12-31", "2027-01-07"}},
		{"第2水曜", timeslots.Recurrence{Freq: timeslots.FreqMonthly, Nth: 2, Weekday: time.Wednesday, Until: d("2027-03-31")},
			"2026-11-01", 500, []string{"2026-11-11", "2026-12-09", "2027-01-13", "2027-02-10", "2027-03-10"}},
		{"第2水曜 starting after this month's", timeslots.Recurrence{Freq: timeslots.FreqMonthly, Nth: 2, Weekday: time.Wednesday, Count: 2},
			"2026-11-12", 500, []string{"2026-12-09", "2027-01-13"}},
		{"last Friday", timeslots.Recurrence{Freq: timeslots.FreqMonthly, Nth: -1, Weekday: time.Friday, Count: 4},
			"2026-01-01", 500, []string{"2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"}},
		{"last Friday of a month ending on Friday", timeslots.Recurrence{Freq: timeslots.FreqMonthly, Nth: -1, Weekday: time.Friday, Count: 1},
			"2026-07-01", 500, []string{"2026-07-31"}},
		{"5th Thursday skips months without one", timeslots.Recurrence{Freq: timeslots.FreqMonthly, Nth: 5, Weekday: time.Thursday, Count: 3},
			"2026-01-01", 500, []string{"2026-01-29", "2026-04-30", "2026-07-30"}},
		{"until before any", timeslots.Recurrence{Freq: timeslots.FreqWeekly, Weekdays: []time.Weekday{time.Sunday}, Until: d("2026-12-05")},
			"2026-12-01", 500, []string{}},
		{"one more than the limit", timeslots.Recurrence{Freq: timeslots.FreqWeekly, Weekdays: []time.Weekday{time.Monday}, Until: d("2027-12-31")},
			"2026-12-01", 3, []string{"2026-12-07", "2026-12-14", "2026-12-21", "2026-12-28"}},
	}
	for _, tt := range tests {
		if got := dates(tt.rule.Dates(d(tt.first), tt.limit)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// ---- With a database ----

type slotEnv struct {
	db    *bun.DB
	svc   *timeslots.Service
	menus *menus.Service
	ctx   context.Context
	zone  *time.Location
	// A timetable menu (60 min, 10 seats, provider aya, resource studio),
	// an event menu, an hours menu.
	yoga, seminar, cut string
	aya, ken, studio   string
}

var slotNow = time.Date(2026, 1, 10, 3, 0, 0, 0, time.UTC)

func newSlotEnv(t *testing.T, db *bun.DB, zoneName string) *slotEnv {
	t.Helper()
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{
		Actor: auditlog.Actor{Kind: auditlog.ActorStaff, ID: "st1", Name: "hanako@example.jp", Role: "owner"}, RequestID: "req-slot"})
	if _, err := dbx.Migrate(ctx, db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	zone, err := time.LoadLocation(zoneName)
	if err != nil {
		t.Fatal(err)
	}
	ms := menus.NewService(menus.Config{Now: func() time.Time { return slotNow }})
	e := &slotEnv{db: db, menus: ms, ctx: ctx, zone: zone,
		svc: timeslots.NewService(timeslots.Config{Now: func() time.Time { return slotNow }, Menus: ms})}
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
	r, err := ms.CreateResource(ctx, db, menus.ResourceInput{Name: "スタジオ", Quantity: 1, Active: true})
	e.studio = must(r.ID, err)
	m, err := ms.CreateMenu(ctx, db, menus.MenuInput{NameJA: "ヨガ", DurationMinutes: 60, Capacity: 10, BookingMode: menus.ModeTimetable,
		ProviderIDs: []string{e.aya}, Resources: []menus.ResourceNeed{{ResourceID: e.studio, Quantity: 1}}})
	e.yoga = must(m.ID, err)
	m, err = ms.CreateMenu(ctx, db, menus.MenuInput{NameJA: "セミナー", DurationMinutes: 90, Capacity: 30, BookingMode: menus.ModeEvent})
	e.seminar = must(m.ID, err)
	m, err = ms.CreateMenu(ctx, db, menus.MenuInput{NameJA: "カット", DurationMinutes: 60, Capacity: 1, BookingMode: menus.ModeHours})
	e.cut = must(m.ID, err)
	return e
}

func (e *slotEnv) count(t *testing.T) int {
	t.Helper()
	n, err := e.db.NewSelect().Table("timetable_slots").Count(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// setBooked simulates bookings by writing booked directly.
func (e *slotEnv) setBooked(t *testing.T, id string, n int) {
	t.Helper()
	if _, err := e.db.NewUpdate().Table("timetable_slots").Set("booked = ?", n).Where("id = ?", id).Exec(e.ctx); err != nil {
		t.Fatal(err)
	}
}

func ip(n int) *int { return &n }

func TestSlotsCreateListAndRead(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSlotEnv(t, db, "Asia/Tokyo")
		// A one-off seminar, local time in Tokyo; capacity from the menu.
		c, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.seminar, StartsAt: "2026-02-11T13:30"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Series != nil || len(c.Slots) != 1 {
			t.Fatalf("one-off: %+v", c)
		}
		sem := c.Slots[0]
		if got := sem.StartsAt.Format(time.RFC3339); got != "2026-02-11T04:30:00Z" || !sem.EndsAt.Equal(sem.StartsAt.Add(90*time.Minute)) ||
			sem.Capacity != 30 || sem.SeriesID != "" || sem.Booked != 0 || sem.Closed || len(sem.ID) != 32 {
			t.Fatalf("seminar %+v", sem)
		}
		// The same instant written in RFC 3339 with another offset.
		c2, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.seminar, StartsAt: "2026-02-12T05:30:00+01:00", Capacity: ip(5)})
		if err != nil || c2.Slots[0].StartsAt.Format(time.RFC3339) != "2026-02-12T04:30:00Z" || c2.Slots[0].Capacity != 5 {
			t.Fatalf("RFC 3339 start: %+v %v", c2, err)
		}
		// A weekly yoga series on Mon and Thu, 10:00, with the menu's provider and resource.
		c, err = e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-02T10:00",
			ProviderID: e.aya, ResourceID: e.studio,
			Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"thu", "mon"}, Until: "2026-02-28"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Series == nil || len(c.Slots) != 8 || c.Series.StartTime.String() != "10:00" || c.Series.TimeZone != "Asia/Tokyo" {
			t.Fatalf("series %+v with %d sessions", c.Series, len(c.Slots))
		}
		for _, s := range c.Slots {
			if l := s.StartsAt.In(e.zone); l.Hour() != 10 || l.Minute() != 0 || (l.Weekday() != time.Monday && l.Weekday() != time.Thursday) ||
				s.SeriesID != c.Series.ID || s.ProviderID != e.aya || s.ResourceID != e.studio {
				t.Fatalf("series session %+v (%v)", s, l)
			}
		}
		sr, ss, err := e.svc.Series(e.ctx, db, c.Series.ID)
		if err != nil || len(ss) != 8 || sr.Rule.Until != d("2026-02-28") || !slices.Equal(sr.Rule.Weekdays, []time.Weekday{time.Monday, time.Thursday}) {
			t.Fatalf("series read back %+v %d %v", sr, len(ss), err)
		}

		// Slots: ordered, filtered by menu and range, paged by id.
		all, err := e.svc.Slots(e.ctx, db, timeslots.SlotFilter{})
		if err != nil || len(all) != 10 {
			t.Fatalf("all: %d %v", len(all), err)
		}
		for i := 1; i < len(all); i++ {
			if all[i].StartsAt.Before(all[i-1].StartsAt) {
				t.Fatal("not ordered by start")
			}
		}
		feb := timeslots.SlotFilter{MenuID: e.yoga, From: time.Date(2026, 2, 5, 0, 0, 0, 0, e.zone), To: time.Date(2026, 2, 12, 0, 0, 0, 0, e.zone)}
		got, _ := e.svc.Slots(e.ctx, db, feb)
		if len(got) != 2 { // Thu 5th, Mon 9th
			t.Fatalf("range: %d", len(got))
		}
		var paged []timeslots.Slot
		for f := (timeslots.SlotFilter{Limit: 3}); ; {
			page, err := e.svc.Slots(e.ctx, db, f)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page...)
			if len(page) < 3 {
				break
			}
			f.After = page[len(page)-1].ID
		}
		if len(paged) != 10 || paged[9].ID != all[9].ID {
			t.Fatalf("paged %d", len(paged))
		}
		one, err := e.svc.Slot(e.ctx, db, sem.ID)
		if err != nil || one.ID != sem.ID || !one.StartsAt.Equal(sem.StartsAt) {
			t.Fatalf("Slot: %+v %v", one, err)
		}
		if _, err := e.svc.Slot(e.ctx, db, "0123456789abcdef0123456789abcdef"); !errors.Is(err, timeslots.ErrSlotNotFound) {
			t.Fatalf("unknown slot: %v", err)
		}
		// Closed sessions are left out unless asked for.
		if _, err := e.svc.UpdateSlot(e.ctx, db, sem.ID, timeslots.SlotPatch{Closed: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		open, _ := e.svc.Slots(e.ctx, db, timeslots.SlotFilter{MenuID: e.seminar})
		withClosed, _ := e.svc.Slots(e.ctx, db, timeslots.SlotFilter{MenuID: e.seminar, IncludeClosed: true})
		if len(open) != 1 || len(withClosed) != 2 {
			t.Fatalf("closed filter: %d %d", len(open), len(withClosed))
		}

		// Audit: one entry per one-off, one per series.
		if es := auditEntries(t, &env{db: db, ctx: e.ctx}, timeslots.AuditSlotCreate); len(es) != 2 || es[0].ObjectType != "slot" {
			t.Fatalf("slot.create entries %+v", es)
		}
		es := auditEntries(t, &env{db: db, ctx: e.ctx}, timeslots.AuditSeriesCreate)
		if len(es) != 1 || es[0].ObjectID != c.Series.ID || es[0].Actor.ID != "st1" {
			t.Fatalf("slot.series.create entries %+v", es)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// A weekly 10:00 class keeps 10:00 local time across both daylight-saving
// changes of 2026, in New York and London; a monthly one too.
func TestSlotsKeepCivilTimeAcrossDaylightSaving(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		for _, tc := range []struct {
			zone, from, until string
		}{
			{"America/New_York", "2026-03-01", "2026-03-22"}, // DST starts 2026-03-08
			{"America/New_York", "2026-10-25", "2026-11-15"}, // DST ends 2026-11-01
			{"Europe/London", "2026-03-22", "2026-04-05"},    // BST starts 2026-03-29
			{"Europe/London", "2026-10-18", "2026-11-01"},    // BST ends 2026-10-25
		} {
			e := newSlotEnv(t, db, tc.zone)
			c, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.yoga, StartsAt: tc.from + "T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"sun"}, Until: tc.until}})
			if err != nil {
				t.Fatal(err)
			}
			offsets := map[int]bool{}
			for _, s := range c.Slots {
				l := s.StartsAt.In(e.zone)
				if l.Hour() != 10 || l.Minute() != 0 || l.Weekday() != time.Sunday {
					t.Errorf("%s: a session at %v", tc.zone, l)
				}
				if s.EndsAt.Sub(s.StartsAt) != time.Hour {
					t.Errorf("%s: a session of %v", tc.zone, s.EndsAt.Sub(s.StartsAt))
				}
				_, off := l.Zone()
				offsets[off] = true
			}
			if len(c.Slots) < 3 || len(offsets) != 2 {
				t.Errorf("%s %s: %d sessions over %d offsets; the test does not cross a change", tc.zone, tc.from, len(c.Slots), len(offsets))
			}
			// Start over with an empty table for the next zone.
			if _, err := db.NewDelete().Table("timetable_slots").Where("1 = 1").Exec(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
		// 第2水曜 in New York, March (EDT) and February (EST) both at 19:00.
		e := newSlotEnv(t, db, "America/New_York")
		c, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-01T19:00",
			Recurrence: &timeslots.RecurrenceInput{Freq: "monthly", Nth: 2, Weekday: "wed", Count: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if got := []string{c.Slots[0].StartsAt.Format(time.RFC3339), c.Slots[1].StartsAt.Format(time.RFC3339)}; !slices.Equal(got,
			[]string{"2026-02-12T00:00:00Z", "2026-03-11T23:00:00Z"}) {
			t.Fatalf("第2水曜 19:00 New York: %v", got)
		}
	})
}

func TestSlotsRefused(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSlotEnv(t, db, "Asia/Tokyo")
		weekly := func(until string) *timeslots.RecurrenceInput {
			return &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"mon"}, Until: until}
		}
		tests := []struct {
			name string
			in   timeslots.SlotInput
			want []string
		}{
			{"nothing", timeslots.SlotInput{}, []string{"menu_id:required", "starts_at:required"}},
			{"2026-02-30", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-30T10:00"}, []string{"starts_at:slot_datetime"}},
			{"24:30", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T24:30"}, []string{"starts_at:slot_datetime"}},
			{"24:00", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T24:00"}, []string{"starts_at:slot_datetime"}},
			{"seconds", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00:30+09:00"}, []string{"starts_at:slot_datetime"}},
			{"no offset", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00:00"}, []string{"starts_at:slot_datetime"}},
			{"three years ahead", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2029-02-03T10:00"}, []string{"starts_at:slot_too_far"}},
			{"zero capacity", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Capacity: ip(0)}, []string{"capacity:range"}},
			{"negative capacity", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Capacity: ip(-3)}, []string{"capacity:range"}},
			{"unknown menu", timeslots.SlotInput{MenuID: "0123456789abcdef0123456789abcdef", StartsAt: "2026-02-03T10:00"}, []string{"menu_id:catalog_unknown_reference"}},
			{"hours menu", timeslots.SlotInput{MenuID: e.cut, StartsAt: "2026-02-03T10:00"}, []string{"menu_id:slot_menu_mode"}},
			{"recurrence for an event", timeslots.SlotInput{MenuID: e.seminar, StartsAt: "2026-02-03T10:00", Recurrence: weekly("2026-03-01")}, []string{"recurrence:slot_recurrence_not_allowed"}},
			{"10-year until", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Recurrence: weekly("2036-02-01")}, []string{"recurrence.until:slot_too_far"}},
			{"until before start", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Recurrence: weekly("2026-02-01")}, []string{"recurrence.until:slot_until_before_start"}},
			{"until 2026-02-30", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Recurrence: weekly("2026-02-30")}, []string{"recurrence.until:calendar_date"}},
			{"neither until nor count", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Recurrence: weekly("")}, []string{"recurrence.until:required"}},
			{"too many", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"mon", "tue", "wed", "thu", "fri", "sat"}, Until: "2027-12-31"}}, []string{"recurrence:slot_too_many"}},
			{"count above the cap", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"mon"}, Count: 501}}, []string{"recurrence.count:range"}},
			{"no weekday", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Until: "2026-03-01"}}, []string{"recurrence.weekdays:min_items"}},
			{"bad weekday", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"mon", "monday"}, Until: "2026-03-01"}}, []string{"recurrence.weekdays[1]:oneof"}},
			{"monthly nth 6", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "monthly", Nth: 6, Weekday: "wed", Until: "2026-06-01"}}, []string{"recurrence.nth:oneof"}},
			{"monthly with weekdays", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "monthly", Nth: 2, Weekday: "wed", Weekdays: []string{"mon"}, Until: "2026-06-01"}}, []string{"recurrence.weekdays:slot_rule_mismatch"}},
			{"daily", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00",
				Recurrence: &timeslots.RecurrenceInput{Freq: "daily", Until: "2026-06-01"}}, []string{"recurrence.freq:oneof"}},
			{"no occurrence", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"mon"}, Until: "2026-02-08"}}, []string{"recurrence:slot_no_occurrence"}},
			{"provider not the menu's", timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-03T10:00", ProviderID: e.ken}, []string{"provider_id:slot_not_for_menu"}},
			{"unknown provider and resource", timeslots.SlotInput{MenuID: e.seminar, StartsAt: "2026-02-03T10:00", ProviderID: "nobody", ResourceID: "0123456789abcdef0123456789abcdef"},
				[]string{"provider_id:catalog_unknown_reference", "resource_id:catalog_unknown_reference"}},
		}
		for _, tt := range tests {
			_, err := e.svc.CreateSlots(e.ctx, db, e.zone, tt.in)
			if apperr.KindOf(err) != apperr.KindInvalid || !slices.Equal(fieldsOf(err), tt.want) {
				t.Errorf("%s: %v (%v), want %v", tt.name, err, fieldsOf(err), tt.want)
			}
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("refused input made %d sessions", n)
		}
		if es := auditEntries(t, &env{db: db, ctx: e.ctx}, ""); len(es) != 6 { // the catalog's own six
			for _, x := range es {
				t.Log(x.Action)
			}
			t.Fatalf("%d audit entries", len(es))
		}
		// An event menu's one-off with no provider named is fine, though the
		// menu has none; a provider of a menu that lists none may be any.
		if _, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.seminar, StartsAt: "2026-02-03T10:00", ProviderID: e.ken}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSlotCapacityCloseAndDelete(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSlotEnv(t, db, "Asia/Tokyo")
		c, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-02-02T10:00",
			Recurrence: &timeslots.RecurrenceInput{Freq: "weekly", Weekdays: []string{"mon"}, Count: 4}})
		if err != nil {
			t.Fatal(err)
		}
		s0 := c.Slots[0]
		e.setBooked(t, s0.ID, 6)

		// Below booked: 409, nothing changes, nothing logged.
		_, err = e.svc.UpdateSlot(e.ctx, db, s0.ID, timeslots.SlotPatch{Capacity: ip(5), Closed: ptr(true)})
		if !errors.Is(err, timeslots.ErrSlotCapacityBelowBooked) || apperr.KindOf(err) != apperr.KindConflict {
			t.Fatalf("capacity below booked: %v", err)
		}
		got, _ := e.svc.Slot(e.ctx, db, s0.ID)
		if got.Capacity != 10 || got.Closed || got.Booked != 6 {
			t.Fatalf("after a refused change: %+v", got)
		}
		if n := len(auditEntries(t, &env{db: db, ctx: e.ctx}, timeslots.AuditSlotUpdate)); n != 0 {
			t.Fatalf("%d update entries after a refusal", n)
		}
		if _, err := e.svc.UpdateSlot(e.ctx, db, s0.ID, timeslots.SlotPatch{Capacity: ip(0)}); !slices.Equal(fieldsOf(err), []string{"capacity:range"}) {
			t.Fatalf("zero capacity: %v", err)
		}
		// Down to exactly booked, and closed.
		up, err := e.svc.UpdateSlot(e.ctx, db, s0.ID, timeslots.SlotPatch{Capacity: ip(6), Closed: ptr(true)})
		if err != nil || up.Capacity != 6 || !up.Closed || up.Booked != 6 || up.Remaining() != 0 {
			t.Fatalf("to booked: %+v %v", up, err)
		}
		es := auditEntries(t, &env{db: db, ctx: e.ctx}, timeslots.AuditSlotUpdate)
		if len(es) != 1 || len(es[0].Changes) != 2 || es[0].ObjectID != s0.ID {
			t.Fatalf("update audit %+v", es)
		}
		// The same again changes and logs nothing (and is not a conflict on MySQL).
		if _, err := e.svc.UpdateSlot(e.ctx, db, s0.ID, timeslots.SlotPatch{Capacity: ip(6), Closed: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		// Reopen; assign a provider of the menu, refuse another.
		if up, err = e.svc.UpdateSlot(e.ctx, db, s0.ID, timeslots.SlotPatch{Closed: ptr(false), ProviderID: ptr(e.aya)}); err != nil || up.Closed || up.ProviderID != e.aya {
			t.Fatalf("reopen: %+v %v", up, err)
		}
		if _, err := e.svc.UpdateSlot(e.ctx, db, s0.ID, timeslots.SlotPatch{ProviderID: ptr(e.ken)}); !slices.Equal(fieldsOf(err), []string{"provider_id:slot_not_for_menu"}) {
			t.Fatalf("other provider: %v", err)
		}
		if n := len(auditEntries(t, &env{db: db, ctx: e.ctx}, timeslots.AuditSlotUpdate)); n != 2 {
			t.Fatalf("%d update entries", n)
		}

		// Delete: a booked one is refused; a free one goes.
		if err := e.svc.DeleteSlot(e.ctx, db, s0.ID); !errors.Is(err, timeslots.ErrSlotBooked) {
			t.Fatalf("delete booked: %v", err)
		}
		if _, err := e.svc.Slot(e.ctx, db, s0.ID); err != nil {
			t.Fatal("the booked session went")
		}
		if err := e.svc.DeleteSlot(e.ctx, db, c.Slots[1].ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteSlot(e.ctx, db, c.Slots[1].ID); !errors.Is(err, timeslots.ErrSlotNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if es := auditEntries(t, &env{db: db, ctx: e.ctx}, timeslots.AuditSlotDelete); len(es) != 1 || es[0].ObjectID != c.Slots[1].ID {
			t.Fatalf("delete audit %+v", es)
		}
		// The series' future free sessions go; the booked one stays.
		e.setBooked(t, c.Slots[3].ID, 1)
		del, err := e.svc.DeleteSeries(e.ctx, db, c.Series.ID)
		if err != nil || !slices.Equal(del.Deleted, []string{c.Slots[2].ID}) || !slices.Equal(del.Kept, []string{s0.ID, c.Slots[3].ID}) {
			t.Fatalf("delete series: %+v %v", del, err)
		}
		if n := e.count(t); n != 2 {
			t.Fatalf("%d sessions left", n)
		}
		if _, err := e.svc.DeleteSeries(e.ctx, db, "0123456789abcdef0123456789abcdef"); !errors.Is(err, timeslots.ErrSeriesNotFound) {
			t.Fatalf("unknown series: %v", err)
		}
	})
}

// Staff lower the capacity while bookings take seats with the guarded
// statement reservations use: whatever interleaving, booked never exceeds
// capacity, and every refusal is the right one.
func TestSlotCapacityRace(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSlotEnv(t, db, "Asia/Tokyo")
		c, err := e.svc.CreateSlots(e.ctx, db, e.zone, timeslots.SlotInput{MenuID: e.seminar, StartsAt: "2026-03-03T10:00", Capacity: ip(40)})
		if err != nil {
			t.Fatal(err)
		}
		id := c.Slots[0].ID
		var wg sync.WaitGroup
		var booked, lowered atomic.Int64
		errs := make(chan error, 64)
		for i := range 16 {
			wg.Add(2)
			go func() { // a booking of 2 seats, three times
				defer wg.Done()
				for range 3 {
					res, err := db.NewUpdate().Table("timetable_slots").Set("booked = booked + ?", 2).
						Where("id = ? AND closed = ? AND booked + ? <= capacity", id, false, 2).Exec(e.ctx)
					if err != nil {
						errs <- err
						return
					}
					if n, _ := res.RowsAffected(); n == 1 {
						booked.Add(2)
					}
				}
			}()
			go func() { // staff lowering the capacity
				defer wg.Done()
				_, err := e.svc.UpdateSlot(e.ctx, db, id, timeslots.SlotPatch{Capacity: ip(40 - 2*i)})
				switch {
				case err == nil:
					lowered.Add(1)
				case !errors.Is(err, timeslots.ErrSlotCapacityBelowBooked):
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		s, err := e.svc.Slot(e.ctx, db, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Booked > s.Capacity || int64(s.Booked) != booked.Load() || lowered.Load() == 0 {
			t.Fatalf("booked %d of %d (counted %d), %d lowerings", s.Booked, s.Capacity, booked.Load(), lowered.Load())
		}
	})
}
