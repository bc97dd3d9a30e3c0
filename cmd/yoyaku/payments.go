package main

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// paymentGateway is the payments port over the plugin host (nil without
// one: prepaid menus then answer payment_unavailable).
func (a *app) paymentGateway() reservations.PaymentGateway {
	if a.plugins == nil {
		return nil
	}
	return a.plugins.PaymentGateway()
}

// paymentDue is the outbox consumer of a prepaid booking's timer: an unpaid
// seat is released and the payment cancelled at the provider.
func (a *app) paymentDue(ctx context.Context, db bun.IDB, t outbox.Tenant, e outbox.Event) error {
	if a.reservations == nil {
		return errors.New("reservations: not wired")
	}
	return a.reservations.PaymentDueHandler(a.tenants.GetByID)(ctx, db, t, e)
}

// registerPaymentWebhooks serves the payment providers' webhooks on g
// ("/api/v1/webhooks/plugins/:plugin_id/:tenant" after the tenant
// middleware).
func (a *app) registerPaymentWebhooks(g *gin.RouterGroup) {
	reservations.NewHTTP(reservations.HTTPConfig{Service: a.reservations}).RegisterPaymentWebhooks(g)
}

// refundDue is the outbox consumer of a cancelled prepaid reservation's
// refund (idempotency key "<id>:refund"; retried while the plugin is down).
func (a *app) refundDue(ctx context.Context, db bun.IDB, t outbox.Tenant, e outbox.Event) error {
	if a.reservations == nil {
		return errors.New("reservations: not wired")
	}
	return a.reservations.RefundDueHandler(a.tenants.GetByID)(ctx, db, t, e)
}
