package plugintest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/plugintest"
)

// echo implements every capability by recording what it got and answering
// with values derived from it, so a test can compare both ends.
type echo struct {
	got []any // Call, then the request, per call
	err error // returned by every capability method when set
}

func (e *echo) note(call sdk.Call, req any) { e.got = append(e.got, call, req) }

func (e *echo) HandleEvent(_ context.Context, call sdk.Call, ev sdk.Event) (sdk.CRMResult, error) {
	e.note(call, ev)
	return sdk.CRMResult{Outcome: sdk.OutcomeRejected, ExternalID: "ext-" + ev.ID, ErrorCode: "validation", Message: "名前が必要です"}, e.err
}

func (e *echo) SyncMember(_ context.Context, call sdk.Call, m sdk.Member) (sdk.CRMResult, error) {
	e.note(call, m)
	return sdk.CRMResult{Outcome: sdk.OutcomeIgnored, ExternalID: "ext-" + m.ID}, e.err
}

func (e *echo) AuthorizeURL(_ context.Context, call sdk.Call, req sdk.AuthorizeRequest) (sdk.Authorization, error) {
	e.note(call, req)
	return sdk.Authorization{URL: "https://idp.example/auth?state=" + req.State, CodeVerifier: "verifier"}, e.err
}

func (e *echo) Exchange(_ context.Context, call sdk.Call, req sdk.ExchangeRequest) (sdk.ExchangeResult, error) {
	e.note(call, req)
	if req.Code != "good" {
		return sdk.ExchangeResult{Denied: true, ErrorCode: "invalid_grant", Message: "bad code"}, e.err
	}
	return sdk.ExchangeResult{Identity: sdk.Identity{Subject: "sub-1", Issuer: "https://idp.example", Email: "a@example.com", EmailVerified: true, Name: "予約 花子", Claims: map[string]string{"tier": "gold"}}}, e.err
}

func (e *echo) CreatePayment(_ context.Context, call sdk.Call, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	e.note(call, req)
	return sdk.PaymentResult{Payment: sdk.Payment{ID: "pay-" + call.IdempotencyKey, Status: sdk.PaymentPending, Amount: req.Amount, Currency: req.Currency, ClientSecret: "cs", ReservationID: req.ReservationID}}, e.err
}

func (e *echo) GetPayment(_ context.Context, call sdk.Call, id string) (sdk.PaymentLookup, error) {
	e.note(call, id)
	if id == "missing" {
		return sdk.PaymentLookup{NotFound: true}, e.err
	}
	return sdk.PaymentLookup{Payment: sdk.Payment{ID: id, Status: sdk.PaymentSucceeded, Amount: 100, Currency: "JPY", AmountRefunded: 30}}, e.err
}

func (e *echo) CancelPayment(_ context.Context, call sdk.Call, req sdk.CancelRequest) (sdk.PaymentResult, error) {
	e.note(call, req)
	return sdk.PaymentResult{Payment: sdk.Payment{ID: req.PaymentID, Status: sdk.PaymentSucceeded}, Declined: true, ErrorCode: "already_succeeded"}, e.err
}

func (e *echo) Refund(_ context.Context, call sdk.Call, req sdk.RefundRequest) (sdk.RefundResult, error) {
	e.note(call, req)
	return sdk.RefundResult{ID: "re-1", Status: sdk.RefundPending, Amount: req.Amount}, e.err
}

func (e *echo) HandleWebhook(_ context.Context, call sdk.Call, hook sdk.Webhook) (sdk.WebhookResult, error) {
	e.note(call, hook)
	return sdk.WebhookResult{Outcome: sdk.WebhookEvent, Event: sdk.PaymentEvent{
		DedupeID: "evt-1", PaymentID: "pay-1", Kind: sdk.PaymentEventRefunded, Amount: 70, RefundID: "re-1",
		ReservationID: "rsv-1", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}}, e.err
}

