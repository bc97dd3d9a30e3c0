package plugintest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// Option changes how Conformance exercises a plugin.
type Option func(*config)

type config struct {
	settings map[string]string
	timeout  time.Duration
}

// WithSettings sets the tenant settings every call carries (e.g. a test API
// key and the URL of a local stripe-mock). Without it, Conformance makes
// values from the schema: "conformance" for strings and secrets, "1", "false",
// the first choice.
func WithSettings(settings map[string]string) Option {
	return func(c *config) { c.settings = settings }
}

// WithTimeout sets the deadline of each call (default 5s). A call that does
// not answer within it fails the check.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// Conformance checks, over real gRPC, that p keeps the contract the host
// relies on, and reports each broken rule with t.Errorf:
//
//   - Info is valid and manifest-compatible (id, semver version,
//     capabilities that match the implementations, settings schema) and
//     arrives intact;
//   - Health answers OK, degraded or down, without error; ValidateSettings
//     and Configure accept the test settings;
//   - every call of every capability, made with a full Context (tenant,
//     request id, idempotency key, settings), is accepted (no error) and
//     answers within its deadline; the implementation sees the Context
//     unchanged and a deadline on its ctx;
//   - payments: CreatePayment returns a payment of the requested amount,
//     and the same idempotency key gives the same payment; GetPayment finds
//     it; a webhook with no valid signature is rejected, never an event;
//   - sso: Exchange with a made-up code is denied, never an identity.
//
// Calls reach the implementation exactly as the host will make them, so p is
// configured with the settings of WithSettings (pointing at a local fake of
// the provider, for instance).
func Conformance(t testing.TB, p sdk.Plugin, opts ...Option) {
	t.Helper()
	cfg := config{timeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("conformance: Info: %v", err)
		return
	}
	if cfg.settings == nil {
		cfg.settings = sampleSettings(p.Info.Settings)
	}

	spy := &spy{}
	c := Start(t, spy.wrap(p))
	r := &run{t: t, cfg: cfg, spy: spy}

	r.checkInfo(p, c.Info())
	r.checkCommon(c.Common)
	if crm, ok := c.CRM(); ok {
		r.checkCRM(crm)
	}
	if sso, ok := c.SSO(); ok {
		r.checkSSO(sso)
	}
	if pay, ok := c.Payments(); ok {
		r.checkPayments(pay)
	}
	r.checkPassThrough()
}

// run holds one Conformance run's state.
type run struct {
	t    testing.TB
	cfg  config
	spy  *spy
	sent []sentCall
	n    int
}

// sentCall is what the host side sent for one method.
type sentCall struct {
	method string
	call   sdk.Call
}

// call returns a fresh Call for method and a context with the deadline,
// and remembers what was sent.
func (r *run) call(method string) (context.Context, context.CancelFunc, sdk.Call) {
	r.n++
	c := sdk.Call{
		TenantID:       "tenant-conformance",
		RequestID:      fmt.Sprintf("req-conformance-%d", r.n),
		IdempotencyKey: fmt.Sprintf("idem-conformance-%d", r.n),
		Settings:       maps.Clone(r.cfg.settings),
	}
	r.sent = append(r.sent, sentCall{method: method, call: c})
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.timeout)
	return ctx, cancel, c
}

// failed reports a call error and returns true if there was one.
func (r *run) failed(method string, err error) bool {
	r.t.Helper()
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.DeadlineExceeded):
		r.t.Errorf("conformance: %s did not answer within its deadline of %s: %v", method, r.cfg.timeout, err)
	default:
		r.t.Errorf("conformance: %s refused a request with a full Context: %v", method, err)
	}
	return true
}

func (r *run) checkInfo(p sdk.Plugin, got sdk.Info) {
	r.t.Helper()
	want := p.Info
	if len(want.Capabilities) == 0 {
		want.Capabilities = got.Capabilities
	}
	m := manifest.Manifest{
		ID: got.ID, Version: got.Version, MinHostVersion: "0.0.0", Capabilities: got.Capabilities,
		Executable: "plugin", SHA256: fmt.Sprintf("%064d", 0), Settings: got.Settings,
	}
	if err := m.Validate(); err != nil {
		r.t.Errorf("conformance: Info as the host receives it is not manifest-compatible: %v", err)
	}
	if got.ID != want.ID || got.Version != want.Version || got.Name != want.Name || !slices.Equal(got.Capabilities, want.Capabilities) || !slices.EqualFunc(got.Settings, want.Settings, equalSetting) {
		r.t.Errorf("conformance: Info changed on the way to the host:\nsent %+v\ngot  %+v", want, got)
	}
}

