package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/host"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
	"github.com/yoyaku-oss/yoyaku/sdk/plugintest"
)

var testSettings = map[string]string{"api_key": "hello_test", "webhook_secret": "whsec_test", "mode": "test"}

func TestConformance(t *testing.T) {
	plugintest.Conformance(t, New(), plugintest.WithSettings(testSettings))
}

func TestPaymentFlow(t *testing.T) {
	c := plugintest.Start(t, New())
	pay, ok := c.Payments()
	if !ok {
		t.Fatal("no payments capability")
	}
	ctx := context.Background()
	call := plugintest.Call(testSettings)

	created, err := pay.CreatePayment(ctx, call, sdk.PaymentRequest{Amount: 3300, Currency: "JPY", ReservationID: "rsv-1"})
	if err != nil || created.Declined || created.Payment.Status != sdk.PaymentPending || created.Payment.ClientSecret == "" {
		t.Fatalf("CreatePayment = %+v, %v", created, err)
	}
	id := created.Payment.ID

	tooSmall, err := pay.CreatePayment(ctx, plugintest.Call(testSettings), sdk.PaymentRequest{Amount: 10, Currency: "JPY"})
	if err != nil || !tooSmall.Declined || tooSmall.ErrorCode != "amount_too_small" {
		t.Errorf("a 10 JPY payment: %+v, %v; want declined amount_too_small", tooSmall, err)
	}

	body := []byte(`{"id":"evt_1","type":"payment.succeeded","payment_id":"` + id + `","created":1767225600}`)
	hook := sdk.Webhook{Body: body, Header: map[string][]string{SignatureHeader: {Sign("whsec_test", body)}}}
	res, err := pay.HandleWebhook(ctx, plugintest.Call(testSettings), hook)
	if err != nil || res.Outcome != sdk.WebhookEvent || res.Event.DedupeID != "evt_1" || res.Event.Kind != sdk.PaymentEventSucceeded || res.Event.ReservationID != "rsv-1" || res.Event.Amount != 3300 {
		t.Fatalf("signed webhook: %+v, %v", res, err)
	}
	if !res.Event.OccurredAt.Equal(time.Unix(1767225600, 0)) {
		t.Errorf("occurred at %v", res.Event.OccurredAt)
	}

	forged := sdk.Webhook{Body: body, Header: map[string][]string{SignatureHeader: {Sign("another secret", body)}}}
	if res, err := pay.HandleWebhook(ctx, plugintest.Call(testSettings), forged); err != nil || res.Outcome != sdk.WebhookRejected || res.ErrorCode != "signature_invalid" {
		t.Errorf("forged webhook: %+v, %v; want rejected", res, err)
	}

	refundCall := plugintest.Call(testSettings)
	r1, err := pay.Refund(ctx, refundCall, sdk.RefundRequest{PaymentID: id, Amount: 1000})
	if err != nil || r1.Declined || r1.Status != sdk.RefundSucceeded {
		t.Fatalf("Refund = %+v, %v", r1, err)
	}
	r2, err := pay.Refund(ctx, refundCall, sdk.RefundRequest{PaymentID: id, Amount: 1000})
	if err != nil || r2.ID != r1.ID {
		t.Errorf("a retried refund made another refund: %+v then %+v (%v)", r1, r2, err)
	}
	got, err := pay.GetPayment(ctx, plugintest.Call(testSettings), id)
	if err != nil || got.Payment.AmountRefunded != 1000 || got.Payment.Status != sdk.PaymentSucceeded || got.Payment.ClientSecret != "" {
		t.Errorf("GetPayment = %+v, %v", got, err)
	}
	if res, err := pay.CancelPayment(ctx, plugintest.Call(testSettings), sdk.CancelRequest{PaymentID: id}); err != nil || !res.Declined {
		t.Errorf("cancelling a paid payment: %+v, %v; want declined", res, err)
	}

	problems, err := c.ValidateSettings(ctx, plugintest.Call(map[string]string{"api_key": "sk_live", "webhook_secret": "x"}))
	if err != nil || len(problems) != 1 || problems[0].Key != "api_key" {
		t.Errorf("ValidateSettings(bad key) = %+v, %v", problems, err)
	}
	problems, err = c.ValidateSettings(ctx, plugintest.Call(map[string]string{"api_key": "hello_x"}))
	if err != nil || len(problems) != 1 || problems[0].Key != "webhook_secret" || problems[0].Code != "required" {
		t.Errorf("ValidateSettings(missing secret) = %+v, %v", problems, err)
	}
}

// buildPlugin builds this plugin into a fresh plugin directory with its
// plugin.json and the real sha256, as an integrator ships it.
func buildPlugin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "hello"), ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sum, err := manifest.FileSHA256(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), strings.Repeat("0", 64), sum, 1))
	if err := os.WriteFile(filepath.Join(dir, manifest.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start runs the plugin binary of dir as the host does.
func start(t *testing.T, dir string, m manifest.Manifest, change func(*plugin.ClientConfig)) (*host.Client, error) {
	t.Helper()
	sum, err := m.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(m.ExecutablePath(dir))
	cmd.Env = []string{} // nothing of the host's environment
	cfg := host.ClientConfig(cmd)
	cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	cfg.StartTimeout = 20 * time.Second
	cfg.SkipHostEnv = true
	if change != nil {
		change(cfg)
	}
	pc := plugin.NewClient(cfg)
	t.Cleanup(pc.Kill)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return host.Open(ctx, pc)
}

func TestBinaryThroughTheHost(t *testing.T) {
	dir := buildPlugin(t)
	m, err := manifest.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := start(t, dir, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := host.CheckInfo(m, c.Info()); err != nil {
		t.Errorf("CheckInfo: %v", err)
	}
	pay, ok := c.Payments()
	if !ok {
		t.Fatal("no payments capability")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := pay.CreatePayment(ctx, plugintest.Call(testSettings), sdk.PaymentRequest{Amount: 5000, Currency: "JPY"})
	if err != nil || res.Declined || res.Payment.Amount != 5000 {
		t.Fatalf("CreatePayment through the process = %+v, %v", res, err)
	}
	if h, err := c.Health(ctx, sdk.Call{}); err != nil || h.Status != sdk.HealthOK {
		t.Errorf("Health = %+v, %v", h, err)
	}
}

func TestHandshakeMismatchRefused(t *testing.T) {
	dir := buildPlugin(t)
	m, err := manifest.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*plugin.ClientConfig)
	}{
		{"another magic cookie", func(c *plugin.ClientConfig) { c.MagicCookieValue = "not-yoyaku" }},
		{"another protocol version", func(c *plugin.ClientConfig) { c.ProtocolVersion = sdk.ProtocolVersion + 1 }},
		{"another checksum", func(c *plugin.ClientConfig) { c.SecureConfig.Checksum = make([]byte, 32) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := start(t, dir, m, func(c *plugin.ClientConfig) {
				tt.change(c)
				c.StartTimeout = 5 * time.Second
			})
			if err == nil {
				t.Fatalf("started anyway: %+v", c.Info())
			}
			t.Logf("refused: %v", err)
		})
	}

	t.Run("run by hand", func(t *testing.T) {
		out, err := exec.Command(m.ExecutablePath(dir)).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(string(out), "plugin") {
			t.Errorf("run without the host: %v\n%s", err, out)
		}
	})
}
