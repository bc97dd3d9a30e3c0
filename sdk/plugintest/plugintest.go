// Package plugintest runs a plugin in-process for its author's tests: Start
// serves an sdk.Plugin over real gRPC (go-plugin's in-process test
// connection, the same code path as a real plugin minus the process) and
// returns the host's view of it, and Conformance checks that a plugin keeps
// the contract the host relies on.
//
//	func TestConformance(t *testing.T) {
//		plugintest.Conformance(t, newPlugin())
//	}
//
//	func TestCreatePayment(t *testing.T) {
//		c := plugintest.Start(t, newPlugin())
//		pay, _ := c.Payments()
//		res, err := pay.CreatePayment(ctx, plugintest.Call(), sdk.PaymentRequest{...})
//	}
package plugintest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/host"
)

// Start serves p over real gRPC in this process and returns the host's
// client for it, with p's capabilities dispensed. Everything is closed when
// the test ends.
func Start(t testing.TB, p sdk.Plugin) *host.Client {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.PluginSet(p))
	// Close asks the server to stop (go-plugin's controller), as the host
	// does with a plugin process; stopping the server here too would race
	// with that inside go-plugin.
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := host.Dispense(ctx, client)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	return c
}

// Call returns a Call as the host would send it, for a test tenant, with the
// given settings and a fresh idempotency key.
func Call(settings map[string]string) sdk.Call {
	return sdk.Call{
		TenantID:       "tenant-plugintest",
		RequestID:      "req-" + rand.Text(),
		IdempotencyKey: "idem-" + rand.Text(),
		Settings:       settings,
	}
}
