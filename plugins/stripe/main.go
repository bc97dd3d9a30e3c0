// Command stripe is the payments plugin for Stripe: prepayment at booking
// time with PaymentIntents, refunds, and signed webhooks. It imports only the
// Yoyaku SDK and stripe-go; every Stripe call carries the host's idempotency
// key, so a retried call never charges or refunds twice.
//
// Build it, put it beside plugin.json with its sha256, and the host runs it:
//
//	go build -o stripe . && sha256sum stripe
package main

import "github.com/yoyaku-oss/yoyaku/sdk"

func main() {
	sdk.Serve(New())
}
