package reservations_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// now is Saturday 2026-01-10 12:00 in Tokyo; bookings go to Wednesday
// 2026-01-14, an ordinary working day.
var now = time.Date(2026, 1, 10, 3, 0, 0, 0, time.UTC)

type env struct {
	db     *bun.DB
	ctx    context.Context
	menus  *menus.Service
	slots  *timeslots.Service
	svc    *reservations.Service
	subs   *outbox.Subscriptions
	tenant tenants.Tenant
	zone   *time.Location
	clock  *time.Time
	// hours: "cut" (60 min, 1 seat, providers aya and ken), "room" (30
	// min, capacity 10, needs 1 of the 2 booths), "solo" (60 min, aya only);
	// timetable "yoga" with a session of 20 seats.
	cut, room, solo, yoga string
	aya, ken, booths      string
	session               string
	mu                    sync.Mutex
}

func at(hhmm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", "2026-01-14 "+hhmm, tokyo)
	if err != nil {
		panic(err)
	}
	return t
}

var tokyo, _ = time.LoadLocation("Asia/Tokyo")

func newEnv(t testing.TB, db *bun.DB) *env {
	t.Helper()
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{
		Actor: auditlog.Actor{Kind: auditlog.ActorStaff, ID: "st1", Name: "desk@example.jp", Role: "admin"}, RequestID: "req-1"})
	if _, err := dbx.Migrate(ctx, db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	clock := now
	e := &env{db: db, ctx: ctx, zone: tokyo, clock: &clock,
		tenant: tenants.Tenant{ID: "t1", Slug: "salon", TimeZone: "Asia/Tokyo"}}
	nowFn := func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return *e.clock }
	e.menus = menus.NewService(menus.Config{Now: nowFn})
	e.slots = timeslots.NewService(timeslots.Config{Now: nowFn, Menus: e.menus})
	e.subs = outbox.NewSubscriptions()
	for _, et := range reservations.EventTypes() {
		e.subs.Subscribe("mail", et, func(context.Context, bun.IDB, outbox.Tenant, outbox.Event) error { return nil })
	}
	e.subs.SetClock(nowFn)
	e.svc = reservations.NewService(reservations.Config{Now: nowFn, Menus: e.menus, Slots: e.slots, Events: e.subs})
	must := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	p, err := e.menus.CreateProvider(ctx, db, menus.ProviderInput{Name: "綾", Active: true})
	e.aya = must(p.ID, err)
	p, err = e.menus.CreateProvider(ctx, db, menus.ProviderInput{Name: "健", Active: true})
	e.ken = must(p.ID, err)
	r, err := e.menus.CreateResource(ctx, db, menus.ResourceInput{Name: "ブース", Quantity: 2, Active: true})
	e.booths = must(r.ID, err)
	rules := &menus.Rules{OpensDaysBefore: 60, ClosesMinutesBefore: 60, CancelDeadlineMinutes: 24 * 60,
		ChangeDeadlineMinutes: 24 * 60, MaxPerMember: 2, MaxPerMemberPeriod: menus.PeriodDay}
	m, err := e.menus.CreateMenu(ctx, db, menus.MenuInput{NameJA: "カット", DurationMinutes: 60, Price: 5000, Capacity: 1,
		PartyMin: 1, PartyMax: 1, BookingMode: menus.ModeHours, Visibility: menus.VisibilityPublic,
		ProviderIDs: []string{e.aya, e.ken}, Rules: rules,
		Options:   []menus.OptionInput{{NameJA: "シャンプー", Price: 1000, ExtraMinutes: 15}},
		Questions: []menus.QuestionInput{{Kind: menus.KindSingleChoice, LabelJA: "長さ", Choices: []string{"短", "長"}, Requirement: menus.Required}, {Kind: menus.KindText, LabelJA: "メモ", Requirement: menus.StaffOnly}}})
	e.cut = must(m.ID, err)
	m, err = e.menus.CreateMenu(ctx, db, menus.MenuInput{NameJA: "個室", DurationMinutes: 30, Price: 3000, Capacity: 10,
		PartyMin: 1, PartyMax: 4, BookingMode: menus.ModeHours, Visibility: menus.VisibilityPublic, Rules: rules,
		Resources: []menus.ResourceNeed{{ResourceID: e.booths, Quantity: 1}}})
	e.room = must(m.ID, err)
	m, err = e.menus.CreateMenu(ctx, db, menus.MenuInput{NameJA: "指名カット", DurationMinutes: 60, Price: 6000, Capacity: 5,
		PartyMin: 1, PartyMax: 1, BookingMode: menus.ModeHours, Visibility: menus.VisibilityPublic, Rules: rules,
		ProviderIDs: []string{e.aya}})
	e.solo = must(m.ID, err)
	m, err = e.menus.CreateMenu(ctx, db, menus.MenuInput{NameJA: "ヨガ", DurationMinutes: 60, Price: 2000, Capacity: 20,
		PartyMin: 1, PartyMax: 20, BookingMode: menus.ModeTimetable, Visibility: menus.VisibilityPublic, Rules: rules,
		ApprovalRequired: false})
	e.yoga = must(m.ID, err)
	cr, err := e.slots.CreateSlots(ctx, db, tokyo, timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-01-14T19:00"})
	if err != nil {
		t.Fatal(err)
	}
	e.session = cr.Slots[0].ID
	week := map[string][]timeslots.RangeInput{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		week[d] = []timeslots.RangeInput{{Start: "09:00", End: "18:00"}}
	}
	if _, err := e.slots.SaveBusinessHours(ctx, db, timeslots.BusinessHoursInput{Weekly: week}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) setNow(t time.Time) { e.mu.Lock(); *e.clock = t; e.mu.Unlock() }

func guest(i int) reservations.Customer {
	return reservations.Customer{Name: fmt.Sprintf("山田 %d", i), Kana: "ヤマダ", Email: fmt.Sprintf("g%d@example.jp", i), Phone: "09012345678"}
}

func (e *env) cutInput(start time.Time, i int) reservations.BookInput {
	return reservations.BookInput{MenuID: e.cut, StartsAt: start, PartySize: 1, Customer: guest(i),
		Answers: map[string]any{}, Source: reservations.SourceStaff}
}

func code(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func (e *env) slotBooked(t testing.TB, id string) int {
	t.Helper()
	var n int
	if err := e.db.NewRaw("SELECT booked FROM timetable_slots WHERE id = ?", id).Scan(e.ctx, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) count(t testing.TB, table, where string, args ...any) int {
	t.Helper()
	q := e.db.NewSelect().Table(table)
	if where != "" {
		q = q.Where(where, args...)
	}
	n, err := q.Count(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// race runs n bookings at once and counts the outcomes by code.
func race(n int, book func(i int) error) map[string]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	out := map[string]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := code(book(i))
			mu.Lock()
			out[c]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestRaceLastSeatsOfSession(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		// 15 of 20 seats go first: 5 are left.
		for i := range 3 {
			if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 5,
				Customer: guest(i), Source: reservations.SourceStaff}); err != nil {
				t.Fatal(err)
			}
		}
		got := race(200, func(i int) error {
			_, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 1,
				Customer: guest(100 + i), Source: reservations.SourcePublic})
			return err
		})
		if got[""] != 5 || got["slot_full"] != 195 {
			t.Fatalf("outcomes %v, want 5 booked and 195 slot_full", got)
		}
		if b := e.slotBooked(t, e.session); b != 20 {
			t.Fatalf("booked = %d, want 20", b)
		}
		if n := e.count(t, "reservations", "slot_id = ?", e.session); n != 8 {
			t.Fatalf("%d reservations, want 8", n)
		}
	})
}

