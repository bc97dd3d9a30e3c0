package reservations_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/menus"
	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/dbtest"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// fakeGateway is the payments port without a plugin: it records what
// reservations asked, and verifies webhooks whose "sig" is "ok".
type fakeGateway struct {
	mu      sync.Mutex
	down    bool
	creates []string // idempotency keys
	amounts []int64
	refunds map[string]int64 // by idempotency key
	cancels []string
}

func (g *fakeGateway) CreatePayment(_ context.Context, _ bun.IDB, _, key string, req reservations.PaymentRequest) (reservations.PaymentIntent, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		return reservations.PaymentIntent{}, apperr.New(apperr.KindUnavailable, "plugin_unavailable")
	}
	g.creates, g.amounts = append(g.creates, key), append(g.amounts, req.Amount)
	return reservations.PaymentIntent{PluginID: "fake", ID: "pi_" + req.ReservationID, Amount: req.Amount, ClientSecret: "pi_secret"}, nil
}

func (g *fakeGateway) CancelPayment(_ context.Context, _ bun.IDB, _, key, _, _ string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancels = append(g.cancels, key)
	return nil
}

func (g *fakeGateway) Refund(_ context.Context, _ bun.IDB, _, key, id string, amount int64) (reservations.PaymentRefund, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		return reservations.PaymentRefund{}, apperr.New(apperr.KindUnavailable, "plugin_unavailable")
	}
	g.refunds[key] += amount
	return reservations.PaymentRefund{ID: "re_" + id, Amount: amount}, nil
}

func (g *fakeGateway) VerifyWebhook(_ context.Context, _ bun.IDB, _, _ string, body []byte, _ http.Header) (reservations.PaymentWebhook, error) {
	var h struct{ Sig, ID, PaymentID, Kind string }
	if err := json.Unmarshal(body, &h); err != nil || h.Sig != "ok" {
		return reservations.PaymentWebhook{}, reservations.ErrWebhookRejected
	}
	return reservations.PaymentWebhook{Event: true, DedupeID: h.ID, PaymentID: h.PaymentID, Kind: h.Kind}, nil
}

func hook(sig, id, paymentID, kind string) []byte {
	b, _ := json.Marshal(map[string]string{"sig": sig, "id": id, "paymentid": paymentID, "kind": kind})
	return b
}

func TestPrepaidBooking(t *testing.T) {
	dbtest.ForEachDB(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		gw := &fakeGateway{refunds: map[string]int64{}}
		svc := reservations.NewService(reservations.Config{Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return *e.clock },
			Menus: e.menus, Slots: e.slots, Events: e.subs, Payments: gw})
		if _, err := e.menus.SetPaymentPolicy(e.ctx, db, e.yoga, menus.PaymentPolicy{PrepaymentRequired: true,
			CancellationFees: []menus.CancellationFee{{HoursBefore: 24, Percent: 50}, {HoursBefore: 2, Percent: 100}}}); err != nil {
			t.Fatal(err)
		}
		book := func(i int) (reservations.Booked, error) {
			return svc.Book(e.ctx, db, e.tenant, reservations.BookInput{MenuID: e.yoga, SlotID: e.session, PartySize: 2,
				Customer: guest(i), Source: reservations.SourcePublic})
		}

		// The plugin is down: 503, and the seat is not held.
		gw.down = true
		if _, err := book(1); code(err) != "payment_unavailable" {
			t.Fatalf("booking while payments are down: %v, want payment_unavailable", err)
		}
		if n := e.slotBooked(t, e.session); n != 0 {
			t.Fatalf("%d seats held after a failed payment, want 0", n)
		}
		gw.down = false

		b, err := book(2)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != reservations.StatusPending || b.Payment == nil || b.Payment.ClientSecret == "" {
			t.Fatalf("prepaid booking: %+v", b)
		}
		if gw.creates[0] != b.ID+":create" || gw.amounts[0] != 4000 {
			t.Errorf("payment created with key %q amount %d, want %q 4000", gw.creates[0], gw.amounts[0], b.ID+":create")
		}
		pid := b.Payment.ID

		// Forged: refused, nothing changes.
		if err := svc.ApplyPaymentWebhook(e.ctx, db, e.tenant, "fake", hook("forged", "evt_1", pid, "succeeded"), nil); !errors.Is(err, reservations.ErrWebhookRejected) {
			t.Fatalf("forged webhook: %v", err)
		}
		if r, _ := svc.Get(e.ctx, db, b.ID); r.Status != reservations.StatusPending {
			t.Fatalf("a forged webhook changed the reservation to %s", r.Status)
		}
		// Signed: confirms; replayed: nothing more.
		for range 2 {
			if err := svc.ApplyPaymentWebhook(e.ctx, db, e.tenant, "fake", hook("ok", "evt_1", pid, "succeeded"), nil); err != nil {
				t.Fatal(err)
			}
		}
		r, _ := svc.Get(e.ctx, db, b.ID)
		if r.Status != reservations.StatusConfirmed || r.Version != 2 {
			t.Fatalf("after the webhook and its replay: %s v%d, want confirmed v2", r.Status, r.Version)
		}

		// A cancellation 10 hours before: 50 % kept, 2000 refunded once.
		e.setNow(r.StartsAt.Add(-10 * time.Hour))
		if _, err := svc.Change(e.ctx, db, e.tenant, b.ID, reservations.ActionCancel, reservations.ChangeInput{}); err != nil {
			t.Fatal(err)
		}
		// The refund is recorded with the cancel and made by its outbox
		// consumer, with one key however often it is delivered.
		if st, refunded, _ := svc.PaymentState(e.ctx, db, b.ID); st != reservations.PaymentRefunding || refunded != 2000 {
			t.Errorf("payment after the cancel: %s %d, want refunding 2000", st, refunded)
		}
		refund := svc.RefundDueHandler(func(context.Context, string) (tenants.Tenant, error) { return e.tenant, nil })
		gw.down = true
		if err := refund(e.ctx, db, outbox.Tenant{ID: e.tenant.ID}, outbox.Event{AggregateID: b.ID}); err == nil {
			t.Fatal("refund while payments are down: no error, so the outbox would not retry")
		}
		gw.down = false
		for range 2 {
			if err := refund(e.ctx, db, outbox.Tenant{ID: e.tenant.ID}, outbox.Event{AggregateID: b.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if got := gw.refunds[b.ID+":refund"]; got != 2000 {
			t.Errorf("refunded %d, want 2000", got)
		}
		if st, refunded, _ := svc.PaymentState(e.ctx, db, b.ID); st != reservations.PaymentRefunded || refunded != 2000 {
			t.Errorf("payment %s %d", st, refunded)
		}

		// Not paid in time: the seat is released and the payment cancelled.
		e.setNow(now)
		late, err := book(3)
		if err != nil {
			t.Fatal(err)
		}
		h := svc.PaymentDueHandler(func(context.Context, string) (tenants.Tenant, error) { return e.tenant, nil })
		for range 2 {
			if err := h(e.ctx, db, outbox.Tenant{ID: e.tenant.ID}, outbox.Event{AggregateID: late.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if r, _ := svc.Get(e.ctx, db, late.ID); r.Status != reservations.StatusCancelled {
			t.Errorf("an unpaid booking past its time is %s", r.Status)
		}
		if n := e.slotBooked(t, e.session); n != 0 {
			t.Errorf("%d seats held, want 0", n)
		}
		if len(gw.cancels) == 0 || gw.cancels[0] != late.ID+":cancel" {
			t.Errorf("payment cancels %v", gw.cancels)
		}
	})
}
