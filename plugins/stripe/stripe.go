package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	stripe "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/yoyaku-oss/yoyaku/sdk"
)

// Setting keys of plugin.json.
const (
	settingSecretKey     = "secret_key"
	settingWebhookSecret = "webhook_secret"
	settingAPIBase       = "api_base"
)

// webhookTolerance is how old a signed webhook may be; an older one is a
// replay and is rejected.
const webhookTolerance = 5 * time.Minute

// New returns the plugin as main serves it.
func New() sdk.Plugin {
	return sdk.Plugin{
		Info: sdk.Info{
			ID:      "stripe",
			Name:    sdk.Text{Ja: "Stripe 決済", En: "Stripe payments"},
			Version: "1.0.0",
			Settings: []sdk.Setting{
				{Key: settingSecretKey, Label: sdk.Text{Ja: "シークレットキー", En: "Secret key"}, Type: sdk.TypeSecret, Required: true,
					Help: sdk.Text{Ja: "sk_test_ または sk_live_ で始まるキー", En: "The key starting with sk_test_ or sk_live_"}},
				{Key: settingWebhookSecret, Label: sdk.Text{Ja: "Webhook署名シークレット", En: "Webhook signing secret"}, Type: sdk.TypeSecret, Required: true,
					Help: sdk.Text{Ja: "whsec_ で始まるシークレット", En: "The secret starting with whsec_"}},
				{Key: settingAPIBase, Label: sdk.Text{Ja: "API のベース URL", En: "API base URL"}, Type: sdk.TypeString,
					Help: sdk.Text{Ja: "空欄で Stripe 本番。テストでは stripe-mock の URL", En: "Empty for Stripe itself; a stripe-mock URL in tests"}},
			},
		},
		Settings: settings{},
		Payments: payments{},
	}
}

// settings checks the keys' form beyond what the schema says.
type settings struct{}

func (settings) ValidateSettings(_ context.Context, call sdk.Call) ([]sdk.SettingProblem, error) {
	var problems []sdk.SettingProblem
	if k := call.Settings[settingSecretKey]; !strings.HasPrefix(k, "sk_") && !strings.HasPrefix(k, "rk_") {
		problems = append(problems, sdk.SettingProblem{Key: settingSecretKey, Code: "invalid", Message: "a Stripe secret key starts with sk_ (or rk_ for a restricted key)"})
	}
	if call.Settings[settingWebhookSecret] == "" {
		problems = append(problems, sdk.SettingProblem{Key: settingWebhookSecret, Code: "required", Message: "the webhook signing secret is required"})
	}
	if b := call.Settings[settingAPIBase]; b != "" {
		if u, err := url.Parse(b); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, sdk.SettingProblem{Key: settingAPIBase, Code: "invalid", Message: "the API base must be an http(s) URL"})
		}
	}
	return problems, nil
}

func (s settings) Configure(ctx context.Context, call sdk.Call) (sdk.Configured, error) {
	problems, err := s.ValidateSettings(ctx, call)
	return sdk.Configured{Problems: problems}, err
}

// client makes a Stripe client for the call's tenant. A client per call keeps
// tenants apart (each has its own key) and holds no state between calls.
func client(call sdk.Call) *stripe.Client {
	cfg := &stripe.BackendConfig{
		MaxNetworkRetries: stripe.Int64(0), // the host retries, with the same idempotency key
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if b := call.Settings[settingAPIBase]; b != "" {
		cfg.URL = stripe.String(strings.TrimRight(b, "/"))
	}
	return stripe.NewClient(call.Settings[settingSecretKey], stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))
}

// payments is sdk.Payments on Stripe PaymentIntents. It keeps no state:
// Stripe is the record, the idempotency key makes retries safe.
type payments struct{}

func (payments) CreatePayment(ctx context.Context, call sdk.Call, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	params := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(req.Amount),
		Currency:           stripe.String(strings.ToLower(req.Currency)),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
	}
	if req.Description != "" {
		params.Description = stripe.String(req.Description)
	}
	if req.CustomerEmail != "" {
		params.ReceiptEmail = stripe.String(req.CustomerEmail)
	}
	for k, v := range req.Metadata {
		params.AddMetadata(k, v)
	}
	params.AddMetadata("reservation_id", req.ReservationID)
	params.AddMetadata("tenant_id", call.TenantID)
	params.SetIdempotencyKey(call.IdempotencyKey)
	pi, err := client(call).V1PaymentIntents.Create(ctx, params)
	if d, ok := declined(err); ok {
		return d, nil
	}
	if err != nil {
		return sdk.PaymentResult{}, err
	}
	return sdk.PaymentResult{Payment: fromIntent(pi)}, nil
}

func (payments) GetPayment(ctx context.Context, call sdk.Call, paymentID string) (sdk.PaymentLookup, error) {
	params := &stripe.PaymentIntentRetrieveParams{}
	params.SetIdempotencyKey(call.IdempotencyKey)
	pi, err := client(call).V1PaymentIntents.Retrieve(ctx, paymentID, params)
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		return sdk.PaymentLookup{NotFound: true}, nil
	}
	if err != nil {
		return sdk.PaymentLookup{}, err
	}
	p := fromIntent(pi)
	p.ClientSecret = "" // only CreatePayment hands it out
	return sdk.PaymentLookup{Payment: p}, nil
}

func (payments) CancelPayment(ctx context.Context, call sdk.Call, req sdk.CancelRequest) (sdk.PaymentResult, error) {
	params := &stripe.PaymentIntentCancelParams{}
	if r := cancellationReason(req.Reason); r != "" {
		params.CancellationReason = stripe.String(r)
	}
	params.SetIdempotencyKey(call.IdempotencyKey)
	pi, err := client(call).V1PaymentIntents.Cancel(ctx, req.PaymentID, params)
	if d, ok := declined(err); ok {
		return d, nil
	}
	if err != nil {
		return sdk.PaymentResult{}, err
	}
	p := fromIntent(pi)
	p.ClientSecret = ""
	return sdk.PaymentResult{Payment: p}, nil
}