func TestRaceOneExclusiveProvider(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		got := race(100, func(i int) error {
			_, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at("10:00"),
				PartySize: 1, ProviderID: e.aya, Customer: guest(i), Source: reservations.SourcePublic})
			return err
		})
		if got[""] != 1 || got[""]+got["provider_unavailable"] != 100 {
			t.Fatalf("outcomes %v, want 1 booked and 99 provider_unavailable", got)
		}
	})
}

func TestRaceResourceOfTwo(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		got := race(100, func(i int) error {
			_, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.room, StartsAt: at("11:00"),
				PartySize: 1, Customer: guest(i), Source: reservations.SourcePublic})
			return err
		})
		if got[""] != 2 || got["slot_full"] != 98 {
			t.Fatalf("outcomes %v, want 2 booked and 98 slot_full", got)
		}
		// Overlapping starts (11:15 overlaps 11:00–11:30) find the booths taken.
		_, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.room, StartsAt: at("11:15"),
			PartySize: 1, Customer: guest(1), Source: reservations.SourceStaff})
		if code(err) != "slot_full" {
			t.Fatalf("overlapping booking: %v, want slot_full", err)
		}
	})
}

func TestRaceNoPreferenceSpreadsOverProviders(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		// The cut menu has one seat per start but two providers; seats
		// are the menu's, so one booking per start — yet provider choice
		// alternates across starts (fewest that day first).
		var provs []string
		for i, hm := range []string{"09:00", "10:00", "11:00", "12:00"} {
			in := e.cutInput(at(hm), i)
			b, err := e.svc.Book(e.ctx, db, e.tenant, in)
			if err != nil {
				t.Fatal(err)
			}
			provs = append(provs, b.ProviderID)
		}
		na := 0
		for _, p := range provs {
			if p == e.aya {
				na++
			}
		}
		if na != 2 {
			t.Fatalf("providers %v: want two each", provs)
		}
		// Both providers' cells at 14:00: a staff overbook of the cut
		// menu's one seat on the solo provider; then two bookings at 14:00
		// of "solo" (5 seats, aya only) — aya is taken, so slot full.
		got := race(20, func(i int) error {
			_, err := e.svc.Book(e.ctx, db, e.tenant, e.cutInput(at("14:00"), i))
			return err
		})
		if got[""] != 1 {
			t.Fatalf("outcomes %v, want 1 booked", got)
		}
	})
}

