package host

import (
	"strings"
	"testing"

	"github.com/yoyaku-oss/yoyaku/sdk"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

func TestCheckInfo(t *testing.T) {
	m := manifest.Manifest{ID: "hello", Version: "1.0.0", Capabilities: []string{"payments", "crm"}, Settings: []manifest.Setting{
		{Key: "api_key", Type: manifest.TypeSecret, Required: true},
	}}
	good := sdk.Info{ID: "hello", Version: "1.0.0", Capabilities: []string{"crm", "payments"}, Settings: []sdk.Setting{
		{Key: "api_key", Type: sdk.TypeSecret, Required: true, Label: sdk.Text{Ja: "キー", En: "Key"}},
	}}
	tests := []struct {
		name   string
		change func(*sdk.Info)
		want   string
	}{
		{"agrees (capability order and labels aside)", func(*sdk.Info) {}, ""},
		{"another id", func(i *sdk.Info) { i.ID = "evil" }, `id "hello"`},
		{"another version", func(i *sdk.Info) { i.Version = "1.0.1" }, "version 1.0.0"},
		{"more capabilities", func(i *sdk.Info) { i.Capabilities = append(i.Capabilities, "sso") }, "capabilities"},
		{"a secret turned string", func(i *sdk.Info) { i.Settings = []sdk.Setting{{Key: "api_key", Type: sdk.TypeString, Required: true}} }, "settings schema"},
		{"a setting more", func(i *sdk.Info) { i.Settings = append(i.Settings, sdk.Setting{Key: "x", Type: sdk.TypeBool}) }, "settings schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := good
			info.Capabilities = append([]string(nil), good.Capabilities...)
			info.Settings = append([]sdk.Setting(nil), good.Settings...)
			tt.change(&info)
			err := CheckInfo(m, info)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestClientConfig(t *testing.T) {
	cfg := ClientConfig(nil)
	if cfg.MagicCookieKey != sdk.MagicCookieKey || cfg.ProtocolVersion != sdk.ProtocolVersion || !cfg.AutoMTLS || len(cfg.AllowedProtocols) != 1 {
		t.Errorf("config %+v", cfg)
	}
	for _, name := range []string{"plugin", sdk.CapabilityCRM, sdk.CapabilitySSO, sdk.CapabilityPayments} {
		if cfg.Plugins[name] == nil {
			t.Errorf("no client for %q", name)
		}
	}
}
