package timeslots

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
)

// The tables of timetables (tenant database):
//
//   - slot_series: one row per recurring series, its rule and the values
//     its sessions were made with (kept for reference: the sessions are
//     the truth);
//   - timetable_slots: one row per session. series_id, provider_id and
//     resource_id are NULL when none (Go: ""); instants are UTC. booked is
//     only ever changed by guarded statements, and CHECK (booked <=
//     capacity) backs them up.

type slotRow struct {
	bun.BaseModel `bun:"table:timetable_slots"`

	ID         string    `bun:"id,pk"`
	MenuID     string    `bun:"menu_id"`
	SeriesID   string    `bun:"series_id,nullzero"`
	StartsAt   time.Time `bun:"starts_at"`
	EndsAt     time.Time `bun:"ends_at"`
	Capacity   int       `bun:"capacity"`
	Booked     int       `bun:"booked"`
	ProviderID string    `bun:"provider_id,nullzero"`
	ResourceID string    `bun:"resource_id,nullzero"`
	Closed     bool      `bun:"closed"`
	CreatedAt  time.Time `bun:"created_at"`
	UpdatedAt  time.Time `bun:"updated_at"`
}

type seriesRow struct {
	bun.BaseModel `bun:"table:slot_series"`

	ID          string    `bun:"id,pk"`
	MenuID      string    `bun:"menu_id"`
	Freq        string    `bun:"freq"`
	Weekdays    string    `bun:"weekdays"` // "mon,wed"
	Nth         int       `bun:"nth"`
	Weekday     string    `bun:"weekday"` // "wed" (monthly)
	StartMinute int       `bun:"start_minute"`
	TimeZone    string    `bun:"time_zone"`
	FromDate    string    `bun:"from_date"`
	UntilDate   string    `bun:"until_date"`
	Count       int       `bun:"count"`
	Capacity    int       `bun:"capacity"`
	ProviderID  string    `bun:"provider_id,nullzero"`
	ResourceID  string    `bun:"resource_id,nullzero"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

func slotFromRow(r *slotRow) Slot {
	return Slot{ID: r.ID, MenuID: r.MenuID, SeriesID: r.SeriesID, StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(),
		Capacity: r.Capacity, Booked: r.Booked, ProviderID: r.ProviderID, ResourceID: r.ResourceID, Closed: r.Closed,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func slotToRow(s Slot) slotRow {
	return slotRow{ID: s.ID, MenuID: s.MenuID, SeriesID: s.SeriesID, StartsAt: s.StartsAt.UTC(), EndsAt: s.EndsAt.UTC(),
		Capacity: s.Capacity, Booked: s.Booked, ProviderID: s.ProviderID, ResourceID: s.ResourceID, Closed: s.Closed,
		CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
}

func seriesFromRow(r *seriesRow) Series {
	rule := Recurrence{Freq: Freq(r.Freq), Nth: r.Nth, Count: r.Count}
	for _, k := range strings.Split(r.Weekdays, ",") {
		if wd, ok := weekdayOf(k); ok {
			rule.Weekdays = append(rule.Weekdays, wd)
		}
	}
	if wd, ok := weekdayOf(r.Weekday); ok {
		rule.Weekday = wd
	}
	if d, err := ParseDate(r.UntilDate); err == nil {
		rule.Until = d
	}
	from, _ := ParseDate(r.FromDate)
	return Series{ID: r.ID, MenuID: r.MenuID, Rule: rule, StartTime: Minute(r.StartMinute), TimeZone: r.TimeZone,
		From: from, Capacity: r.Capacity, ProviderID: r.ProviderID, ResourceID: r.ResourceID,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func seriesToRow(s Series) seriesRow {
	r := seriesRow{ID: s.ID, MenuID: s.MenuID, Freq: string(s.Rule.Freq), Nth: s.Rule.Nth, StartMinute: int(s.StartTime),
		TimeZone: s.TimeZone, FromDate: s.From.String(), Count: s.Rule.Count, Capacity: s.Capacity,
		ProviderID: s.ProviderID, ResourceID: s.ResourceID, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
	keys := make([]string, 0, len(s.Rule.Weekdays))
	for _, wd := range s.Rule.Weekdays {
		keys = append(keys, weekdayKeys[wd])
	}
	r.Weekdays = strings.Join(keys, ",")
	if s.Rule.Freq == FreqMonthly {
		r.Weekday = weekdayKeys[s.Rule.Weekday]
	}
	if !s.Rule.Until.IsZero() {
		r.UntilDate = s.Rule.Until.String()
	}
	return r
}

// slotDBErr wraps an unexpected database failure; apperr errors pass.
func slotDBErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.Wrap(apperr.KindInternal, "internal", fmt.Errorf("timeslots: %s: %w", what, err))
}

// slotIDOK reports whether s looks like one of our ids (32 lower-case hex
// digits), so that a malformed id is a 404 without a query.
func slotIDOK(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func selectSlot(ctx context.Context, db bun.IDB, id string) (Slot, error) {
	if !slotIDOK(id) {
		return Slot{}, ErrSlotNotFound
	}
	var row slotRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Slot{}, ErrSlotNotFound
	}
	if err != nil {
		return Slot{}, slotDBErr("read slot", err)
	}
	return slotFromRow(&row), nil
}

var errSlotCursor = apperr.Invalid(apperr.Field("cursor", "invalid", nil))

func selectSlots(ctx context.Context, db bun.IDB, f SlotFilter) ([]Slot, error) {
	var rows []slotRow
	q := db.NewSelect().Model(&rows)
	if f.MenuID != "" {
		q = q.Where("menu_id = ?", f.MenuID)
	}
	if !f.From.IsZero() {
		q = q.Where("starts_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("starts_at < ?", f.To.UTC())
	}
	if !f.IncludeClosed {
		q = q.Where("closed = ?", false)
	}
	if f.After != "" {
		after, err := selectSlot(ctx, db, f.After)
		if errors.Is(err, ErrSlotNotFound) {
			return nil, errSlotCursor
		}
		if err != nil {
			return nil, err
		}
		q = q.Where("(starts_at > ? OR (starts_at = ? AND id > ?))", after.StartsAt, after.StartsAt, after.ID)
	}
	q = q.Order("starts_at", "id")
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, slotDBErr("list slots", err)
	}
	out := make([]Slot, len(rows))
	for i := range rows {
		out[i] = slotFromRow(&rows[i])
	}
	return out, nil
}

func insertSlots(ctx context.Context, tx bun.IDB, ss []Slot) error {
	// In chunks, so one statement stays well under both engines' limits
	// on placeholders.
	const chunk = 100
	for i := 0; i < len(ss); i += chunk {
		rows := make([]slotRow, 0, chunk)
		for _, s := range ss[i:min(i+chunk, len(ss))] {
			rows = append(rows, slotToRow(s))
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return slotDBErr("insert slots", err)
		}
	}
	return nil
}

// lockSlot takes the session's row lock until the transaction ends (on
// MySQL the row's exclusive lock, on SQLite the transaction holds the
// write lock already), so that what is read next is what the guarded
// statement will see.
func lockSlot(ctx context.Context, tx bun.IDB, id string) error {
	if _, err := tx.NewUpdate().Model((*slotRow)(nil)).Set("closed = closed").Where("id = ?", id).Exec(ctx); err != nil {
		return slotDBErr("lock slot", err)
	}
	return nil
}

// updateSlotGuarded writes s's capacity, closed, provider and resource,
// only while booked ≤ the new capacity: the one statement that keeps
// capacity above what is booked. It reports whether the row was written.
func updateSlotGuarded(ctx context.Context, tx bun.IDB, s Slot) (bool, error) {
	res, err := tx.NewUpdate().Model((*slotRow)(nil)).
		Set("capacity = ?", s.Capacity).Set("closed = ?", s.Closed).
		Set("provider_id = ?", nullable(s.ProviderID)).Set("resource_id = ?", nullable(s.ResourceID)).
		Set("updated_at = ?", s.UpdatedAt.UTC()).
		Where("id = ? AND booked <= ?", s.ID, s.Capacity).Exec(ctx)
	if err != nil {
		return false, slotDBErr("update slot", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, slotDBErr("update slot", err)
	}
	return n == 1, nil
}

// deleteSlotGuarded deletes the session only while nothing is booked.
func deleteSlotGuarded(ctx context.Context, tx bun.IDB, id string) (bool, error) {
	res, err := tx.NewDelete().Model((*slotRow)(nil)).Where("id = ? AND booked = 0", id).Exec(ctx)
	if err != nil {
		return false, slotDBErr("delete slot", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, slotDBErr("delete slot", err)
	}
	return n == 1, nil
}

// nullable is s, or NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func selectSeries(ctx context.Context, db bun.IDB, id string) (Series, error) {
	if !slotIDOK(id) {
		return Series{}, ErrSeriesNotFound
	}
	var row seriesRow
	err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Series{}, ErrSeriesNotFound
	}
	if err != nil {
		return Series{}, slotDBErr("read series", err)
	}
	return seriesFromRow(&row), nil
}

func insertSeries(ctx context.Context, tx bun.IDB, s Series) error {
	row := seriesToRow(s)
	if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
		return slotDBErr("insert series", err)
	}
	return nil
}

// seriesSlots returns the sessions of series id starting at or after from
// (all of them for a zero from), in order.
func seriesSlots(ctx context.Context, db bun.IDB, id string, from time.Time) ([]Slot, error) {
	var rows []slotRow
	q := db.NewSelect().Model(&rows).Where("series_id = ?", id)
	if !from.IsZero() {
		q = q.Where("starts_at >= ?", from.UTC())
	}
	if err := q.Order("starts_at", "id").Scan(ctx); err != nil {
		return nil, slotDBErr("list series slots", err)
	}
	out := make([]Slot, len(rows))
	for i := range rows {
		out[i] = slotFromRow(&rows[i])
	}
	return out, nil
}

// deleteSeriesFree deletes the unbooked sessions of series id starting at
// or after from, each guarded as deleteSlotGuarded is, and returns the ids
// deleted.
func deleteSeriesFree(ctx context.Context, tx bun.IDB, id string, from time.Time) ([]string, error) {
	var ids []string
	if err := tx.NewSelect().Model((*slotRow)(nil)).Column("id").
		Where("series_id = ? AND starts_at >= ? AND booked = 0", id, from.UTC()).Order("starts_at", "id").
		Scan(ctx, &ids); err != nil {
		return nil, slotDBErr("list series slots", err)
	}
	var out []string
	for _, sid := range ids {
		ok, err := deleteSlotGuarded(ctx, tx, sid)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, sid)
		}
	}
	return out, nil
}