func TestCancelFreesTheSeat(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		b, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 20,
			Customer: guest(1), Source: reservations.SourceStaff})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 1,
			Customer: guest(2), Source: reservations.SourceStaff}); code(err) != "slot_full" {
			t.Fatalf("full session: %v", err)
		}
		c, err := e.svc.Change(e.ctx, db, e.tenant, b.ID, reservations.ActionCancel, reservations.ChangeInput{Reason: "風邪"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != reservations.StatusCancelled || c.Version != 2 {
			t.Fatalf("cancelled: %+v", c)
		}
		if n := e.slotBooked(t, e.session); n != 0 {
			t.Fatalf("booked = %d after cancel", n)
		}
		a, err := e.slots.Availability(e.ctx, db, timeslots.AvailabilityQuery{MenuID: e.yoga, Zone: tokyo,
			From: timeslots.NewDate(2026, 1, 14), To: timeslots.NewDate(2026, 1, 14), Party: 1})
		if err != nil || len(a.Slots) != 1 || a.Slots[0].Remaining != 20 {
			t.Fatalf("availability after cancel: %+v %v", a, err)
		}
		// Twice: the state machine refuses, nothing is given back twice.
		if _, err := e.svc.Change(e.ctx, db, e.tenant, b.ID, reservations.ActionCancel, reservations.ChangeInput{}); code(err) != "reservation_status" {
			t.Fatalf("second cancel: %v", err)
		}
		// Hours: cancelling frees the provider's time for availability.
		h, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at("10:00"), PartySize: 1,
			Customer: guest(3), Source: reservations.SourcePublic})
		if err != nil {
			t.Fatal(err)
		}
		if has(t, e, e.solo, at("10:00")) {
			t.Fatal("10:00 still offered after booking")
		}
		if _, err := e.svc.Change(e.ctx, db, e.tenant, h.ID, reservations.ActionCancel, reservations.ChangeInput{}); err != nil {
			t.Fatal(err)
		}
		if !has(t, e, e.solo, at("10:00")) {
			t.Fatal("10:00 not offered after cancelling")
		}
		if n := e.count(t, "capacity_cells", "used <> 0"); n != 0 {
			t.Fatalf("%d cells still used after cancelling", n)
		}
	})
}

func has(t testing.TB, e *env, menuID string, start time.Time) bool {
	t.Helper()
	a, err := e.slots.Availability(e.ctx, e.db, timeslots.AvailabilityQuery{MenuID: menuID, Zone: tokyo,
		From: timeslots.DateOf(start.In(tokyo)), To: timeslots.DateOf(start.In(tokyo))})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Slots {
		if s.StartsAt.Equal(start) {
			return true
		}
	}
	return false
}

