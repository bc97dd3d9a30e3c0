package plugintest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/plugintest"
)

// fakeTB records what a checker reports instead of failing the real test.
// Methods the checker does not use are left to the nil embedded TB, so using
// a new one panics here rather than passing unseen.
type fakeTB struct {
	testing.TB
	real     *testing.T
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Logf(format string, args ...any) { f.real.Logf("(checker) "+format, args...) }

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs) > 0
}

// check runs Conformance on p against a fake TB and returns what it reported.
func check(t *testing.T, p sdk.Plugin, opts ...plugintest.Option) []string {
	f := &fakeTB{real: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		plugintest.Conformance(f, p, opts...)
	}()
	<-done
	for _, fn := range slices.Backward(f.cleanups) {
		fn()
	}
	return f.errs
}

// goodPayments keeps the contract: idempotent creation, forged webhooks
// rejected.
type goodPayments struct {
	mu    sync.Mutex
	byKey map[string]string
}

func (g *goodPayments) CreatePayment(_ context.Context, call sdk.Call, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byKey == nil {
		g.byKey = make(map[string]string)
	}
	id, ok := g.byKey[call.IdempotencyKey]
	if !ok {
		id = fmt.Sprintf("pay-%d", len(g.byKey)+1)
		g.byKey[call.IdempotencyKey] = id
	}
	return sdk.PaymentResult{Payment: sdk.Payment{ID: id, Status: sdk.PaymentPending, Amount: req.Amount, Currency: req.Currency}}, nil
}

func (g *goodPayments) GetPayment(_ context.Context, _ sdk.Call, id string) (sdk.PaymentLookup, error) {
	return sdk.PaymentLookup{Payment: sdk.Payment{ID: id, Status: sdk.PaymentPending, Amount: 1200, Currency: "JPY"}}, nil
}

func (g *goodPayments) CancelPayment(_ context.Context, _ sdk.Call, req sdk.CancelRequest) (sdk.PaymentResult, error) {
	return sdk.PaymentResult{Payment: sdk.Payment{ID: req.PaymentID, Status: sdk.PaymentCanceled}}, nil
}

func (g *goodPayments) Refund(context.Context, sdk.Call, sdk.RefundRequest) (sdk.RefundResult, error) {
	return sdk.RefundResult{Declined: true, ErrorCode: "not_paid"}, nil
}

func (g *goodPayments) HandleWebhook(context.Context, sdk.Call, sdk.Webhook) (sdk.WebhookResult, error) {
	return sdk.WebhookResult{Outcome: sdk.WebhookRejected, ErrorCode: "signature_invalid"}, nil
}

// goodSSO denies made-up codes.
type goodSSO struct{}

func (goodSSO) AuthorizeURL(_ context.Context, _ sdk.Call, req sdk.AuthorizeRequest) (sdk.Authorization, error) {
	return sdk.Authorization{URL: "https://idp.example/auth?state=" + req.State}, nil
}

func (goodSSO) Exchange(context.Context, sdk.Call, sdk.ExchangeRequest) (sdk.ExchangeResult, error) {
	return sdk.ExchangeResult{Denied: true, ErrorCode: "invalid_grant"}, nil
}

// goodCRM handles everything.
type goodCRM struct{}

func (goodCRM) HandleEvent(context.Context, sdk.Call, sdk.Event) (sdk.CRMResult, error) {
	return sdk.CRMResult{Outcome: sdk.OutcomeDone}, nil
}

func (goodCRM) SyncMember(context.Context, sdk.Call, sdk.Member) (sdk.CRMResult, error) {
	return sdk.CRMResult{Outcome: sdk.OutcomeIgnored}, nil
}

func goodPlugin() sdk.Plugin {
	return sdk.Plugin{
		Info: sdk.Info{ID: "jp.example.good", Version: "1.0.0", Settings: []sdk.Setting{
			{Key: "api_key", Label: sdk.Text{Ja: "キー", En: "Key"}, Type: sdk.TypeSecret, Required: true},
			{Key: "mode", Label: sdk.Text{Ja: "モード", En: "Mode"}, Type: sdk.TypeChoice, Choices: []sdk.Choice{{Value: "test", Label: sdk.Text{Ja: "テスト", En: "Test"}}}},
		}},
		CRM: goodCRM{}, SSO: goodSSO{}, Payments: &goodPayments{},
	}
}

// Broken variants, each breaking one rule.

type forgetfulPayments struct{ goodPayments } // ignores the idempotency key

func (f *forgetfulPayments) CreatePayment(ctx context.Context, call sdk.Call, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	call.IdempotencyKey = time.Now().String()
	return f.goodPayments.CreatePayment(ctx, call, req)
}

