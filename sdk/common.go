package sdk

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// Call opens every request: which tenant it is for and how to make it safe to
// repeat. Its String and LogValue leave the settings out, so logging a Call
// never leaks a secret.
type Call struct {
	// TenantID is the tenant the call is for; empty for plugin-wide calls.
	TenantID string
	// RequestID identifies the host request behind the call, for logs.
	RequestID string
	// IdempotencyKey is the same for every retry of one operation (for an
	// outbox event: its id). Pass it downstream (e.g. Stripe's
	// Idempotency-Key) so a retry never acts twice.
	IdempotencyKey string
	// Settings are the tenant's settings by key, secrets included and
	// decrypted. Never log them.
	Settings map[string]string
}

// String describes the call without its settings.
func (c Call) String() string {
	return fmt.Sprintf("call{tenant=%s request=%s idempotency_key=%s settings=%d keys}", c.TenantID, c.RequestID, c.IdempotencyKey, len(c.Settings))
}

// GoString is String, so that %#v does not print the settings either.
func (c Call) GoString() string { return c.String() }

// LogValue logs the call without its settings.
func (c Call) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tenant_id", c.TenantID),
		slog.String("request_id", c.RequestID),
		slog.String("idempotency_key", c.IdempotencyKey),
	)
}

// Text is a short text in Japanese and English.
type Text = manifest.Text

// Setting is one field of a plugin's settings schema (the same type as in
// plugin.json).
type Setting = manifest.Setting

// Choice is one allowed value of a choice setting.
type Choice = manifest.Choice

// SettingType is the kind of a setting.
type SettingType = manifest.SettingType

// The setting types.
const (
	TypeString = manifest.TypeString
	TypeSecret = manifest.TypeSecret
	TypeNumber = manifest.TypeNumber
	TypeBool   = manifest.TypeBool
	TypeChoice = manifest.TypeChoice
)

// SettingProblem is one invalid settings value: Key, a stable Code and a
// Message for the tenant admin.
type SettingProblem = manifest.Problem

// Info describes a plugin; it must agree with its plugin.json.
type Info struct {
	// ID is the plugin's id (a slug or a reverse-DNS name).
	ID string
	// Name is the display name.
	Name Text
	// Version is the plugin's semantic version.
	Version string
	// Capabilities are "crm", "sso", "payments" (see Plugin.Info).
	Capabilities []string
	// Settings is the schema of the per-tenant settings, in form order.
	Settings []Setting
}

// HealthStatus is the plugin's own view of its health.
type HealthStatus string

// The health statuses.
const (
	HealthOK       HealthStatus = "ok"
	HealthDegraded HealthStatus = "degraded"
	HealthDown     HealthStatus = "down"
)

// Health is the answer to a health check.
type Health struct {
	Status HealthStatus
	// Message explains a status other than OK, for the operator. No secrets.
	Message string
}

// Configured is the answer to Configure.
type Configured struct {
	// Problems kept the plugin from configuring itself; empty when ready.
	Problems []SettingProblem
	// Message tells the tenant admin what happened, if anything. No secrets.
	Message string
}

// HealthChecker answers the host's health checks. With a Call that names a
// tenant it may check that tenant's downstream account; without, itself.
type HealthChecker interface {
	Health(ctx context.Context, call Call) (Health, error)
}

// SettingsHandler checks and applies a tenant's settings (call.Settings)
// beyond what the schema says. The SDK has already checked the values against
// the schema when these run.
type SettingsHandler interface {
	// ValidateSettings checks settings before the host saves them (e.g. tries
	// the API key) and changes nothing.
	ValidateSettings(ctx context.Context, call Call) ([]SettingProblem, error)
	// Configure prepares the plugin for a tenant that enabled it or saved
	// new settings (e.g. registers a webhook endpoint).
	Configure(ctx context.Context, call Call) (Configured, error)
}

// Common is the service every plugin answers, as the host sees it. (It is
// not called Plugin because that is the struct a plugin's main() serves.)
type Common interface {
	// Info describes the plugin.
	Info(ctx context.Context) (Info, error)
	// Health tells whether the plugin can work now.
	Health(ctx context.Context, call Call) (Health, error)
	// ValidateSettings checks call.Settings; no problems means valid.
	ValidateSettings(ctx context.Context, call Call) ([]SettingProblem, error)
	// Configure applies call.Settings for call.TenantID.
	Configure(ctx context.Context, call Call) (Configured, error)
}

// common is the plugin side of Common: Info from the Plugin, the schema
// check, then the author's handlers.
type common struct{ p Plugin }

func (c common) Info(context.Context) (Info, error) { return c.p.info(), nil }

func (c common) Health(ctx context.Context, call Call) (Health, error) {
	if c.p.Health == nil {
		return Health{Status: HealthOK}, nil
	}
	return c.p.Health.Health(ctx, call)
}

func (c common) ValidateSettings(ctx context.Context, call Call) ([]SettingProblem, error) {
	if problems := manifest.CheckValues(c.p.Info.Settings, call.Settings); len(problems) > 0 {
		return problems, nil
	}
	if c.p.Settings == nil {
		return nil, nil
	}
	return c.p.Settings.ValidateSettings(ctx, call)
}

func (c common) Configure(ctx context.Context, call Call) (Configured, error) {
	if problems := manifest.CheckValues(c.p.Info.Settings, call.Settings); len(problems) > 0 {
		return Configured{Problems: problems}, nil
	}
	if c.p.Settings == nil {
		return Configured{}, nil
	}
	return c.p.Settings.Configure(ctx, call)
}
