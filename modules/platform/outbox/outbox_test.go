package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/migrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/platform/tenantdb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Microsecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// env is one installation: a control database, a registry and one
// provisioned tenant.
type env struct {
	loc     dbx.Location
	control *bun.DB
	reg     *tenantdb.Registry
	tenant  outbox.Tenant
	clock   *clock
}

func newEnv(t *testing.T, loc dbx.Location) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{loc: loc, clock: newClock()}
	e.control = openControl(t, loc)
	if _, err := dbx.Migrate(ctx, e.control, migrations.Control(string(loc.Engine))); err != nil {
		t.Fatal(err)
	}
	e.reg = newRegistry(t, loc)
	id := "t0000000000000000000000000000001"
	p := tenantdb.Placement{TenantID: id, Name: loc.TenantDatabase(id)}
	if loc.Engine == dbx.MySQL {
		p.Server = tenantdb.DefaultServer
	}
	if err := e.reg.Provision(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.tenant = outbox.Tenant{ID: id, Slug: "salon", Placement: p}
	return e
}

func openControl(t *testing.T, loc dbx.Location) *bun.DB {
	t.Helper()
	db, err := dbx.OpenControl(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newRegistry(t *testing.T, loc dbx.Location) *tenantdb.Registry {
	t.Helper()
	cfg := tenantdb.Config{Engine: loc.Engine, DataDir: loc.DataDir, Migrations: migrations.Tenant(string(loc.Engine))}
	if loc.Engine == dbx.MySQL {
		cfg.Servers = map[string]string{tenantdb.DefaultServer: loc.MySQLDSN}
	}
	r, err := tenantdb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// db returns the tenant's database from reg, released when t ends.
func (e *env) db(t *testing.T, reg *tenantdb.Registry) bun.IDB {
	t.Helper()
	h, err := reg.Acquire(context.Background(), e.tenant.Placement)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Release)
	db, _ := h.DB(context.Background())
	return db
}

func (e *env) subs() *outbox.Subscriptions {
	s := outbox.NewSubscriptions()
	s.SetClock(e.clock.Now)
	return s
}

func (e *env) config(subs *outbox.Subscriptions) outbox.DispatcherConfig {
	return outbox.DispatcherConfig{
		Registry: e.reg, Control: e.control, Subs: subs, Now: e.clock.Now,
		Tenants:    e.resolve,
		AllTenants: func(context.Context) ([]outbox.Tenant, error) { return []outbox.Tenant{e.tenant}, nil },
	}
}

func (e *env) resolve(_ context.Context, ids []string) ([]outbox.Tenant, error) {
	var out []outbox.Tenant
	for _, id := range ids {
		if id == e.tenant.ID {
			out = append(out, e.tenant)
		}
	}
	return out, nil
}

func newDispatcher(t *testing.T, cfg outbox.DispatcherConfig) *outbox.Dispatcher {
	t.Helper()
	d, err := outbox.NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// enqueue records ne in a transaction of its own and commits.
func enqueue(t *testing.T, db bun.IDB, subs *outbox.Subscriptions, ne outbox.NewEvent) []outbox.Event {
	t.Helper()
	var evs []outbox.Event
	err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		evs, err = outbox.Enqueue(ctx, tx, subs, ne)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func runOnce(t *testing.T, d *outbox.Dispatcher, tenant outbox.Tenant) int {
	t.Helper()
	n, err := d.RunOnce(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func list(t *testing.T, db bun.IDB, f outbox.Filter) []outbox.Event {
	t.Helper()
	evs, err := outbox.List(context.Background(), db, f)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func get(t *testing.T, db bun.IDB, id string) outbox.Event {
	t.Helper()
	ev, err := outbox.Get(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// recorder is a handler that records the ids it was called with.
type recorder struct {
	mu    sync.Mutex
	calls []outbox.Event
	fail  func(e outbox.Event) error
}

func (r *recorder) handle(_ context.Context, _ bun.IDB, _ outbox.Tenant, e outbox.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, e)
	if r.fail != nil {
		return r.fail(e)
	}
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.calls {
		out = append(out, e.ID)
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// metric returns the sum of the series of the metric name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// dueAt returns the tenant's due time in the control database.
func dueAt(t *testing.T, control bun.IDB, tenantID string) (time.Time, bool) {
	t.Helper()
	var due []time.Time
	err := control.NewSelect().Table("outbox_due").Column("due_at").Where("tenant_id = ?", tenantID).Scan(context.Background(), &due)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) == 0 {
		return time.Time{}, false
	}
	return due[0].UTC(), true
}

func TestEnqueueCommitsWithTheChangeOrNotAtAll(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		rec := &recorder{}
		subs.Subscribe("mail", "staff.invited", rec.handle)
		ctx := context.Background()

		boom := errors.New("the change failed")
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := outbox.Enqueue(ctx, tx, subs, outbox.NewEvent{Type: "staff.invited", Payload: map[string]string{"email": "a@example.jp"}}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("tx: %v", err)
		}
		if got := list(t, db, outbox.Filter{}); len(got) != 0 {
			t.Fatalf("a rolled-back change left events: %+v", got)
		}
		if _, err := outbox.Enqueue(ctx, db, subs, outbox.NewEvent{Type: "staff.invited"}); err == nil {
			t.Fatal("Enqueue outside a transaction was accepted")
		}
		d := newDispatcher(t, e.config(subs))
		if n := runOnce(t, d, e.tenant); n != 0 || rec.count() != 0 {
			t.Fatalf("delivered %d, handler called %d times", n, rec.count())
		}
		// An event nobody subscribes to is not recorded.
		if evs := enqueue(t, db, subs, outbox.NewEvent{Type: "nobody.listens"}); len(evs) != 0 {
			t.Fatalf("unsubscribed event recorded: %+v", evs)
		}
	})
}

func TestDeliversOnceToEachConsumerWithTheEventID(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		mail, hooks := &recorder{}, &recorder{}
		subs.Subscribe("mail", "staff.invited", mail.handle)
		subs.Subscribe("webhooks", "*", hooks.handle)
		prom := prometheus.NewRegistry()
		cfg := e.config(subs)
		cfg.Registerer = prom
		d := newDispatcher(t, cfg)

		ctx := logx.WithFields(context.Background(), &logx.Fields{RequestID: "req-42"})
		var evs []outbox.Event
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var err error
			evs, err = outbox.Enqueue(ctx, tx, subs, outbox.NewEvent{
				Type: "staff.invited", AggregateType: "staff", AggregateID: "s1",
				Payload: map[string]string{"name": "山田 花子"},
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Consumer != "mail" || evs[1].Consumer != "webhooks" || evs[0].ID == evs[1].ID ||
			evs[0].EventID != evs[1].EventID || evs[0].Status != outbox.StatusPending || evs[0].RequestID != "req-42" {
			t.Fatalf("enqueued %+v", evs)
		}
		if err := d.Notify(ctx, e.tenant.ID, evs); err != nil {
			t.Fatal(err)
		}
		if due, ok := dueAt(t, e.control, e.tenant.ID); !ok || !due.Equal(evs[0].DueAt) {
			t.Fatalf("due time %v %v, want %v", due, ok, evs[0].DueAt)
		}

		if n := runOnce(t, d, e.tenant); n != 2 {
			t.Fatalf("delivered %d, want 2", n)
		}
		if got := mail.ids(); len(got) != 1 || got[0] != evs[0].ID {
			t.Fatalf("mail got %v, want [%s]", got, evs[0].ID)
		}
		if got := hooks.ids(); len(got) != 1 || got[0] != evs[1].ID {
			t.Fatalf("webhooks got %v, want [%s]", got, evs[1].ID)
		}
		got := mail.calls[0]
		var p struct{ Name string }
		if err := got.Decode(&p); err != nil || p.Name != "山田 花子" || got.AggregateID != "s1" || got.RequestID != "req-42" || got.Attempts != 1 {
			t.Fatalf("handler saw %+v (payload %+v, %v)", got, p, err)
		}
		if n := runOnce(t, d, e.tenant); n != 0 || mail.count() != 1 {
			t.Fatalf("second pass delivered %d; mail called %d times", n, mail.count())
		}
		for _, ev := range list(t, db, outbox.Filter{}) {
			if ev.Status != outbox.StatusDelivered || ev.DeliveredAt.IsZero() {
				t.Fatalf("after delivery: %+v", ev)
			}
		}
		if _, ok := dueAt(t, e.control, e.tenant.ID); ok {
			t.Fatal("a tenant with nothing pending is still due in the control database")
		}
		if v := metric(t, prom, "yoyaku_outbox_delivered_total"); v != 2 {
			t.Fatalf("delivered_total %v", v)
		}
		if v := metric(t, prom, "yoyaku_outbox_pending"); v != 0 {
			t.Fatalf("pending %v", v)
		}
		// Finished rows are purged; pending ones stay.
		enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})
		if n, err := outbox.Purge(ctx, db, e.clock.Now().Add(time.Second)); err != nil || n != 2 {
			t.Fatalf("purged %d, %v", n, err)
		}
		if left := list(t, db, outbox.Filter{}); len(left) != 2 || left[0].Status != outbox.StatusPending {
			t.Fatalf("after purge: %+v", left)
		}
	})
}

func TestFailuresBackOffThenDeadLetterRetryAndDiscard(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		var down atomic.Bool
		down.Store(true)
		rec := &recorder{fail: func(outbox.Event) error {
			if down.Load() {
				return errors.New("dial tcp: connection refused; 550 <hanako@example.jp>")
			}
			return nil
		}}
		subs.Subscribe("mail", "staff.invited", rec.handle)
		prom := prometheus.NewRegistry()
		cfg := e.config(subs)
		cfg.MaxAttempts, cfg.BaseBackoff, cfg.Registerer = 3, 30*time.Second, prom
		d := newDispatcher(t, cfg)

		ev := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]
		ceiling := 30 * time.Second
		for attempt := 1; attempt <= 3; attempt++ {
			if n := runOnce(t, d, e.tenant); n != 0 {
				t.Fatalf("attempt %d delivered", attempt)
			}
			if rec.count() != attempt {
				t.Fatalf("attempt %d: handler called %d times", attempt, rec.count())
			}
			got := get(t, db, ev.ID)
			if got.Attempts != attempt || got.LastError == "" {
				t.Fatalf("after attempt %d: %+v", attempt, got)
			}
			if attempt == 3 {
				if got.Status != outbox.StatusDead {
					t.Fatalf("after %d attempts: %s", attempt, got.Status)
				}
				break
			}
			now := e.clock.Now()
			if got.Status != outbox.StatusPending || !got.NextAt.After(now) || got.NextAt.After(now.Add(ceiling+time.Second)) {
				t.Fatalf("after attempt %d: status %s, next at %v, want within %v of %v", attempt, got.Status, got.NextAt, ceiling, now)
			}
			// Not before its time...
			e.clock.Set(got.NextAt.Add(-time.Microsecond))
			runOnce(t, d, e.tenant)
			if rec.count() != attempt {
				t.Fatalf("retried before its backoff ended")
			}
			// ...and then, with a ceiling that doubles.
			e.clock.Set(got.NextAt)
			ceiling *= 2
		}
		if v := metric(t, prom, "yoyaku_outbox_failures_total"); v != 3 {
			t.Fatalf("failures_total %v", v)
		}
		if v := metric(t, prom, "yoyaku_outbox_dead_letters_total"); v != 1 {
			t.Fatalf("dead_letters_total %v", v)
		}
		if v := metric(t, prom, "yoyaku_outbox_dead"); v != 1 {
			t.Fatalf("dead gauge %v", v)
		}
		e.clock.Advance(24 * time.Hour)
		if n := runOnce(t, d, e.tenant); n != 0 || rec.count() != 3 {
			t.Fatal("a dead letter was delivered again on its own")
		}
		dead := list(t, db, outbox.Filter{Status: outbox.StatusDead})
		if len(dead) != 1 || dead[0].ID != ev.ID || dead[0].LastError == "" {
			t.Fatalf("dead letters %+v", dead)
		}

		// Retry: delivered, with the same id.
		down.Store(false)
		ctx := context.Background()
		if err := outbox.Retry(ctx, db, ev.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(t, db, ev.ID); got.Status != outbox.StatusPending || got.Attempts != 0 {
			t.Fatalf("after retry %+v", got)
		}
		if n := runOnce(t, d, e.tenant); n != 1 {
			t.Fatalf("retried event: delivered %d", n)
		}
		if ids := rec.ids(); ids[len(ids)-1] != ev.ID {
			t.Fatalf("re-delivered %s, want %s", ids[len(ids)-1], ev.ID)
		}
		if err := outbox.Retry(ctx, db, ev.ID); !errors.Is(err, outbox.ErrNotDead) {
			t.Fatalf("retry of a delivered event: %v", err)
		}

		// Discard.
		down.Store(true)
		ev2 := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]
		for range 3 {
			runOnce(t, d, e.tenant)
			e.clock.Advance(7 * time.Hour)
		}
		if got := get(t, db, ev2.ID); got.Status != outbox.StatusDead {
			t.Fatalf("second event %+v", got)
		}
		if err := outbox.Discard(ctx, db, ev2.ID); err != nil {
			t.Fatal(err)
		}
		if got := get(t, db, ev2.ID); got.Status != outbox.StatusDiscarded {
			t.Fatalf("after discard %+v", got)
		}
		if err := outbox.Discard(ctx, db, ev2.ID); !errors.Is(err, outbox.ErrNotDead) {
			t.Fatalf("second discard: %v", err)
		}
		if err := outbox.Retry(ctx, db, "nope"); !errors.Is(err, outbox.ErrNotFound) {
			t.Fatalf("retry of an unknown id: %v", err)
		}
		if got := list(t, db, outbox.Filter{Status: outbox.StatusDead}); len(got) != 0 {
			t.Fatalf("dead letters left: %+v", got)
		}
	})
}

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		rec := &recorder{fail: func(outbox.Event) error { return outbox.Permanent(errors.New("no such recipient")) }}
		subs.Subscribe("mail", "staff.invited", rec.handle)
		d := newDispatcher(t, e.config(subs))
		ev := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]
		runOnce(t, d, e.tenant)
		got := get(t, db, ev.ID)
		if got.Status != outbox.StatusDead || got.Attempts != 1 || got.LastError != "no such recipient" {
			t.Fatalf("after a permanent failure: %+v", got)
		}
	})
}

