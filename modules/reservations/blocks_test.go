package reservations_test

import (
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/timeslots"
)

// guardedSlots is the calendar with blocks under the booking guard, as
// cmd/yoyaku wires it.
func (e *env) guardedSlots() *timeslots.Service {
	return timeslots.NewService(timeslots.Config{Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return *e.clock },
		Menus: e.menus, BlockGuard: e.svc.BlockGuard()})
}

func blockAt(from, to string, provider, resource string) timeslots.BlockInput {
	return timeslots.BlockInput{StartsAt: at(from).Format(time.RFC3339), EndsAt: at(to).Format(time.RFC3339),
		ProviderID: provider, ResourceID: resource, Reason: "研修"}
}

func (e *env) cellsUsed(t testing.TB, kind, id string) int {
	t.Helper()
	var n int
	if err := e.db.NewRaw("SELECT COALESCE(SUM(used), 0) FROM capacity_cells WHERE owner_kind = ? AND owner_id = ?", kind, id).
		Scan(e.ctx, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A block of a booked provider time is refused (block_conflict) and
// changes nothing; a booking into a blocked provider or resource time is
// refused by the guard even for staff (who skip availability); deleting
// the block gives the time back. Both engines.
func TestBlocksTakeCapacityUnderTheGuard(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		slots := e.guardedSlots()
		staff := func(menu, provider string, start time.Time, i int) error {
			_, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: menu, StartsAt: start, PartySize: 1,
				ProviderID: provider, Customer: guest(i), Source: reservations.SourceStaff})
			return err
		}
		if err := staff(e.solo, e.aya, at("10:00"), 1); err != nil {
			t.Fatal(err)
		}
		before := e.cellsUsed(t, "provider", e.aya)
		if _, err := slots.CreateBlock(e.ctx, db, blockAt("10:30", "11:30", e.aya, "")); code(err) != "block_conflict" {
			t.Fatalf("block over a booked time: %v, want block_conflict", err)
		}
		if n := e.count(t, "calendar_occupancy", "kind = 'block'"); n != 0 || e.cellsUsed(t, "provider", e.aya) != before {
			t.Fatalf("after the refused block: %d blocks, %d cells used (want 0, %d)", n, e.cellsUsed(t, "provider", e.aya), before)
		}
		// Another provider at that time, or aya at another, may be blocked.
		b, err := slots.CreateBlock(e.ctx, db, blockAt("13:00", "14:00", e.aya, ""))
		if err != nil || !b.Held {
			t.Fatalf("block: %+v %v", b, err)
		}
		if err := staff(e.solo, e.aya, at("13:30"), 2); code(err) != "provider_unavailable" {
			t.Fatalf("staff booking into the block: %v, want provider_unavailable", err)
		}
		if err := staff(e.cut, "", at("13:00"), 3); err != nil { // 指名なし: ken serves
			t.Fatalf("no-preference booking beside the block: %v", err)
		}
		if err := slots.DeleteBlock(e.ctx, db, b.ID); err != nil {
			t.Fatal(err)
		}
		if err := staff(e.solo, e.aya, at("13:00"), 4); err != nil {
			t.Fatalf("booking after the block's deletion: %v", err)
		}

		// A resource's block takes all its units: refused while one
		// booth is booked, and then refuses any booking.
		if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.room, StartsAt: at("15:00"), PartySize: 1,
			Customer: guest(5), Source: reservations.SourceStaff}); err != nil {
			t.Fatal(err)
		}
		if _, err := slots.CreateBlock(e.ctx, db, blockAt("15:00", "16:00", "", e.booths)); code(err) != "block_conflict" {
			t.Fatalf("resource block over a booked booth: %v", err)
		}
		rb, err := slots.CreateBlock(e.ctx, db, blockAt("16:00", "17:00", "", e.booths))
		if err != nil || rb.HeldUnits != 2 {
			t.Fatalf("resource block: %+v %v", rb, err)
		}
		if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.room, StartsAt: at("16:00"), PartySize: 1,
			Customer: guest(6), Source: reservations.SourceStaff}); code(err) != "slot_full" {
			t.Fatalf("booking into the resource block: %v, want slot_full", err)
		}
		got, err := slots.GetBlock(e.ctx, db, rb.ID)
		if err != nil || !got.Held || got.HeldUnits != 2 {
			t.Fatalf("stored block: %+v %v", got, err)
		}
		if err := slots.DeleteBlock(e.ctx, db, rb.ID); err != nil {
			t.Fatal(err)
		}
		if e.cellsUsed(t, "resource", e.booths) != 6 { // the 15:00 booking's 30 minutes: 6 cells of 1
			t.Fatalf("booth cells after the deletion: %d, want 6", e.cellsUsed(t, "resource", e.booths))
		}
		// A whole-business block holds nothing.
		if wb, err := slots.CreateBlock(e.ctx, db, blockAt("09:00", "09:30", "", "")); err != nil || wb.Held {
			t.Fatalf("business block: %+v %v", wb, err)
		}
	})
}

// A block and a booking for the same provider and time at once: exactly
// one wins, every round. Both engines.
func TestRaceBlockAndBooking(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		slots := e.guardedSlots()
		for round, hhmm := range []string{"09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"} {
			end := at(hhmm).Add(time.Hour).In(tokyo).Format("15:04")
			var wg sync.WaitGroup
			var blockErr, bookErr error
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				_, blockErr = slots.CreateBlock(e.ctx, db, blockAt(hhmm, end, e.aya, ""))
			}()
			go func() {
				defer wg.Done()
				<-start
				_, bookErr = e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.solo, StartsAt: at(hhmm), PartySize: 1,
					ProviderID: e.aya, Customer: guest(round), Source: reservations.SourceStaff})
			}()
			close(start)
			wg.Wait()
			switch {
			case blockErr == nil && bookErr == nil:
				t.Fatalf("%s: both the block and the booking held", hhmm)
			case blockErr != nil && bookErr != nil:
				t.Fatalf("%s: neither held: block %v, booking %v", hhmm, blockErr, bookErr)
			case blockErr != nil && code(blockErr) != "block_conflict":
				t.Fatalf("%s: block failed with %v", hhmm, blockErr)
			case bookErr != nil && code(bookErr) != "provider_unavailable":
				t.Fatalf("%s: booking failed with %v", hhmm, bookErr)
			}
		}
		if used := e.cellsUsed(t, "provider", e.aya); used != 8*12 {
			t.Fatalf("aya's cells used %d, want %d (one holder per hour)", used, 8*12)
		}
	})
}
