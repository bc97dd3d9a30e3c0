package integrations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/logx"
	"github.com/yoyaku-oss/yoyaku/sdk"
	sdkhost "github.com/yoyaku-oss/yoyaku/sdk/host"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// call runs fn on the running plugin p within the call deadline. A plugin
// that is down answers ErrUnavailable at once; a deadline or a connection
// failure is ErrUnavailable too, any other failure ErrFailed.
func (h *Host) call(ctx context.Context, p *supervised, method string, fn func(ctx context.Context, c *sdkhost.Client) error) error {
	c, err := p.client()
	if err != nil {
		h.metrics.errors.WithLabelValues(p.id, method, "unavailable").Inc()
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.CallTimeout)
	defer cancel()
	start := time.Now()
	err = fn(ctx, c)
	h.metrics.latency.WithLabelValues(p.id, method).Observe(time.Since(start).Seconds())
	if err == nil {
		return nil
	}
	args := map[string]any{"Plugin": p.id}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		h.metrics.errors.WithLabelValues(p.id, method, "deadline").Inc()
		return ErrUnavailable.WithArgs(args).WithCause(fmt.Errorf("%w: %s: no answer within %s: %w", sdk.ErrUnavailable, method, h.cfg.CallTimeout, err))
	case errors.Is(err, sdk.ErrUnavailable), errors.Is(err, context.Canceled):
		h.metrics.errors.WithLabelValues(p.id, method, "unavailable").Inc()
		return ErrUnavailable.WithArgs(args).WithCause(fmt.Errorf("%w: %s: %w", sdk.ErrUnavailable, method, err))
	}
	h.metrics.errors.WithLabelValues(p.id, method, "failed").Inc()
	return ErrFailed.WithArgs(args).WithCause(fmt.Errorf("plugin %s: %s: %w", p.id, method, err))
}

// Bound is a plugin bound to one tenant: its calls carry the tenant's id
// and decrypted settings. Get one from Host.Bind or Host.Payments.
type Bound struct {
	h    *Host
	p    *supervised
	call sdk.Call
}

// PluginID is the plugin's id.
func (b *Bound) PluginID() string { return b.p.id }

// callFor is the sdk.Call of one request: the request id from ctx (for the
// plugin's logs) and the operation's idempotency key.
func (b *Bound) callFor(ctx context.Context, idempotencyKey string) sdk.Call {
	c := b.call
	c.RequestID = logx.RequestID(ctx)
	c.IdempotencyKey = idempotencyKey
	return c
}

// Health asks the plugin about this tenant's downstream account.
func (b *Bound) Health(ctx context.Context) (sdk.Health, error) {
	var out sdk.Health
	err := b.h.call(ctx, b.p, "Health", func(ctx context.Context, c *sdkhost.Client) (err error) {
		out, err = c.Health(ctx, b.callFor(ctx, ""))
		return err
	})
	return out, err
}

