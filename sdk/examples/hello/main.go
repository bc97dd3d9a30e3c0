// Command hello is the example plugin of the SDK README: a payments plugin
// for a made-up provider, "Hello Pay", that keeps its payments in memory. It
// shows everything a real plugin does (settings with secrets, idempotency
// keys, declines as result fields, signed webhooks) without a network.
//
// Build it, put it beside plugin.json with its sha256, and the host runs it:
//
//	go build -o hello . && sha256sum hello
package main

import "github.com/yoyaku-oss/yoyaku/sdk"

func main() {
	sdk.Serve(New())
}
