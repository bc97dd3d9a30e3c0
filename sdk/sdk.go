// Package sdk is the Yoyaku plugin SDK: the gRPC contract (yoyaku.plugin.v1),
// the handshake, a one-call Serve and the capability interfaces (crm, sso,
// payments) that out-of-process plugins implement. It is its own Go module
// with lean dependencies so that plugins never pull in the core.
//
// The contract arrives with the plugin platform; this module holds the
// handshake constants plugins and the host must agree on.
package sdk

// ProtocolVersion is the plugin protocol version the host speaks.
const ProtocolVersion = 1

// MagicCookieKey and MagicCookieValue let a plugin binary refuse to run
// unless the Yoyaku host started it.
const (
	MagicCookieKey   = "YOYAKU_PLUGIN"
	MagicCookieValue = "b8d1c9a4-yoyaku-plugin-v1"
)
