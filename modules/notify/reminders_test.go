package notify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/notify"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

func TestReminderDueAcrossDaylightSaving(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	cases := []struct {
		name  string
		start time.Time
		loc   *time.Location
		off   notify.ReminderOffset
		want  time.Time
	}{
		// Sunday 9 March 2025 02:00 is the US spring-forward: "the day
		// before at 10:00" of a 9 March booking is 23 hours earlier, not 24.
		{"day before across spring forward", time.Date(2025, 3, 9, 10, 0, 0, 0, ny), ny, notify.ReminderOffset{Days: 1},
			time.Date(2025, 3, 8, 10, 0, 0, 0, ny)},
		{"two days before across fall back", time.Date(2025, 11, 3, 9, 30, 0, 0, ny), ny, notify.ReminderOffset{Days: 2},
			time.Date(2025, 11, 1, 9, 30, 0, 0, ny)},
		{"3 hours before over the jump", time.Date(2025, 3, 9, 4, 0, 0, 0, ny), ny, notify.ReminderOffset{Hours: 3},
			time.Date(2025, 3, 9, 0, 0, 0, 0, ny)}, // 04:00 EDT − 3 h elapsed = 00:00 EST
		{"Tokyo has no DST", time.Date(2026, 12, 10, 10, 0, 0, 0, tokyo), tokyo, notify.ReminderOffset{Days: 1, Hours: 2},
			time.Date(2026, 12, 9, 8, 0, 0, 0, tokyo)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := notify.ReminderDue(c.start, c.loc, c.off); !got.Equal(c.want) {
				t.Fatalf("due %s, want %s", got.In(c.loc), c.want)
			}
		})
	}
	if d := time.Date(2025, 3, 9, 10, 0, 0, 0, ny).Sub(notify.ReminderDue(time.Date(2025, 3, 9, 10, 0, 0, 0, ny), ny, notify.ReminderOffset{Days: 1})); d != 23*time.Hour {
		t.Fatalf("the day before across spring forward is %s earlier, want 23h", d)
	}
}

// A reminder waits for its time on an injected clock, is replaced when the
// target moves, is not sent when it is cancelled, and is sent once.
func TestRemindersAreSentOnceAtTheirTime(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		ctx := context.Background()
		control, err := dbx.OpenControl(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		defer control.Close()
		if _, err := dbx.Migrate(ctx, control, migrations.Control(string(loc.Engine))); err != nil {
			t.Fatal(err)
		}
		rcfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: migrations.Tenant(string(loc.Engine))}
		if loc.Engine == dbx.MySQL {
			rcfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
		}
		reg, err := tenantdb.New(rcfg)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		id := "0000000000000000000000000000beef"
		p := tenantdb.Placement{TenantID: id, Name: loc.TenantDatabase(id)}
		if loc.Engine == dbx.MySQL {
			p.Server = tenantdb.DefaultServer
		}
		if err := reg.Provision(ctx, p); err != nil {
			t.Fatal(err)
		}
		h, err := reg.Acquire(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		db, _ := h.DB(ctx)

		ny, _ := time.LoadLocation("America/New_York")
		var mu sync.Mutex
		now := time.Date(2025, 3, 1, 12, 0, 0, 0, ny)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
		subs := outbox.NewSubscriptions()
		subs.SetClock(clock)
		var sent []string
		subs.Subscribe("mail", "reservation.reminder", func(_ context.Context, _ bun.IDB, _ outbox.Tenant, e outbox.Event) error {
			sent = append(sent, e.AggregateID)
			return nil
		})
		d, err := outbox.NewDispatcher(outbox.DispatcherConfig{Registry: reg, Control: control, Subs: subs, Now: clock,
			Tenants: func(context.Context, []string) ([]outbox.Tenant, error) { return nil, nil }})
		if err != nil {
			t.Fatal(err)
		}
		target := outbox.Tenant{ID: id, Slug: "ny-salon", Placement: p}
		tx := func(fn func(ctx context.Context, tx bun.Tx) error) {
			t.Helper()
			if err := db.RunInTx(ctx, nil, fn); err != nil {
				t.Fatal(err)
			}
		}
		dayBefore := notify.ReminderOffset{Days: 1}
		// r1 on 9 March 10:00 (its reminder is before the spring-forward),
		// r2 on 11 March (moved to the 12th), r3 cancelled.
		tx(func(ctx context.Context, tx bun.Tx) error {
			for _, r := range []struct {
				id    string
				start time.Time
			}{{"r1", time.Date(2025, 3, 9, 10, 0, 0, 0, ny)}, {"r2", time.Date(2025, 3, 11, 10, 0, 0, 0, ny)}, {"r3", time.Date(2025, 3, 9, 9, 0, 0, 0, ny)}} {
				if _, err := notify.ScheduleReminder(ctx, tx, subs, "reservation.reminder", "reservation", r.id, r.start, ny, dayBefore, map[string]string{"id": r.id}); err != nil {
					return err
				}
			}
			return nil
		})
		// r2 moves a day later: its reminder moves with it, not doubled.
		tx(func(ctx context.Context, tx bun.Tx) error {
			_, err := notify.ScheduleReminder(ctx, tx, subs, "reservation.reminder", "reservation", "r2", time.Date(2025, 3, 12, 10, 0, 0, 0, ny), ny, dayBefore, map[string]string{"id": "r2"})
			return err
		})
		// r3 is cancelled.
		tx(func(ctx context.Context, tx bun.Tx) error {
			n, err := notify.CancelReminder(ctx, tx, "reservation.reminder", "r3")
			if err == nil && n != 1 {
				t.Errorf("cancelled %d reminders of r3, want 1", n)
			}
			return err
		})
		run := func(at time.Time) []string {
			set(at)
			sent = nil
			if _, err := d.RunOnce(ctx, target); err != nil {
				t.Fatal(err)
			}
			return sent
		}
		if got := run(time.Date(2025, 3, 8, 9, 59, 0, 0, ny)); len(got) != 0 {
			t.Fatalf("sent %v before their time", got)
		}
		if got := run(time.Date(2025, 3, 8, 10, 0, 0, 0, ny)); len(got) != 1 || got[0] != "r1" {
			t.Fatalf("at 8 March 10:00 sent %v, want [r1]", got)
		}
		if got := run(time.Date(2025, 3, 10, 10, 30, 0, 0, ny)); len(got) != 0 {
			t.Fatalf("at 10 March sent %v: the moved r2 is due on the 11th, r3 is cancelled, r1 was sent", got)
		}
		if got := run(time.Date(2025, 3, 11, 10, 0, 0, 0, ny)); len(got) != 1 || got[0] != "r2" {
			t.Fatalf("at 11 March 10:00 sent %v, want [r2]", got)
		}
		if got := run(time.Date(2025, 4, 1, 0, 0, 0, 0, ny)); len(got) != 0 {
			t.Fatalf("later sent %v again", got)
		}
	})
}