func echoPlugin(e *echo) sdk.Plugin {
	return sdk.Plugin{
		Info: sdk.Info{ID: "jp.example.echo", Version: "0.1.0", Name: sdk.Text{Ja: "エコー", En: "Echo"}, Settings: []sdk.Setting{
			{Key: "token", Label: sdk.Text{Ja: "トークン", En: "Token"}, Type: sdk.TypeSecret, Required: true},
			{Key: "limit", Label: sdk.Text{Ja: "上限", En: "Limit"}, Type: sdk.TypeNumber},
		}},
		CRM: e, SSO: e, Payments: e,
	}
}

func fullCall() sdk.Call {
	return sdk.Call{TenantID: "t-1", RequestID: "req-1", IdempotencyKey: "idem-1", Settings: map[string]string{"token": "s3cret", "limit": "3"}}
}

// roundTrip checks that the implementation got exactly call and req.
func roundTrip(t *testing.T, e *echo, call sdk.Call, req any) {
	t.Helper()
	if len(e.got) != 2 {
		t.Fatalf("implementation got %d values, want call and request", len(e.got))
	}
	if !reflect.DeepEqual(e.got[0], call) {
		t.Errorf("call: got %v %v, want %v %v", e.got[0], e.got[0].(sdk.Call).Settings, call, call.Settings)
	}
	if !reflect.DeepEqual(e.got[1], req) {
		t.Errorf("request: got %#v, want %#v", e.got[1], req)
	}
	e.got = nil
}

