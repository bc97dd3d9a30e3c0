package reservations

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// PaymentGateway is the payments port: the tenant's payments plugin, as
// reservations needs it (modules/integrations implements it). Every call
// that moves money carries an idempotency key derived from the reservation
// id, so a retry never charges or refunds twice. An unreachable, slow or
// crashed provider answers an error of kind unavailable.
type PaymentGateway interface {
	CreatePayment(ctx context.Context, db bun.IDB, tenantID, idempotencyKey string, req PaymentRequest) (PaymentIntent, error)
	CancelPayment(ctx context.Context, db bun.IDB, tenantID, idempotencyKey, paymentID, reason string) error
	Refund(ctx context.Context, db bun.IDB, tenantID, idempotencyKey, paymentID string, amount int64) (PaymentRefund, error)
	// VerifyWebhook has plugin pluginID verify and read a webhook its
	// provider sent; a webhook that does not verify is ErrWebhookRejected.
	VerifyWebhook(ctx context.Context, db bun.IDB, tenantID, pluginID string, body []byte, header http.Header) (PaymentWebhook, error)
}

// PaymentRequest asks for a prepayment.
type PaymentRequest struct {
	Amount        int64 // yen
	ReservationID string
	Email         string
	Description   string
}

// PaymentIntent is a payment the customer completes in the browser.
type PaymentIntent struct {
	PluginID     string
	ID           string
	Amount       int64
	ClientSecret string // never logged nor stored
	// Declined: the provider refused; Code says why.
	Declined bool
	Code     string
}

// PaymentRefund is a refund made.
type PaymentRefund struct {
	ID       string
	Amount   int64
	Declined bool
	Code     string
}

// PaymentWebhook is a verified webhook.
type PaymentWebhook struct {
	// Event is false for a verified webhook of a kind that does not matter.
	Event bool
	// DedupeID is unique per provider event: it is applied once.
	DedupeID      string
	PaymentID     string
	ReservationID string
	Kind          string // "succeeded", "failed", "refunded"
	Amount        int64
}

// Payment states of reservation_payments.
const (
	PaymentAwaiting = "awaiting" // the seat is held for the payment
	PaymentPaid     = "paid"
	PaymentExpired  = "expired" // not paid in time, or the provider was down: the seat was released
	PaymentRefunded = "refunded"
	// PaymentRefunding: cancelled; the refund (of Refunded) is recorded
	// as a reservation.refund_due event, made by RefundDueHandler.
	PaymentRefunding = "refunding"
)

// EventPaymentDue fires when a prepaid booking's payment time is up.
const EventPaymentDue = "reservation.payment_due"

// EventRefundDue fires when a paid reservation is cancelled (or paid after
// its seat was released): RefundDueHandler refunds it, retried by the
// outbox until the provider answers, always with the key "<id>:refund".
const EventRefundDue = "reservation.refund_due"

// DefaultPaymentWindow is how long a prepaid booking holds its seat.
const DefaultPaymentWindow = 15 * time.Minute

// Errors of payments.
var (
	// ErrPaymentUnavailable: the payments plugin is down or slow; the
	// booking holds no seat (503).
	ErrPaymentUnavailable = apperr.New(apperr.KindUnavailable, "payment_unavailable")
	// ErrPaymentDeclined: the provider refused to start the payment (402→409).
	ErrPaymentDeclined = apperr.New(apperr.KindConflict, "payment_declined")
	// ErrWebhookRejected: a webhook that does not verify (400); nothing changes.
	ErrWebhookRejected = apperr.New(apperr.KindInvalid, "webhook_rejected")
)

// Payment is a reservation's prepayment, as Book answers it.
type Payment struct {
	ID           string
	Amount       int64
	ClientSecret string
	ExpiresAt    time.Time
}