func TestFailedMoveKeepsTheBooking(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		a, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at("10:00"), PartySize: 1,
			Customer: guest(1), Source: reservations.SourceStaff})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at("12:00"), PartySize: 1,
			Customer: guest(2), Source: reservations.SourceStaff}); err != nil {
			t.Fatal(err)
		}
		// 11:30 overlaps 12:00 for aya: refused, the 10:00 booking stands.
		if _, err := e.svc.Move(e.ctx, db, e.tenant, a.ID, reservations.MoveInput{StartsAt: at("11:30")}); code(err) != "slot_full" {
			t.Fatalf("move onto a taken provider: %v", err)
		}
		got, _ := e.svc.Get(e.ctx, db, a.ID)
		if !got.StartsAt.Equal(at("10:00")) || got.Version != 1 {
			t.Fatalf("after a failed move: %+v", got)
		}
		if has(t, e, e.solo, at("10:00")) {
			t.Fatal("the original time was given away by a failed move")
		}
		// A move to a free time works and frees the old one.
		m, err := e.svc.Move(e.ctx, db, e.tenant, a.ID, reservations.MoveInput{StartsAt: at("14:00")})
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != 2 || !m.StartsAt.Equal(at("14:00")) {
			t.Fatalf("moved: %+v", m)
		}
		if !has(t, e, e.solo, at("10:00")) || has(t, e, e.solo, at("14:00")) {
			t.Fatal("availability does not follow the move")
		}
		// Sessions: a move to a full session keeps the seat.
		b, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 2,
			Customer: guest(3), Source: reservations.SourceStaff})
		if err != nil {
			t.Fatal(err)
		}
		cr, err := e.slots.CreateSlots(e.ctx, db, tokyo, timeslots.SlotInput{MenuID: e.yoga, StartsAt: "2026-01-15T19:00", Capacity: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Move(e.ctx, db, e.tenant, b.ID, reservations.MoveInput{SlotID: cr.Slots[0].ID}); code(err) != "slot_full" {
			t.Fatalf("move to a full session: %v", err)
		}
		if n := e.slotBooked(t, e.session); n != 2 {
			t.Fatalf("original session booked %d, want 2", n)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestRulesForCustomers(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		pub := func(mut func(*reservations.BookInput)) error {
			in := reservations.BookInput{MenuID: e.cut, StartsAt: at("10:00"), PartySize: 1, Customer: guest(1),
				Answers: map[string]any{}, Source: reservations.SourcePublic}
			for _, q := range mustMenu(t, e, e.cut).Questions {
				if q.Requirement == menus.Required {
					in.Answers[q.ID] = "短"
				}
			}
			mut(&in)
			_, err := e.svc.Book(e.ctx, db, e.tenant, in)
			return err
		}
		m := mustMenu(t, e, e.cut)
		var req, staffOnly string
		for _, q := range m.Questions {
			if q.Requirement == menus.Required {
				req = q.ID
			} else {
				staffOnly = q.ID
			}
		}
		tests := []struct {
			name string
			mut  func(*reservations.BookInput)
			want string
		}{
			{"party above max", func(in *reservations.BookInput) { in.PartySize = 2 }, "validation"},
			{"required answer missing", func(in *reservations.BookInput) { delete(in.Answers, req) }, "validation"},
			{"choice not offered", func(in *reservations.BookInput) { in.Answers[req] = "中" }, "validation"},
			{"staff-only answer from the public", func(in *reservations.BookInput) { in.Answers[staffOnly] = "x" }, "validation"},
			{"unknown option", func(in *reservations.BookInput) { in.OptionIDs = []string{"nope"} }, "validation"},
			{"closes 60 minutes before", func(in *reservations.BookInput) { in.StartsAt = now.Add(30 * time.Minute).Truncate(time.Hour) }, "booking_window_closed"},
			{"opens 60 days before", func(in *reservations.BookInput) { in.StartsAt = at("10:00").AddDate(0, 3, 0) }, "booking_window_closed"},
			{"outside business hours", func(in *reservations.BookInput) { in.StartsAt = at("20:00") }, "slot_unavailable"},
			{"off the grid", func(in *reservations.BookInput) { in.StartsAt = at("10:00").Add(time.Minute) }, "validation"},
			{"a good one", func(in *reservations.BookInput) {}, ""},
		}
		for _, tt := range tests {
			if got := code(pub(tt.mut)); got != tt.want {
				t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			}
		}
		// Staff bypass the window and the questions, never capacity.
		in := e.cutInput(at("20:00"), 9)
		if _, err := e.svc.Book(e.ctx, db, e.tenant, in); err != nil {
			t.Fatalf("staff outside hours: %v", err)
		}
		in = e.cutInput(at("10:00"), 9)
		if _, err := e.svc.Book(e.ctx, db, e.tenant, in); code(err) != "slot_full" {
			t.Fatalf("staff onto a full start: %v", err)
		}
		in.Overbook = true
		if b, err := e.svc.Book(e.ctx, db, e.tenant, in); err != nil || !b.Overbooked {
			t.Fatalf("admin overbook: %+v %v", b, err)
		}
		var overbooks int
		if err := db.NewRaw("SELECT COUNT(*) FROM audit_entries WHERE action = ? AND changes LIKE ?", reservations.AuditCreate, "%overbook%").Scan(e.ctx, &overbooks); err != nil {
			t.Fatal(err)
		}
		if overbooks != 1 {
			t.Fatalf("%d overbook entries in the log, want 1", overbooks)
		}

		// Per member: two a day.
		for i, hm := range []string{"09:00", "11:00", "13:00"} {
			err := pub(func(in *reservations.BookInput) { in.MemberID = "m1"; in.StartsAt = at(hm); in.Customer = guest(i) })
			want := ""
			if i == 2 {
				want = "member_limit_reached"
			}
			if code(err) != want {
				t.Fatalf("member booking %d: %v, want %q", i, err, want)
			}
		}
		// Deadlines: a member cannot cancel within 24 h of the start; staff can.
		b, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at("15:00"), PartySize: 1,
			Customer: guest(5), MemberID: "m2", Source: reservations.SourcePublic})
		if err != nil {
			t.Fatal(err)
		}
		e.setNow(at("15:00").Add(-23 * time.Hour))
		if _, err := e.svc.Change(e.ctx, db, e.tenant, b.ID, reservations.ActionCancel, reservations.ChangeInput{Customer: true, MemberID: "m2"}); code(err) != "reservation_deadline_passed" {
			t.Fatalf("late member cancel: %v", err)
		}
		if _, err := e.svc.Move(e.ctx, db, e.tenant, b.ID, reservations.MoveInput{StartsAt: at("16:00"), Customer: true, MemberID: "m2"}); code(err) != "reservation_deadline_passed" {
			t.Fatalf("late member move: %v", err)
		}
		if _, err := e.svc.Change(e.ctx, db, e.tenant, b.ID, reservations.ActionCancel, reservations.ChangeInput{}); err != nil {
			t.Fatalf("staff cancel: %v", err)
		}
	})
}

