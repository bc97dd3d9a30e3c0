package sdk

import (
	"context"
	"net/http"
	"time"
)

// Payments takes prepayment for reservations. Amounts are integers in the
// currency's minor unit (for JPY, yen). Every method that moves money passes
// Call.IdempotencyKey to the provider, so a retry never charges twice.
type Payments interface {
	// CreatePayment starts a payment the customer completes in the browser
	// with the returned ClientSecret.
	CreatePayment(ctx context.Context, call Call, req PaymentRequest) (PaymentResult, error)
	// GetPayment reads a payment's current state.
	GetPayment(ctx context.Context, call Call, paymentID string) (PaymentLookup, error)
	// CancelPayment cancels a payment that has not succeeded, so it can no
	// longer be paid (the seat was released).
	CancelPayment(ctx context.Context, call Call, req CancelRequest) (PaymentResult, error)
	// Refund returns part or all of a succeeded payment.
	Refund(ctx context.Context, call Call, req RefundRequest) (RefundResult, error)
	// HandleWebhook verifies (signature, age) and reads a webhook the
	// provider sent to the host. A webhook that does not verify is
	// WebhookRejected, never an event.
	HandleWebhook(ctx context.Context, call Call, hook Webhook) (WebhookResult, error)
}

// PaymentRequest asks for a new payment.
type PaymentRequest struct {
	// Amount is in minor units, greater than zero.
	Amount int64
	// Currency is the ISO 4217 code in upper case; "JPY" today.
	Currency      string
	ReservationID string
	// CustomerEmail receives the provider's receipt, if it sends one.
	CustomerEmail string
	// Description is shown on the statement or receipt.
	Description string
	// Metadata is stored with the payment at the provider.
	Metadata map[string]string
}

// PaymentStatus is where a payment stands.
type PaymentStatus string

// The payment statuses.
const (
	// PaymentPending: waiting for the customer.
	PaymentPending PaymentStatus = "pending"
	// PaymentProcessing: the customer is done, the provider is not.
	PaymentProcessing PaymentStatus = "processing"
	PaymentSucceeded  PaymentStatus = "succeeded"
	PaymentFailed     PaymentStatus = "failed"
	PaymentCanceled   PaymentStatus = "canceled"
)

// Payment is a payment as the provider sees it.
type Payment struct {
	// ID is the provider's payment id.
	ID     string
	Status PaymentStatus
	// Amount is in minor units.
	Amount   int64
	Currency string
	// AmountRefunded is the part already refunded, in minor units.
	AmountRefunded int64
	// ClientSecret lets the browser complete the payment; only
	// CreatePayment returns it. Never log it.
	ClientSecret  string
	ReservationID string
}

// PaymentResult is a payment, or why the provider refused.
type PaymentResult struct {
	Payment Payment
	// Declined is true when the provider refused (Payment is then empty for
	// CreatePayment, the unchanged payment for CancelPayment).
	Declined bool
	// ErrorCode is a stable reason for a decline, e.g. "amount_too_small".
	ErrorCode string
	// Message explains a decline. No secrets.
	Message string
}

// PaymentLookup is the answer to GetPayment.
type PaymentLookup struct {
	Payment Payment
	// NotFound is true when the provider has no such payment.
	NotFound bool
}

// CancelRequest cancels a payment.
type CancelRequest struct {
	PaymentID string
	// Reason is why, e.g. "expired" or "reservation_canceled".
	Reason string
}

// RefundRequest asks to return money.
type RefundRequest struct {
	PaymentID string
	// Amount is in minor units, greater than zero.
	Amount int64
	// Reason is why, e.g. "requested_by_customer".
	Reason string
}

// RefundStatus is where a refund stands.
type RefundStatus string

// The refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// RefundResult is a refund, or why there is none.
type RefundResult struct {
	// ID is the provider's refund id; empty when declined.
	ID     string
	Status RefundStatus
	// Amount is the amount refunded, in minor units.
	Amount int64
	// Declined is true when the provider refused (e.g. more than is left).
	Declined  bool
	ErrorCode string
	Message   string
}

// Webhook is a provider's webhook request, as the host received it.
type Webhook struct {
	// Body is the raw body, byte for byte.
	Body   []byte
	Header http.Header
}

// WebhookOutcome is what the plugin made of a webhook.
type WebhookOutcome string

// The webhook outcomes. The zero value counts as rejected.
const (
	// WebhookEvent: verified; Event says what happened.
	WebhookEvent WebhookOutcome = "event"
	// WebhookIgnored: verified, of a kind the host need not know.
	WebhookIgnored WebhookOutcome = "ignored"
	// WebhookRejected: not verified; the host answers 400 and changes
	// nothing.
	WebhookRejected WebhookOutcome = "rejected"
)

// PaymentEventKind is what happened to a payment.
type PaymentEventKind string

// The payment event kinds.
const (
	PaymentEventSucceeded PaymentEventKind = "succeeded"
	PaymentEventFailed    PaymentEventKind = "failed"
	PaymentEventRefunded  PaymentEventKind = "refunded"
)

// PaymentEvent is a verified payment event.
type PaymentEvent struct {
	// DedupeID is unique per provider event: the host applies each once.
	DedupeID  string
	PaymentID string
	Kind      PaymentEventKind
	// Amount is the amount paid or refunded, in minor units.
	Amount        int64
	RefundID      string
	ReservationID string
	OccurredAt    time.Time
}

// WebhookResult is what a webhook said.
type WebhookResult struct {
	Outcome WebhookOutcome
	// Event is set when Outcome is WebhookEvent.
	Event PaymentEvent
	// ErrorCode is a stable reason for a rejection, e.g.
	// "signature_invalid".
	ErrorCode string
	// Message explains a rejection to the operator. No secrets.
	Message string
}
