package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/yoyaku-oss/yoyaku/sdk"
)

// SignatureHeader carries a Hello Pay webhook's signature: the hex
// HMAC-SHA256 of the body with the tenant's webhook secret.
const SignatureHeader = "Hello-Signature"

// New returns the plugin as main serves it.
func New() sdk.Plugin {
	pay := &Payments{payments: make(map[string]*sdk.Payment), byKey: make(map[string]string), refunds: make(map[string]sdk.RefundResult)}
	return sdk.Plugin{
		Info: sdk.Info{
			ID:      "hello",
			Name:    sdk.Text{Ja: "ハロー決済", En: "Hello Pay"},
			Version: "1.0.0",
			Settings: []sdk.Setting{
				{Key: "api_key", Label: sdk.Text{Ja: "APIキー", En: "API key"}, Type: sdk.TypeSecret, Required: true,
					Help: sdk.Text{Ja: "hello_ で始まるキー", En: "The key starting with hello_"}},
				{Key: "webhook_secret", Label: sdk.Text{Ja: "Webhook署名シークレット", En: "Webhook signing secret"}, Type: sdk.TypeSecret, Required: true},
				{Key: "mode", Label: sdk.Text{Ja: "モード", En: "Mode"}, Type: sdk.TypeChoice, Choices: []sdk.Choice{
					{Value: "test", Label: sdk.Text{Ja: "テスト", En: "Test"}},
					{Value: "live", Label: sdk.Text{Ja: "本番", En: "Live"}},
				}},
			},
		},
		Settings: settings{},
		Payments: pay,
	}
}

// settings checks the API key's form beyond what the schema says.
type settings struct{}

func (settings) ValidateSettings(_ context.Context, call sdk.Call) ([]sdk.SettingProblem, error) {
	if !strings.HasPrefix(call.Settings["api_key"], "hello_") {
		return []sdk.SettingProblem{{Key: "api_key", Code: "invalid", Message: "a Hello Pay API key starts with hello_"}}, nil
	}
	return nil, nil
}

func (s settings) Configure(ctx context.Context, call sdk.Call) (sdk.Configured, error) {
	problems, err := s.ValidateSettings(ctx, call)
	return sdk.Configured{Problems: problems}, err
}

// Payments is Hello Pay: payments live in memory, per tenant.
type Payments struct {
	mu       sync.Mutex
	payments map[string]*sdk.Payment     // by payment id
	byKey    map[string]string           // payment id by tenant + idempotency key
	refunds  map[string]sdk.RefundResult // by tenant + idempotency key
}

