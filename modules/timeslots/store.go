package timeslots

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// The tables of the calendar (tenant database):
//
//   - calendar_schedules: one row per owner that has saved a calendar
//     (the business: owner_id ""), with whether it has weekly hours of its
//     own and holiday hours, and who saved it last;
//   - calendar_ranges: the ranges of each owner's days, the day being a
//     weekday key ("mon"), "holiday", or a special date ("2026-12-29");
//   - calendar_closed_dates: the business's closed dates and the days off
//     of providers and resources.
//
// Dates are civil dates stored as YYYY-MM-DD text (they are not instants:
// no zone applies), which sorts as dates do on both engines.

type scheduleRow struct {
	bun.BaseModel `bun:"table:calendar_schedules"`

	OwnerKind    string    `bun:"owner_kind,pk"`
	OwnerID      string    `bun:"owner_id,pk"`
	CustomWeekly bool      `bun:"custom_weekly"`
	HolidayHours bool      `bun:"holiday_hours"`
	UpdatedAt    time.Time `bun:"updated_at"`
	UpdatedBy    string    `bun:"updated_by"`
}

type rangeRow struct {
	bun.BaseModel `bun:"table:calendar_ranges"`

	OwnerKind   string `bun:"owner_kind,pk"`
	OwnerID     string `bun:"owner_id,pk"`
	Day         string `bun:"day,pk"`
	Pos         int    `bun:"pos,pk"`
	StartMinute int    `bun:"start_minute"`
	EndMinute   int    `bun:"end_minute"`
}

type closedRow struct {
	bun.BaseModel `bun:"table:calendar_closed_dates"`

	OwnerKind string `bun:"owner_kind,pk"`
	OwnerID   string `bun:"owner_id,pk"`
	Day       string `bun:"day,pk"`
}

// holidayDay is the day key of the holiday row.
const holidayDay = "holiday"

// stored is one owner's calendar as the tables hold it.
type stored struct {
	owner    Owner
	custom   bool
	holidays bool
	weekly   Weekly
	holiday  []Range
	special  map[Date][]Range
	closed   []Date
	at       time.Time
	by       string
}

// ensureOwner makes sure owner's schedule row exists, in a statement of
// its own before the saving transaction: inserting it inside that
// transaction would have two first saves take shared locks on the same new
// key and deadlock on MySQL when both go on to update it. A row left by a
// save that then failed has no author and reads as never saved.
func ensureOwner(ctx context.Context, db bun.IDB, o Owner, now time.Time) error {
	row := scheduleRow{OwnerKind: string(o.Kind), OwnerID: o.ID, UpdatedAt: now, UpdatedBy: ""}
	if _, err := db.NewInsert().Model(&row).Ignore().Exec(ctx); err != nil {
		return fmt.Errorf("timeslots: prepare calendar: %w", err)
	}
	return nil
}

// lockOwner locks owner's schedule row (made by ensureOwner) until the
// transaction ends: on MySQL the row's exclusive lock, on SQLite the
// transaction's write lock. Concurrent saves of one calendar queue, and
// each reads what the previous one left.
func lockOwner(ctx context.Context, tx bun.IDB, o Owner) error {
	if _, err := tx.NewUpdate().Model((*scheduleRow)(nil)).Set("updated_by = updated_by").
		Where("owner_kind = ? AND owner_id = ?", o.Kind, o.ID).Exec(ctx); err != nil {
		return fmt.Errorf("timeslots: lock calendar: %w", err)
	}
	return nil
}

