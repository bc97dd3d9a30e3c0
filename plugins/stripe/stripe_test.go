package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/plugintest"
)

const testWebhookSecret = "whsec_test_secret"

func settingsFor(base string) map[string]string {
	return map[string]string{"secret_key": "sk_test_123", "webhook_secret": testWebhookSecret, "api_base": base}
}

func TestConformance(t *testing.T) {
	rec := newRecorder(t, startStripeMock(t))
	plugintest.Conformance(t, New(), plugintest.WithSettings(settingsFor(rec.URL)))
}

func TestSettingsValidation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		settings map[string]string
		wantKeys []string
	}{
		{"good", settingsFor("http://127.0.0.1:12111"), nil},
		{"no api base", map[string]string{"secret_key": "sk_live_x", "webhook_secret": "whsec_x"}, nil},
		{"publishable key", map[string]string{"secret_key": "pk_test_x", "webhook_secret": "whsec_x"}, []string{"secret_key"}},
		{"no webhook secret", map[string]string{"secret_key": "sk_test_x"}, []string{"webhook_secret"}},
		{"bad base", map[string]string{"secret_key": "sk_test_x", "webhook_secret": "w", "api_base": "ftp://x"}, []string{"api_base"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, err := settings{}.ValidateSettings(ctx, sdk.Call{Settings: tc.settings})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, p := range problems {
				keys = append(keys, p.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tc.wantKeys, ",") {
				t.Errorf("problems on %v, want %v", keys, tc.wantKeys)
			}
		})
	}
}

func TestPaymentCallsCarryIdempotencyKeys(t *testing.T) {
	rec := newRecorder(t, startStripeMock(t))
	c := plugintest.Start(t, New())
	pay, _ := c.Payments()
	ctx := context.Background()
	call := func(key string) sdk.Call {
		cl := plugintest.Call(settingsFor(rec.URL))
		cl.IdempotencyKey = key
		return cl
	}

	created, err := pay.CreatePayment(ctx, call("rsv-1:create"), sdk.PaymentRequest{Amount: 5500, Currency: "JPY", ReservationID: "rsv-1", Description: "カット"})
	if err != nil || created.Declined || created.Payment.ID == "" || created.Payment.ClientSecret == "" || created.Payment.Amount != 5500 {
		t.Fatalf("CreatePayment = %+v, %v", created, err)
	}
	sent, err := rec.last(http.MethodPost, "/v1/payment_intents")
	if err != nil {
		t.Fatal(err)
	}
	if sent.IdempotencyKey != "rsv-1:create" || sent.Form.Get("amount") != "5500" || sent.Form.Get("currency") != "jpy" || sent.Form.Get("metadata[reservation_id]") != "rsv-1" {
		t.Errorf("sent %+v; want amount 5500 jpy, metadata reservation id and the call's idempotency key", sent)
	}

	got, err := pay.GetPayment(ctx, call("rsv-1:get"), created.Payment.ID)
	if err != nil || got.NotFound || got.Payment.ID != created.Payment.ID || got.Payment.ClientSecret != "" {
		t.Errorf("GetPayment = %+v, %v", got, err)
	}

	ref, err := pay.Refund(ctx, call("rsv-1:refund"), sdk.RefundRequest{PaymentID: created.Payment.ID, Amount: 2750, Reason: "requested_by_customer"})
	if err != nil || ref.Declined || ref.ID == "" {
		t.Fatalf("Refund = %+v, %v", ref, err)
	}
	sent, _ = rec.last(http.MethodPost, "/v1/refunds")
	if sent.IdempotencyKey != "rsv-1:refund" || sent.Form.Get("amount") != "2750" || sent.Form.Get("payment_intent") != created.Payment.ID {
		t.Errorf("refund sent %+v", sent)
	}

	canceled, err := pay.CancelPayment(ctx, call("rsv-1:cancel"), sdk.CancelRequest{PaymentID: created.Payment.ID, Reason: "expired"})
	if err != nil || canceled.Declined {
		t.Fatalf("CancelPayment = %+v, %v", canceled, err)
	}
	sent, _ = rec.last(http.MethodPost, "/v1/payment_intents/"+created.Payment.ID+"/cancel")
	if sent.IdempotencyKey != "rsv-1:cancel" || sent.Form.Get("cancellation_reason") != "abandoned" {
		t.Errorf("cancel sent %+v", sent)
	}
}