type gullibleWebhooks struct{ goodPayments } // believes any webhook

func (*gullibleWebhooks) HandleWebhook(context.Context, sdk.Call, sdk.Webhook) (sdk.WebhookResult, error) {
	return sdk.WebhookResult{Outcome: sdk.WebhookEvent, Event: sdk.PaymentEvent{DedupeID: "evt", PaymentID: "pay-1", Kind: sdk.PaymentEventSucceeded}}, nil
}

type gullibleSSO struct{ goodSSO } // logs anyone in

func (gullibleSSO) Exchange(context.Context, sdk.Call, sdk.ExchangeRequest) (sdk.ExchangeResult, error) {
	return sdk.ExchangeResult{Identity: sdk.Identity{Subject: "anyone"}}, nil
}

type failingCRM struct{ goodCRM } // refuses a full Context

func (failingCRM) HandleEvent(context.Context, sdk.Call, sdk.Event) (sdk.CRMResult, error) {
	return sdk.CRMResult{}, fmt.Errorf("%w: no tenant header", sdk.ErrInvalid)
}

type sleepyHealth struct{} // ignores its deadline

func (sleepyHealth) Health(context.Context, sdk.Call) (sdk.Health, error) {
	time.Sleep(time.Second)
	return sdk.Health{Status: sdk.HealthOK}, nil
}

type pickySettings struct{} // refuses every settings

func (pickySettings) ValidateSettings(context.Context, sdk.Call) ([]sdk.SettingProblem, error) {
	return []sdk.SettingProblem{{Key: "api_key", Code: "rejected_by_provider"}}, nil
}

func (pickySettings) Configure(context.Context, sdk.Call) (sdk.Configured, error) {
	return sdk.Configured{}, errors.New("cannot reach the provider")
}

func TestConformanceChecker(t *testing.T) {
	tests := []struct {
		name   string
		change func(*sdk.Plugin)
		opts   []plugintest.Option
		want   []string // substrings of the reports, in any order; nil: passes
	}{
		{name: "a good plugin passes", change: func(*sdk.Plugin) {}},
		{name: "only payments passes", change: func(p *sdk.Plugin) { p.CRM, p.SSO = nil, nil }},
		{name: "invalid info", change: func(p *sdk.Plugin) { p.Info.Version = "one"; p.Info.ID = "Good" },
			want: []string{"Info.ID", "Info.Version"}},
		{name: "capabilities that lie", change: func(p *sdk.Plugin) { p.Info.Capabilities = []string{"payments"} },
			want: []string{"disagree with the implementations"}},
		{name: "bad settings schema", change: func(p *sdk.Plugin) { p.Info.Settings[0].Label.En = "" },
			want: []string{"Info.Settings", "label needs both ja and en"}},
		{name: "not idempotent", change: func(p *sdk.Plugin) { p.Payments = &forgetfulPayments{} },
			want: []string{"same idempotency key made a second payment"}},
		{name: "accepts a forged webhook", change: func(p *sdk.Plugin) { p.Payments = &gullibleWebhooks{} },
			want: []string{"forged signature; it must be rejected"}},
		{name: "accepts a made-up code", change: func(p *sdk.Plugin) { p.SSO = gullibleSSO{} },
			want: []string{"accepted a made-up code"}},
		{name: "refuses a full context", change: func(p *sdk.Plugin) { p.CRM = failingCRM{} },
			want: []string{"CRM.HandleEvent refused a request with a full Context", "no tenant header"}},
		{name: "ignores its deadline", change: func(p *sdk.Plugin) { p.Health = sleepyHealth{} }, opts: []plugintest.Option{plugintest.WithTimeout(150 * time.Millisecond)},
			want: []string{"Health did not answer within its deadline of 150ms"}},
		{name: "refuses the settings", change: func(p *sdk.Plugin) { p.Settings = pickySettings{} },
			want: []string{"ValidateSettings refused the test settings", "Configure refused a request", "cannot reach the provider"}},
		{name: "settings that miss the schema", change: func(*sdk.Plugin) {}, opts: []plugintest.Option{plugintest.WithSettings(map[string]string{"mode": "test"})},
			want: []string{"ValidateSettings refused the test settings", "api_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := goodPlugin()
			tt.change(&p)
			got := check(t, p, tt.opts...)
			if tt.want == nil {
				if len(got) > 0 {
					t.Fatalf("a conforming plugin was reported:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			if len(got) == 0 {
				t.Fatalf("nothing reported, want %q", tt.want)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no report contains %q; got:\n%s", w, all)
				}
			}
		})
	}
}