// loadOwners reads the calendars of owners (missing ones come back
// unsaved), in the order given.
func loadOwners(ctx context.Context, db bun.IDB, owners []Owner) ([]stored, error) {
	out := make([]stored, len(owners))
	if len(owners) == 0 {
		return out, nil
	}
	index := map[Owner]int{}
	for i, o := range owners {
		out[i] = stored{owner: o, special: map[Date][]Range{}}
		index[o] = i
	}
	// One query per table for all owners, by owner kind.
	byKind := map[OwnerKind][]string{}
	for _, o := range owners {
		byKind[o.Kind] = append(byKind[o.Kind], o.ID)
	}
	for kind, ids := range byKind {
		var srows []scheduleRow
		if err := db.NewSelect().Model(&srows).Where("owner_kind = ?", kind).Where("owner_id IN (?)", bun.List(ids)).
			Scan(ctx); err != nil {
			return nil, fmt.Errorf("timeslots: read calendar: %w", err)
		}
		for _, r := range srows {
			s := &out[index[Owner{Kind: kind, ID: r.OwnerID}]]
			if r.UpdatedBy == "" {
				continue // made by ensureOwner, never saved
			}
			s.custom, s.holidays, s.at, s.by = r.CustomWeekly, r.HolidayHours, r.UpdatedAt.UTC(), r.UpdatedBy
		}
		var rrows []rangeRow
		if err := db.NewSelect().Model(&rrows).Where("owner_kind = ?", kind).Where("owner_id IN (?)", bun.List(ids)).
			OrderExpr("owner_id, day, pos").Scan(ctx); err != nil {
			return nil, fmt.Errorf("timeslots: read calendar: %w", err)
		}
		for _, r := range rrows {
			s := &out[index[Owner{Kind: kind, ID: r.OwnerID}]]
			rg := Range{Start: Minute(r.StartMinute), End: Minute(r.EndMinute)}
			if wd, ok := weekdayOf(r.Day); ok {
				s.weekly[wd] = append(s.weekly[wd], rg)
			} else if r.Day == holidayDay {
				s.holiday = append(s.holiday, rg)
			} else if d, err := ParseDate(r.Day); err == nil {
				s.special[d] = append(s.special[d], rg)
			}
		}
		var crows []closedRow
		if err := db.NewSelect().Model(&crows).Where("owner_kind = ?", kind).Where("owner_id IN (?)", bun.List(ids)).
			OrderExpr("owner_id, day").Scan(ctx); err != nil {
			return nil, fmt.Errorf("timeslots: read calendar: %w", err)
		}
		for _, r := range crows {
			if d, err := ParseDate(r.Day); err == nil {
				s := &out[index[Owner{Kind: kind, ID: r.OwnerID}]]
				s.closed = append(s.closed, d)
			}
		}
	}
	return out, nil
}

// saveOwner replaces owner's calendar with s (inside the caller's
// transaction, after lockOwner).
func saveOwner(ctx context.Context, tx bun.IDB, s stored) error {
	o := s.owner
	if _, err := tx.NewUpdate().Model((*scheduleRow)(nil)).
		Set("custom_weekly = ?", s.custom).Set("holiday_hours = ?", s.holidays).
		Set("updated_at = ?", s.at).Set("updated_by = ?", s.by).
		Where("owner_kind = ? AND owner_id = ?", o.Kind, o.ID).Exec(ctx); err != nil {
		return fmt.Errorf("timeslots: save calendar: %w", err)
	}
	for _, m := range []any{(*rangeRow)(nil), (*closedRow)(nil)} {
		if _, err := tx.NewDelete().Model(m).Where("owner_kind = ? AND owner_id = ?", o.Kind, o.ID).Exec(ctx); err != nil {
			return fmt.Errorf("timeslots: save calendar: %w", err)
		}
	}
	var ranges []rangeRow
	add := func(day string, rs []Range) {
		for i, r := range rs {
			ranges = append(ranges, rangeRow{OwnerKind: string(o.Kind), OwnerID: o.ID, Day: day, Pos: i,
				StartMinute: int(r.Start), EndMinute: int(r.End)})
		}
	}
	for wd, rs := range s.weekly {
		add(weekdayKeys[wd], rs)
	}
	add(holidayDay, s.holiday)
	for d, rs := range s.special {
		add(d.String(), rs)
	}
	if len(ranges) > 0 {
		if _, err := tx.NewInsert().Model(&ranges).Exec(ctx); err != nil {
			return fmt.Errorf("timeslots: save calendar: %w", err)
		}
	}
	if len(s.closed) > 0 {
		rows := make([]closedRow, 0, len(s.closed))
		for _, d := range s.closed {
			rows = append(rows, closedRow{OwnerKind: string(o.Kind), OwnerID: o.ID, Day: d.String()})
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return fmt.Errorf("timeslots: save calendar: %w", err)
		}
	}
	return nil
}

// deleteOwner removes everything of owner's calendar.
func deleteOwner(ctx context.Context, tx bun.IDB, o Owner) (bool, error) {
	res, err := tx.NewDelete().Model((*scheduleRow)(nil)).Where("owner_kind = ? AND owner_id = ?", o.Kind, o.ID).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("timeslots: delete calendar: %w", err)
	}
	for _, m := range []any{(*rangeRow)(nil), (*closedRow)(nil)} {
		if _, err := tx.NewDelete().Model(m).Where("owner_kind = ? AND owner_id = ?", o.Kind, o.ID).Exec(ctx); err != nil {
			return false, fmt.Errorf("timeslots: delete calendar: %w", err)
		}
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
