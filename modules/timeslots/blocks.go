package timeslots

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// A block is time staff take off the calendar: a provider's dentist
// appointment, a room under repair, or (naming neither) the whole business
// closed for an afternoon. It is stored as occupancy of kind block (its
// id is the occupancy's ref id), so availability sees it in the same
// range query as reservations.

// ErrBlockNotFound: no block with that id (404).
var ErrBlockNotFound = apperr.New(apperr.KindNotFound, "block_not_found")

// ErrBlockConflict: the block's provider or resource is already booked
// for part of its time (409); nothing was blocked.
var ErrBlockConflict = apperr.New(apperr.KindConflict, "block_conflict")

// BlockGuard makes a provider's or resource's block take that owner's
// capacity under the booking guard, so that a booking racing the block
// cannot land inside it (availability alone is a courtesy). The
// reservations module owns the guard's capacity cells and implements it;
// cmd/yoyaku hands it in (Config.BlockGuard), as this module comes first.
// Whole-business blocks (no provider, no resource) hold nothing.
type BlockGuard interface {
	// PrepareBlock runs before the block's transaction (the guard's
	// missing rows are inserted outside it).
	PrepareBlock(ctx context.Context, db bun.IDB, b Block) error
	// TakeBlock runs inside the block's transaction with the engine's
	// guarded statement and returns the units of the resource it took;
	// ErrBlockConflict when the time is already (partly) booked.
	TakeBlock(ctx context.Context, tx bun.IDB, b Block) (units int, err error)
	// GiveBlock runs inside DeleteBlock's transaction and gives back what
	// TakeBlock took (b.Held, b.HeldUnits).
	GiveBlock(ctx context.Context, tx bun.IDB, b Block) error
}

// Audit actions of blocks.
const (
	AuditBlockCreate = "calendar.block.create"
	AuditBlockDelete = "calendar.block.delete"
)

// MaxBlockReason is the longest reason, in characters.
const MaxBlockReason = 500

// Block is a stretch of time taken off the calendar by staff.
type Block struct {
	ID               string
	StartsAt, EndsAt time.Time // UTC
	ProviderID       string    // "" with ResourceID "": the whole business
	ResourceID       string
	Reason           string
	CreatedBy        string
	CreatedAt        time.Time
	// Held: the block took its provider's and resource's capacity under
	// the booking guard (BlockGuard; stored as seats = 1 on its row —
	// blocks made before the guard hold nothing and give nothing back);
	// HeldUnits are the resource's units it took (the row's quantity).
	Held      bool
	HeldUnits int
}

// BlockInput is a block as a client writes it: RFC 3339 instants.
type BlockInput struct {
	StartsAt, EndsAt string
	ProviderID       string
	ResourceID       string
	Reason           string
}

func validInstant(v *apperr.Validator, field, s string) (time.Time, bool) {
	if s == "" {
		v.Add(field, "required", nil)
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.Add(field, "block_datetime", nil)
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Second), true
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// CreateBlock validates in and blocks its time, audited in the same
// transaction. The provider and resource must exist (field errors
// otherwise); a block lasts at most MaxOccupancy.
func (s *Service) CreateBlock(ctx context.Context, db bun.IDB, in BlockInput) (Block, error) {
	var v apperr.Validator
	start, sok := validInstant(&v, "starts_at", in.StartsAt)
	end, eok := validInstant(&v, "ends_at", in.EndsAt)
	if sok && eok {
		switch {
		case !start.Before(end):
			v.Add("ends_at", "block_range_order", nil)
		case end.Sub(start) > MaxOccupancy:
			v.Add("ends_at", "block_too_long", map[string]any{"Max": int(MaxOccupancy / (24 * time.Hour))})
		}
	}
	switch {
	case utf8.RuneCountInString(in.Reason) > MaxBlockReason:
		v.Add("reason", "max", map[string]any{"Param": MaxBlockReason})
	case hasControl(in.Reason):
		v.Add("reason", "nocontrol", nil)
	}
	for _, ref := range []struct {
		field string
		owner Owner
	}{{"provider_id", Provider(in.ProviderID)}, {"resource_id", Resource(in.ResourceID)}} {
		if ref.owner.ID == "" {
			continue
		}
		if err := s.checkOwner(ctx, db, ref.owner); err != nil {
			if apperr.KindOf(err) != apperr.KindNotFound {
				return Block{}, err
			}
			v.Add(ref.field, "catalog_unknown_reference", nil)
		}
	}
	if err := v.Err(); err != nil {
		return Block{}, err
	}
	id, err := dbx.NewID()
	if err != nil {
		return Block{}, err
	}
	now := s.stamp()
	b := Block{ID: id, StartsAt: start, EndsAt: end, ProviderID: in.ProviderID, ResourceID: in.ResourceID,
		Reason: in.Reason, CreatedBy: actorName(ctx), CreatedAt: now}
	o := Occupancy{Kind: OccupancyBlock, RefID: id, StartsAt: start, EndsAt: end, ProviderID: b.ProviderID,
		Reason: b.Reason, CreatedBy: b.CreatedBy}
	if b.ResourceID != "" {
		o.Resources = []ResourceUse{{ResourceID: b.ResourceID}}
	}
	guard := s.blockGuard
	if b.ProviderID == "" && b.ResourceID == "" {
		guard = nil
	}
	if guard != nil {
		if err := guard.PrepareBlock(ctx, db, b); err != nil {
			return Block{}, err
		}
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := o.check(); err != nil {
			return err
		}
		rows, err := o.rows(now)
		if err != nil {
			return err
		}
		rows[0].ID = id // one row: the block's id is its row's
		if guard != nil {
			units, err := guard.TakeBlock(ctx, tx, b)
			if err != nil {
				return err
			}
			rows[0].Seats, rows[0].Quantity = 1, units
			b.HeldUnits = units
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
		var ch auditlog.Changes
		for _, f := range blockFields(b) {
			ch.Add(f.name, nil, f.value)
		}
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditBlockCreate, ObjectType: "block", ObjectID: id, Changes: ch})
		return err
	})
	if err != nil {
		return Block{}, err
	}
	if guard != nil {
		b.Held = true
	}
	s.log.InfoContext(ctx, "calendar block created", "block_id", id)
	return b, nil
}

