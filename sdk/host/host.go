// Package host is the host's side of the plugin SDK: the go-plugin client
// configuration a plugin is started with, and Client, which turns a started
// plugin into the sdk's capability interfaces. modules/integrations uses it
// and nothing generated: it sees only the sdk's Go types.
//
//	m, err := manifest.Verify(dir)                      // sha256 first
//	cfg := host.ClientConfig(exec.Command(m.ExecutablePath(dir)))
//	cfg.SecureConfig = ...; cfg.StartTimeout = ...; cfg.Logger = ...
//	pc := plugin.NewClient(cfg)
//	c, err := host.Open(ctx, pc)                        // starts it, reads Info
//	err = host.CheckInfo(m, c.Info())
//	if pay, ok := c.Payments(); ok { pay.CreatePayment(ctx, call, req) }
package host

import (
	"context"
	"fmt"
	"os/exec"
	"slices"

	"github.com/hashicorp/go-plugin"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// ClientConfig returns the go-plugin client configuration for a plugin run
// by cmd: Yoyaku's handshake, every capability's client, gRPC only, and
// AutoMTLS. The caller adds what is its to decide (SecureConfig with the
// manifest's checksum, StartTimeout, Logger, SkipHostEnv, Stderr) and sets
// cmd.Env, which the plugin should get instead of the host's environment.
func ClientConfig(cmd *exec.Cmd) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		Plugins:          sdk.ClientPluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
	}
}

// Client is a started plugin as the host uses it: the common service
// (Health, ValidateSettings, Configure), its Info, and one interface per
// capability it declared.
type Client struct {
	sdk.Common
	info     sdk.Info
	crm      sdk.CRM
	sso      sdk.SSO
	payments sdk.Payments
}

// Open starts the plugin of pc (if it is not running yet), reads its Info
// within ctx and dispenses the capabilities Info declares. It does not kill
// the process on error: the caller owns pc.
func Open(ctx context.Context, pc *plugin.Client) (*Client, error) {
	rpc, err := pc.Client()
	if err != nil {
		return nil, err
	}
	return Dispense(ctx, rpc)
}

// Dispense builds a Client on an established go-plugin connection (what Open
// does after starting the process; plugintest calls it on an in-process one).
func Dispense(ctx context.Context, rpc plugin.ClientProtocol) (*Client, error) {
	raw, err := rpc.Dispense("plugin")
	if err != nil {
		return nil, fmt.Errorf("dispensing the plugin service: %w", err)
	}
	common, ok := raw.(sdk.Common)
	if !ok {
		return nil, fmt.Errorf("the plugin service is a %T, not an sdk.Common", raw)
	}
	info, err := common.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin's Info: %w", err)
	}
	c := &Client{Common: common, info: info}
	for _, capability := range info.Capabilities {
		raw, err := rpc.Dispense(capability)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: dispensing %q: %w", info.ID, capability, err)
		}
		switch v := raw.(type) {
		case sdk.CRM:
			c.crm = v
		case sdk.SSO:
			c.sso = v
		case sdk.Payments:
			c.payments = v
		}
	}
	return c, nil
}

// Info is what the plugin said about itself when the Client was opened
// (c.Common.Info asks again).
func (c *Client) Info() sdk.Info { return c.info }

// CRM returns the plugin's CRM, if it declared the capability.
func (c *Client) CRM() (sdk.CRM, bool) { return c.crm, c.crm != nil }

// SSO returns the plugin's SSO, if it declared the capability.
func (c *Client) SSO() (sdk.SSO, bool) { return c.sso, c.sso != nil }

// Payments returns the plugin's Payments, if it declared the capability.
func (c *Client) Payments() (sdk.Payments, bool) { return c.payments, c.payments != nil }

// CheckInfo reports how a running plugin's Info disagrees with its manifest:
// another id, version or set of capabilities, or another settings schema
// (keys, types, required). The host refuses such a plugin: the manifest is
// what the operator approved.
func CheckInfo(m manifest.Manifest, info sdk.Info) error {
	switch {
	case info.ID != m.ID:
		return fmt.Errorf("plugin.json says id %q, the plugin says %q", m.ID, info.ID)
	case info.Version != m.Version:
		return fmt.Errorf("plugin %s: plugin.json says version %s, the plugin says %s", m.ID, m.Version, info.Version)
	}
	a, b := slices.Clone(m.Capabilities), slices.Clone(info.Capabilities)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		return fmt.Errorf("plugin %s: plugin.json says capabilities %v, the plugin says %v", m.ID, m.Capabilities, info.Capabilities)
	}
	type shape struct {
		key      string
		typ      manifest.SettingType
		required bool
	}
	shapes := func(s []manifest.Setting) []shape {
		out := make([]shape, 0, len(s))
		for _, f := range s {
			out = append(out, shape{f.Key, f.Type, f.Required})
		}
		return out
	}
	if !slices.Equal(shapes(m.Settings), shapes(info.Settings)) {
		return fmt.Errorf("plugin %s: the settings schema of plugin.json and of the plugin differ (keys, types or required)", m.ID)
	}
	return nil
}