func equalSetting(a, b sdk.Setting) bool {
	return a.Key == b.Key && a.Label == b.Label && a.Type == b.Type && a.Required == b.Required && a.Help == b.Help && slices.Equal(a.Choices, b.Choices)
}

func (r *run) checkCommon(c sdk.Common) {
	r.t.Helper()
	ctx, cancel, call := r.call("Health")
	h, err := c.Health(ctx, call)
	cancel()
	if !r.failed("Health", err) && !slices.Contains([]sdk.HealthStatus{sdk.HealthOK, sdk.HealthDegraded, sdk.HealthDown}, h.Status) {
		r.t.Errorf("conformance: Health answered the unknown status %q", h.Status)
	}

	ctx, cancel, call = r.call("ValidateSettings")
	problems, err := c.ValidateSettings(ctx, call)
	cancel()
	if !r.failed("ValidateSettings", err) && len(problems) > 0 {
		r.t.Errorf("conformance: ValidateSettings refused the test settings (pass working ones with WithSettings): %+v", problems)
	}

	ctx, cancel, call = r.call("Configure")
	configured, err := c.Configure(ctx, call)
	cancel()
	if !r.failed("Configure", err) && len(configured.Problems) > 0 {
		r.t.Errorf("conformance: Configure refused the test settings: %+v", configured.Problems)
	}
}

func (r *run) checkCRM(crm sdk.CRM) {
	r.t.Helper()
	ctx, cancel, call := r.call("CRM.HandleEvent")
	res, err := crm.HandleEvent(ctx, call, sdk.Event{
		ID: call.IdempotencyKey, Type: "reservation.confirmed", OccurredAt: time.Now(),
		Payload: []byte(`{"reservation_id":"rsv-conformance","tenant_id":"tenant-conformance"}`),
	})
	cancel()
	if !r.failed("CRM.HandleEvent", err) {
		r.checkOutcome("CRM.HandleEvent", res.Outcome)
	}

	ctx, cancel, call = r.call("CRM.SyncMember")
	res, err = crm.SyncMember(ctx, call, sdk.Member{ID: "mem-conformance", Email: "member@example.com", Name: "予約 太郎", UpdatedAt: time.Now()})
	cancel()
	if !r.failed("CRM.SyncMember", err) {
		r.checkOutcome("CRM.SyncMember", res.Outcome)
	}
}

func (r *run) checkOutcome(method string, o sdk.Outcome) {
	r.t.Helper()
	if !slices.Contains([]sdk.Outcome{sdk.OutcomeDone, sdk.OutcomeIgnored, sdk.OutcomeRejected}, o) {
		r.t.Errorf("conformance: %s answered the unknown outcome %q", method, o)
	}
}

func (r *run) checkSSO(sso sdk.SSO) {
	r.t.Helper()
	ctx, cancel, call := r.call("SSO.AuthorizeURL")
	a, err := sso.AuthorizeURL(ctx, call, sdk.AuthorizeRequest{RedirectURI: "https://yoyaku.example/callback", State: "state-conformance", Nonce: "nonce-conformance", Locale: "ja"})
	cancel()
	if !r.failed("SSO.AuthorizeURL", err) && a.ErrorCode == "" {
		if u, err := url.Parse(a.URL); err != nil || !u.IsAbs() {
			r.t.Errorf("conformance: SSO.AuthorizeURL returned %q, not an absolute URL", a.URL)
		}
	}

	ctx, cancel, call = r.call("SSO.Exchange")
	x, err := sso.Exchange(ctx, call, sdk.ExchangeRequest{Code: "made-up-code-conformance", RedirectURI: "https://yoyaku.example/callback", Nonce: "nonce-conformance"})
	cancel()
	if !r.failed("SSO.Exchange", err) && !x.Denied {
		r.t.Errorf("conformance: SSO.Exchange accepted a made-up code and vouched for %+v; it must be denied", x.Identity)
	}
}