// Bind returns plugin id bound to the tenant whose database is db: it must
// be installed and enabled by the tenant. It does not need the plugin to
// be running; its calls answer ErrUnavailable while it is not.
func (h *Host) Bind(ctx context.Context, db bun.IDB, tenantID, id string) (*Bound, error) {
	p, err := h.get(id)
	if err != nil {
		return nil, err
	}
	row, err := loadSettings(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if row == nil || !row.Enabled {
		return nil, ErrNotEnabled.WithArgs(map[string]any{"Plugin": id})
	}
	values, err := h.decrypt(tenantID, id, p.m.Settings, row)
	if err != nil {
		return nil, err
	}
	return &Bound{h: h, p: p, call: sdk.Call{TenantID: tenantID, Settings: values}}, nil
}

// bindCapability binds the first plugin (by id) the tenant enabled that
// offers capability.
func (h *Host) bindCapability(ctx context.Context, db bun.IDB, tenantID, capability string) (*Bound, error) {
	rows, err := listSettings(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if !r.Enabled {
			continue
		}
		p, err := h.get(r.PluginID)
		if err != nil || !p.m.Has(capability) {
			continue
		}
		return h.Bind(ctx, db, tenantID, r.PluginID)
	}
	return nil, ErrNotEnabled.WithArgs(map[string]any{"Plugin": capability})
}

// Payments is a payments plugin bound to a tenant.
type Payments struct{ *Bound }

// Payments returns the payments plugin the tenant enabled, bound to it;
// ErrNotEnabled when it enabled none.
func (h *Host) Payments(ctx context.Context, db bun.IDB, tenantID string) (*Payments, error) {
	b, err := h.bindCapability(ctx, db, tenantID, manifest.CapabilityPayments)
	if err != nil {
		return nil, err
	}
	return &Payments{b}, nil
}

func (b *Payments) payments(c *sdkhost.Client) (sdk.Payments, error) {
	pay, ok := c.Payments()
	if !ok {
		return nil, fmt.Errorf("plugin %s does not offer payments: %w", b.p.id, sdk.ErrUnimplemented)
	}
	return pay, nil
}

// CreatePayment starts a payment; idempotencyKey is the same for every
// retry of one booking's payment.
func (b *Payments) CreatePayment(ctx context.Context, idempotencyKey string, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	var out sdk.PaymentResult
	err := b.h.call(ctx, b.p, "CreatePayment", func(ctx context.Context, c *sdkhost.Client) error {
		pay, err := b.payments(c)
		if err != nil {
			return err
		}
		out, err = pay.CreatePayment(ctx, b.callFor(ctx, idempotencyKey), req)
		return err
	})
	return out, err
}

// GetPayment reads a payment's state.
func (b *Payments) GetPayment(ctx context.Context, paymentID string) (sdk.PaymentLookup, error) {
	var out sdk.PaymentLookup
	err := b.h.call(ctx, b.p, "GetPayment", func(ctx context.Context, c *sdkhost.Client) error {
		pay, err := b.payments(c)
		if err != nil {
			return err
		}
		out, err = pay.GetPayment(ctx, b.callFor(ctx, ""), paymentID)
		return err
	})
	return out, err
}

// CancelPayment cancels a payment that has not succeeded.
func (b *Payments) CancelPayment(ctx context.Context, idempotencyKey string, req sdk.CancelRequest) (sdk.PaymentResult, error) {
	var out sdk.PaymentResult
	err := b.h.call(ctx, b.p, "CancelPayment", func(ctx context.Context, c *sdkhost.Client) error {
		pay, err := b.payments(c)
		if err != nil {
			return err
		}
		out, err = pay.CancelPayment(ctx, b.callFor(ctx, idempotencyKey), req)
		return err
	})
	return out, err
}

// Refund returns part or all of a succeeded payment.
func (b *Payments) Refund(ctx context.Context, idempotencyKey string, req sdk.RefundRequest) (sdk.RefundResult, error) {
	var out sdk.RefundResult
	err := b.h.call(ctx, b.p, "Refund", func(ctx context.Context, c *sdkhost.Client) error {
		pay, err := b.payments(c)
		if err != nil {
			return err
		}
		out, err = pay.Refund(ctx, b.callFor(ctx, idempotencyKey), req)
		return err
	})
	return out, err
}

// HandleWebhook has the plugin verify and read a webhook of its provider.
func (b *Payments) HandleWebhook(ctx context.Context, hook sdk.Webhook) (sdk.WebhookResult, error) {
	var out sdk.WebhookResult
	err := b.h.call(ctx, b.p, "HandleWebhook", func(ctx context.Context, c *sdkhost.Client) error {
		pay, err := b.payments(c)
		if err != nil {
			return err
		}
		out, err = pay.HandleWebhook(ctx, b.callFor(ctx, ""), hook)
		return err
	})
	return out, err
}
