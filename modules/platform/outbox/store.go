package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
)

// row is one delivery row of the outbox table (tenant database).
type row struct {
	bun.BaseModel `bun:"table:outbox"`

	ID            string    `bun:"id,pk"`
	EventID       string    `bun:"event_id"`
	Consumer      string    `bun:"consumer"`
	EventType     string    `bun:"event_type"`
	AggregateType string    `bun:"aggregate_type"`
	AggregateID   string    `bun:"aggregate_id"`
	DedupKey      string    `bun:"dedup_key"`
	Payload       string    `bun:"payload"`
	RequestID     string    `bun:"request_id"`
	Status        string    `bun:"status"`
	Attempts      int       `bun:"attempts"`
	LastError     string    `bun:"last_error"`
	DueAt         time.Time `bun:"due_at"`
	NextAt        time.Time `bun:"next_at"`
	ClaimedBy     string    `bun:"claimed_by"`
	LeaseUntil    time.Time `bun:"lease_until,nullzero"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
	DeliveredAt   time.Time `bun:"delivered_at,nullzero"`
}

// dueRow is a tenant's next due time in the control database.
type dueRow struct {
	bun.BaseModel `bun:"table:outbox_due"`

	TenantID string    `bun:"tenant_id,pk"`
	DueAt    time.Time `bun:"due_at"`
}

func fromRow(r *row) Event {
	return Event{
		ID: r.ID, EventID: r.EventID, Type: r.EventType, AggregateType: r.AggregateType,
		AggregateID: r.AggregateID, Key: r.DedupKey, Payload: []byte(r.Payload),
		DueAt: dbx.UTC(r.DueAt), NextAt: dbx.UTC(r.NextAt), CreatedAt: dbx.UTC(r.CreatedAt), UpdatedAt: dbx.UTC(r.UpdatedAt),
		DeliveredAt: dbx.UTC(r.DeliveredAt), RequestID: r.RequestID, Attempts: r.Attempts,
		Consumer: r.Consumer, Status: Status(r.Status), LastError: r.LastError,
	}
}

func newRows(ctx context.Context, e NewEvent, consumers []string, payload string, now time.Time) ([]row, error) {
	eventID, err := dbx.NewID()
	if err != nil {
		return nil, err
	}
	due := now
	if !e.DueAt.IsZero() {
		due = stamp(e.DueAt)
	}
	reqID := truncate(logx.RequestID(ctx), 128)
	rows := make([]row, 0, len(consumers))
	for _, c := range consumers {
		id, err := dbx.NewID()
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{
			ID: id, EventID: eventID, Consumer: c, EventType: e.Type,
			AggregateType: e.AggregateType, AggregateID: e.AggregateID, DedupKey: e.Key,
			Payload: payload, RequestID: reqID, Status: string(StatusPending),
			DueAt: due, NextAt: due, CreatedAt: now, UpdatedAt: now,
		})
	}
	return rows, nil
}

func cancelPending(ctx context.Context, db bun.IDB, eventType, key string, now time.Time, why string) (int, error) {
	res, err := db.NewUpdate().Model((*row)(nil)).
		Set("status = ?", StatusCancelled).Set("last_error = ?", why).Set("updated_at = ?", now).
		Where("event_type = ? AND dedup_key = ? AND status = ?", eventType, key, StatusPending).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: cancel %s: %w", eventType, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// List returns delivery rows matching f, newest first: the dead letters
// for the console and the operator API (Filter{Status: StatusDead}).
func List(ctx context.Context, db bun.IDB, f Filter) ([]Event, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	q := db.NewSelect().Model((*row)(nil))
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Type != "" {
		q = q.Where("event_type = ?", f.Type)
	}
	if f.Consumer != "" {
		q = q.Where("consumer = ?", f.Consumer)
	}
	if f.AggregateType != "" {
		q = q.Where("aggregate_type = ?", f.AggregateType)
	}
	if f.AggregateID != "" {
		q = q.Where("aggregate_id = ?", f.AggregateID)
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	var rows []row
	if err := q.OrderExpr("id DESC").Limit(int64(f.Limit)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	out := make([]Event, len(rows))
	for i := range rows {
		out[i] = fromRow(&rows[i])
	}
	return out, nil
}

// Get returns the delivery row id.
func Get(ctx context.Context, db bun.IDB, id string) (Event, error) {
	var r row
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, ErrNotFound
	}
	if err != nil {
		return Event{}, fmt.Errorf("outbox: get: %w", err)
	}
	return fromRow(&r), nil
}

// Retry sends a dead-lettered row again: it turns pending, due now, with
// its attempts reset (the last error stays until the next attempt). Call
// Dispatcher.Notify (or RecordDue and Wake) afterwards with the tenant and
// time.Now() so that a dispatcher picks it up soon.
func Retry(ctx context.Context, db bun.IDB, id string) error {
	now := stamp(time.Now())
	res, err := db.NewUpdate().Model((*row)(nil)).
		Set("status = ?", StatusPending).Set("attempts = 0").Set("next_at = ?", now).
		Set("claimed_by = ''").Set("lease_until = NULL").Set("updated_at = ?", now).
		Where("id = ? AND status = ?", id, StatusDead).Exec(ctx)
	return guarded(ctx, db, id, res, err)
}

// Discard gives up on a dead-lettered row for good.
func Discard(ctx context.Context, db bun.IDB, id string) error {
	res, err := db.NewUpdate().Model((*row)(nil)).
		Set("status = ?", StatusDiscarded).Set("updated_at = ?", stamp(time.Now())).
		Where("id = ? AND status = ?", id, StatusDead).Exec(ctx)
	return guarded(ctx, db, id, res, err)
}

// guarded turns a guarded update on row id that changed nothing into
// ErrNotFound or ErrNotDead.
func guarded(ctx context.Context, db bun.IDB, id string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("outbox: update %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	e, err := Get(ctx, db, id)
	if err != nil {
		return err
	}
	return ErrNotDead.WithArgs(map[string]any{"Status": string(e.Status)})
}

// Purge deletes the finished rows (delivered, discarded, cancelled) last
// changed before before, and returns how many. Pending and dead rows stay.
func Purge(ctx context.Context, db bun.IDB, before time.Time) (int64, error) {
	res, err := db.NewDelete().Model((*row)(nil)).
		Where("status IN (?)", bun.List([]Status{StatusDelivered, StatusDiscarded, StatusCancelled})).
		Where("updated_at < ?", stamp(before)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: purge: %w", err)
	}
	return res.RowsAffected()
}

// RecordDue records in the control database that tenantID has an event due
// at due, keeping the earliest time when one is recorded already.
// Dispatchers poll this table instead of every tenant database.
func RecordDue(ctx context.Context, control bun.IDB, tenantID string, due time.Time) error {
	due = stamp(due)
	q := control.NewInsert().Model(&dueRow{TenantID: tenantID, DueAt: due})
	if control.Dialect().Name() == dialect.MySQL {
		q = q.On("DUPLICATE KEY UPDATE due_at = LEAST(due_at, ?)", due)
	} else {
		q = q.On("CONFLICT (tenant_id) DO UPDATE").Set("due_at = MIN(due_at, EXCLUDED.due_at)")
	}
	if err := onDeadlockRetry(ctx, func() error { _, err := q.Exec(ctx); return err }); err != nil {
		return fmt.Errorf("outbox: record due time: %w", err)
	}
	return nil
}

// onDeadlockRetry runs fn again when InnoDB chose it as a deadlock victim.
// The control database's due table takes concurrent upserts and deletes of
// one key from many processes, and InnoDB can deadlock even single
// statements on a missing key (gap and insert-intention locks); each of
// those statements is safe to repeat.
func onDeadlockRetry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		var me *mysql.MySQLError
		if attempt == 5 || !errors.As(err, &me) || me.Number != 1213 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// dueTenants returns up to limit tenants whose due time has come.
func dueTenants(ctx context.Context, control bun.IDB, now time.Time, limit int) ([]dueRow, error) {
	var rows []dueRow
	err := control.NewSelect().Model(&rows).Where("due_at <= ?", stamp(now)).
		OrderExpr("due_at").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("outbox: read due tenants: %w", err)
	}
	return rows, nil
}

// claimTenant moves a due tenant's time to until, the end of a lease on the
// tenant: other dispatchers skip it meanwhile, and if this one dies the
// tenant comes due again when the lease ends. It reports whether the
// tenant was due (a guarded update: of two pollers, one wins).
func claimTenant(ctx context.Context, control bun.IDB, tenantID string, now, until time.Time) (bool, error) {
	var res sql.Result
	err := onDeadlockRetry(ctx, func() (err error) {
		res, err = control.NewUpdate().Model((*dueRow)(nil)).Set("due_at = ?", stamp(until)).
			Where("tenant_id = ? AND due_at <= ?", tenantID, stamp(now)).Exec(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("outbox: claim tenant: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// clearDue forgets a tenant's due time; the caller then reads the tenant's
// database and records what is left. In that order a writer's RecordDue
// can never be lost: its commit precedes its RecordDue, so it is either
// seen by the read or recorded after the delete.
func clearDue(ctx context.Context, control bun.IDB, tenantID string) error {
	err := onDeadlockRetry(ctx, func() error {
		_, err := control.NewDelete().Model((*dueRow)(nil)).Where("tenant_id = ?", tenantID).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: clear due time: %w", err)
	}
	return nil
}

// stats summarises a tenant's outbox: what the metrics show, and when a
// dispatcher needs to look again.
type stats struct {
	Due       int       // pending rows due now (waiting, retrying or being delivered)
	Scheduled int       // pending rows due later
	Dead      int       // dead letters
	OldestDue time.Time // earliest due time among Due; zero when none
	Next      time.Time // earliest time a pending row may be tried; zero when none pending
}

func readStats(ctx context.Context, db bun.IDB, now time.Time) (stats, error) {
	var groups []struct {
		Status string    `bun:"status"`
		IsDue  int       `bun:"is_due"`
		N      int       `bun:"n"`
		Oldest time.Time `bun:"oldest"`
		Next   time.Time `bun:"next_try"`
	}
	err := db.NewRaw(`SELECT status, CASE WHEN due_at <= ? THEN 1 ELSE 0 END AS is_due, COUNT(*) AS n,
		MIN(due_at) AS oldest, MIN(next_at) AS next_try
		FROM outbox WHERE status IN (?) GROUP BY status, is_due`,
		stamp(now), bun.List([]Status{StatusPending, StatusDead})).Scan(ctx, &groups)
	if err != nil {
		return stats{}, fmt.Errorf("outbox: read stats: %w", err)
	}
	var s stats
	for _, g := range groups {
		switch {
		case g.Status == string(StatusDead):
			s.Dead += g.N
		case g.IsDue == 1:
			s.Due += g.N
			s.OldestDue = g.Oldest.UTC()
		default:
			s.Scheduled += g.N
		}
		if g.Status == string(StatusPending) && (s.Next.IsZero() || g.Next.Before(s.Next)) {
			s.Next = g.Next.UTC()
		}
	}
	return s, nil
}

// claim picks up to n due rows and leases them to token until until. On
// MySQL the rows are locked with FOR UPDATE SKIP LOCKED, so concurrent
// claimers take disjoint rows without waiting for each other; READ
// COMMITTED keeps InnoDB from taking gap locks that would stall writers'
// inserts. On SQLite the transaction holds the write lock from its start.
func claim(ctx context.Context, db bun.IDB, token string, now, until time.Time, n int) ([]row, error) {
	mysql := db.Dialect().Name() == dialect.MySQL
	var opts *sql.TxOptions
	if mysql {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	var rows []row
	err := db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		rows = nil
		q := tx.NewSelect().Model(&rows).
			Where("status = ? AND next_at <= ?", StatusPending, now).
			OrderExpr("next_at").Limit(int64(n))
		if mysql {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
			rows[i].ClaimedBy, rows[i].LeaseUntil, rows[i].NextAt = token, until, until
		}
		res, err := tx.NewUpdate().Model((*row)(nil)).
			Set("claimed_by = ?", token).Set("lease_until = ?", until).Set("next_at = ?", until).
			Where("id IN (?) AND status = ? AND next_at <= ?", bun.List(ids), StatusPending, now).Exec(ctx)
		if err != nil {
			return err
		}
		if got, _ := res.RowsAffected(); int(got) != len(rows) {
			// Cannot happen while the rows are locked; re-read what is ours.
			rows = nil
			return tx.NewSelect().Model(&rows).Where("claimed_by = ?", token).Scan(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	return rows, nil
}

// start renews a claimed row's lease and counts the attempt, right before
// its delivery. It fails (false) when the row is no longer ours or no longer
// pending: cancelled meanwhile, or our lease ran out and another dispatcher
// took it over.
func start(ctx context.Context, db bun.IDB, r *row, now, until time.Time) (bool, error) {
	res, err := db.NewUpdate().Model((*row)(nil)).
		Set("attempts = attempts + 1").Set("lease_until = ?", until).Set("next_at = ?", until).
		Set("updated_at = ?", now).
		Where("id = ? AND claimed_by = ? AND status = ?", r.ID, r.ClaimedBy, StatusPending).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("outbox: start delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if n == 1 {
		r.Attempts++
		r.LeaseUntil, r.NextAt = until, until
	}
	return n == 1, err
}

// markDelivered records a delivery. It holds even if the row was cancelled
// while the delivery ran: what was sent was sent.
func markDelivered(ctx context.Context, db bun.IDB, r *row, now time.Time) (bool, error) {
	res, err := db.NewUpdate().Model((*row)(nil)).
		Set("status = ?", StatusDelivered).Set("delivered_at = ?", now).Set("updated_at = ?", now).
		Set("claimed_by = ''").Set("lease_until = NULL").Set("last_error = ''").
		Where("id = ? AND claimed_by = ?", r.ID, r.ClaimedBy).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("outbox: mark delivered: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// markFailed records a failed attempt: pending again from next, or dead
// when next is zero.
func markFailed(ctx context.Context, db bun.IDB, r *row, now, next time.Time, msg string) (bool, error) {
	q := db.NewUpdate().Model((*row)(nil)).
		Set("last_error = ?", truncate(msg, 1000)).Set("updated_at = ?", now).
		Set("claimed_by = ''").Set("lease_until = NULL")
	if next.IsZero() {
		q = q.Set("status = ?", StatusDead).Set("next_at = ?", now)
	} else {
		q = q.Set("next_at = ?", next)
	}
	res, err := q.Where("id = ? AND claimed_by = ? AND status = ?", r.ID, r.ClaimedBy, StatusPending).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("outbox: mark failed: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release gives back claimed rows that were not started (shutdown).
func release(ctx context.Context, db bun.IDB, token string, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.NewUpdate().Model((*row)(nil)).
		Set("claimed_by = ''").Set("lease_until = NULL").Set("next_at = ?", now).
		Where("id IN (?) AND claimed_by = ? AND status = ?", bun.List(ids), token, StatusPending).Exec(ctx)
	if err != nil {
		return fmt.Errorf("outbox: release: %w", err)
	}
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
