package reservations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// fillSession books the yoga session full: one booking of 19 and one of
// 1 each for the ids returned (singles).
func (e *env) fillSession(t *testing.T, singles int) []string {
	t.Helper()
	if _, err := e.svc.Book(e.ctx, e.db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session,
		PartySize: 20 - singles, Customer: guest(100), Source: reservations.SourceStaff}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range singles {
		b, err := e.svc.Book(e.ctx, e.db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 1,
			Customer: guest(200 + i), Source: reservations.SourceStaff})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	return ids
}

func (e *env) entry(t *testing.T, id string) reservations.WaitlistEntry {
	t.Helper()
	w, err := e.svc.WaitlistEntryByID(e.ctx, e.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// offerToken reads the accept token of entry id's offer from the outbox.
func (e *env) offerToken(t *testing.T, id string) string {
	t.Helper()
	var payload string
	if err := e.db.NewRaw("SELECT payload FROM outbox WHERE event_type = ? AND aggregate_id = ? ORDER BY created_at DESC LIMIT 1",
		reservations.EventWaitlistOffer, id).Scan(e.ctx, &payload); err != nil {
		t.Fatal(err)
	}
	var p reservations.WaitlistEvent
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		t.Fatal(err)
	}
	return p.AcceptToken
}

func (e *env) subscribeWaitlist() {
	for _, et := range append(reservations.WaitlistEventTypes(), reservations.EventWaitlistHoldDue) {
		e.subs.Subscribe("waitlist", et, func(context.Context, bun.IDB, outbox.Tenant, outbox.Event) error { return nil })
	}
}

func TestWaitlistOfferAcceptExpireLeave(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.subscribeWaitlist()
		singles := e.fillSession(t, 3)
		if _, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.cut, reservations.JoinInput{Customer: guest(1)}); code(err) != "waitlist_hours_menu" {
			t.Fatalf("hours menu: %v", err)
		}
		var ws []reservations.WaitlistEntry
		for i := 1; i <= 3; i++ {
			w, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.session, reservations.JoinInput{Customer: guest(i)})
			if err != nil {
				t.Fatal(err)
			}
			if w.Position != i || w.Token == "" || w.Status != reservations.WaitWaiting {
				t.Fatalf("join %d: %+v", i, w)
			}
			ws = append(ws, w)
		}
		if _, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.session, reservations.JoinInput{Customer: guest(1)}); code(err) != "waitlist_joined" {
			t.Fatalf("twice: %v", err)
		}
		// One cancellation: the first in line holds the seat.
		if _, err := e.svc.Change(e.ctx, db, e.tenant, singles[0], reservations.ActionCancel, reservations.ChangeInput{}); err != nil {
			t.Fatal(err)
		}
		if n := e.slotBooked(t, e.session); n != 20 {
			t.Fatalf("booked %d, want 20 (the hold)", n)
		}
		w1 := e.entry(t, ws[0].ID)
		if w1.Status != reservations.WaitOffered || !w1.ExpiresAt.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("first: %+v", w1)
		}
		if w2 := e.entry(t, ws[1].ID); w2.Position != 1 {
			t.Fatalf("second: %+v", w2)
		}
		// Nobody outside the line takes the held seat.
		if _, err := e.svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 1,
			Customer: guest(9), Source: reservations.SourcePublic}); code(err) != "slot_full" {
			t.Fatalf("outsider: %v", err)
		}
		if _, err := e.svc.AcceptOffer(e.ctx, db, e.tenant, ws[0].ID, reservations.AcceptInput{
			WaitlistWho: reservations.WaitlistWho{Token: "wrong"}}); code(err) != "waitlist_token_invalid" {
			t.Fatalf("wrong token: %v", err)
		}
		b, err := e.svc.AcceptOffer(e.ctx, db, e.tenant, ws[0].ID, reservations.AcceptInput{
			WaitlistWho: reservations.WaitlistWho{Token: e.offerToken(t, ws[0].ID)}})
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != reservations.StatusConfirmed || b.Customer.Email != "g1@example.jp" {
			t.Fatalf("accepted: %+v", b.Reservation)
		}
		if n := e.slotBooked(t, e.session); n != 20 {
			t.Fatalf("booked %d after accept", n)
		}
		if w := e.entry(t, ws[0].ID); w.Status != reservations.WaitAccepted || w.ReservationID != b.ID {
			t.Fatalf("accepted entry: %+v", w)
		}
		// Second cancellation offers the second; its expiry passes it on.
		if _, err := e.svc.Change(e.ctx, db, e.tenant, singles[1], reservations.ActionCancel, reservations.ChangeInput{}); err != nil {
			t.Fatal(err)
		}
		if w := e.entry(t, ws[1].ID); w.Status != reservations.WaitOffered {
			t.Fatalf("second: %+v", w)
		}
		if err := e.svc.ExpireOffer(e.ctx, db, e.tenant, ws[1].ID); err != nil { // not due: nothing
			t.Fatal(err)
		}
		if w := e.entry(t, ws[1].ID); w.Status != reservations.WaitOffered {
			t.Fatalf("expired early: %+v", w)
		}
		e.setNow(now.Add(25 * time.Hour))
		if n, err := e.svc.ExpireDue(e.ctx, db, e.tenant); err != nil || n != 1 {
			t.Fatalf("expire due: %d %v", n, err)
		}
		if w := e.entry(t, ws[1].ID); w.Status != reservations.WaitExpired {
			t.Fatalf("second after expiry: %+v", w)
		}
		if w := e.entry(t, ws[2].ID); w.Status != reservations.WaitOffered {
			t.Fatalf("third after expiry: %+v", w)
		}
		if _, err := e.svc.AcceptOffer(e.ctx, db, e.tenant, ws[1].ID, reservations.AcceptInput{
			WaitlistWho: reservations.WaitlistWho{Token: ws[1].Token}}); code(err) != "waitlist_no_offer" {
			t.Fatalf("accept expired: %v", err)
		}
		if n := e.slotBooked(t, e.session); n != 20 {
			t.Fatalf("booked %d after expiry", n)
		}
		// The third declines by leaving: the seat is free again.
		if err := e.svc.LeaveWaitlist(e.ctx, db, e.tenant, ws[2].ID, reservations.WaitlistWho{Token: ws[2].Token}); err != nil {
			t.Fatal(err)
		}
		if n := e.slotBooked(t, e.session); n != 19 {
			t.Fatalf("booked %d after leaving", n)
		}
		if _, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.session, reservations.JoinInput{Customer: guest(7)}); code(err) != "waitlist_not_full" {
			t.Fatalf("join with a free seat: %v", err)
		}
		list, err := e.svc.Waitlist(e.ctx, db, e.session)
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %d %v", len(list), err)
		}
		if n := e.count(t, "outbox", "event_type = ?", reservations.EventWaitlistExpired); n != 1 {
			t.Fatalf("expired events: %d", n)
		}
	})
}

