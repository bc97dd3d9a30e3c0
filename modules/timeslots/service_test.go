package timeslots_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

type env struct {
	db  *bun.DB
	svc *timeslots.Service
	ctx context.Context
}

var now = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, db *bun.DB) *env {
	t.Helper()
	if _, err := dbx.Migrate(context.Background(), db, migrations.Tenant(db.Dialect().Name().String())); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"aya": true, "room-1": true}
	exists := func(_ context.Context, _ bun.IDB, id string) (bool, error) { return known[id], nil }
	svc := timeslots.NewService(timeslots.Config{Now: func() time.Time { return now }, ProviderExists: exists, ResourceExists: exists})
	ctx := auditlog.WithRequest(context.Background(), auditlog.Request{
		Actor: auditlog.Actor{Kind: auditlog.ActorStaff, ID: "st1", Name: "hanako@example.jp", Role: "owner"}, RequestID: "req-cal"})
	return &env{db: db, svc: svc, ctx: ctx}
}

func ri(s string) timeslots.RangeInput {
	a, b, _ := strings.Cut(s, "-")
	return timeslots.RangeInput{Start: a, End: b}
}

func ris(ss ...string) []timeslots.RangeInput {
	out := []timeslots.RangeInput{}
	for _, s := range ss {
		out = append(out, ri(s))
	}
	return out
}

func salonInput() timeslots.BusinessHoursInput {
	week := map[string][]timeslots.RangeInput{}
	for _, k := range []string{"tue", "wed", "thu", "fri", "sat"} {
		week[k] = ris("14:00-19:00", "10:00-13:00") // out of order: stored sorted
	}
	week["sun"] = ris("10:00-17:00")
	hol := ris("10:00-16:00")
	return timeslots.BusinessHoursInput{Weekly: week, Holiday: &hol, ClosedDates: []string{"2026-12-31", "2026-12-30"},
		SpecialDates: []timeslots.SpecialDateInput{{Date: "2026-12-28", Ranges: ris("10:00-15:00")}}}
}