func mustMenu(t testing.TB, e *env, id string) menus.Menu {
	t.Helper()
	m, err := e.menus.Get(e.ctx, e.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStateMachine(t *testing.T) {
	all := reservations.Statuses()
	want := map[reservations.Action][]reservations.Status{
		reservations.ActionConfirm:  {reservations.StatusPending},
		reservations.ActionReject:   {reservations.StatusPending},
		reservations.ActionCancel:   {reservations.StatusPending, reservations.StatusConfirmed},
		reservations.ActionComplete: {reservations.StatusConfirmed},
		reservations.ActionNoShow:   {reservations.StatusConfirmed},
	}
	for action, from := range want {
		for _, s := range all {
			ok := false
			for _, f := range from {
				ok = ok || f == s
			}
			if got := reservations.Allowed(action, s); got != ok {
				t.Errorf("%s from %s: %v, want %v", action, s, got, ok)
			}
		}
	}
}

func TestLifecycleAuditAndOutbox(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		if _, err := e.menus.UpdateMenu(e.ctx, db, e.yoga, menus.MenuPatch{ApprovalRequired: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		b, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 2,
			Customer: guest(1), Source: reservations.SourcePublic})
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != reservations.StatusPending || b.CancelToken == "" || b.Price != 4000 {
			t.Fatalf("booked %+v", b)
		}
		steps := []struct {
			action reservations.Action
			want   string
		}{
			{reservations.ActionComplete, "reservation_status"},
			{reservations.ActionConfirm, ""},
			{reservations.ActionConfirm, "reservation_status"},
			{reservations.ActionComplete, "reservation_not_started"},
		}
		for _, st := range steps {
			if _, err := e.svc.Change(e.ctx, db, e.tenant, b.ID, st.action, reservations.ChangeInput{}); code(err) != st.want {
				t.Fatalf("%s: %v, want %q", st.action, err, st.want)
			}
		}
		e.setNow(at("19:30"))
		done, err := e.svc.Change(e.ctx, db, e.tenant, b.ID, reservations.ActionComplete, reservations.ChangeInput{})
		if err != nil || done.Version != 3 || done.Status != reservations.StatusCompleted {
			t.Fatalf("complete: %+v %v", done, err)
		}
		for _, a := range []string{reservations.AuditCreate, reservations.AuditConfirm, reservations.AuditComplete} {
			if n := e.count(t, "audit_entries", "action = ? AND object_id = ?", a, b.ID); n != 1 {
				t.Errorf("%d %s entries", n, a)
			}
		}
		for _, ev := range []string{reservations.EventCreated, reservations.EventConfirmed, reservations.EventCompleted, reservations.EventReminder} {
			if n := e.count(t, "outbox", "event_type = ? AND aggregate_id = ?", ev, b.ID); n != 1 {
				t.Errorf("%d %s events", n, ev)
			}
		}
		// A refused booking records nothing: no reservation, no entry, no event.
		before := e.count(t, "outbox", "")
		_, err = e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 1,
			Customer: guest(2), Source: reservations.SourceStaff, Overbook: false, MemberID: ""})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 20,
			Customer: guest(3), Source: reservations.SourceStaff}); code(err) != "slot_full" {
			t.Fatalf("too many: %v", err)
		}
		if got := e.count(t, "outbox", ""); got != before+1 {
			t.Fatalf("outbox %d → %d: a failed booking recorded events", before, got)
		}
		// The guest's token cancels; a wrong one does not.
		g, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at("16:00").AddDate(0, 0, 7), PartySize: 1,
			Customer: guest(4), Source: reservations.SourcePublic})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Change(e.ctx, db, e.tenant, g.ID, reservations.ActionCancel, reservations.ChangeInput{Customer: true, Token: "wrong"}); code(err) != "reservation_token_invalid" {
			t.Fatalf("wrong token: %v", err)
		}
		if _, err := e.svc.Change(e.ctx, db, e.tenant, g.ID, reservations.ActionCancel, reservations.ChangeInput{Customer: true, Token: g.CancelToken}); err != nil {
			t.Fatalf("token cancel: %v", err)
		}
		if n := e.count(t, "outbox", "event_type = ? AND aggregate_id = ? AND status = ?", reservations.EventReminder, g.ID, "cancelled"); n != 1 {
			t.Fatalf("reminder of a cancelled booking not cancelled (%d)", n)
		}
	})
}