func TestScheduledEventWaitsForItsTime(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		rec := &recorder{}
		subs.Subscribe("mail", "reservation.reminder", rec.handle)
		d := newDispatcher(t, e.config(subs))
		at := e.clock.Now().Add(24 * time.Hour)
		evs := enqueue(t, db, subs, outbox.NewEvent{Type: "reservation.reminder", AggregateType: "reservation", AggregateID: "r1", DueAt: at})
		if !evs[0].DueAt.Equal(at) {
			t.Fatalf("due %v, want %v", evs[0].DueAt, at)
		}
		if n := runOnce(t, d, e.tenant); n != 0 {
			t.Fatal("delivered a day early")
		}
		if due, ok := dueAt(t, e.control, e.tenant.ID); !ok || !due.Equal(at) {
			t.Fatalf("control due time %v %v, want %v", due, ok, at)
		}
		e.clock.Advance(24*time.Hour - time.Second)
		if n := runOnce(t, d, e.tenant); n != 0 {
			t.Fatal("delivered a second early")
		}
		e.clock.Advance(time.Second)
		if n := runOnce(t, d, e.tenant); n != 1 || rec.ids()[0] != evs[0].ID {
			t.Fatalf("at its time: delivered %d", n)
		}
	})
}

func TestCancelAndReplaceByKey(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		mail, hooks := &recorder{}, &recorder{}
		subs.Subscribe("mail", "reservation.reminder", mail.handle)
		subs.Subscribe("webhooks", "reservation.reminder", hooks.handle)
		d := newDispatcher(t, e.config(subs))
		ctx := context.Background()
		start := e.clock.Now()
		remind := func(id string, at time.Time, note string) []outbox.Event {
			return enqueue(t, db, subs, outbox.NewEvent{Type: "reservation.reminder", AggregateType: "reservation",
				AggregateID: id, DueAt: at, Key: "reservation:" + id, Payload: map[string]string{"note": note}})
		}

		// Cancelled: never reminded.
		cancelled := remind("r1", start.Add(time.Hour), "")
		var n int
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var err error
			n, err = outbox.Cancel(ctx, tx, "reservation.reminder", "reservation:r1")
			return err
		})
		if err != nil || n != 2 {
			t.Fatalf("cancelled %d, %v", n, err)
		}

		// Moved: the first reminder is replaced by the second.
		first := remind("r2", start.Add(time.Hour), "first")
		second := remind("r2", start.Add(2*time.Hour), "second")
		if got := get(t, db, first[0].ID); got.Status != outbox.StatusCancelled {
			t.Fatalf("replaced reminder %+v", got)
		}

		e.clock.Advance(time.Hour)
		if n := runOnce(t, d, e.tenant); n != 0 {
			t.Fatalf("delivered %d cancelled or replaced reminders", n)
		}
		e.clock.Advance(time.Hour)
		if n := runOnce(t, d, e.tenant); n != 2 {
			t.Fatalf("delivered %d, want the moved reminder to both consumers", n)
		}
		if ids := mail.ids(); len(ids) != 1 || ids[0] != second[0].ID {
			t.Fatalf("mail got %v, want %s", ids, second[0].ID)
		}
		var p struct{ Note string }
		if err := mail.calls[0].Decode(&p); err != nil || p.Note != "second" {
			t.Fatalf("payload %+v %v", p, err)
		}
		for _, ev := range cancelled {
			if got := get(t, db, ev.ID); got.Status != outbox.StatusCancelled {
				t.Fatalf("cancelled reminder %+v", got)
			}
		}
		if got := list(t, db, outbox.Filter{Status: outbox.StatusCancelled}); len(got) != 4 {
			t.Fatalf("cancelled rows %d, want 4", len(got))
		}
	})
}