func auditEntries(t *testing.T, e *env, action string) []auditlog.Entry {
	t.Helper()
	es, err := auditlog.Search(e.ctx, e.db, auditlog.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func fieldsOf(err error) []string {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return nil
	}
	var out []string
	for _, f := range ae.Fields {
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}

func TestBusinessHoursSaveAndLoad(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		bh, err := e.svc.BusinessHours(e.ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if !bh.UpdatedAt.IsZero() || bh.HolidayHours || len(bh.Weekly[time.Monday]) != 0 {
			t.Fatalf("a new tenant's calendar: %+v", bh)
		}
		saved, err := e.svc.SaveBusinessHours(e.ctx, db, salonInput())
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.BusinessHours(e.ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(text(got.Weekly[time.Tuesday]), []string{"10:00-13:00", "14:00-19:00"}) ||
			!got.HolidayHours || !slices.Equal(text(got.Holiday), []string{"10:00-16:00"}) ||
			len(got.Closed) != 2 || got.Closed[0] != d("2026-12-30") || len(got.Special) != 1 ||
			got.UpdatedBy != "hanako@example.jp" || !got.UpdatedAt.Equal(now) {
			t.Fatalf("read back %+v", got)
		}
		if saved.UpdatedBy != got.UpdatedBy || len(saved.Special) != 1 {
			t.Fatalf("answer of the save %+v", saved)
		}
		// One audit entry with before → after.
		es := auditEntries(t, e, timeslots.AuditCalendarUpdate)
		if len(es) != 1 || es[0].Actor.ID != "st1" || es[0].RequestID != "req-cal" {
			t.Fatalf("audit %+v", es)
		}
		fields := map[string]auditlog.Change{}
		for _, c := range es[0].Changes {
			fields[c.Field] = c
		}
		if c, ok := fields["closed_dates"]; !ok || string(c.Old) != "[]" || string(c.New) != `["2026-12-30","2026-12-31"]` {
			t.Fatalf("closed_dates change %+v", c)
		}
		if c, ok := fields["holiday"]; !ok || string(c.Old) != "null" || !strings.Contains(string(c.New), `"16:00"`) {
			t.Fatalf("holiday change %+v", c)
		}
		// Saving the same again changes and logs nothing.
		if _, err := e.svc.SaveBusinessHours(e.ctx, db, salonInput()); err != nil {
			t.Fatal(err)
		}
		if n := len(auditEntries(t, e, timeslots.AuditCalendarUpdate)); n != 1 {
			t.Fatalf("%d entries after an unchanged save", n)
		}
		// OpenRanges from the database.
		tokyo := tokyo(t)
		for day, want := range map[string][]string{
			"2026-12-15": {"10:00-13:00", "14:00-19:00"}, "2026-12-14": {}, "2026-12-31": {},
			"2026-12-28": {"10:00-15:00"}, "2026-11-23": {"10:00-16:00"},
		} {
			rs, err := e.svc.OpenRanges(e.ctx, db, tokyo, d(day), timeslots.Business())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(text(rs), want) {
				t.Errorf("%s: %v, want %v", day, text(rs), want)
			}
		}
		spans, err := e.svc.Open(e.ctx, db, tokyo, d("2026-12-15"), timeslots.Business())
		if err != nil || len(spans) != 2 || spans[0].Start.UTC().Format(time.RFC3339) != "2026-12-15T01:00:00Z" {
			t.Fatalf("spans %v %v", spans, err)
		}
		// Holidays keep their weekday's hours when the holiday row is unset.
		in := salonInput()
		in.Holiday = nil
		if _, err := e.svc.SaveBusinessHours(e.ctx, db, in); err != nil {
			t.Fatal(err)
		}
		rs, _ := e.svc.OpenRanges(e.ctx, db, tokyo, d("2026-11-23"), timeslots.Business())
		if len(rs) != 0 {
			t.Fatalf("Monday holiday without holiday hours: %v", rs)
		}
		rs, _ = e.svc.OpenRanges(e.ctx, db, tokyo, d("2026-11-03"), timeslots.Business())
		if len(rs) != 2 {
			t.Fatalf("Tuesday holiday without holiday hours: %v", rs)
		}
	})
}

func TestBusinessHoursRefused(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		if _, err := e.svc.SaveBusinessHours(e.ctx, db, salonInput()); err != nil {
			t.Fatal(err)
		}
		before, _ := e.svc.BusinessHours(e.ctx, db)
		tests := []struct {
			name   string
			modify func(*timeslots.BusinessHoursInput)
			want   []string
		}{
			{"end before start", func(in *timeslots.BusinessHoursInput) { in.Weekly["mon"] = ris("18:00-10:00") }, []string{"weekly.mon[0].end:calendar_range_order"}},
			{"end equal to start", func(in *timeslots.BusinessHoursInput) { in.Weekly["mon"] = ris("10:00-10:00") }, []string{"weekly.mon[0].end:calendar_range_order"}},
			{"24:30", func(in *timeslots.BusinessHoursInput) { in.Weekly["fri"] = ris("10:00-24:30") }, []string{"weekly.fri[0].end:calendar_time"}},
			{"start at 24:00", func(in *timeslots.BusinessHoursInput) { in.Weekly["fri"] = ris("24:00-24:00") }, []string{"weekly.fri[0].start:calendar_time"}},
			{"no end", func(in *timeslots.BusinessHoursInput) { in.Weekly["fri"] = ris("10:00") }, []string{"weekly.fri[0].end:required"}},
			{"overlap", func(in *timeslots.BusinessHoursInput) { in.Weekly["tue"] = ris("10:00-13:00", "12:00-18:00") }, []string{"weekly.tue[1].start:calendar_range_overlap"}},
			{"unknown weekday", func(in *timeslots.BusinessHoursInput) { in.Weekly["mond"] = ris("10:00-12:00") }, []string{"weekly.mond:unknown_field"}},
			{"too many ranges", func(in *timeslots.BusinessHoursInput) {
				in.Weekly["sat"] = ris("00:00-01:00", "01:00-02:00", "02:00-03:00", "03:00-04:00", "04:00-05:00", "05:00-06:00", "06:00-07:00", "07:00-08:00", "08:00-09:00")
			}, []string{"weekly.sat:max_items"}},
			{"2026-02-30", func(in *timeslots.BusinessHoursInput) { in.ClosedDates = []string{"2026-02-30"} }, []string{"closed_dates[0]:calendar_date"}},
			{"a year out of range", func(in *timeslots.BusinessHoursInput) { in.ClosedDates = []string{"2126-01-01"} }, []string{"closed_dates[0]:calendar_date"}},
			{"a date twice", func(in *timeslots.BusinessHoursInput) { in.ClosedDates = []string{"2026-12-31", "2026-12-31"} }, []string{"closed_dates[1]:duplicate"}},
			{"closed and special", func(in *timeslots.BusinessHoursInput) { in.ClosedDates = []string{"2026-12-28"} }, []string{"special_dates[0].date:duplicate"}},
			{"special without ranges", func(in *timeslots.BusinessHoursInput) {
				in.SpecialDates = []timeslots.SpecialDateInput{{Date: "2027-01-03"}}
			}, []string{"special_dates[0].ranges:min_items"}},
			{"special range bad", func(in *timeslots.BusinessHoursInput) {
				in.SpecialDates = []timeslots.SpecialDateInput{{Date: "2027-01-03", Ranges: ris("9:00-12:00")}}
			}, []string{"special_dates[0].ranges[0].start:calendar_time"}},
			{"holiday row bad", func(in *timeslots.BusinessHoursInput) { h := ris("16:00-10:00"); in.Holiday = &h }, []string{"holiday[0].end:calendar_range_order"}},
			{"several at once", func(in *timeslots.BusinessHoursInput) {
				in.Weekly["mon"] = ris("18:00-10:00")
				in.ClosedDates = []string{"2026-13-01"}
			}, []string{"weekly.mon[0].end:calendar_range_order", "closed_dates[0]:calendar_date"}},
		}
		for _, tt := range tests {
			in := salonInput()
			tt.modify(&in)
			_, err := e.svc.SaveBusinessHours(e.ctx, db, in)
			if apperr.KindOf(err) != apperr.KindInvalid || !slices.Equal(fieldsOf(err), tt.want) {
				t.Errorf("%s: %v (%v), want %v", tt.name, err, fieldsOf(err), tt.want)
			}
		}
		after, _ := e.svc.BusinessHours(e.ctx, db)
		if b, a := mustJSON(before), mustJSON(after); b != a {
			t.Fatalf("a refused save changed the calendar:\n%s\n%s", b, a)
		}
		if n := len(auditEntries(t, e, timeslots.AuditCalendarUpdate)); n != 1 {
			t.Fatalf("%d audit entries, want 1", n)
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestWorkingHours(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		if _, err := e.svc.SaveBusinessHours(e.ctx, db, salonInput()); err != nil {
			t.Fatal(err)
		}
		aya := timeslots.Provider("aya")
		if _, err := e.svc.WorkingHours(e.ctx, db, timeslots.Provider("nobody")); !errors.Is(err, timeslots.ErrProviderNotFound) {
			t.Fatalf("unknown provider: %v", err)
		}
		if _, err := e.svc.SaveWorkingHours(e.ctx, db, timeslots.Resource("nothing"), timeslots.WorkingHoursInput{}); !errors.Is(err, timeslots.ErrResourceNotFound) {
			t.Fatalf("unknown resource: %v", err)
		}
		if _, err := e.svc.WorkingHours(e.ctx, db, timeslots.Provider("bad id!")); !errors.Is(err, timeslots.ErrProviderNotFound) {
			t.Fatalf("malformed id: %v", err)
		}
		wh, err := e.svc.WorkingHours(e.ctx, db, aya)
		if err != nil || wh.Custom || len(wh.DaysOff) != 0 {
			t.Fatalf("unsaved provider: %+v %v", wh, err)
		}
		_, err = e.svc.SaveWorkingHours(e.ctx, db, aya, timeslots.WorkingHoursInput{
			Weekly: map[string][]timeslots.RangeInput{"tue": ris("12:00-18:00"), "wed": ris("12:00-18:00"), "xyz": nil}, DaysOff: []string{"2026-02-30"}})
		if !slices.Equal(fieldsOf(err), []string{"weekly.xyz:unknown_field", "days_off[0]:calendar_date"}) {
			t.Fatalf("bad working hours: %v", err)
		}
		wh, err = e.svc.SaveWorkingHours(e.ctx, db, aya, timeslots.WorkingHoursInput{
			Weekly: map[string][]timeslots.RangeInput{"tue": ris("12:00-18:00"), "wed": ris("12:00-18:00")}, DaysOff: []string{"2026-12-16"}})
		if err != nil || !wh.Custom || len(wh.DaysOff) != 1 {
			t.Fatalf("save: %+v %v", wh, err)
		}
		if es := auditEntries(t, e, timeslots.AuditProviderUpdate); len(es) != 1 || es[0].ObjectID != "aya" || es[0].ObjectType != "provider" {
			t.Fatalf("audit %+v", es)
		}
		if _, err := e.svc.SaveWorkingHours(e.ctx, db, timeslots.Resource("room-1"), timeslots.WorkingHoursInput{DaysOff: []string{"2026-12-15"}}); err != nil {
			t.Fatal(err)
		}
		cal, err := e.svc.Load(e.ctx, db, tokyo(t), d("2026-12-01"), d("2026-12-31"), aya, timeslots.Resource("room-1"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			day  string
			who  timeslots.Owner
			want []string
		}{
			{"2026-12-15", aya, []string{"12:00-13:00", "14:00-18:00"}},
			{"2026-12-16", aya, []string{}},
			{"2026-12-17", aya, []string{}},
			{"2026-12-15", timeslots.Resource("room-1"), []string{}},
			{"2026-12-16", timeslots.Resource("room-1"), []string{"10:00-13:00", "14:00-19:00"}},
		} {
			if got := text(cal.OpenRanges(d(tt.day), tt.who)); !slices.Equal(got, tt.want) {
				t.Errorf("%s %v: %v, want %v", tt.day, tt.who, got, tt.want)
			}
		}
		// Back to the business's hours; then the calendar is removed with
		// the provider.
		if wh, err = e.svc.SaveWorkingHours(e.ctx, db, aya, timeslots.WorkingHoursInput{}); err != nil || wh.Custom {
			t.Fatalf("reset: %+v %v", wh, err)
		}
		err = db.RunInTx(e.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return e.svc.DeleteWorkingHours(ctx, tx, aya)
		})
		if err != nil {
			t.Fatal(err)
		}
		if es := auditEntries(t, e, timeslots.AuditProviderDelete); len(es) != 1 {
			t.Fatalf("delete audit %+v", es)
		}
	})
}

// Concurrent saves of one calendar queue: every one commits, and the
// calendar is whole (one of the inputs) afterwards.
func TestConcurrentSaves(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := salonInput()
				in.ClosedDates = []string{time.Date(2027, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)}
				_, err := e.svc.SaveBusinessHours(e.ctx, db, in)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		bh, _ := e.svc.BusinessHours(e.ctx, db)
		if len(bh.Closed) != 1 || len(bh.Weekly[time.Tuesday]) != 2 {
			t.Fatalf("after concurrent saves: %+v", bh)
		}
		if n := len(auditEntries(t, e, timeslots.AuditCalendarUpdate)); n != 8 {
			t.Fatalf("%d audit entries, want 8", n)
		}
	})
}