func TestRequestKeyBooksOnce(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		key := reservations.RequestKeyOf("public:t1", "k-1")
		got := race(20, func(i int) error {
			_, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 1,
				Customer: guest(1), Source: reservations.SourcePublic, RequestKey: key})
			return err
		})
		if got[""] != 20 {
			t.Fatalf("outcomes %v", got)
		}
		if n := e.count(t, "reservations", ""); n != 1 {
			t.Fatalf("%d reservations for one request key", n)
		}
		if b := e.slotBooked(t, e.session); b != 1 {
			t.Fatalf("booked %d", b)
		}
	})
}

func TestList(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		for i, hm := range []string{"09:00", "10:00", "11:00"} {
			if _, err := e.svc.Book(e.ctx, db, e.tenant, e.cutInput(at(hm), i)); err != nil {
				t.Fatal(err)
			}
		}
		page, next, err := e.svc.List(e.ctx, db, reservations.Filter{MenuID: e.cut, Limit: 2})
		if err != nil || len(page) != 2 || next == "" {
			t.Fatalf("page 1: %d %q %v", len(page), next, err)
		}
		page2, next2, err := e.svc.List(e.ctx, db, reservations.Filter{MenuID: e.cut, Limit: 2, After: next})
		if err != nil || len(page2) != 1 || next2 != "" || !page2[0].StartsAt.Equal(at("11:00")) {
			t.Fatalf("page 2: %+v %q %v", page2, next2, err)
		}
		one, _, err := e.svc.List(e.ctx, db, reservations.Filter{Number: page[0].Number})
		if err != nil || len(one) != 1 || one[0].ID != page[0].ID {
			t.Fatalf("by number: %+v %v", one, err)
		}
	})
}

func BenchmarkBook(b *testing.B) {
	for _, eng := range dbtest.Engines {
		b.Run(string(eng), func(b *testing.B) {
			db := dbtest.NewDB(b, eng)
			e := newEnv(b, db)
			base := at("09:00")
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// Distinct starts: 9:00–17:00 every hour over the days ahead.
				start := base.AddDate(0, 0, i/8).Add(time.Duration(i%8) * time.Hour)
				if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: start, PartySize: 1,
					Customer: guest(i), Source: reservations.SourceStaff}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