func TestKilledDeliveryIsRedeliveredWithTheSameIDAfterTheLease(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		rec := &recorder{}
		subs.Subscribe("mail", "staff.invited", rec.handle)
		cfg := e.config(subs)
		cfg.Lease = time.Minute
		killed := newDispatcher(t, cfg)
		ev := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]

		// The first process claims and starts the delivery, its handler
		// sends the mail, and the process dies before recording it.
		started, err := outbox.ClaimAndStart(context.Background(), killed, db)
		if err != nil || len(started) != 1 || started[0].ID != ev.ID {
			t.Fatalf("claimed %+v, %v", started, err)
		}

		d := newDispatcher(t, cfg) // the next process
		if n := runOnce(t, d, e.tenant); n != 0 || rec.count() != 0 {
			t.Fatal("delivered while another process held the lease")
		}
		if due, ok := dueAt(t, e.control, e.tenant.ID); !ok || !due.Equal(e.clock.Now().Add(time.Minute)) {
			t.Fatalf("the tenant is due again at %v (%v), want when the lease ends", due, ok)
		}
		e.clock.Advance(time.Minute)
		if n := runOnce(t, d, e.tenant); n != 1 {
			t.Fatalf("after the lease: delivered %d", n)
		}
		if got := rec.calls; len(got) != 1 || got[0].ID != ev.ID || got[0].Attempts != 2 {
			t.Fatalf("re-delivered %+v, want id %s on attempt 2", got, ev.ID)
		}
	})
}

