// Package sdk is the Yoyaku plugin SDK: what a plugin's main() calls and what
// the host uses to talk to it. A plugin is a separate program that the host
// (modules/integrations) starts with HashiCorp go-plugin and calls over gRPC
// with the contract yoyaku.plugin.v1 (sdk/proto); a slow, crashing or buggy
// plugin can therefore never take the booking service down.
//
// Authors implement plain Go interfaces, one per capability (CRM, SSO,
// Payments), fill a Plugin and call Serve from main:
//
//	func main() {
//		sdk.Serve(sdk.Plugin{Info: info, Payments: &payments{}})
//	}
//
// They never touch protobuf: this package converts between its Go types and
// the generated ones. Every call carries a Call (tenant, request id,
// idempotency key, the tenant's settings); business outcomes (a declined
// card, a forged webhook) are result fields, and a returned error is a
// failure, reported to the host as a gRPC status (see ErrUnavailable).
//
// The host side is sdk/host, the manifest plugin.json is sdk/manifest, and
// sdk/plugintest runs a plugin in-process for its author's tests. The module
// depends only on go-plugin, gRPC and protobuf, so plugins never pull in the
// core.
package sdk

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/hashicorp/go-plugin"

	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// ProtocolVersion is the plugin protocol version the host speaks. A plugin
// built for another version is refused at the handshake.
const ProtocolVersion = 1

// MagicCookieKey and MagicCookieValue let a plugin binary refuse to run
// unless the Yoyaku host started it (go-plugin's magic cookie: a usability
// check, not a security one; the host's sha256 check is the security one).
const (
	MagicCookieKey   = "YOYAKU_PLUGIN"
	MagicCookieValue = "b8d1c9a4-yoyaku-plugin-v1"
)

// HandshakeConfig is the handshake both sides must agree on.
func HandshakeConfig() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// The capabilities, as plugin.json and Info name them. They are also the
// go-plugin names under which each service is dispensed.
const (
	CapabilityCRM      = manifest.CapabilityCRM
	CapabilitySSO      = manifest.CapabilitySSO
	CapabilityPayments = manifest.CapabilityPayments
)

// pluginName is the go-plugin name of the common Plugin service, which every
// plugin serves.
const pluginName = "plugin"

// Plugin is what a plugin's main() hands to Serve: its description and its
// implementations. Leave a capability nil when the plugin does not offer it.
type Plugin struct {
	// Info describes the plugin; it must agree with plugin.json. Its
	// Capabilities may be left empty: Serve fills them from the non-nil
	// capability fields below (if set, they must agree).
	Info Info
	// Health answers the host's health checks; nil means always OK.
	Health HealthChecker
	// Settings checks and applies a tenant's settings beyond the schema;
	// nil means the schema check (required, types, choices) is all.
	Settings SettingsHandler

	CRM      CRM
	SSO      SSO
	Payments Payments
}

// capabilities lists the capabilities whose implementation is set.
func (p Plugin) capabilities() []string {
	var caps []string
	if p.CRM != nil {
		caps = append(caps, CapabilityCRM)
	}
	if p.SSO != nil {
		caps = append(caps, CapabilitySSO)
	}
	if p.Payments != nil {
		caps = append(caps, CapabilityPayments)
	}
	return caps
}

// info is p.Info with the capabilities filled in.
func (p Plugin) info() Info {
	info := p.Info
	if len(info.Capabilities) == 0 {
		info.Capabilities = p.capabilities()
	}
	return info
}

// Validate checks what Serve would refuse: an invalid id, version or settings
// schema, no capability, or Info.Capabilities that disagree with the
// implementations.
func (p Plugin) Validate() error {
	info := p.info()
	var errs []error
	if err := manifest.ValidateID(info.ID); err != nil {
		errs = append(errs, fmt.Errorf("Info.ID: %w", err))
	}
	if err := manifest.ValidateVersion(info.Version); err != nil {
		errs = append(errs, fmt.Errorf("Info.Version: %w", err))
	}
	if err := manifest.ValidateCapabilities(info.Capabilities); err != nil {
		errs = append(errs, fmt.Errorf("Info.Capabilities (set CRM, SSO or Payments): %w", err))
	} else if have := p.capabilities(); !sameSet(info.Capabilities, have) {
		errs = append(errs, fmt.Errorf("Info.Capabilities %v disagree with the implementations set %v", info.Capabilities, have))
	}
	if err := manifest.ValidateSettings(info.Settings); err != nil {
		errs = append(errs, fmt.Errorf("Info.Settings: %w", err))
	}
	return errors.Join(errs...)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// PluginSet is the go-plugin plugin set that serves p: the common service and
// one entry per capability p implements. Serve uses it; tests may too.
func PluginSet(p Plugin) plugin.PluginSet {
	set := plugin.PluginSet{pluginName: &CommonGRPCPlugin{Plugin: p}}
	if p.CRM != nil {
		set[CapabilityCRM] = &CRMGRPCPlugin{Impl: p.CRM}
	}
	if p.SSO != nil {
		set[CapabilitySSO] = &SSOGRPCPlugin{Impl: p.SSO}
	}
	if p.Payments != nil {
		set[CapabilityPayments] = &PaymentsGRPCPlugin{Impl: p.Payments}
	}
	return set
}

// ClientPluginSet is the go-plugin plugin set the host passes as
// ClientConfig.Plugins: every service, with no implementation (the host only
// dispenses clients).
func ClientPluginSet() plugin.PluginSet {
	return plugin.PluginSet{
		pluginName:         &CommonGRPCPlugin{},
		CapabilityCRM:      &CRMGRPCPlugin{},
		CapabilitySSO:      &SSOGRPCPlugin{},
		CapabilityPayments: &PaymentsGRPCPlugin{},
	}
}

// Serve runs the plugin until the host stops it; a plugin's main() calls it
// and nothing else. Run by hand (not by the host), the binary prints that it
// is a plugin and exits 1. An invalid Plugin (see Validate) exits 1 with the
// reasons on stderr, which the host logs.
func Serve(p Plugin) {
	if err := p.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "yoyaku plugin %q is misconfigured:\n%v\n", p.Info.ID, err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: HandshakeConfig(),
		Plugins:         PluginSet(p),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