func (r *run) checkPayments(pay sdk.Payments) {
	r.t.Helper()
	req := sdk.PaymentRequest{
		Amount: 1200, Currency: "JPY", ReservationID: "rsv-conformance", CustomerEmail: "customer@example.com",
		Description: "conformance", Metadata: map[string]string{"reservation_id": "rsv-conformance"},
	}
	ctx, cancel, call := r.call("Payments.CreatePayment")
	first, err := pay.CreatePayment(ctx, call, req)
	cancel()
	if r.failed("Payments.CreatePayment", err) {
		return
	}
	if first.Declined {
		r.t.Errorf("conformance: Payments.CreatePayment declined a plain payment of 1200 JPY (%s: %s); give it working settings with WithSettings", first.ErrorCode, first.Message)
		return
	}
	if first.Payment.ID == "" || first.Payment.Amount != req.Amount || first.Payment.Status == "" {
		r.t.Errorf("conformance: Payments.CreatePayment returned %+v; want an id, amount 1200 and a known status", redact(first.Payment))
	}

	// The same idempotency key again: the same payment, not a second one.
	ctx, cancel = context.WithTimeout(context.Background(), r.cfg.timeout)
	r.sent = append(r.sent, sentCall{method: "Payments.CreatePayment (retry)", call: call})
	again, err := pay.CreatePayment(ctx, call, req)
	cancel()
	if !r.failed("Payments.CreatePayment (retry)", err) && again.Payment.ID != first.Payment.ID {
		r.t.Errorf("conformance: Payments.CreatePayment with the same idempotency key made a second payment (%q, then %q); pass Call.IdempotencyKey to the provider", first.Payment.ID, again.Payment.ID)
	}

	ctx, cancel, call = r.call("Payments.GetPayment")
	got, err := pay.GetPayment(ctx, call, first.Payment.ID)
	cancel()
	if !r.failed("Payments.GetPayment", err) && (got.NotFound || got.Payment.ID != first.Payment.ID) {
		r.t.Errorf("conformance: Payments.GetPayment(%q) = %+v, want the payment just created", first.Payment.ID, redact(got.Payment))
	}

	ctx, cancel, call = r.call("Payments.Refund")
	_, err = pay.Refund(ctx, call, sdk.RefundRequest{PaymentID: first.Payment.ID, Amount: 100, Reason: "requested_by_customer"})
	cancel()
	r.failed("Payments.Refund", err) // declined (not paid yet) is fine; an error is not

	ctx, cancel, call = r.call("Payments.CancelPayment")
	_, err = pay.CancelPayment(ctx, call, sdk.CancelRequest{PaymentID: first.Payment.ID, Reason: "expired"})
	cancel()
	r.failed("Payments.CancelPayment", err)

	ctx, cancel, call = r.call("Payments.HandleWebhook")
	hook, err := pay.HandleWebhook(ctx, call, sdk.Webhook{
		Body: []byte(`{"id":"evt_forged","type":"payment_intent.succeeded","data":{"object":{"id":"` + first.Payment.ID + `"}}}`),
		Header: http.Header{
			"Content-Type":     {"application/json"},
			"Stripe-Signature": {"t=1,v1=0000000000000000000000000000000000000000000000000000000000000000"},
		},
	})
	cancel()
	if !r.failed("Payments.HandleWebhook", err) && hook.Outcome != sdk.WebhookRejected {
		r.t.Errorf("conformance: Payments.HandleWebhook answered %q to a webhook with a forged signature; it must be rejected", hook.Outcome)
	}
}

// redact hides the client secret in failure messages.
func redact(p sdk.Payment) sdk.Payment {
	if p.ClientSecret != "" {
		p.ClientSecret = "(redacted)"
	}
	return p
}

// checkPassThrough compares what the implementation received with what was
// sent: every Context intact, every ctx with a deadline.
func (r *run) checkPassThrough() {
	r.t.Helper()
	seen := r.spy.calls()
	for _, s := range r.sent {
		i := slices.IndexFunc(seen, func(g gotCall) bool { return g.method == baseMethod(s.method) && g.call.RequestID == s.call.RequestID })
		if i < 0 {
			r.t.Errorf("conformance: %s never reached the implementation with request id %q", s.method, s.call.RequestID)
			continue
		}
		g := seen[i]
		seen = slices.Delete(seen, i, i+1)
		if g.call.TenantID != s.call.TenantID || g.call.IdempotencyKey != s.call.IdempotencyKey || !maps.Equal(g.call.Settings, s.call.Settings) {
			r.t.Errorf("conformance: %s: the implementation got %v, want %v (settings compared too)", s.method, g.call, s.call)
		}
		if !g.hasDeadline {
			r.t.Errorf("conformance: %s: the implementation's ctx has no deadline", s.method)
		}
	}
}

// baseMethod drops a " (retry)" suffix.
func baseMethod(m string) string {
	for i := range m {
		if m[i] == ' ' {
			return m[:i]
		}
	}
	return m
}

// sampleSettings makes values that satisfy the schema.
func sampleSettings(schema []sdk.Setting) map[string]string {
	out := make(map[string]string, len(schema))
	for _, s := range schema {
		switch s.Type {
		case sdk.TypeNumber:
			out[s.Key] = "1"
		case sdk.TypeBool:
			out[s.Key] = "false"
		case sdk.TypeChoice:
			if len(s.Choices) > 0 {
				out[s.Key] = s.Choices[0].Value
			}
		default:
			out[s.Key] = "conformance"
		}
	}
	return out
}