// An event whose every attempt kills the process (it never finishes) does
// not loop forever: once its last attempt's lease ends it is dead.
func TestAnAttemptThatNeverFinishesCountsTowardsDeath(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := e.subs()
		rec := &recorder{}
		subs.Subscribe("mail", "staff.invited", rec.handle)
		cfg := e.config(subs)
		cfg.MaxAttempts, cfg.Lease = 2, time.Minute
		ev := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})[0]
		for attempt := 1; attempt <= 2; attempt++ {
			started, err := outbox.ClaimAndStart(context.Background(), newDispatcher(t, cfg), db)
			if err != nil || len(started) != 1 || started[0].Attempts != attempt {
				t.Fatalf("attempt %d: %+v, %v", attempt, started, err)
			}
			e.clock.Advance(time.Minute)
		}
		runOnce(t, newDispatcher(t, cfg), e.tenant)
		got := get(t, db, ev.ID)
		if got.Status != outbox.StatusDead || rec.count() != 0 || got.LastError == "" {
			t.Fatalf("after %d unfinished attempts: %+v (handler called %d times)", got.Attempts, got, rec.count())
		}
	})
}

// Two dispatchers, as in two processes (each its own registry and control
// connection), work on one tenant database at once: every event is
// delivered exactly once and never by both at the same time — first with
// RunOnce loops racing each other, then with both running (Run) while
// events keep coming, woken through either.
func TestTwoDispatchersDeliverEachEventExactlyOnce(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		const first, second = 200, 100
		var (
			mu       sync.Mutex
			inFlight = map[string]bool{}
			count    = map[string]int{}
			by       = [2]int{}
			overlaps []string
		)
		handle := func(i int) outbox.Handler {
			return func(_ context.Context, _ bun.IDB, _ outbox.Tenant, ev outbox.Event) error {
				mu.Lock()
				if inFlight[ev.ID] {
					overlaps = append(overlaps, ev.ID)
				}
				inFlight[ev.ID] = true
				count[ev.ID]++
				by[i]++
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				delete(inFlight, ev.ID)
				mu.Unlock()
				return nil
			}
		}
		total := func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(count)
		}
		var ds []*outbox.Dispatcher
		var subs *outbox.Subscriptions
		for i := range 2 {
			subs = outbox.NewSubscriptions()
			subs.Subscribe("mail", "staff.invited", handle(i))
			reg, control := e.reg, e.control
			if i > 0 {
				reg, control = newRegistry(t, loc), openControl(t, loc)
			}
			ds = append(ds, newDispatcher(t, outbox.DispatcherConfig{
				Registry: reg, Control: control, Subs: subs, Tenants: e.resolve, Batch: 7,
				PollEvery: 20 * time.Millisecond, Workers: 2,
			}))
		}
		db := e.db(t, e.reg)
		for i := range first {
			enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited", AggregateID: fmt.Sprint(i)})
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, d := range ds {
			wg.Go(func() {
				for total() < first && ctx.Err() == nil {
					n, err := d.RunOnce(ctx, e.tenant)
					if err != nil {
						errs <- err
						return
					}
					if n == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if total() != first {
			t.Fatalf("RunOnce loops: %d of %d events delivered", total(), first)
		}
		t.Logf("RunOnce loops: dispatcher 1 delivered %d, dispatcher 2 %d", by[0], by[1])
		if by[0] == 0 || by[1] == 0 {
			t.Fatalf("one dispatcher did everything (%v): not a concurrency test", by)
		}

		runCtx, stop := context.WithCancel(ctx)
		stopped := make(chan error, 2)
		for _, d := range ds {
			go func() { stopped <- d.Run(runCtx) }()
		}
		for i := range second {
			evs := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited", AggregateID: fmt.Sprint(first + i)})
			if err := ds[i%2].Notify(ctx, e.tenant.ID, evs); err != nil {
				t.Fatal(err)
			}
		}
		for total() < first+second && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		for range ds {
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
		}

		mu.Lock()
		defer mu.Unlock()
		if len(overlaps) > 0 {
			t.Fatalf("delivered concurrently by both dispatchers: %v", overlaps)
		}
		if len(count) != first+second {
			t.Fatalf("%d distinct events delivered, want %d", len(count), first+second)
		}
		for id, n := range count {
			if n != 1 {
				t.Fatalf("event %s delivered %d times", id, n)
			}
		}
		if left := list(t, db, outbox.Filter{Status: outbox.StatusPending}); len(left) != 0 {
			t.Fatalf("%d events still pending", len(left))
		}
		if got := list(t, db, outbox.Filter{Status: outbox.StatusDelivered, Limit: 500}); len(got) != first+second {
			t.Fatalf("%d rows delivered, want %d", len(got), first+second)
		}
	})
}

func TestRecordDueKeepsTheEarliest(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		ctx := context.Background()
		t0 := e.clock.Now()
		for _, step := range []struct {
			due  time.Time
			want time.Time
		}{
			{t0.Add(time.Hour), t0.Add(time.Hour)},
			{t0.Add(2 * time.Hour), t0.Add(time.Hour)},
			{t0.Add(time.Millisecond), t0.Add(time.Millisecond)},
			{t0.Add(500 * time.Microsecond), t0.Add(500 * time.Microsecond)},
			{t0.Add(time.Second), t0.Add(500 * time.Microsecond)},
		} {
			if err := outbox.RecordDue(ctx, e.control, "tenant-a", step.due); err != nil {
				t.Fatal(err)
			}
			if got, ok := dueAt(t, e.control, "tenant-a"); !ok || !got.Equal(step.want) {
				t.Fatalf("after recording %v: %v, want %v", step.due, got, step.want)
			}
		}
		if err := outbox.RecordDue(ctx, e.control, "tenant-b", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ := dueAt(t, e.control, "tenant-b"); !got.Equal(t0.Add(time.Minute)) {
			t.Fatalf("tenant-b: %v", got)
		}
	})
}

func TestRunDeliversOnWakeAndStopsCleanly(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := outbox.NewSubscriptions()
		delivered := make(chan string, 10)
		entered := make(chan string, 10)
		block := make(chan struct{})
		subs.Subscribe("mail", "staff.invited", func(_ context.Context, _ bun.IDB, _ outbox.Tenant, ev outbox.Event) error {
			delivered <- ev.ID
			return nil
		})
		subs.Subscribe("mail", "slow.event", func(ctx context.Context, _ bun.IDB, _ outbox.Tenant, ev outbox.Event) error {
			entered <- ev.ID
			<-block
			return ctx.Err()
		})
		cfg := e.config(subs)
		cfg.Now = nil
		cfg.PollEvery, cfg.SweepEvery = time.Hour, time.Hour // only Wake can be prompt
		d := newDispatcher(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan error, 1)
		go func() { stopped <- d.Run(ctx) }()

		evs := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})
		d.Wake(e.tenant.ID, time.Time{})
		select {
		case id := <-delivered:
			if id != evs[0].ID {
				t.Fatalf("delivered %s, want %s", id, evs[0].ID)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("not delivered within 5s of Wake")
		}

		// A delivery under way when Run is told to stop finishes first.
		slow := enqueue(t, db, subs, outbox.NewEvent{Type: "slow.event"})
		if err := d.Notify(context.Background(), e.tenant.ID, slow); err != nil {
			t.Fatal(err)
		}
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("slow event not started within 5s")
		}
		cancel()
		select {
		case <-stopped:
			t.Fatal("Run returned while a delivery was under way")
		case <-time.After(100 * time.Millisecond):
		}
		close(block)
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop")
		}
		if got := get(t, db, slow[0].ID); got.Status != outbox.StatusDelivered {
			t.Fatalf("the delivery under way at stop: %+v", got)
		}
	})
}