func TestStripeDownIsAnError(t *testing.T) {
	pay := payments{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pay.CreatePayment(ctx, sdk.Call{IdempotencyKey: "k", Settings: settingsFor("http://127.0.0.1:1")}, sdk.PaymentRequest{Amount: 100, Currency: "JPY"})
	if err == nil {
		t.Fatal("a payment against an unreachable Stripe succeeded; want an error for the host to answer 503")
	}
}

func TestWebhooks(t *testing.T) {
	c := plugintest.Start(t, New())
	pay, _ := c.Payments()
	ctx := context.Background()
	body := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1767225600,"data":{"object":{"id":"pi_1","object":"payment_intent","amount":5500,"amount_received":5500,"currency":"jpy","status":"succeeded","metadata":{"reservation_id":"rsv-1"}}}}`)
	refunded := []byte(`{"id":"evt_2","object":"event","type":"charge.refunded","created":1767225600,"data":{"object":{"id":"ch_1","object":"charge","amount":5500,"amount_refunded":2750,"payment_intent":"pi_1","metadata":{"reservation_id":"rsv-1"}}}}`)
	other := []byte(`{"id":"evt_3","object":"event","type":"customer.created","created":1767225600,"data":{"object":{"id":"cus_1","object":"customer"}}}`)
	sign := func(b []byte, secret string, at time.Time) http.Header {
		p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: b, Secret: secret, Timestamp: at})
		return http.Header{"Stripe-Signature": {p.Header}}
	}
	now := time.Now()
	for _, tc := range []struct {
		name        string
		body        []byte
		header      http.Header
		wantOutcome sdk.WebhookOutcome
		wantCode    string
		want        sdk.PaymentEvent
	}{
		{"succeeded", body, sign(body, testWebhookSecret, now), sdk.WebhookEvent, "",
			sdk.PaymentEvent{DedupeID: "evt_1", PaymentID: "pi_1", Kind: sdk.PaymentEventSucceeded, Amount: 5500, ReservationID: "rsv-1", OccurredAt: time.Unix(1767225600, 0).UTC()}},
		{"refunded", refunded, sign(refunded, testWebhookSecret, now), sdk.WebhookEvent, "",
			sdk.PaymentEvent{DedupeID: "evt_2", PaymentID: "pi_1", Kind: sdk.PaymentEventRefunded, Amount: 2750, ReservationID: "rsv-1", OccurredAt: time.Unix(1767225600, 0).UTC()}},
		{"other kind", other, sign(other, testWebhookSecret, now), sdk.WebhookIgnored, "", sdk.PaymentEvent{}},
		{"forged", body, sign(body, "whsec_other", now), sdk.WebhookRejected, "signature_invalid", sdk.PaymentEvent{}},
		{"tampered body", []byte(strings.Replace(string(body), "5500", "1", 2)), sign(body, testWebhookSecret, now), sdk.WebhookRejected, "signature_invalid", sdk.PaymentEvent{}},
		{"replayed late", body, sign(body, testWebhookSecret, now.Add(-time.Hour)), sdk.WebhookRejected, "signature_expired", sdk.PaymentEvent{}},
		{"unsigned", body, http.Header{}, sdk.WebhookRejected, "signature_missing", sdk.PaymentEvent{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := pay.HandleWebhook(ctx, plugintest.Call(settingsFor("")), sdk.Webhook{Body: tc.body, Header: tc.header})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.wantOutcome || res.ErrorCode != tc.wantCode {
				t.Fatalf("outcome %q %q, want %q %q", res.Outcome, res.ErrorCode, tc.wantOutcome, tc.wantCode)
			}
			if res.Event != tc.want {
				t.Errorf("event %+v, want %+v", res.Event, tc.want)
			}
		})
	}
}