func TestRoundTripEveryCapability(t *testing.T) {
	e := &echo{}
	c := plugintest.Start(t, echoPlugin(e))
	ctx := context.Background()
	call := fullCall()

	if got := c.Info().Capabilities; strings.Join(got, ",") != "crm,sso,payments" {
		t.Errorf("capabilities %v", got)
	}

	t.Run("crm", func(t *testing.T) {
		crm, ok := c.CRM()
		if !ok {
			t.Fatal("no crm")
		}
		ev := sdk.Event{ID: "evt-9", Type: "reservation.confirmed", OccurredAt: time.Date(2026, 11, 1, 10, 0, 0, 123, time.UTC), Payload: json.RawMessage(`{"id":"r1"}`)}
		res, err := crm.HandleEvent(ctx, call, ev)
		if err != nil || res != (sdk.CRMResult{Outcome: sdk.OutcomeRejected, ExternalID: "ext-evt-9", ErrorCode: "validation", Message: "名前が必要です"}) {
			t.Errorf("HandleEvent = %+v, %v", res, err)
		}
		roundTrip(t, e, call, ev)

		m := sdk.Member{ID: "m1", Email: "m@example.com", Name: "予約 太郎", NameKana: "ヨヤク タロウ", Phone: "0312345678", Attributes: map[string]string{"rank": "A"}, UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Deleted: true}
		res, err = crm.SyncMember(ctx, call, m)
		if err != nil || res.Outcome != sdk.OutcomeIgnored || res.ExternalID != "ext-m1" {
			t.Errorf("SyncMember = %+v, %v", res, err)
		}
		roundTrip(t, e, call, m)
	})

	t.Run("sso", func(t *testing.T) {
		sso, ok := c.SSO()
		if !ok {
			t.Fatal("no sso")
		}
		areq := sdk.AuthorizeRequest{RedirectURI: "https://y.example/cb", State: "st", Nonce: "n", Locale: "ja"}
		a, err := sso.AuthorizeURL(ctx, call, areq)
		if err != nil || a.URL != "https://idp.example/auth?state=st" || a.CodeVerifier != "verifier" {
			t.Errorf("AuthorizeURL = %+v, %v", a, err)
		}
		roundTrip(t, e, call, areq)

		xreq := sdk.ExchangeRequest{Code: "good", RedirectURI: "https://y.example/cb", Nonce: "n", CodeVerifier: "verifier"}
		x, err := sso.Exchange(ctx, call, xreq)
		want := sdk.Identity{Subject: "sub-1", Issuer: "https://idp.example", Email: "a@example.com", EmailVerified: true, Name: "予約 花子", Claims: map[string]string{"tier": "gold"}}
		if err != nil || x.Denied || !reflect.DeepEqual(x.Identity, want) {
			t.Errorf("Exchange = %+v, %v", x, err)
		}
		roundTrip(t, e, call, xreq)

		x, err = sso.Exchange(ctx, call, sdk.ExchangeRequest{Code: "bad"})
		if err != nil || !x.Denied || x.ErrorCode != "invalid_grant" || x.Identity.Subject != "" {
			t.Errorf("Exchange(bad) = %+v, %v", x, err)
		}
		e.got = nil
	})

	t.Run("payments", func(t *testing.T) {
		pay, ok := c.Payments()
		if !ok {
			t.Fatal("no payments")
		}
		preq := sdk.PaymentRequest{Amount: 4400, Currency: "JPY", ReservationID: "rsv-1", CustomerEmail: "c@example.com", Description: "カット", Metadata: map[string]string{"tenant": "t-1"}}
		res, err := pay.CreatePayment(ctx, call, preq)
		if err != nil || res.Payment != (sdk.Payment{ID: "pay-idem-1", Status: sdk.PaymentPending, Amount: 4400, Currency: "JPY", ClientSecret: "cs", ReservationID: "rsv-1"}) {
			t.Errorf("CreatePayment = %+v, %v", res, err)
		}
		roundTrip(t, e, call, preq)

		got, err := pay.GetPayment(ctx, call, "pay-1")
		if err != nil || got.NotFound || got.Payment.AmountRefunded != 30 || got.Payment.Status != sdk.PaymentSucceeded {
			t.Errorf("GetPayment = %+v, %v", got, err)
		}
		roundTrip(t, e, call, "pay-1")
		if got, err := pay.GetPayment(ctx, call, "missing"); err != nil || !got.NotFound {
			t.Errorf("GetPayment(missing) = %+v, %v", got, err)
		}
		e.got = nil

		creq := sdk.CancelRequest{PaymentID: "pay-1", Reason: "expired"}
		cres, err := pay.CancelPayment(ctx, call, creq)
		if err != nil || !cres.Declined || cres.ErrorCode != "already_succeeded" || cres.Payment.Status != sdk.PaymentSucceeded {
			t.Errorf("CancelPayment = %+v, %v", cres, err)
		}
		roundTrip(t, e, call, creq)

		rreq := sdk.RefundRequest{PaymentID: "pay-1", Amount: 70, Reason: "requested_by_customer"}
		rres, err := pay.Refund(ctx, call, rreq)
		if err != nil || rres != (sdk.RefundResult{ID: "re-1", Status: sdk.RefundPending, Amount: 70}) {
			t.Errorf("Refund = %+v, %v", rres, err)
		}
		roundTrip(t, e, call, rreq)

		hook := sdk.Webhook{Body: []byte("{\"raw\": \"bytes\"}\n\x00\xff"), Header: http.Header{"Stripe-Signature": {"t=1,v1=ab"}, "X-Multi": {"a", "b"}}}
		wres, err := pay.HandleWebhook(ctx, call, hook)
		wantEvent := sdk.PaymentEvent{DedupeID: "evt-1", PaymentID: "pay-1", Kind: sdk.PaymentEventRefunded, Amount: 70, RefundID: "re-1", ReservationID: "rsv-1", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		if err != nil || wres.Outcome != sdk.WebhookEvent || !wres.Event.OccurredAt.Equal(wantEvent.OccurredAt) {
			t.Errorf("HandleWebhook = %+v, %v", wres, err)
		}
		wres.Event.OccurredAt = wantEvent.OccurredAt
		if wres.Event != wantEvent {
			t.Errorf("event %+v, want %+v", wres.Event, wantEvent)
		}
		roundTrip(t, e, call, hook)
	})

	t.Run("settings", func(t *testing.T) {
		problems, err := c.ValidateSettings(ctx, sdk.Call{TenantID: "t-1", Settings: map[string]string{"limit": "many", "extra": "x"}})
		var got []string
		for _, p := range problems {
			got = append(got, p.Key+":"+p.Code)
		}
		if err != nil || strings.Join(got, ",") != "token:required,limit:not_a_number,extra:unknown" {
			t.Errorf("ValidateSettings = %v, %v", got, err)
		}
		if cfg, err := c.Configure(ctx, fullCall()); err != nil || len(cfg.Problems) != 0 {
			t.Errorf("Configure = %+v, %v", cfg, err)
		}
		if h, err := c.Health(ctx, sdk.Call{}); err != nil || h.Status != sdk.HealthOK {
			t.Errorf("Health without a checker = %+v, %v", h, err)
		}
	})
}

func TestFailuresBecomeSentinelErrors(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{fmt.Errorf("stripe: %w", sdk.ErrUnavailable), sdk.ErrUnavailable},
		{sdk.ErrInvalid, sdk.ErrInvalid},
		{sdk.ErrUnimplemented, sdk.ErrUnimplemented},
		{context.DeadlineExceeded, context.DeadlineExceeded},
		{errors.New("boom"), sdk.ErrFailed},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			e := &echo{err: tt.err}
			pay, _ := plugintest.Start(t, echoPlugin(e)).Payments()
			_, err := pay.CreatePayment(context.Background(), fullCall(), sdk.PaymentRequest{Amount: 1})
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want errors.Is %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.err.Error()) {
				t.Errorf("%q lost the plugin's message %q", err, tt.err)
			}
		})
	}
}

