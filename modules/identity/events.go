package identity

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// The events identity records for the mail consumer (modules/notify, which
// identity may not import: the payloads below mirror notify's with the
// same JSON names). Each is written in the transaction of its change, so a
// mail goes out exactly when the change happened; the console or API wakes
// the dispatcher after the commit (ConsoleConfig.Notify).
const (
	// EventStaffInvited: someone was invited; the invitee gets the setup
	// link.
	EventStaffInvited = "staff.invited"
	// EventStaffPasswordReset: a password reset was asked for (by the
	// member on the forgot page, or by an administrator); the member gets
	// the reset link.
	EventStaffPasswordReset = "staff.password_reset"
	// EventStaff2FAChanged: two-factor sign-in was turned on or off for an
	// account; its member is told, so a change they did not make shows.
	EventStaff2FAChanged = "staff.2fa_changed"
)

// invitedPayload is the staff.invited event as the mail consumer reads it.
type invitedPayload struct {
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	SetupURL    string    `json:"setup_url"`
	Inviter     string    `json:"inviter"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Lang        string    `json:"lang,omitempty"`
}

// passwordResetPayload is staff.password_reset (notify.StaffPasswordReset).
type passwordResetPayload struct {
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	ResetURL    string    `json:"reset_url"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Lang        string    `json:"lang,omitempty"`
}

// twoFactorChangedPayload is staff.2fa_changed (notify.Staff2FAChanged).
type twoFactorChangedPayload struct {
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Enabled     bool      `json:"enabled"`
	ChangedBy   string    `json:"changed_by"` // empty when the member did it
	At          time.Time `json:"at,omitzero"`
	Lang        string    `json:"lang,omitempty"`
}

// invited records the staff.invited event in tx, the invitation's own
// transaction, so the mail goes out exactly when the invitation exists.
func (cfg ConsoleConfig) invited(ctx context.Context, tx bun.IDB, st Staff, link string, inviter Principal, lang string) ([]outbox.Event, error) {
	return cfg.enqueue(ctx, tx, EventStaffInvited, st, invitedPayload{Email: st.Email, DisplayName: st.DisplayName, SetupURL: link,
		Inviter: inviter.Name, ExpiresAt: time.Now().Add(24 * time.Hour), Lang: lang})
}

// passwordReset records the staff.password_reset event of rl, whose link
// is link, in tx, the transaction that issued the link.
func (cfg ConsoleConfig) passwordReset(ctx context.Context, tx bun.IDB, rl ResetLink, link, lang string) ([]outbox.Event, error) {
	return cfg.enqueue(ctx, tx, EventStaffPasswordReset, rl.Staff, passwordResetPayload{Email: rl.Staff.Email,
		DisplayName: rl.Staff.DisplayName, ResetURL: link, ExpiresAt: rl.ExpiresAt, Lang: lang})
}

// twoFactorChanged records the staff.2fa_changed event of st in tx, the
// transaction of the change; changedBy names who did it when it was not
// the member.
func (cfg ConsoleConfig) twoFactorChanged(ctx context.Context, tx bun.IDB, st Staff, enabled bool, changedBy string, at time.Time, lang string) ([]outbox.Event, error) {
	return cfg.enqueue(ctx, tx, EventStaff2FAChanged, st, twoFactorChangedPayload{Email: st.Email, DisplayName: st.DisplayName,
		Enabled: enabled, ChangedBy: changedBy, At: at, Lang: lang})
}

func (cfg ConsoleConfig) enqueue(ctx context.Context, tx bun.IDB, eventType string, st Staff, payload any) ([]outbox.Event, error) {
	if cfg.Events == nil {
		return nil, nil
	}
	return outbox.Enqueue(ctx, tx, cfg.Events, outbox.NewEvent{
		Type: eventType, AggregateType: "staff", AggregateID: st.ID, Payload: payload,
	})
}

// notify wakes the outbox dispatcher for evs after their commit.
func (cfg ConsoleConfig) notify(ctx context.Context, tenantID string, evs []outbox.Event) {
	if cfg.Notify != nil && len(evs) > 0 {
		cfg.Notify(ctx, tenantID, evs)
	}
}

// actorName is how a mail names who acted: an administrator's display
// name (their address when it cannot be read), or an API key's name.
func (cfg ConsoleConfig) actorName(ctx context.Context, db bun.IDB, p Principal) string {
	if p.Kind == PrincipalStaff {
		if st, err := cfg.Staff.GetStaff(ctx, db, p.ID); err == nil && st.DisplayName != "" {
			return st.DisplayName
		}
	}
	return p.Name
}
