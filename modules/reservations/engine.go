package reservations

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// plan is what one booking (or a move's new place) will hold, worked out
// before its transaction: the session, or the cells and the owners.
type plan struct {
	mode       menus.BookingMode
	slotID     string
	start, end time.Time
	party      int
	cells      []int64
	menu       hold     // hours: the menu's seats
	providers  []string // hours: candidates in the order they are tried
	named      bool     // the provider was asked for (指名)
	resources  []hold   // hours: by id
}

// holds lists every owner the plan may take (for ensureCells).
func (p plan) holds() []hold {
	if p.mode != menus.ModeHours {
		return nil
	}
	hs := []hold{p.menu}
	for _, id := range p.providers {
		hs = append(hs, hold{kind: ownerProvider, id: id, n: 1, cap: 1})
	}
	return sortedHolds(append(hs, p.resources...))
}

// prepare inserts the plan's missing cells (outside the transaction).
func (p plan) prepare(ctx context.Context, db bun.IDB) error {
	if p.mode != menus.ModeHours {
		return nil
	}
	return ensureCells(ctx, db, p.holds(), p.cells)
}

// take runs the guarded statements of p in tx and returns the provider who
// serves ("" when none). Owners in lock order: the menu, the provider
// (each candidate inside a savepoint), the resources by id.
func (p plan) take(ctx context.Context, tx bun.IDB, overbook bool, now time.Time) (string, error) {
	if p.mode != menus.ModeHours {
		ok, err := takeSeats(ctx, tx, p.slotID, p.party, overbook, now)
		if err != nil || ok {
			return "", err
		}
		st, err := selectSlot(ctx, tx, p.slotID)
		switch {
		case err != nil:
			return "", err
		case st == nil:
			return "", timeslots.ErrSlotNotFound
		case st.Closed:
			return "", ErrSlotClosed
		}
		return "", ErrSlotFull.WithArgs(map[string]any{"Remaining": max(st.Capacity-st.Booked, 0)})
	}
	ok, err := takeCells(ctx, tx, p.menu, p.cells, overbook)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrSlotFull
	}
	chosen := ""
	for i, id := range p.providers {
		h := hold{kind: ownerProvider, id: id, n: 1, cap: 1}
		if len(p.providers) == 1 {
			if ok, err = takeCells(ctx, tx, h, p.cells, overbook); err != nil {
				return "", err
			}
		} else {
			ok, err = savepointed(ctx, tx, i, func() (bool, error) { return takeCells(ctx, tx, h, p.cells, overbook) })
			if err != nil {
				return "", err
			}
		}
		if ok {
			chosen = id
			break
		}
	}
	if len(p.providers) > 0 && chosen == "" {
		if p.named {
			return "", ErrProviderUnavailable
		}
		return "", ErrSlotFull
	}
	for _, h := range p.resources {
		ok, err := takeCells(ctx, tx, h, p.cells, overbook)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", ErrSlotFull
		}
	}
	return chosen, nil
}

// savepointed runs one provider's attempt inside a savepoint, undone when
// it did not hold (its statement may have changed some cells before
// finding a full one).
func savepointed(ctx context.Context, tx bun.IDB, i int, fn func() (bool, error)) (bool, error) {
	name := "rsv_p" + string(rune('a'+i%26))
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return false, err
	}
	ok, err := fn()
	if err != nil {
		return false, err
	}
	if !ok {
		_, err = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name)
	} else {
		_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name)
	}
	return ok, err
}

// give returns what r holds (its status change, guarded by version, makes
// sure this runs once).
func give(ctx context.Context, tx bun.IDB, r Reservation, now time.Time) error {
	if r.Mode != menus.ModeHours {
		if r.SlotID == "" {
			return nil
		}
		return giveSeats(ctx, tx, r.SlotID, r.PartySize, now)
	}
	cells := cellsOf(r.StartsAt, r.EndsAt)
	hs := []hold{{kind: ownerMenu, id: r.MenuID, n: r.PartySize}}
	if r.ProviderID != "" {
		hs = append(hs, hold{kind: ownerProvider, id: r.ProviderID, n: 1})
	}
	for _, u := range r.Resources {
		hs = append(hs, hold{kind: ownerResource, id: u.ResourceID, n: u.Quantity})
	}
	for _, h := range sortedHolds(hs) {
		if err := giveCells(ctx, tx, h, cells); err != nil {
			return err
		}
	}
	_, err := timeslots.Release(ctx, tx, timeslots.OccupancyReservation, r.ID)
	return err
}