// panicky panics in CreatePayment.
type panicky struct{ echo }

func (*panicky) CreatePayment(context.Context, sdk.Call, sdk.PaymentRequest) (sdk.PaymentResult, error) {
	panic("nil map")
}

func TestPanicIsAFailureNotACrash(t *testing.T) {
	p := &panicky{}
	c := plugintest.Start(t, sdk.Plugin{Info: sdk.Info{ID: "panicky", Version: "1.0.0"}, Payments: p})
	pay, _ := c.Payments()
	_, err := pay.CreatePayment(context.Background(), fullCall(), sdk.PaymentRequest{})
	if !errors.Is(err, sdk.ErrFailed) || !strings.Contains(err.Error(), "panicked: nil map") {
		t.Errorf("got %v", err)
	}
	// The plugin still answers.
	if _, err := pay.GetPayment(context.Background(), fullCall(), "x"); err != nil {
		t.Errorf("after the panic: %v", err)
	}
}

func TestDeadlineReachesThePlugin(t *testing.T) {
	deadlines := make(chan time.Time, 1)
	c := plugintest.Start(t, sdk.Plugin{Info: sdk.Info{ID: "slow", Version: "1.0.0"}, Payments: &echo{}, Health: healthFunc(func(ctx context.Context) (sdk.Health, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		<-ctx.Done()
		return sdk.Health{}, ctx.Err()
	})})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	start := time.Now()
	_, err := c.Health(ctx, sdk.Call{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	// gRPC sends the time left, so the plugin's deadline is the host's give
	// or take the transit.
	if seen := <-deadlines; seen.Sub(want).Abs() > 100*time.Millisecond {
		t.Errorf("the plugin saw deadline %v, the host set %v", seen, want)
	}
}

type healthFunc func(context.Context) (sdk.Health, error)

func (f healthFunc) Health(ctx context.Context, _ sdk.Call) (sdk.Health, error) { return f(ctx) }

func TestCallNeverPrintsSettings(t *testing.T) {
	call := fullCall()
	for _, s := range []string{fmt.Sprint(call), fmt.Sprintf("%+v", call), fmt.Sprintf("%#v", call), call.LogValue().String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%q shows a secret", s)
		}
	}
}
