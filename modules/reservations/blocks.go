package reservations

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// Blocks under the guard: a staff block (予約ブロック) of a provider or
// resource takes that owner's capacity cells with the very guarded
// statement bookings use (takeCells), in the block's own transaction, so
// that a block and a booking racing for the same time cannot both hold:
// whichever statement runs second finds the cells used. A provider's
// block takes its one unit; a resource's block takes all its units (it
// holds only where nothing of the resource is booked). Deleting the block
// gives back exactly what it took (recorded on its calendar row).
// cmd/yoyaku hands BlockGuard to timeslots (timeslots.BlockGuard).

// blockChunk bounds the cells of one statement (a block lasts up to 31
// days: 8,928 cells); the chunks run in one transaction, so a block
// holds all of them or none.
const blockChunk = 1000

// BlockGuard returns the guard timeslots runs when blocks are made and
// deleted.
func (s *Service) BlockGuard() timeslots.BlockGuard { return blockGuard{s} }

type blockGuard struct{ s *Service }

// holds are what b takes, in the engine's lock order (provider, then the
// resource).
func (g blockGuard) holds(ctx context.Context, db bun.IDB, b timeslots.Block, units int) ([]hold, error) {
	var hs []hold
	if b.ProviderID != "" {
		hs = append(hs, hold{kind: ownerProvider, id: b.ProviderID, n: 1, cap: 1})
	}
	if b.ResourceID != "" {
		if units == 0 {
			r, err := g.s.menus.GetResource(ctx, db, b.ResourceID)
			if err != nil {
				return nil, err
			}
			units = max(r.Quantity, 1)
		}
		hs = append(hs, hold{kind: ownerResource, id: b.ResourceID, n: units, cap: units})
	}
	return hs, nil
}

func chunks(cells []int64) [][]int64 {
	var out [][]int64
	for len(cells) > blockChunk {
		out = append(out, cells[:blockChunk])
		cells = cells[blockChunk:]
	}
	return append(out, cells)
}

// PrepareBlock inserts the block's missing cells (outside its
// transaction, like a booking's).
func (g blockGuard) PrepareBlock(ctx context.Context, db bun.IDB, b timeslots.Block) error {
	hs, err := g.holds(ctx, db, b, 0)
	if err != nil {
		return err
	}
	for _, cs := range chunks(cellsOf(b.StartsAt, b.EndsAt)) {
		if err := ensureCells(ctx, db, hs, cs); err != nil {
			return err
		}
	}
	return nil
}

// TakeBlock takes the block's cells; timeslots.ErrBlockConflict when any
// is already used (the caller's transaction then rolls back).
func (g blockGuard) TakeBlock(ctx context.Context, tx bun.IDB, b timeslots.Block) (int, error) {
	hs, err := g.holds(ctx, tx, b, 0)
	if err != nil {
		return 0, err
	}
	units := 0
	for _, h := range hs {
		for _, cs := range chunks(cellsOf(b.StartsAt, b.EndsAt)) {
			ok, err := takeCells(ctx, tx, h, cs, false)
			if err != nil {
				return 0, err
			}
			if !ok {
				return 0, timeslots.ErrBlockConflict
			}
		}
		if h.kind == ownerResource {
			units = h.n
		}
	}
	return units, nil
}

// GiveBlock gives back what TakeBlock took.
func (g blockGuard) GiveBlock(ctx context.Context, tx bun.IDB, b timeslots.Block) error {
	if !b.Held {
		return nil
	}
	var hs []hold
	if b.ProviderID != "" {
		hs = append(hs, hold{kind: ownerProvider, id: b.ProviderID, n: 1})
	}
	if b.ResourceID != "" && b.HeldUnits > 0 {
		hs = append(hs, hold{kind: ownerResource, id: b.ResourceID, n: b.HeldUnits})
	}
	for _, h := range hs {
		for _, cs := range chunks(cellsOf(b.StartsAt, b.EndsAt)) {
			if err := giveCells(ctx, tx, h, cs); err != nil {
				return err
			}
		}
	}
	return nil
}