// gotCall is what the implementation received for one method.
type gotCall struct {
	method      string
	call        sdk.Call
	hasDeadline bool
}

// spy records, inside the plugin, the Call and deadline each method got.
type spy struct {
	mu  sync.Mutex
	got []gotCall
}

func (s *spy) record(ctx context.Context, method string, call sdk.Call) {
	_, ok := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, gotCall{method: method, call: call, hasDeadline: ok})
}

func (s *spy) calls() []gotCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// wrap returns p with every implementation replaced by a recording wrapper.
func (s *spy) wrap(p sdk.Plugin) sdk.Plugin {
	w := p
	w.Health = spyHealth{s, p.Health}
	w.Settings = spySettings{s, p.Settings}
	if p.CRM != nil {
		w.CRM = spyCRM{s, p.CRM}
	}
	if p.SSO != nil {
		w.SSO = spySSO{s, p.SSO}
	}
	if p.Payments != nil {
		w.Payments = spyPayments{s, p.Payments}
	}
	return w
}

type spyHealth struct {
	s    *spy
	next sdk.HealthChecker
}

func (h spyHealth) Health(ctx context.Context, call sdk.Call) (sdk.Health, error) {
	h.s.record(ctx, "Health", call)
	if h.next == nil {
		return sdk.Health{Status: sdk.HealthOK}, nil
	}
	return h.next.Health(ctx, call)
}

type spySettings struct {
	s    *spy
	next sdk.SettingsHandler
}

func (h spySettings) ValidateSettings(ctx context.Context, call sdk.Call) ([]sdk.SettingProblem, error) {
	h.s.record(ctx, "ValidateSettings", call)
	if h.next == nil {
		return nil, nil
	}
	return h.next.ValidateSettings(ctx, call)
}

func (h spySettings) Configure(ctx context.Context, call sdk.Call) (sdk.Configured, error) {
	h.s.record(ctx, "Configure", call)
	if h.next == nil {
		return sdk.Configured{}, nil
	}
	return h.next.Configure(ctx, call)
}

type spyCRM struct {
	s    *spy
	next sdk.CRM
}

func (h spyCRM) HandleEvent(ctx context.Context, call sdk.Call, ev sdk.Event) (sdk.CRMResult, error) {
	h.s.record(ctx, "CRM.HandleEvent", call)
	return h.next.HandleEvent(ctx, call, ev)
}

func (h spyCRM) SyncMember(ctx context.Context, call sdk.Call, m sdk.Member) (sdk.CRMResult, error) {
	h.s.record(ctx, "CRM.SyncMember", call)
	return h.next.SyncMember(ctx, call, m)
}

type spySSO struct {
	s    *spy
	next sdk.SSO
}

func (h spySSO) AuthorizeURL(ctx context.Context, call sdk.Call, req sdk.AuthorizeRequest) (sdk.Authorization, error) {
	h.s.record(ctx, "SSO.AuthorizeURL", call)
	return h.next.AuthorizeURL(ctx, call, req)
}

func (h spySSO) Exchange(ctx context.Context, call sdk.Call, req sdk.ExchangeRequest) (sdk.ExchangeResult, error) {
	h.s.record(ctx, "SSO.Exchange", call)
	return h.next.Exchange(ctx, call, req)
}

type spyPayments struct {
	s    *spy
	next sdk.Payments
}

func (h spyPayments) CreatePayment(ctx context.Context, call sdk.Call, req sdk.PaymentRequest) (sdk.PaymentResult, error) {
	h.s.record(ctx, "Payments.CreatePayment", call)
	return h.next.CreatePayment(ctx, call, req)
}

func (h spyPayments) GetPayment(ctx context.Context, call sdk.Call, id string) (sdk.PaymentLookup, error) {
	h.s.record(ctx, "Payments.GetPayment", call)
	return h.next.GetPayment(ctx, call, id)
}

func (h spyPayments) CancelPayment(ctx context.Context, call sdk.Call, req sdk.CancelRequest) (sdk.PaymentResult, error) {
	h.s.record(ctx, "Payments.CancelPayment", call)
	return h.next.CancelPayment(ctx, call, req)
}

func (h spyPayments) Refund(ctx context.Context, call sdk.Call, req sdk.RefundRequest) (sdk.RefundResult, error) {
	h.s.record(ctx, "Payments.Refund", call)
	return h.next.Refund(ctx, call, req)
}

func (h spyPayments) HandleWebhook(ctx context.Context, call sdk.Call, hook sdk.Webhook) (sdk.WebhookResult, error) {
	h.s.record(ctx, "Payments.HandleWebhook", call)
	return h.next.HandleWebhook(ctx, call, hook)
}