// occupy records r on the calendar for availability.
func occupy(ctx context.Context, tx bun.IDB, r Reservation) error {
	o := timeslots.Occupancy{Kind: timeslots.OccupancyReservation, RefID: r.ID, StartsAt: r.StartsAt, EndsAt: r.EndsAt,
		MenuID: r.MenuID, Seats: r.PartySize}
	if r.Mode == menus.ModeHours {
		o.ProviderID = r.ProviderID
		for _, u := range r.Resources {
			o.Resources = append(o.Resources, timeslots.ResourceUse{ResourceID: u.ResourceID, Quantity: u.Quantity})
		}
	}
	return timeslots.Occupy(ctx, tx, o)
}

// where says where a booking (or a move) wants to be.
type where struct {
	SlotID     string
	StartsAt   time.Time
	ProviderID string
	OptionIDs  []string
	Party      int
}

// planFor works out the plan of w for menu m: the session, or the cells
// and owners of an hours start. It validates what it reads.
func (s *Service) planFor(ctx context.Context, db bun.IDB, m menus.Menu, w where, v *apperr.Validator) (plan, error) {
	p := plan{mode: m.BookingMode, party: w.Party}
	if m.BookingMode != menus.ModeHours {
		if w.SlotID == "" {
			v.Add("slot_id", "required", nil)
			return p, nil
		}
		st, err := selectSlot(ctx, db, w.SlotID)
		if err != nil {
			return p, err
		}
		if st == nil || st.MenuID != m.ID {
			v.Add("slot_id", "catalog_unknown_reference", nil)
			return p, nil
		}
		p.slotID, p.start, p.end = w.SlotID, st.StartsAt.UTC(), st.EndsAt.UTC()
		return p, nil
	}
	if w.StartsAt.IsZero() {
		v.Add("starts_at", "required", nil)
		return p, nil
	}
	if w.StartsAt.Unix()%(CellMinutes*60) != 0 || w.StartsAt.Nanosecond() != 0 {
		v.Add("starts_at", "reservation_start_grid", map[string]any{"Step": CellMinutes})
		return p, nil
	}
	extra := 0
	for _, id := range w.OptionIDs {
		if k := slices.IndexFunc(m.Options, func(o menus.Option) bool { return o.ID == id }); k >= 0 {
			extra += m.Options[k].ExtraMinutes
		}
	}
	p.start = w.StartsAt.UTC()
	p.end = p.start.Add(time.Duration(m.DurationMinutes+extra) * time.Minute)
	p.cells = cellsOf(p.start, p.end)
	p.menu = hold{kind: ownerMenu, id: m.ID, n: w.Party, cap: m.Capacity}
	if w.ProviderID != "" {
		if !slices.Contains(m.ProviderIDs, w.ProviderID) {
			v.Add("provider_id", "catalog_unknown_reference", nil)
			return p, nil
		}
		pr, err := s.menus.GetProvider(ctx, db, w.ProviderID)
		if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
			return p, err
		}
		if err != nil || !pr.Active {
			return p, ErrProviderUnavailable
		}
		p.providers, p.named = []string{w.ProviderID}, true
	} else if len(m.ProviderIDs) > 0 {
		var active []string
		for _, id := range m.ProviderIDs {
			pr, err := s.menus.GetProvider(ctx, db, id)
			if apperr.KindOf(err) == apperr.KindNotFound {
				continue
			}
			if err != nil {
				return p, err
			}
			if pr.Active {
				active = append(active, id)
			}
		}
		if len(active) == 0 {
			return p, ErrSlotUnavailable
		}
		// Fair: the fewest active reservations that (UTC) day first, then id.
		day := p.start.Truncate(24 * time.Hour)
		loads, err := providerLoads(ctx, db, active, day, day.Add(24*time.Hour))
		if err != nil {
			return p, err
		}
		slices.SortFunc(active, func(a, b string) int {
			if loads[a] != loads[b] {
				return loads[a] - loads[b]
			}
			return strings.Compare(a, b)
		})
		p.providers = active
	}
	for _, n := range m.Resources {
		r, err := s.menus.GetResource(ctx, db, n.ResourceID)
		if apperr.KindOf(err) == apperr.KindNotFound {
			return p, ErrSlotUnavailable
		}
		if err != nil {
			return p, err
		}
		if !r.Active {
			return p, ErrSlotUnavailable
		}
		p.resources = append(p.resources, hold{kind: ownerResource, id: r.ID, n: n.Quantity, cap: r.Quantity})
	}
	p.resources = sortedHolds(p.resources)
	return p, nil
}