type paymentRow struct {
	bun.BaseModel `bun:"table:reservation_payments"`

	ReservationID string    `bun:"reservation_id,pk"`
	PluginID      string    `bun:"plugin_id"`
	PaymentID     string    `bun:"payment_id"`
	Amount        int64     `bun:"amount"`
	Refunded      int64     `bun:"refunded"`
	State         string    `bun:"state"`
	ExpiresAt     time.Time `bun:"expires_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type webhookEventRow struct {
	bun.BaseModel `bun:"table:payment_webhook_events"`

	EventID       string    `bun:"event_id,pk"`
	ReservationID string    `bun:"reservation_id"`
	Kind          string    `bun:"kind"`
	ReceivedAt    time.Time `bun:"received_at"`
}

// holdForPayment records, in the booking's transaction, that r waits for
// its payment, and schedules the release of its seat.
func (s *Service) holdForPayment(ctx context.Context, tx bun.IDB, evs []outbox.Event, r Reservation, now time.Time) ([]outbox.Event, error) {
	due := now.Add(s.paymentWindow)
	if _, err := tx.NewInsert().Model(&paymentRow{ReservationID: r.ID, Amount: r.Price, State: PaymentAwaiting,
		ExpiresAt: due, UpdatedAt: now}).Exec(ctx); err != nil {
		return evs, err
	}
	got, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: EventPaymentDue, AggregateType: "reservation",
		AggregateID: r.ID, Payload: Event{ReservationID: r.ID}, DueAt: due, Key: r.ID})
	return append(evs, got...), err
}

// startPayment creates the payment of a booking that holds its seat, outside
// the booking's transaction. When the provider is down the seat is given
// back at once and the booking answers ErrPaymentUnavailable.
func (s *Service) startPayment(ctx context.Context, db bun.IDB, t tenants.Tenant, r Reservation) (Payment, error) {
	pi, err := s.payments.CreatePayment(ctx, db, t.ID, r.ID+":create", PaymentRequest{Amount: r.Price, ReservationID: r.ID,
		Email: r.Customer.Email, Description: r.Number})
	if err == nil && pi.Declined {
		err = ErrPaymentDeclined.WithArgs(map[string]any{"Code": pi.Code})
	}
	if err != nil {
		s.log.WarnContext(ctx, "payment not started; seat released", "reservation_id", r.ID, "error", err)
		if rerr := s.releaseUnpaid(ctx, db, t, r.ID, "payment_unavailable"); rerr != nil {
			s.log.ErrorContext(ctx, "releasing an unpaid reservation", "reservation_id", r.ID, "error", rerr)
		}
		if apperr.KindOf(err) == apperr.KindConflict {
			return Payment{}, err
		}
		return Payment{}, ErrPaymentUnavailable.WithCause(err)
	}
	res, err := db.NewUpdate().Model((*paymentRow)(nil)).Set("payment_id = ?", pi.ID).Set("plugin_id = ?", pi.PluginID).
		Set("updated_at = ?", s.clock()).Where("reservation_id = ?", r.ID).Where("state = ?", PaymentAwaiting).Exec(ctx)
	if err != nil {
		return Payment{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 { // expired meanwhile
		return Payment{}, ErrPaymentUnavailable
	}
	row, err := s.paymentOf(ctx, db, r.ID)
	if err != nil || row == nil {
		return Payment{}, errInternal(errors.New("reservations: payment row vanished"))
	}
	return Payment{ID: pi.ID, Amount: pi.Amount, ClientSecret: pi.ClientSecret, ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// releaseUnpaid marks the payment expired (if it still waits) and cancels
// the reservation, giving its seat back, in one transaction. It is
// idempotent.
func (s *Service) releaseUnpaid(ctx context.Context, db bun.IDB, t tenants.Tenant, id, reason string) error {
	var evs []outbox.Event
	err := runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		evs = nil
		res, err := tx.NewUpdate().Model((*paymentRow)(nil)).Set("state = ?", PaymentExpired).Set("updated_at = ?", s.clock()).
			Where("reservation_id = ?", id).Where("state = ?", PaymentAwaiting).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // paid, or released already
		}
		_, evs, err = s.changeIn(ctx, tx, t, id, ActionCancel, ChangeInput{Reason: reason})
		if errors.Is(err, ErrStatus) {
			evs, err = nil, nil
		}
		return err
	})
	if err == nil {
		s.after(ctx, t, evs)
	}
	return err
}

func (s *Service) paymentOf(ctx context.Context, db bun.IDB, id string) (*paymentRow, error) {
	var row paymentRow
	err := db.NewSelect().Model(&row).Where("reservation_id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &row, err
}

// PaymentState returns reservation id's payment state ("" when it has no
// prepayment) and the amount refunded.
func (s *Service) PaymentState(ctx context.Context, db bun.IDB, id string) (string, int64, error) {
	row, err := s.paymentOf(ctx, db, id)
	if err != nil || row == nil {
		return "", 0, err
	}
	return row.State, row.Refunded, nil
}

// PaymentDueHandler is the outbox consumer of EventPaymentDue: a payment
// not made in time gives the seat back and is cancelled at the provider.
func (s *Service) PaymentDueHandler(tenantOf func(ctx context.Context, id string) (tenants.Tenant, error)) outbox.Handler {
	return func(ctx context.Context, db bun.IDB, ot outbox.Tenant, e outbox.Event) error {
		t, err := tenantOf(ctx, ot.ID)
		if err != nil {
			return err
		}
		row, err := s.paymentOf(ctx, db, e.AggregateID)
		if err != nil || row == nil || row.State != PaymentAwaiting {
			return err
		}
		if err := s.releaseUnpaid(ctx, db, t, row.ReservationID, "payment_expired"); err != nil {
			return err
		}
		if row.PaymentID != "" && s.payments != nil {
			return s.payments.CancelPayment(ctx, db, t.ID, row.ReservationID+":cancel", row.PaymentID, "expired")
		}
		return nil
	}
}

// ApplyPaymentWebhook verifies a webhook through plugin pluginID and applies
// its event exactly once: a payment that succeeded confirms the
// reservation, in the transaction that records the event (so a crash
// cannot leave it paid but pending); a payment that succeeded after its
// seat was released (or its reservation cancelled) is refunded in full. A
// forged or replayed webhook changes nothing.
func (s *Service) ApplyPaymentWebhook(ctx context.Context, db bun.IDB, t tenants.Tenant, pluginID string, body []byte, header http.Header) error {
	if s.payments == nil {
		return ErrPaymentUnavailable
	}
	hook, err := s.payments.VerifyWebhook(ctx, db, t.ID, pluginID, body, header)
	if err != nil || !hook.Event {
		return err
	}
	var row paymentRow
	q := db.NewSelect().Model(&row).Where("plugin_id = ?", pluginID).Where("payment_id = ?", hook.PaymentID)
	if err := q.Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		s.log.InfoContext(ctx, "payment webhook for no reservation", "plugin_id", pluginID)
		return nil
	} else if err != nil {
		return err
	}
	now := s.clock()
	var evs []outbox.Event
	failed := false
	err = runTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		evs, failed = nil, false
		res, err := tx.NewInsert().Model(&webhookEventRow{EventID: pluginID + ":" + hook.DedupeID, ReservationID: row.ReservationID,
			Kind: hook.Kind, ReceivedAt: now}).Ignore().Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // applied before: a replay
		}
		switch hook.Kind {
		case "succeeded":
			cur, err := s.paymentOf(ctx, tx, row.ReservationID)
			if err != nil || cur == nil {
				return err
			}
			switch cur.State {
			case PaymentAwaiting:
				if _, err := tx.NewUpdate().Model((*paymentRow)(nil)).Set("state = ?", PaymentPaid).Set("updated_at = ?", now).
					Where("reservation_id = ?", cur.ReservationID).Where("state = ?", PaymentAwaiting).Exec(ctx); err != nil {
					return err
				}
				_, evs, err = s.changeIn(ctx, tx, t, cur.ReservationID, ActionConfirm, ChangeInput{})
				if !errors.Is(err, ErrStatus) {
					return err
				}
				// Cancelled while the customer paid: all of it goes back.
				evs, err = s.refundAll(ctx, tx, nil, *cur, now)
				return err
			case PaymentExpired: // paid after the seat was released: give it all back
				evs, err = s.refundAll(ctx, tx, nil, *cur, now)
				return err
			}
		case "failed":
			failed = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.after(ctx, t, evs)
	if failed {
		return s.releaseUnpaid(ctx, db, t, row.ReservationID, "payment_failed")
	}
	return nil
}

// refundDue records, in the cancel's transaction, the refund of a paid
// reservation just cancelled: the price less the menu's cancellation fee
// for how late it is. RefundDueHandler makes it.
func (s *Service) refundDue(ctx context.Context, tx bun.IDB, evs []outbox.Event, r Reservation, now time.Time) ([]outbox.Event, error) {
	row, err := s.paymentOf(ctx, tx, r.ID)
	if err != nil || row == nil || row.State != PaymentPaid {
		return evs, err
	}
	policy, err := s.menus.PaymentPolicy(ctx, tx, r.MenuID)
	if err != nil {
		return evs, err
	}
	fee := row.Amount * int64(policy.FeePercent(r.StartsAt.Sub(now))) / 100
	return s.refund(ctx, tx, evs, *row, row.Amount-fee, now)
}

// refundAll records the refund of the whole of row's payment.
func (s *Service) refundAll(ctx context.Context, tx bun.IDB, evs []outbox.Event, row paymentRow, now time.Time) ([]outbox.Event, error) {
	return s.refund(ctx, tx, evs, row, row.Amount, now)
}

// refund records that amount of row's payment goes back: the row is
// refunding (refunded when amount is 0) and a reservation.refund_due event
// is enqueued, in tx.
func (s *Service) refund(ctx context.Context, tx bun.IDB, evs []outbox.Event, row paymentRow, amount int64, now time.Time) ([]outbox.Event, error) {
	state := PaymentRefunding
	if amount <= 0 {
		amount, state = 0, PaymentRefunded
	}
	res, err := tx.NewUpdate().Model((*paymentRow)(nil)).Set("state = ?", state).Set("refunded = ?", amount).
		Set("updated_at = ?", now).Where("reservation_id = ?", row.ReservationID).Where("state = ?", row.State).Exec(ctx)
	if err != nil {
		return evs, err
	}
	if n, _ := res.RowsAffected(); n != 1 || state != PaymentRefunding {
		return evs, nil
	}
	got, err := outbox.Enqueue(ctx, tx, s.events, outbox.NewEvent{Type: EventRefundDue, AggregateType: "reservation",
		AggregateID: row.ReservationID, Payload: Event{ReservationID: row.ReservationID}, Key: row.ReservationID})
	return append(evs, got...), err
}

// RefundDueHandler is the outbox consumer of EventRefundDue: it refunds
// what the cancel recorded, with the idempotency key "<id>:refund", so a
// retry never refunds twice. A provider that is down is retried by the
// outbox; a refused refund is a dead letter for the operator.
func (s *Service) RefundDueHandler(tenantOf func(ctx context.Context, id string) (tenants.Tenant, error)) outbox.Handler {
	return func(ctx context.Context, db bun.IDB, ot outbox.Tenant, e outbox.Event) error {
		row, err := s.paymentOf(ctx, db, e.AggregateID)
		if err != nil || row == nil || row.State != PaymentRefunding {
			return err
		}
		if s.payments == nil {
			return ErrPaymentUnavailable
		}
		t, err := tenantOf(ctx, ot.ID)
		if err != nil {
			return err
		}
		ref, err := s.payments.Refund(ctx, db, t.ID, row.ReservationID+":refund", row.PaymentID, row.Refunded)
		if err != nil {
			return err
		}
		if ref.Declined {
			s.log.ErrorContext(ctx, "refund refused", "reservation_id", row.ReservationID, "code", ref.Code)
			return outbox.Permanent(ErrPaymentDeclined.WithArgs(map[string]any{"Code": ref.Code}))
		}
		_, err = db.NewUpdate().Model((*paymentRow)(nil)).Set("state = ?", PaymentRefunded).Set("updated_at = ?", s.clock()).
			Where("reservation_id = ?", row.ReservationID).Where("state = ?", PaymentRefunding).Exec(ctx)
		return err
	}
}