func (payments) Refund(ctx context.Context, call sdk.Call, req sdk.RefundRequest) (sdk.RefundResult, error) {
	params := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(req.PaymentID),
		Amount:        stripe.Int64(req.Amount),
	}
	if req.Reason == "requested_by_customer" || req.Reason == "duplicate" || req.Reason == "fraudulent" {
		params.Reason = stripe.String(req.Reason)
	}
	params.SetIdempotencyKey(call.IdempotencyKey)
	r, err := client(call).V1Refunds.Create(ctx, params)
	if d, ok := declined(err); ok {
		return sdk.RefundResult{Declined: true, Status: sdk.RefundFailed, ErrorCode: d.ErrorCode, Message: d.Message}, nil
	}
	if err != nil {
		return sdk.RefundResult{}, err
	}
	return sdk.RefundResult{ID: r.ID, Status: fromRefundStatus(r.Status), Amount: r.Amount}, nil
}

func (payments) HandleWebhook(_ context.Context, call sdk.Call, hook sdk.Webhook) (sdk.WebhookResult, error) {
	secret := call.Settings[settingWebhookSecret]
	if secret == "" {
		return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "not_configured", Message: "no webhook signing secret is set"}, nil
	}
	ev, err := webhook.ConstructEventWithOptions(hook.Body, hook.Header.Get("Stripe-Signature"), secret, webhook.ConstructEventOptions{
		Tolerance:                webhookTolerance,
		IgnoreAPIVersionMismatch: true, // the fields read below are stable across versions
	})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "signature_expired", Message: "the signature is older than the tolerance"}, nil
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader):
		return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "signature_missing", Message: "no valid Stripe-Signature header"}, nil
	case err != nil:
		return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "signature_invalid", Message: "the signature does not match"}, nil
	}
	out := sdk.PaymentEvent{DedupeID: ev.ID, OccurredAt: time.Unix(ev.Created, 0).UTC()}
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "payload_invalid", Message: "the event carries no payment intent"}, nil
		}
		out.PaymentID, out.ReservationID = pi.ID, pi.Metadata["reservation_id"]
		if ev.Type == "payment_intent.succeeded" {
			out.Kind, out.Amount = sdk.PaymentEventSucceeded, pi.AmountReceived
			if out.Amount == 0 {
				out.Amount = pi.Amount
			}
		} else {
			out.Kind, out.Amount = sdk.PaymentEventFailed, pi.Amount
		}
	case "charge.refunded":
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.PaymentIntent == nil {
			return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "payload_invalid", Message: "the event carries no charge"}, nil
		}
		out.PaymentID, out.ReservationID = ch.PaymentIntent.ID, ch.Metadata["reservation_id"]
		out.Kind, out.Amount = sdk.PaymentEventRefunded, ch.AmountRefunded
	default:
		return sdk.WebhookResult{Outcome: sdk.WebhookIgnored}, nil
	}
	return sdk.WebhookResult{Outcome: sdk.WebhookEvent, Event: out}, nil
}

// declined turns a Stripe refusal (a card or request error) into a result;
// anything else (network, auth, Stripe down) stays an error for the host.
func declined(err error) (sdk.PaymentResult, bool) {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return sdk.PaymentResult{}, false
	}
	switch se.Type {
	case stripe.ErrorTypeCard, stripe.ErrorTypeInvalidRequest, stripe.ErrorTypeIdempotency:
		code := string(se.Code)
		if code == "" {
			code = string(se.Type)
		}
		return sdk.PaymentResult{Declined: true, ErrorCode: code, Message: se.Msg}, true
	}
	return sdk.PaymentResult{}, false
}

// fromIntent converts a PaymentIntent to the SDK's payment.
func fromIntent(pi *stripe.PaymentIntent) sdk.Payment {
	p := sdk.Payment{
		ID:            pi.ID,
		Status:        fromIntentStatus(pi.Status),
		Amount:        pi.Amount,
		Currency:      strings.ToUpper(string(pi.Currency)),
		ClientSecret:  pi.ClientSecret,
		ReservationID: pi.Metadata["reservation_id"],
	}
	if pi.LatestCharge != nil {
		p.AmountRefunded = pi.LatestCharge.AmountRefunded
	}
	return p
}

func fromIntentStatus(s stripe.PaymentIntentStatus) sdk.PaymentStatus {
	switch s {
	case stripe.PaymentIntentStatusSucceeded:
		return sdk.PaymentSucceeded
	case stripe.PaymentIntentStatusProcessing:
		return sdk.PaymentProcessing
	case stripe.PaymentIntentStatusCanceled:
		return sdk.PaymentCanceled
	default: // requires_payment_method, requires_confirmation, requires_action, requires_capture
		return sdk.PaymentPending
	}
}

func fromRefundStatus(s stripe.RefundStatus) sdk.RefundStatus {
	switch s {
	case stripe.RefundStatusSucceeded:
		return sdk.RefundSucceeded
	case stripe.RefundStatusFailed, stripe.RefundStatusCanceled:
		return sdk.RefundFailed
	default:
		return sdk.RefundPending
	}
}

// cancellationReason maps the host's reason to one Stripe accepts.
func cancellationReason(reason string) string {
	switch reason {
	case "expired":
		return "abandoned"
	case "reservation_canceled":
		return "requested_by_customer"
	case "duplicate", "fraudulent", "requested_by_customer", "abandoned":
		return reason
	}
	return ""
}