// CreatePayment creates a pending payment; the same idempotency key returns
// the same payment, as a real provider's Idempotency-Key does.
func (p *Payments) CreatePayment(ctx context.Context, call sdk.Call, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	if err := ctx.Err(); err != nil {
		return sdk.PaymentResult{}, err
	}
	if req.Currency != "JPY" {
		return sdk.PaymentResult{Declined: true, ErrorCode: "currency_not_supported", Message: "Hello Pay takes JPY only"}, nil
	}
	if req.Amount < 50 {
		return sdk.PaymentResult{Declined: true, ErrorCode: "amount_too_small", Message: "the smallest payment is 50 JPY"}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := call.TenantID + "\x00" + call.IdempotencyKey
	if id, ok := p.byKey[key]; ok && call.IdempotencyKey != "" {
		return sdk.PaymentResult{Payment: *p.payments[id]}, nil
	}
	pay := &sdk.Payment{
		ID: "hp_" + rand.Text(), Status: sdk.PaymentPending, Amount: req.Amount, Currency: req.Currency,
		ClientSecret: "hp_secret_" + rand.Text(), ReservationID: req.ReservationID,
	}
	p.payments[pay.ID] = pay
	p.byKey[key] = pay.ID
	return sdk.PaymentResult{Payment: *pay}, nil
}

// GetPayment reads a payment; the client secret is only for CreatePayment.
func (p *Payments) GetPayment(_ context.Context, _ sdk.Call, id string) (sdk.PaymentLookup, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, ok := p.payments[id]
	if !ok {
		return sdk.PaymentLookup{NotFound: true}, nil
	}
	out := *pay
	out.ClientSecret = ""
	return sdk.PaymentLookup{Payment: out}, nil
}

// CancelPayment cancels a payment that has not succeeded.
func (p *Payments) CancelPayment(_ context.Context, _ sdk.Call, req sdk.CancelRequest) (sdk.PaymentResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, ok := p.payments[req.PaymentID]
	switch {
	case !ok:
		return sdk.PaymentResult{Declined: true, ErrorCode: "not_found", Message: "no such payment"}, nil
	case pay.Status == sdk.PaymentSucceeded:
		return sdk.PaymentResult{Payment: *pay, Declined: true, ErrorCode: "already_succeeded", Message: "refund it instead"}, nil
	}
	pay.Status = sdk.PaymentCanceled
	return sdk.PaymentResult{Payment: *pay}, nil
}

// Refund returns money of a succeeded payment, once per idempotency key.
func (p *Payments) Refund(_ context.Context, call sdk.Call, req sdk.RefundRequest) (sdk.RefundResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := call.TenantID + "\x00" + call.IdempotencyKey
	if r, ok := p.refunds[key]; ok && call.IdempotencyKey != "" {
		return r, nil
	}
	pay, ok := p.payments[req.PaymentID]
	switch {
	case !ok:
		return sdk.RefundResult{Declined: true, ErrorCode: "not_found", Message: "no such payment"}, nil
	case pay.Status != sdk.PaymentSucceeded:
		return sdk.RefundResult{Declined: true, ErrorCode: "not_paid", Message: "only a succeeded payment can be refunded"}, nil
	case req.Amount <= 0 || req.Amount > pay.Amount-pay.AmountRefunded:
		return sdk.RefundResult{Declined: true, ErrorCode: "amount_too_large", Message: fmt.Sprintf("%d JPY is left to refund", pay.Amount-pay.AmountRefunded)}, nil
	}
	pay.AmountRefunded += req.Amount
	r := sdk.RefundResult{ID: "hr_" + rand.Text(), Status: sdk.RefundSucceeded, Amount: req.Amount}
	p.refunds[key] = r
	return r, nil
}

// webhookBody is a Hello Pay webhook.
type webhookBody struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // payment.succeeded, payment.failed, ...
	PaymentID string `json:"payment_id"`
	Created   int64  `json:"created"`
}

// HandleWebhook verifies the signature, then reports succeeded and failed
// payments (and marks them so in memory, as the provider would have).
func (p *Payments) HandleWebhook(_ context.Context, call sdk.Call, hook sdk.Webhook) (sdk.WebhookResult, error) {
	mac := hmac.New(sha256.New, []byte(call.Settings["webhook_secret"]))
	mac.Write(hook.Body)
	got, err := hex.DecodeString(hook.Header.Get(SignatureHeader))
	if err != nil || call.Settings["webhook_secret"] == "" || !hmac.Equal(got, mac.Sum(nil)) {
		return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "signature_invalid", Message: "the Hello-Signature does not match"}, nil
	}
	var body webhookBody
	if err := json.Unmarshal(hook.Body, &body); err != nil || body.ID == "" {
		return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "malformed", Message: "the body is not a Hello Pay event"}, nil
	}
	kind, status := sdk.PaymentEventKind(""), sdk.PaymentStatus("")
	switch body.Type {
	case "payment.succeeded":
		kind, status = sdk.PaymentEventSucceeded, sdk.PaymentSucceeded
	case "payment.failed":
		kind, status = sdk.PaymentEventFailed, sdk.PaymentFailed
	default:
		return sdk.WebhookResult{Outcome: sdk.WebhookIgnored}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, ok := p.payments[body.PaymentID]
	if !ok {
		return sdk.WebhookResult{Outcome: sdk.WebhookIgnored}, nil
	}
	pay.Status = status
	return sdk.WebhookResult{Outcome: sdk.WebhookEvent, Event: sdk.PaymentEvent{
		DedupeID: body.ID, PaymentID: pay.ID, Kind: kind, Amount: pay.Amount,
		ReservationID: pay.ReservationID, OccurredAt: time.Unix(body.Created, 0),
	}}, nil
}

// Sign returns the Hello-Signature of a body, for tests and for the README.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