func TestWaitlistMemberLeaveWhileWaiting(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.fillSession(t, 0)
		w, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.session, reservations.JoinInput{MemberID: "m1", Customer: reservations.Customer{Name: "会員 太郎"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.LeaveWaitlist(e.ctx, db, e.tenant, w.ID, reservations.WaitlistWho{MemberID: "m2"}); code(err) != "waitlist_not_found" {
			t.Fatalf("another member: %v", err)
		}
		if err := e.svc.LeaveWaitlist(e.ctx, db, e.tenant, w.ID, reservations.WaitlistWho{MemberID: "m1"}); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, "waitlist_entries", ""); n != 0 {
			t.Fatalf("entries left: %d", n)
		}
	})
}

// Cancellations and joins at once never overbook: booked always equals
// the active reservations' seats plus the held offers.
func TestWaitlistRaceCancelAndJoin(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		e.subscribeWaitlist()
		singles := e.fillSession(t, 10)
		for i := range 5 {
			if _, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.session, reservations.JoinInput{Customer: guest(i)}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 10 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, err := e.svc.Change(e.ctx, db, e.tenant, singles[i], reservations.ActionCancel, reservations.ChangeInput{}); err != nil {
					errs <- err
				}
			}()
			go func() {
				defer wg.Done()
				_, err := e.svc.JoinWaitlist(e.ctx, db, e.tenant, e.session, reservations.JoinInput{
					Customer: reservations.Customer{Name: "並ぶ人", Email: fmt.Sprintf("r%d@example.jp", i)}})
				if err != nil && code(err) != "waitlist_not_full" {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		booked := e.slotBooked(t, e.session)
		var active, held int
		if err := db.NewRaw("SELECT COALESCE(SUM(party_size), 0) FROM reservations WHERE slot_id = ? AND holds_capacity = ?", e.session, true).Scan(e.ctx, &active); err != nil {
			t.Fatal(err)
		}
		if err := db.NewRaw("SELECT COALESCE(SUM(party_size), 0) FROM waitlist_entries WHERE slot_id = ? AND status = ?", e.session, "offered").Scan(e.ctx, &held); err != nil {
			t.Fatal(err)
		}
		if booked > 20 || booked != active+held {
			t.Fatalf("booked %d, active %d, held %d", booked, active, held)
		}
		// The first five joined before any seat freed: all hold one.
		if held < 5 {
			t.Fatalf("held %d, want at least the first 5", held)
		}
		if w := e.count(t, "waitlist_entries", "status = ?", "waiting"); w > 0 && booked < 20 {
			t.Fatalf("%d waiting while %d seats are free", w, 20-booked)
		}
	})
}
