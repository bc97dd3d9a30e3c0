package integrations

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
	"github.com/yoyaku-oss/yoyaku/sdk"
	sdkhost "github.com/yoyaku-oss/yoyaku/sdk/host"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// CapabilityCRM is the capability of the plugins CRMHandler calls.
const CapabilityCRM = manifest.CapabilityCRM

// HasCapability reports whether an installed plugin that was not refused
// offers capability (e.g. "crm"): cmd/yoyaku subscribes the CRM handler
// only then, so that an installation without such a plugin records no
// outbox deliveries for it.
func (h *Host) HasCapability(capability string) bool {
	h.mu.Lock()
	list := make([]*supervised, 0, len(h.order))
	for _, id := range h.order {
		list = append(list, h.plugins[id])
	}
	h.mu.Unlock()
	for _, p := range list {
		if p.m.Has(capability) && p.snapshot().State != StateRefused {
			return true
		}
	}
	return false
}

// CRM is a crm plugin bound to a tenant.
type CRM struct{ *Bound }

// HandleEvent hands one outbox event to the plugin; idempotencyKey is the
// same for every re-delivery of the event.
func (b *CRM) HandleEvent(ctx context.Context, idempotencyKey string, ev sdk.Event) (sdk.CRMResult, error) {
	var out sdk.CRMResult
	err := b.h.call(ctx, b.p, "HandleEvent", func(ctx context.Context, c *sdkhost.Client) error {
		crm, ok := c.CRM()
		if !ok {
			return fmt.Errorf("plugin %s does not offer crm: %w", b.p.id, sdk.ErrUnimplemented)
		}
		var err error
		out, err = crm.HandleEvent(ctx, b.callFor(ctx, idempotencyKey), ev)
		return err
	})
	return out, err
}

// CRMs returns every crm plugin the tenant enabled (and that is still
// installed), bound to it, by plugin id. None is not an error.
func (h *Host) CRMs(ctx context.Context, db bun.IDB, tenantID string) ([]*CRM, error) {
	rows, err := listSettings(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []*CRM
	for _, r := range rows {
		if !r.Enabled {
			continue
		}
		p, err := h.get(r.PluginID)
		if err != nil || !p.m.Has(CapabilityCRM) {
			continue
		}
		b, err := h.Bind(ctx, db, tenantID, r.PluginID)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotEnabled) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, &CRM{b})
	}
	return out, nil
}

// CRMHandler is the outbox handler (consumer "crm") that hands events to
// the crm plugins the event's tenant enabled, with the delivery id as the
// idempotency key (a re-delivery carries the same one). A tenant without a
// crm plugin: delivered, nothing to do. A plugin that is down or fails: a
// retryable error, so the outbox retries with backoff (every plugin gets
// the event again; they are idempotent). A plugin that rejects the event
// for good: dead-lettered, once no other plugin needs a retry.
func (h *Host) CRMHandler() outbox.Handler {
	return func(ctx context.Context, db bun.IDB, tenant outbox.Tenant, e outbox.Event) error {
		crms, err := h.CRMs(ctx, db, tenant.ID)
		if err != nil {
			return err
		}
		ev := sdk.Event{ID: e.ID, Type: e.Type, OccurredAt: e.CreatedAt, Payload: e.Payload}
		var retry, rejected []error
		for _, c := range crms {
			res, err := c.HandleEvent(ctx, e.ID, ev)
			switch {
			case err != nil:
				retry = append(retry, err)
			case res.Outcome == sdk.OutcomeRejected:
				h.cfg.Logger.WarnContext(ctx, "crm event rejected", "plugin_id", c.PluginID(), "tenant_id", tenant.ID,
					"event_id", e.ID, "event_type", e.Type, "code", res.ErrorCode, "message", res.Message)
				rejected = append(rejected, fmt.Errorf("plugin %s rejected %s event %s: %s %s", c.PluginID(), e.Type, e.ID, res.ErrorCode, res.Message))
			}
		}
		if len(retry) > 0 {
			return errors.Join(append(retry, rejected...)...)
		}
		if len(rejected) > 0 {
			return outbox.Permanent(errors.Join(rejected...))
		}
		return nil
	}
}
