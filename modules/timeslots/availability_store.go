package timeslots

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Occupancy is time taken on the calendar (tenant table
// calendar_occupancy): by a reservation (written by the reservations
// module, in its own transaction, through Occupy and Release) or by a
// staff block (blocks.go). Availability reads it in one range query.
//
// One occupancy is stored as one row per resource it uses (one row when it
// uses none); the menu, its seats and the provider are on the first row
// only, so that summing rows never counts a seat or a provider twice.
// Every row lasts at most MaxOccupancy, which lets the range query walk the
// starts_at index from a bounded point instead of from the beginning of
// time.
//
// Occupy records; it does not check that the time is free. Availability
// only offers what is free, and the booking invariant (no overbooking
// under concurrency) is the reservations module's guarded statement.

// OccupancyKind says what took the time.
type OccupancyKind string

// The kinds of occupancy.
const (
	OccupancyReservation OccupancyKind = "reservation"
	OccupancyBlock       OccupancyKind = "block"
)

// MaxOccupancy is the longest one occupancy (a reservation or a block) may
// last.
const MaxOccupancy = 31 * 24 * time.Hour

// ResourceUse is units of a resource an occupancy holds.
type ResourceUse struct {
	ResourceID string
	Quantity   int // ≥ 1
}

// Occupancy is one reservation's or block's hold on the calendar.
type Occupancy struct {
	Kind  OccupancyKind
	RefID string // the reservation's or block's id; Release takes it back
	// StartsAt, EndsAt: the instants taken, [StartsAt, EndsAt).
	StartsAt, EndsAt time.Time
	MenuID           string // the menu whose seats it takes ("" for none)
	Seats            int    // party size: seats of MenuID
	ProviderID       string // the provider it takes ("" for none)
	Resources        []ResourceUse
	Reason           string // a block's reason
	CreatedBy        string // who made it (for blocks)
}

// Taken is one stored row of occupancy as the availability engine reads
// it. A block's row with neither provider nor resource blocks the whole
// business; a block's row naming a resource takes all of its units.
type Taken struct {
	Kind             OccupancyKind
	StartsAt, EndsAt time.Time
	MenuID           string
	Seats            int
	ProviderID       string
	ResourceID       string
	Quantity         int
}

type occupancyRow struct {
	bun.BaseModel `bun:"table:calendar_occupancy"`

	ID         string    `bun:"id,pk"`
	Kind       string    `bun:"kind"`
	RefID      string    `bun:"ref_id"`
	StartsAt   time.Time `bun:"starts_at"`
	EndsAt     time.Time `bun:"ends_at"`
	MenuID     string    `bun:"menu_id,nullzero"`
	ProviderID string    `bun:"provider_id,nullzero"`
	ResourceID string    `bun:"resource_id,nullzero"`
	Quantity   int       `bun:"quantity"`
	Seats      int       `bun:"seats"`
	Reason     string    `bun:"reason"`
	CreatedBy  string    `bun:"created_by"`
	CreatedAt  time.Time `bun:"created_at"`
}

// errOccupancy is a call of Occupy that breaks its contract (a bug of the
// caller, not the user's input).
func errOccupancy(what string) error {
	return apperr.Wrap(apperr.KindInternal, "internal", errors.New("timeslots: occupy: "+what))
}

// check validates o for Occupy.
func (o Occupancy) check() error {
	switch {
	case o.Kind != OccupancyReservation && o.Kind != OccupancyBlock:
		return errOccupancy("unknown kind " + string(o.Kind))
	case o.RefID == "" || len(o.RefID) > 64:
		return errOccupancy("ref id must be 1-64 characters")
	case !o.StartsAt.Before(o.EndsAt):
		return errOccupancy("ends before it starts")
	case o.EndsAt.Sub(o.StartsAt) > MaxOccupancy:
		return errOccupancy("longer than MaxOccupancy")
	case o.Seats < 0:
		return errOccupancy("negative seats")
	}
	for _, r := range o.Resources {
		if r.ResourceID == "" || (r.Quantity < 1 && o.Kind == OccupancyReservation) {
			return errOccupancy("resource use without id or quantity")
		}
	}
	return nil
}

// rows turns o into its stored rows (see Occupancy for the layout).
func (o Occupancy) rows(now time.Time) ([]occupancyRow, error) {
	n := max(1, len(o.Resources))
	out := make([]occupancyRow, 0, n)
	for i := range n {
		id, err := dbx.NewID()
		if err != nil {
			return nil, err
		}
		r := occupancyRow{ID: id, Kind: string(o.Kind), RefID: o.RefID, StartsAt: o.StartsAt.UTC(), EndsAt: o.EndsAt.UTC(),
			Reason: o.Reason, CreatedBy: o.CreatedBy, CreatedAt: now}
		if i == 0 {
			r.MenuID, r.Seats, r.ProviderID = o.MenuID, o.Seats, o.ProviderID
		}
		if i < len(o.Resources) {
			r.ResourceID, r.Quantity = o.Resources[i].ResourceID, o.Resources[i].Quantity
		}
		out = append(out, r)
	}
	return out, nil
}

// Occupy records that o takes its time, inside the caller's transaction
// (the reservations module calls it in the transaction that books). It
// does not check availability; see Occupancy.
func Occupy(ctx context.Context, tx bun.IDB, o Occupancy) error {
	if err := o.check(); err != nil {
		return err
	}
	rows, err := o.rows(time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return err
	}
	if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("timeslots: occupy: %w", err)
	}
	return nil
}

