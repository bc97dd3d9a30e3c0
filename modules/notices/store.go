package notices

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// noticeRow is a row of the control database's notices table.
type noticeRow struct {
	bun.BaseModel `bun:"table:notices"`

	ID          string    `bun:"id,pk"`
	Kind        string    `bun:"kind"`
	Title       string    `bun:"title"`
	Body        string    `bun:"body"`
	StartsAt    time.Time `bun:"starts_at"`
	EndsAt      time.Time `bun:"ends_at,nullzero"`
	AllTenants  bool      `bun:"all_tenants"`
	Urgent      bool      `bun:"urgent"`
	Revision    int       `bun:"revision"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
	WithdrawnAt time.Time `bun:"withdrawn_at,nullzero"`
	AnnouncedAt time.Time `bun:"announced_at,nullzero"`
}

// targetRow addresses a notice to one tenant. The slug is kept beside the
// id (slugs never change) so that showing a notice needs no other module's
// table.
type targetRow struct {
	bun.BaseModel `bun:"table:notice_tenants"`

	NoticeID   string `bun:"notice_id,pk"`
	TenantID   string `bun:"tenant_id,pk"`
	TenantSlug string `bun:"tenant_slug"`
}

// readRow is a row of a tenant database's notice_reads table.
type readRow struct {
	bun.BaseModel `bun:"table:notice_reads"`

	StaffID  string    `bun:"staff_id,pk"`
	NoticeID string    `bun:"notice_id,pk"`
	ReadAt   time.Time `bun:"read_at"`
}

// utc is how instants are stored: UTC, to the microsecond (DATETIME(6)), so
// what is read back equals what was written on both engines.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

func toNoticeRow(n Notice) *noticeRow {
	return &noticeRow{
		ID: n.ID, Kind: string(n.Kind), Title: n.Title, Body: n.Body,
		StartsAt: utc(n.StartsAt), EndsAt: utc(n.EndsAt), AllTenants: n.ForAll(), Urgent: n.Urgent,
		Revision: n.Revision, CreatedAt: utc(n.CreatedAt), UpdatedAt: utc(n.UpdatedAt),
		WithdrawnAt: utc(n.WithdrawnAt), AnnouncedAt: utc(n.AnnouncedAt),
	}
}

func fromNoticeRow(r *noticeRow, slugs []string) Notice {
	return Notice{
		ID: r.ID, Kind: Kind(r.Kind), Title: r.Title, Body: r.Body,
		StartsAt: utc(r.StartsAt), EndsAt: utc(r.EndsAt), Tenants: slugs, Urgent: r.Urgent,
		Revision: r.Revision, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		WithdrawnAt: utc(r.WithdrawnAt), AnnouncedAt: utc(r.AnnouncedAt),
	}
}

// store reads and writes notices and status data. It never begins a
// transaction.
type store struct{}

func (store) insert(ctx context.Context, db bun.IDB, n Notice, addressed []tenants.Tenant) error {
	if _, err := db.NewInsert().Model(toNoticeRow(n)).Exec(ctx); err != nil {
		return fmt.Errorf("insert notice: %w", err)
	}
	if len(addressed) == 0 {
		return nil
	}
	rows := make([]targetRow, 0, len(addressed))
	for _, t := range addressed {
		rows = append(rows, targetRow{NoticeID: n.ID, TenantID: t.ID, TenantSlug: t.Slug})
	}
	if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("insert notice tenants: %w", err)
	}
	return nil
}

// update writes n if its stored revision is still prev: a change made
// meanwhile by another request is never overwritten.
func (store) update(ctx context.Context, db bun.IDB, n Notice, prev int) error {
	r := toNoticeRow(n)
	res, err := db.NewUpdate().Model(r).
		Column("title", "body", "starts_at", "ends_at", "urgent", "revision", "updated_at", "announced_at").
		Where("id = ?", n.ID).Where("revision = ?", prev).Where("withdrawn_at IS NULL").Exec(ctx)
	if err != nil {
		return fmt.Errorf("update notice: %w", err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return ErrChanged
	}
	return nil
}

// setAnnounced records that OnPublished succeeded for revision.
func (store) setAnnounced(ctx context.Context, db bun.IDB, id string, revision int, at time.Time) error {
	_, err := db.NewUpdate().Table("notices").Set("announced_at = ?", utc(at)).
		Where("id = ?", id).Where("revision = ?", revision).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark notice announced: %w", err)
	}
	return nil
}

// withdraw marks the notice withdrawn; false when it already was (or does
// not exist).
func (store) withdraw(ctx context.Context, db bun.IDB, id string, at time.Time) (bool, error) {
	res, err := db.NewUpdate().Table("notices").
		Set("withdrawn_at = ?", utc(at)).Set("updated_at = ?", utc(at)).Set("revision = revision + 1").
		Where("id = ?", id).Where("withdrawn_at IS NULL").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("withdraw notice: %w", err)
	}
	k, _ := res.RowsAffected()
	return k > 0, nil
}

func (s store) byID(ctx context.Context, db bun.IDB, id string) (Notice, error) {
	var row noticeRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Notice{}, ErrNotFound
	}
	if err != nil {
		return Notice{}, fmt.Errorf("select notice: %w", err)
	}
	ns, _, err := s.withTargets(ctx, db, []noticeRow{row})
	if err != nil {
		return Notice{}, err
	}
	return ns[0], nil
}

// withTargets turns rows into notices with their tenants' slugs, and
// returns the tenant ids each addresses (none: every tenant).
func (store) withTargets(ctx context.Context, db bun.IDB, rows []noticeRow) ([]Notice, map[string][]string, error) {
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		if !r.AllTenants {
			ids = append(ids, r.ID)
		}
	}
	slugs := map[string][]string{}
	tenantIDs := map[string][]string{}
	// Chunks keep the IN list well under any engine's limit.
	for chunk := range slices.Chunk(ids, 500) {
		var ts []targetRow
		if err := db.NewSelect().Model(&ts).Where("notice_id IN (?)", bun.List(chunk)).Scan(ctx); err != nil {
			return nil, nil, fmt.Errorf("select notice tenants: %w", err)
		}
		for _, t := range ts {
			slugs[t.NoticeID] = append(slugs[t.NoticeID], t.TenantSlug)
			tenantIDs[t.NoticeID] = append(tenantIDs[t.NoticeID], t.TenantID)
		}
	}
	out := make([]Notice, 0, len(rows))
	for i := range rows {
		s := slugs[rows[i].ID]
		slices.Sort(s)
		out = append(out, fromNoticeRow(&rows[i], s))
	}
	return out, tenantIDs, nil
}

// targetIDs returns the ids of the tenants a notice addresses (none: every
// tenant).
func (store) targetIDs(ctx context.Context, db bun.IDB, id string) ([]string, error) {
	var ids []string
	err := db.NewSelect().Table("notice_tenants").Column("tenant_id").Where("notice_id = ?", id).
		OrderExpr("tenant_id ASC").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("select notice tenants: %w", err)
	}
	return ids, nil
}

func (s store) list(ctx context.Context, db bun.IDB, p ListParams, now time.Time) ([]Notice, error) {
	var rows []noticeRow
	q := db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(p.Limit))
	now = utc(now)
	switch p.State {
	case StateUpcoming:
		q = q.Where("withdrawn_at IS NULL").Where("starts_at > ?", now)
	case StateActive:
		q = q.Where("withdrawn_at IS NULL").Where("starts_at <= ?", now).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("ends_at IS NULL").WhereOr("ends_at > ?", now)
			})
	case StateEnded:
		q = q.Where("withdrawn_at IS NULL").Where("ends_at IS NOT NULL").Where("ends_at <= ?", now)
	case StateWithdrawn:
		q = q.Where("withdrawn_at IS NOT NULL")
	}
	if p.After != "" {
		q = q.Where("id < ?", p.After)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	ns, _, err := s.withTargets(ctx, db, rows)
	return ns, err
}

// live returns the notices the consoles may show: standing, and not ended
// before cutoff; with the tenant ids each addresses.
func (s store) live(ctx context.Context, db bun.IDB, cutoff time.Time) ([]Notice, map[string][]string, error) {
	var rows []noticeRow
	err := db.NewSelect().Model(&rows).Where("withdrawn_at IS NULL").
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("ends_at IS NULL").WhereOr("ends_at > ?", utc(cutoff))
		}).OrderExpr("id DESC").Scan(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("select live notices: %w", err)
	}
	return s.withTargets(ctx, db, rows)
}

// pending returns the standing notices of mailed kinds whose current
// revision OnPublished has not yet taken.
func (s store) pending(ctx context.Context, db bun.IDB) ([]Notice, map[string][]string, error) {
	var rows []noticeRow
	err := db.NewSelect().Model(&rows).Where("withdrawn_at IS NULL").Where("announced_at IS NULL").
		Where("kind IN (?)", bun.List([]string{string(KindMaintenance), string(KindEndOfService)})).
		OrderExpr("id ASC").Limit(100).Scan(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("select pending notices: %w", err)
	}
	return s.withTargets(ctx, db, rows)
}

// public returns the standing incident and maintenance notices addressed to
// every tenant that are current or start before horizon: what the public
// status page shows. Notices for some tenants only never appear there.
func (s store) public(ctx context.Context, db bun.IDB, now, horizon time.Time) ([]Notice, error) {
	var rows []noticeRow
	err := db.NewSelect().Model(&rows).Where("withdrawn_at IS NULL").Where("all_tenants = ?", true).
		Where("kind IN (?)", bun.List([]string{string(KindIncident), string(KindMaintenance)})).
		Where("starts_at <= ?", utc(horizon)).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("ends_at IS NULL").WhereOr("ends_at > ?", utc(now))
		}).OrderExpr("starts_at ASC, id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("select public notices: %w", err)
	}
	out := make([]Notice, 0, len(rows))
	for i := range rows {
		out = append(out, fromNoticeRow(&rows[i], nil))
	}
	return out, nil
}

// reads returns when staffID read each of ids, in the tenant database db.
func (store) reads(ctx context.Context, db bun.IDB, staffID string, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for chunk := range slices.Chunk(ids, 500) {
		var rows []readRow
		err := db.NewSelect().Model(&rows).Where("staff_id = ?", staffID).Where("notice_id IN (?)", bun.List(chunk)).Scan(ctx)
		if err != nil {
			return nil, fmt.Errorf("select notice reads: %w", err)
		}
		for _, r := range rows {
			out[r.NoticeID] = utc(r.ReadAt)
		}
	}
	return out, nil
}

// markRead records that staffID read ids; a notice read before keeps its
// first read_at.
func (store) markRead(ctx context.Context, db bun.IDB, staffID string, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	rows := make([]readRow, 0, len(ids))
	for _, id := range ids {
		rows = append(rows, readRow{StaffID: staffID, NoticeID: id, ReadAt: utc(at)})
	}
	q := db.NewInsert().Model(&rows)
	if db.Dialect().Name() == dialect.MySQL {
		// Not INSERT IGNORE: that would also swallow errors other than
		// the duplicate key.
		q = q.On("DUPLICATE KEY UPDATE").Set("read_at = read_at")
	} else {
		q = q.On("CONFLICT (staff_id, notice_id) DO NOTHING")
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("insert notice reads: %w", err)
	}
	return nil
}

// componentRow is the latest state of one status component.
type componentRow struct {
	bun.BaseModel `bun:"table:status_components"`

	Component  string    `bun:"component,pk"`
	OK         bool      `bun:"ok"`
	CheckedAt  time.Time `bun:"checked_at"`
	ChangedAt  time.Time `bun:"changed_at"`
	LastMinute int64     `bun:"last_minute"`
}

// dayRow is one component's availability on one day.
type dayRow struct {
	bun.BaseModel `bun:"table:status_days"`

	Component    string `bun:"component,pk"`
	Day          string `bun:"day,pk"`
	OKMinutes    int    `bun:"ok_minutes"`
	TotalMinutes int    `bun:"total_minutes"`
}

func (store) component(ctx context.Context, db bun.IDB, c Component) (componentRow, bool, error) {
	var row componentRow
	err := db.NewSelect().Model(&row).Where("component = ?", string(c)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return componentRow{}, false, nil
	}
	if err != nil {
		return componentRow{}, false, fmt.Errorf("select status component: %w", err)
	}
	return row, true, nil
}

func (store) components(ctx context.Context, db bun.IDB) ([]componentRow, error) {
	var rows []componentRow
	if err := db.NewSelect().Model(&rows).Scan(ctx); err != nil {
		return nil, fmt.Errorf("select status components: %w", err)
	}
	return rows, nil
}

// insertComponent records a component's first result; false when another
// process recorded one first.
func (store) insertComponent(ctx context.Context, db bun.IDB, r componentRow) (bool, error) {
	q := db.NewInsert().Model(&r)
	if db.Dialect().Name() == dialect.MySQL {
		q = q.On("DUPLICATE KEY UPDATE").Set("component = component")
	} else {
		q = q.On("CONFLICT (component) DO NOTHING")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("insert status component: %w", err)
	}
	k, _ := res.RowsAffected()
	return k == 1, nil
}

// claimMinute records r as the component's state if its stored last minute
// is still prev: of several processes checking the same minute, exactly one
// counts it.
func (store) claimMinute(ctx context.Context, db bun.IDB, r componentRow, prev int64) (bool, error) {
	res, err := db.NewUpdate().Model(&r).Column("ok", "checked_at", "changed_at", "last_minute").
		Where("component = ?", r.Component).Where("last_minute = ?", prev).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update status component: %w", err)
	}
	k, _ := res.RowsAffected()
	return k == 1, nil
}

// addMinutes adds to a component's day.
func (store) addMinutes(ctx context.Context, db bun.IDB, c Component, day string, ok, total int) error {
	q := "INSERT INTO status_days (component, day, ok_minutes, total_minutes) VALUES (?, ?, ?, ?) "
	if db.Dialect().Name() == dialect.MySQL {
		q += "ON DUPLICATE KEY UPDATE ok_minutes = ok_minutes + VALUES(ok_minutes), total_minutes = total_minutes + VALUES(total_minutes)"
	} else {
		q += "ON CONFLICT (component, day) DO UPDATE SET ok_minutes = ok_minutes + excluded.ok_minutes, total_minutes = total_minutes + excluded.total_minutes"
	}
	if _, err := db.ExecContext(ctx, q, string(c), day, ok, total); err != nil {
		return fmt.Errorf("add status minutes: %w", err)
	}
	return nil
}

// days returns every component's days from first on.
func (store) days(ctx context.Context, db bun.IDB, first string) ([]dayRow, error) {
	var rows []dayRow
	if err := db.NewSelect().Model(&rows).Where("day >= ?", first).OrderExpr("day ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("select status days: %w", err)
	}
	return rows, nil
}

// purgeDays removes days before first.
func (store) purgeDays(ctx context.Context, db bun.IDB, first string) (int64, error) {
	res, err := db.NewDelete().TableExpr("status_days").Where("day < ?", first).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge status days: %w", err)
	}
	return res.RowsAffected()
}
