package identity

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/platform/outbox"
)

// EventStaffInvited is recorded when someone is invited; the mail
// consumer sends the invitee the setup link.
const EventStaffInvited = "staff.invited"

// invitedPayload is the staff.invited event as the mail consumer reads it.
type invitedPayload struct {
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	SetupURL    string    `json:"setup_url"`
	Inviter     string    `json:"inviter"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Lang        string    `json:"lang,omitempty"`
}

// invited records the staff.invited event in tx, the invitation's own
// transaction, so the mail goes out exactly when the invitation exists.
func (cfg ConsoleConfig) invited(ctx context.Context, tx bun.IDB, st Staff, link string, inviter Principal, lang string) ([]outbox.Event, error) {
	if cfg.Events == nil {
		return nil, nil
	}
	return outbox.Enqueue(ctx, tx, cfg.Events, outbox.NewEvent{
		Type: EventStaffInvited, AggregateType: "staff", AggregateID: st.ID,
		Payload: invitedPayload{Email: st.Email, DisplayName: st.DisplayName, SetupURL: link,
			Inviter: inviter.Name, ExpiresAt: time.Now().Add(24 * time.Hour), Lang: lang},
	})
}