// Without Wake (another process wrote the event), the poll of the control
// database finds the tenant; without RecordDue either (a crash right after
// the commit), the sweep does.
func TestPollAndSweepFindWorkWithoutWake(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, loc dbx.Location) {
		e := newEnv(t, loc)
		db := e.db(t, e.reg)
		subs := outbox.NewSubscriptions()
		delivered := make(chan string, 10)
		subs.Subscribe("mail", "staff.invited", func(_ context.Context, _ bun.IDB, _ outbox.Tenant, ev outbox.Event) error {
			delivered <- ev.ID
			return nil
		})
		cfg := e.config(subs)
		cfg.Now = nil
		cfg.PollEvery, cfg.SweepEvery = 50*time.Millisecond, time.Hour
		noSweep := cfg
		noSweep.AllTenants = nil
		d := newDispatcher(t, noSweep)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- d.Run(ctx) }()
		defer func() {
			cancel()
			<-stopped
		}()
		wait := func(want string, what string) {
			t.Helper()
			select {
			case id := <-delivered:
				if id != want {
					t.Fatalf("%s: delivered %s, want %s", what, id, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: not delivered within 5s", what)
			}
		}

		polled := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})
		if err := outbox.RecordDue(context.Background(), e.control, e.tenant.ID, outbox.Earliest(polled)); err != nil {
			t.Fatal(err)
		}
		wait(polled[0].ID, "after RecordDue")
		// Let the pass settle: the tenant has nothing left, so it is no
		// longer due. A pass deletes the due row before it reads the
		// tenant's database one last time, so an event enqueued in that
		// moment is (rightly) delivered; wait until the row has stayed
		// away for several poll intervals, i.e. the pass is over.
		absentSince := time.Time{}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, ok := dueAt(t, e.control, e.tenant.ID); ok {
				absentSince = time.Time{}
			} else if absentSince.IsZero() {
				absentSince = time.Now()
			} else if time.Since(absentSince) > 4*cfg.PollEvery {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the tenant stays due after its only event was delivered")
			}
		}

		swept := enqueue(t, db, subs, outbox.NewEvent{Type: "staff.invited"})
		select {
		case id := <-delivered:
			t.Fatalf("delivered %s with no RecordDue, Wake or sweep", id)
		case <-time.After(300 * time.Millisecond):
		}
		sweeper := newDispatcher(t, cfg)
		if err := sweeper.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		wait(swept[0].ID, "after the sweep")
	})
}
