package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodManifest = `{
  "id": "jp.example.pay",
  "name": {"ja": "例の決済", "en": "Example payments"},
  "version": "1.2.3",
  "min_host_version": "0.1.0",
  "capabilities": ["payments"],
  "executable": "bin/pay",
  "sha256": "` + zeroSum + `",
  "settings": [
    {"key": "api_key", "label": {"ja": "APIキー", "en": "API key"}, "type": "secret", "required": true},
    {"key": "mode", "label": {"ja": "モード", "en": "Mode"}, "type": "choice",
     "choices": [{"value": "test", "label": {"ja": "テスト", "en": "Test"}}, {"value": "live", "label": {"ja": "本番", "en": "Live"}}]}
  ]
}`

const zeroSum = "0000000000000000000000000000000000000000000000000000000000000000"

func TestParseValid(t *testing.T) {
	m, err := Parse([]byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "jp.example.pay" || m.Executable != "bin/pay" || len(m.Settings) != 2 || m.Settings[1].Choices[1].Value != "live" || !m.Has(CapabilityPayments) {
		t.Errorf("parsed %+v", m)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Manifest {
		m, err := Parse([]byte(goodManifest))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name   string
		change func(*Manifest)
		want   []string // substrings of the error; nil for valid
	}{
		{name: "valid", change: func(*Manifest) {}},
		{name: "slug id", change: func(m *Manifest) { m.ID = "line-login" }},
		{name: "digits in a segment", change: func(m *Manifest) { m.ID = "jp.co.shop2.crm" }},
		{name: "prerelease version", change: func(m *Manifest) { m.Version = "2.0.0-rc.1+build.5" }},
		{name: "several capabilities", change: func(m *Manifest) { m.Capabilities = []string{"crm", "sso", "payments"} }},
		{name: "no settings", change: func(m *Manifest) { m.Settings = nil }},

		{name: "missing id", change: func(m *Manifest) { m.ID = "" }, want: []string{"id: is required"}},
		{name: "upper-case id", change: func(m *Manifest) { m.ID = "Stripe" }, want: []string{"id:", "lower-case"}},
		{name: "id with underscore", change: func(m *Manifest) { m.ID = "my_plugin" }, want: []string{"id:", "slug"}},
		{name: "id with empty segment", change: func(m *Manifest) { m.ID = "jp..pay" }, want: []string{"id:", "reverse-DNS"}},
		{name: "id ending in hyphen", change: func(m *Manifest) { m.ID = "pay-" }, want: []string{"id:"}},
		{name: "long id", change: func(m *Manifest) { m.ID = strings.Repeat("a", 65) }, want: []string{"id:", "64"}},
		{name: "v-prefixed version", change: func(m *Manifest) { m.Version = "v1.0.0" }, want: []string{"version:", "semantic"}},
		{name: "two-part version", change: func(m *Manifest) { m.Version = "1.0" }, want: []string{"version:"}},
		{name: "leading zero", change: func(m *Manifest) { m.Version = "1.02.0" }, want: []string{"version:", "leading zeros"}},
		{name: "missing min host", change: func(m *Manifest) { m.MinHostVersion = "" }, want: []string{"min_host_version: is required"}},
		{name: "no capabilities", change: func(m *Manifest) { m.Capabilities = nil }, want: []string{"capabilities:", "at least one"}},
		{name: "unknown capability", change: func(m *Manifest) { m.Capabilities = []string{"fax"} }, want: []string{"capabilities:", `"fax"`}},
		{name: "capability twice", change: func(m *Manifest) { m.Capabilities = []string{"crm", "crm"} }, want: []string{"twice"}},
		{name: "missing executable", change: func(m *Manifest) { m.Executable = "" }, want: []string{"executable: is required"}},
		{name: "absolute executable", change: func(m *Manifest) { m.Executable = "/usr/bin/pay" }, want: []string{"executable:", "relative"}},
		{name: "escaping executable", change: func(m *Manifest) { m.Executable = "../other/pay" }, want: []string{"executable:", "relative"}},
		{name: "backslash executable", change: func(m *Manifest) { m.Executable = `bin\pay.exe` }, want: []string{"executable:", "'/'"}},
		{name: "short sha256", change: func(m *Manifest) { m.SHA256 = "abc" }, want: []string{"sha256:", "64"}},
		{name: "upper-case sha256", change: func(m *Manifest) { m.SHA256 = strings.Repeat("A", 64) }, want: []string{"sha256:"}},
		{name: "setting without key", change: func(m *Manifest) { m.Settings[0].Key = "" }, want: []string{"settings[0]: key is required"}},
		{name: "bad setting key", change: func(m *Manifest) { m.Settings[0].Key = "API-Key" }, want: []string{"settings[0] (API-Key)", "lower-case"}},
		{name: "duplicate key", change: func(m *Manifest) { m.Settings[1].Key = "api_key" }, want: []string{"settings[1] (api_key)", "twice"}},
		{name: "label without en", change: func(m *Manifest) { m.Settings[0].Label.En = "" }, want: []string{"settings[0] (api_key): label needs both ja and en"}},
		{name: "unknown type", change: func(m *Manifest) { m.Settings[0].Type = "password" }, want: []string{`unknown type "password"`}},
		{name: "missing type", change: func(m *Manifest) { m.Settings[0].Type = "" }, want: []string{"type is required"}},
		{name: "choice without choices", change: func(m *Manifest) { m.Settings[1].Choices = nil }, want: []string{"settings[1] (mode): a choice field needs choices"}},
		{name: "choices on a string", change: func(m *Manifest) { m.Settings[0].Choices = m.Settings[1].Choices }, want: []string{"choices are only for type"}},
		{name: "duplicate choice", change: func(m *Manifest) { m.Settings[1].Choices[1].Value = "test" }, want: []string{"choices[1]: value \"test\" is used twice"}},
		{name: "every problem at once", change: func(m *Manifest) { m.ID = ""; m.Version = "x"; m.SHA256 = "" }, want: []string{"id:", "version:", "sha256:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.change(&m)
			err := m.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid manifest refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseRefusesUnknownFieldsAndTrailingData(t *testing.T) {
	for name, data := range map[string]string{
		"unknown field": strings.Replace(goodManifest, `"version"`, `"verison": "1.0.0", "version"`, 1),
		"trailing data": goodManifest + "{}",
		"not json":      "id: stripe",
	} {
		if _, err := Parse([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// writePlugin lays out a plugin directory with an executable holding body and
// a manifest whose sha256 is sum ("" for the body's real sum).
func writePlugin(t *testing.T, body, sum string) string {
	t.Helper()
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "pay")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if sum == "" {
		var err error
		if sum, err = FileSHA256(exe); err != nil {
			t.Fatal(err)
		}
	}
	data := strings.Replace(goodManifest, zeroSum, sum, 1)
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVerify(t *testing.T) {
	t.Run("match", func(t *testing.T) {
		dir := writePlugin(t, "#!/bin/sh\n", "")
		m, err := Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		// sha256 of "#!/bin/sh\n", as sha256sum prints it.
		if want := "a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf"; m.SHA256 != want {
			t.Errorf("sha256 %q, want %q", m.SHA256, want)
		}
		sum, err := m.Checksum()
		if err != nil || len(sum) != 32 {
			t.Errorf("Checksum() = %x, %v", sum, err)
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		dir := writePlugin(t, "#!/bin/sh\n", zeroSum)
		_, err := Verify(dir)
		if !errors.Is(err, ErrChecksumMismatch) {
			t.Fatalf("got %v, want ErrChecksumMismatch", err)
		}
		if !strings.Contains(err.Error(), "jp.example.pay") || !strings.Contains(err.Error(), "bin/pay") {
			t.Errorf("error %q names neither the plugin nor the executable", err)
		}
	})
	t.Run("tampered after writing", func(t *testing.T) {
		dir := writePlugin(t, "#!/bin/sh\n", "")
		if err := os.WriteFile(filepath.Join(dir, "bin", "pay"), []byte("#!/bin/sh\nrm -rf /\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(dir); !errors.Is(err, ErrChecksumMismatch) {
			t.Fatalf("got %v, want ErrChecksumMismatch", err)
		}
	})
	t.Run("missing executable", func(t *testing.T) {
		dir := writePlugin(t, "x", "")
		os.Remove(filepath.Join(dir, "bin", "pay"))
		if _, err := Verify(dir); err == nil || errors.Is(err, ErrChecksumMismatch) {
			t.Fatalf("got %v, want a not-found error", err)
		}
	})
	t.Run("not executable", func(t *testing.T) {
		dir := writePlugin(t, "x", "")
		os.Chmod(filepath.Join(dir, "bin", "pay"), 0o644)
		if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "execute permission") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := writePlugin(t, "x", "")
		exe := filepath.Join(dir, "bin", "pay")
		os.Remove(exe)
		if err := os.Symlink("/bin/sh", exe); err != nil {
			t.Skip(err)
		}
		if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no manifest", func(t *testing.T) {
		if _, err := Verify(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCheckValues(t *testing.T) {
	schema := []Setting{
		{Key: "api_key", Type: TypeSecret, Required: true},
		{Key: "limit", Type: TypeNumber},
		{Key: "live", Type: TypeBool},
		{Key: "mode", Type: TypeChoice, Choices: []Choice{{Value: "a"}, {Value: "b"}}},
	}
	tests := []struct {
		name   string
		values map[string]string
		want   []string // key:code
	}{
		{name: "all good", values: map[string]string{"api_key": "sk", "limit": "2.5", "live": "false", "mode": "b"}},
		{name: "only required", values: map[string]string{"api_key": "sk"}},
		{name: "missing required", values: map[string]string{}, want: []string{"api_key:required"}},
		{name: "empty required", values: map[string]string{"api_key": ""}, want: []string{"api_key:required"}},
		{name: "bad types", values: map[string]string{"api_key": "sk", "limit": "ten", "live": "yes", "mode": "c"},
			want: []string{"limit:not_a_number", "live:not_a_bool", "mode:not_a_choice"}},
		{name: "unknown keys", values: map[string]string{"api_key": "sk", "zz": "1", "aa": "2"}, want: []string{"aa:unknown", "zz:unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range CheckValues(schema, tt.values) {
				got = append(got, p.Key+":"+p.Code)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	ordered := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, err := ParseVersion(ordered[i])
			if err != nil {
				t.Fatal(err)
			}
			b, _ := ParseVersion(ordered[j])
			if got, want := a.Compare(b), cmpInt(i, j); got != want {
				t.Errorf("%s vs %s: got %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	m := Manifest{ID: "p", MinHostVersion: "1.2.0"}
	for host, ok := range map[string]bool{"1.2.0": true, "v1.3.0": true, "1.1.9": false, "dev": true, "7bc8fe5": true} {
		if err := m.HostCompatible(host); (err == nil) != ok {
			t.Errorf("host %s: got %v, want ok=%v", host, err, ok)
		}
	}
}