// Release gives back the time held by the reservation or block refID,
// inside the caller's transaction. It reports whether anything was held.
func Release(ctx context.Context, tx bun.IDB, kind OccupancyKind, refID string) (bool, error) {
	res, err := tx.NewDelete().Model((*occupancyRow)(nil)).Where("kind = ? AND ref_id = ?", string(kind), refID).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("timeslots: release: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// takenQuery says which occupancy an availability computation needs: the
// rows overlapping [From, To) that concern the menu's seats, its
// providers, its resources, or block the whole business.
type takenQuery struct {
	From, To  time.Time
	MenuID    string
	Providers []string
	Resources []string
}

// selectTaken is the one range query of an availability computation.
func selectTaken(ctx context.Context, db bun.IDB, q takenQuery) ([]Taken, error) {
	var rows []occupancyRow
	sel := db.NewSelect().Model(&rows).
		Column("kind", "starts_at", "ends_at", "menu_id", "seats", "provider_id", "resource_id", "quantity").
		// starts_at bounded on both sides walks the index; ends_at > From
		// then keeps the overlapping ones.
		Where("starts_at < ?", q.To.UTC()).
		Where("starts_at > ?", q.From.UTC().Add(-MaxOccupancy)).
		Where("ends_at > ?", q.From.UTC()).
		WhereGroup(" AND ", func(w *bun.SelectQuery) *bun.SelectQuery {
			w = w.WhereOr("kind = ? AND provider_id IS NULL AND resource_id IS NULL", string(OccupancyBlock))
			if q.MenuID != "" {
				w = w.WhereOr("menu_id = ?", q.MenuID)
			}
			if len(q.Providers) > 0 {
				w = w.WhereOr("provider_id IN (?)", bun.List(q.Providers))
			}
			if len(q.Resources) > 0 {
				w = w.WhereOr("resource_id IN (?)", bun.List(q.Resources))
			}
			return w
		}).
		// In start order (the index's), which the engine's sorts then
		// find already done.
		OrderExpr("starts_at")
	if err := sel.Scan(ctx); err != nil {
		return nil, fmt.Errorf("timeslots: read occupancy: %w", err)
	}
	out := make([]Taken, len(rows))
	for i, r := range rows {
		out[i] = Taken{Kind: OccupancyKind(r.Kind), StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(), MenuID: r.MenuID,
			Seats: r.Seats, ProviderID: r.ProviderID, ResourceID: r.ResourceID, Quantity: r.Quantity}
	}
	return out, nil
}

// maxBlocksListed bounds one listing of blocks.
const maxBlocksListed = 1000

// selectBlocks returns the blocks overlapping [from, to), by start.
func selectBlocks(ctx context.Context, db bun.IDB, from, to time.Time) ([]occupancyRow, error) {
	var rows []occupancyRow
	err := db.NewSelect().Model(&rows).
		Where("kind = ?", string(OccupancyBlock)).
		Where("starts_at < ?", to.UTC()).
		Where("starts_at > ?", from.UTC().Add(-MaxOccupancy)).
		Where("ends_at > ?", from.UTC()).
		OrderExpr("starts_at, id").Limit(maxBlocksListed).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("timeslots: read blocks: %w", err)
	}
	return rows, nil
}

// selectBlock returns the block id.
func selectBlock(ctx context.Context, db bun.IDB, id string) (occupancyRow, error) {
	var row occupancyRow
	err := db.NewSelect().Model(&row).Where("kind = ? AND ref_id = ?", string(OccupancyBlock), id).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return occupancyRow{}, ErrBlockNotFound
	}
	if err != nil {
		return occupancyRow{}, fmt.Errorf("timeslots: read block: %w", err)
	}
	return row, nil
}
