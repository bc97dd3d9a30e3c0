package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// CRM keeps an external customer-relationship system in step with Yoyaku.
// The host retries a call that returned an error with the same
// Call.IdempotencyKey, so both methods must be idempotent.
type CRM interface {
	// HandleEvent receives one outbox event; Call.IdempotencyKey is its id.
	HandleEvent(ctx context.Context, call Call, event Event) (CRMResult, error)
	// SyncMember receives the current state of one member.
	SyncMember(ctx context.Context, call Call, member Member) (CRMResult, error)
}

// Event is one outbox event.
type Event struct {
	// ID is the event's unique id.
	ID string
	// Type is the event type, e.g. "reservation.confirmed".
	Type string
	// OccurredAt is when the change was committed.
	OccurredAt time.Time
	// Payload is the event body, a JSON object whose shape depends on Type.
	Payload json.RawMessage
}

// Member is a member record as the CRM sees it.
type Member struct {
	ID         string
	Email      string
	Name       string
	NameKana   string
	Phone      string
	Attributes map[string]string
	UpdatedAt  time.Time
	// Deleted is true when the member withdrew.
	Deleted bool
}

// Outcome is the business result of a CRM call.
type Outcome string

// The CRM outcomes. The zero value counts as done.
const (
	// OutcomeDone: the external system has the change.
	OutcomeDone Outcome = "done"
	// OutcomeIgnored: the plugin does not care about this event or record.
	OutcomeIgnored Outcome = "ignored"
	// OutcomeRejected: the external system refused it for good; the host
	// records it and does not retry.
	OutcomeRejected Outcome = "rejected"
)

// CRMResult is what became of an event or record.
type CRMResult struct {
	Outcome Outcome
	// ExternalID is the record's id in the external system, if any.
	ExternalID string
	// ErrorCode is a stable reason for a rejection.
	ErrorCode string
	// Message explains a rejection to the operator. No secrets.
	Message string
}
