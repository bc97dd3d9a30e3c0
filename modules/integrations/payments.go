package integrations

import (
	"context"
	"errors"
	"net/http"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/reservations"
	"github.com/yoyaku-oss/yoyaku/sdk"
)

// PaymentGateway is reservations' payments port over the payments plugin a
// tenant enabled: it translates between the port's plain types and the
// sdk's, and carries the reservations' idempotency keys to the plugin.
// Payments are in yen (JPY).
type PaymentGateway struct{ h *Host }

var _ reservations.PaymentGateway = (*PaymentGateway)(nil)

// PaymentGateway returns the payments port over this host (for
// reservations.Config.Payments).
func (h *Host) PaymentGateway() *PaymentGateway { return &PaymentGateway{h: h} }

// paymentCurrency is the currency of every amount of the port.
const paymentCurrency = "JPY"

// bound is the tenant's payments plugin. A tenant that enabled none (or a
// plugin not installed any more) cannot take payments: unavailable, so a
// prepaid booking answers 503 and holds no seat.
func (g *PaymentGateway) bound(ctx context.Context, db bun.IDB, tenantID string) (*Payments, error) {
	p, err := g.h.Payments(ctx, db, tenantID)
	if errors.Is(err, ErrNotEnabled) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrRefused) {
		return nil, reservations.ErrPaymentUnavailable.WithCause(err)
	}
	return p, err
}

// CreatePayment starts a payment of req.Amount yen for a reservation.
func (g *PaymentGateway) CreatePayment(ctx context.Context, db bun.IDB, tenantID, idempotencyKey string, req reservations.PaymentRequest) (reservations.PaymentIntent, error) {
	p, err := g.bound(ctx, db, tenantID)
	if err != nil {
		return reservations.PaymentIntent{}, err
	}
	res, err := p.CreatePayment(ctx, idempotencyKey, sdk.PaymentRequest{Amount: req.Amount, Currency: paymentCurrency,
		ReservationID: req.ReservationID, CustomerEmail: req.Email, Description: req.Description,
		Metadata: map[string]string{"reservation_id": req.ReservationID}})
	if err != nil {
		return reservations.PaymentIntent{}, err
	}
	if res.Declined {
		return reservations.PaymentIntent{PluginID: p.PluginID(), Declined: true, Code: res.ErrorCode}, nil
	}
	return reservations.PaymentIntent{PluginID: p.PluginID(), ID: res.Payment.ID, Amount: res.Payment.Amount,
		ClientSecret: res.Payment.ClientSecret}, nil
}

// CancelPayment cancels a payment not made in time. A payment the provider
// will not cancel any more (it succeeded meanwhile) is left alone: its
// success webhook refunds it.
func (g *PaymentGateway) CancelPayment(ctx context.Context, db bun.IDB, tenantID, idempotencyKey, paymentID, reason string) error {
	p, err := g.bound(ctx, db, tenantID)
	if err != nil {
		return err
	}
	res, err := p.CancelPayment(ctx, idempotencyKey, sdk.CancelRequest{PaymentID: paymentID, Reason: reason})
	if err != nil {
		return err
	}
	if res.Declined {
		g.h.cfg.Logger.InfoContext(ctx, "payment not cancelled", "plugin_id", p.PluginID(), "code", res.ErrorCode)
	}
	return nil
}

// Refund returns amount yen of a succeeded payment.
func (g *PaymentGateway) Refund(ctx context.Context, db bun.IDB, tenantID, idempotencyKey, paymentID string, amount int64) (reservations.PaymentRefund, error) {
	p, err := g.bound(ctx, db, tenantID)
	if err != nil {
		return reservations.PaymentRefund{}, err
	}
	res, err := p.Refund(ctx, idempotencyKey, sdk.RefundRequest{PaymentID: paymentID, Amount: amount, Reason: "requested_by_customer"})
	if err != nil {
		return reservations.PaymentRefund{}, err
	}
	return reservations.PaymentRefund{ID: res.ID, Amount: res.Amount, Declined: res.Declined, Code: res.ErrorCode}, nil
}

// VerifyWebhook has plugin pluginID verify and read a webhook. A plugin the
// tenant has not enabled (or that is not installed) rejects it; a plugin
// that is down answers unavailable, so the provider sends it again later.
func (g *PaymentGateway) VerifyWebhook(ctx context.Context, db bun.IDB, tenantID, pluginID string, body []byte, header http.Header) (reservations.PaymentWebhook, error) {
	b, err := g.h.Bind(ctx, db, tenantID, pluginID)
	if errors.Is(err, ErrNotEnabled) || errors.Is(err, ErrNotFound) {
		return reservations.PaymentWebhook{}, reservations.ErrWebhookRejected.WithCause(err)
	}
	if err != nil {
		return reservations.PaymentWebhook{}, err
	}
	res, err := (&Payments{b}).HandleWebhook(ctx, sdk.Webhook{Body: body, Header: header})
	if err != nil {
		return reservations.PaymentWebhook{}, err
	}
	switch res.Outcome {
	case sdk.WebhookEvent:
		ev := res.Event
		if ev.DedupeID == "" || ev.PaymentID == "" {
			return reservations.PaymentWebhook{}, reservations.ErrWebhookRejected.WithCause(errors.New("plugin " + pluginID + ": an event without dedupe or payment id"))
		}
		return reservations.PaymentWebhook{Event: true, DedupeID: ev.DedupeID, PaymentID: ev.PaymentID,
			ReservationID: ev.ReservationID, Kind: string(ev.Kind), Amount: ev.Amount}, nil
	case sdk.WebhookIgnored:
		return reservations.PaymentWebhook{}, nil
	}
	g.h.cfg.Logger.InfoContext(ctx, "payment webhook rejected", "plugin_id", pluginID, "code", res.ErrorCode)
	return reservations.PaymentWebhook{}, reservations.ErrWebhookRejected.WithArgs(map[string]any{"Code": res.ErrorCode})
}