type blockField struct {
	name  string
	value any
}

// blockFields are what the operation log records of a block.
func blockFields(b Block) []blockField {
	return []blockField{
		{"starts_at", b.StartsAt.Format(time.RFC3339)}, {"ends_at", b.EndsAt.Format(time.RFC3339)},
		{"provider_id", b.ProviderID}, {"resource_id", b.ResourceID}, {"reason", b.Reason},
	}
}

func blockFromRow(r occupancyRow) Block {
	return Block{ID: r.RefID, StartsAt: r.StartsAt.UTC(), EndsAt: r.EndsAt.UTC(), ProviderID: r.ProviderID,
		ResourceID: r.ResourceID, Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(),
		Held: r.Seats > 0, HeldUnits: r.Quantity}
}

// Blocks returns the blocks overlapping the days from through to (civil
// dates in zone, at most MaxAvailabilityDays), by start; at most 1,000.
func (s *Service) Blocks(ctx context.Context, db bun.IDB, zone *time.Location, from, to Date) ([]Block, error) {
	if err := checkDays(from, to); err != nil {
		return nil, err
	}
	rows, err := selectBlocks(ctx, db, Instant(from, 0, zone), Instant(to.AddDays(1), 0, zone))
	if err != nil {
		return nil, err
	}
	out := make([]Block, 0, len(rows))
	for _, r := range rows {
		out = append(out, blockFromRow(r))
	}
	return out, nil
}

// GetBlock returns the block id.
func (s *Service) GetBlock(ctx context.Context, db bun.IDB, id string) (Block, error) {
	if !ownerIDRE.MatchString(id) {
		return Block{}, ErrBlockNotFound
	}
	r, err := selectBlock(ctx, db, id)
	if err != nil {
		return Block{}, err
	}
	return blockFromRow(r), nil
}

// DeleteBlock gives the block's time back, audited in the same
// transaction.
func (s *Service) DeleteBlock(ctx context.Context, db bun.IDB, id string) error {
	if !ownerIDRE.MatchString(id) {
		return ErrBlockNotFound
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		r, err := selectBlock(ctx, tx, id)
		if err != nil {
			return err
		}
		removed, err := Release(ctx, tx, OccupancyBlock, id)
		if err != nil {
			return err
		}
		if !removed { // deleted meanwhile
			return ErrBlockNotFound
		}
		// Release's delete is the guard against giving back twice.
		if b := blockFromRow(r); b.Held && s.blockGuard != nil {
			if err := s.blockGuard.GiveBlock(ctx, tx, b); err != nil {
				return err
			}
		}
		var ch auditlog.Changes
		for _, f := range blockFields(blockFromRow(r)) {
			ch.Add(f.name, f.value, nil)
		}
		_, err = auditlog.Append(ctx, tx, auditlog.Entry{Action: AuditBlockDelete, ObjectType: "block", ObjectID: id, Changes: ch})
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "calendar block deleted", "block_id", id)
	return nil
}
