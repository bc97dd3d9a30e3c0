package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// defaults returns the raw values Parse gets when nothing is set.
func defaults() map[string]string {
	raw := map[string]string{}
	for _, v := range Vars {
		raw[v.Flag] = v.Default
	}
	return raw
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(defaults())
	if err != nil {
		t.Fatalf("Parse(defaults) = %v", err)
	}
	want := Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./data",
		DB:              "sqlite",
		MySQLPrefix:     "yoyaku",
		LogFormat:       "json",
		LogLevel:        "info",
		ShutdownTimeout: 30 * time.Second,
		MaxBodyBytes:    1 << 20,

		RatePublicAddressRead:  Rate{PerSecond: 10, Burst: 40},
		RatePublicAddressWrite: Rate{PerSecond: 1, Burst: 5},
		RatePublicTenantRead:   Rate{PerSecond: 200, Burst: 400},
		RatePublicTenantWrite:  Rate{PerSecond: 50, Burst: 100},

		PluginDir:         "./bin/plugins",
		PluginCallTimeout: 5 * time.Second,
	}
	if c != want {
		t.Errorf("Parse(defaults) =\n %+v\nwant\n %+v", c, want)
	}
}

func TestVarValue(t *testing.T) {
	env := map[string]string{"YOYAKU_ADDR": ":9090"}
	getenv := func(k string) string { return env[k] }
	for _, v := range Vars {
		got := v.Value(getenv)
		want := v.Default
		if v.Env == "YOYAKU_ADDR" {
			want = ":9090"
		}
		if got != want {
			t.Errorf("%s.Value = %q, want %q", v.Env, got, want)
		}
	}
}

func TestParseGoodValues(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
	}{
		{"mysql with DSN", map[string]string{"db": "mysql", "mysql-dsn": "user:pass@tcp(127.0.0.1:3306)/"}},
		{"text log, debug", map[string]string{"log-format": "text", "log-level": "debug"}},
		{"any interface", map[string]string{"addr": ":8080"}},
		{"ipv6", map[string]string{"addr": "[::1]:8080"}},
		{"smallest body limit", map[string]string{"max-body-bytes": "1024"}},
		{"minutes", map[string]string{"shutdown-timeout": "2m"}},
		{"rate limit off", map[string]string{"rate-public-address-read": "off", "rate-public-tenant-write": "off"}},
		{"fractional rate", map[string]string{"rate-public-address-write": "0.5:3"}},
		{"trusted proxies", map[string]string{"trusted-proxies": "10.0.0.0/8, 192.0.2.7,2001:db8::/32"}},
		{"no plugins", map[string]string{"plugin-dir": ""}},
		{"plugin dir and timeout", map[string]string{"plugin-dir": "/opt/yoyaku/plugins", "plugin-call-timeout": "1500ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := defaults()
			for k, v := range tt.set {
				raw[k] = v
			}
			if _, err := Parse(raw); err != nil {
				t.Errorf("Parse = %v, want nil", err)
			}
		})
	}
}

func TestParseBadValues(t *testing.T) {
	const dsn = "user:s3cr3tpw@tcp(127.0.0.1:3306)/"
	tests := []struct {
		name    string
		set     map[string]string
		wantVar string
	}{
		{"unknown engine", map[string]string{"db": "postgres"}, "YOYAKU_DB"},
		{"empty engine", map[string]string{"db": ""}, "YOYAKU_DB"},
		{"mysql without DSN", map[string]string{"db": "mysql"}, "YOYAKU_MYSQL_DSN"},
		{"malformed DSN", map[string]string{"db": "mysql", "mysql-dsn": "user:s3cr3tpw@tcp(127.0.0.1:3306"}, "YOYAKU_MYSQL_DSN"},
		{"DSN without slash", map[string]string{"db": "mysql", "mysql-dsn": "nope"}, "YOYAKU_MYSQL_DSN"},
		{"bad prefix", map[string]string{"db": "mysql", "mysql-dsn": dsn, "mysql-prefix": "Bad-Prefix"}, "YOYAKU_MYSQL_PREFIX"},
		{"prefix too long", map[string]string{"db": "mysql", "mysql-dsn": dsn, "mysql-prefix": "abcdefghijklmnopq"}, "YOYAKU_MYSQL_PREFIX"},
		{"addr without port", map[string]string{"addr": "nope"}, "YOYAKU_ADDR"},
		{"log format", map[string]string{"log-format": "xml"}, "YOYAKU_LOG_FORMAT"},
		{"log level", map[string]string{"log-level": "verbose"}, "YOYAKU_LOG_LEVEL"},
		{"shutdown timeout word", map[string]string{"shutdown-timeout": "soon"}, "YOYAKU_SHUTDOWN_TIMEOUT"},
		{"shutdown timeout unitless", map[string]string{"shutdown-timeout": "30"}, "YOYAKU_SHUTDOWN_TIMEOUT"},
		{"shutdown timeout negative", map[string]string{"shutdown-timeout": "-1s"}, "YOYAKU_SHUTDOWN_TIMEOUT"},
		{"shutdown timeout zero", map[string]string{"shutdown-timeout": "0s"}, "YOYAKU_SHUTDOWN_TIMEOUT"},
		{"body limit too small", map[string]string{"max-body-bytes": "12"}, "YOYAKU_MAX_BODY_BYTES"},
		{"body limit word", map[string]string{"max-body-bytes": "lots"}, "YOYAKU_MAX_BODY_BYTES"},
		{"body limit negative", map[string]string{"max-body-bytes": "-2048"}, "YOYAKU_MAX_BODY_BYTES"},
		// A unit is not understood; it must not be silently dropped.
		{"body limit with unit", map[string]string{"max-body-bytes": "4096KB"}, "YOYAKU_MAX_BODY_BYTES"},
		{"body limit two numbers", map[string]string{"max-body-bytes": "2048 4096"}, "YOYAKU_MAX_BODY_BYTES"},
		{"empty data dir", map[string]string{"data-dir": ""}, "YOYAKU_DATA_DIR"},
		{"rate without burst", map[string]string{"rate-public-address-read": "10"}, "YOYAKU_RATE_PUBLIC_ADDRESS_READ"},
		{"rate word", map[string]string{"rate-public-address-write": "fast:5"}, "YOYAKU_RATE_PUBLIC_ADDRESS_WRITE"},
		{"rate zero", map[string]string{"rate-public-tenant-read": "0:5"}, "YOYAKU_RATE_PUBLIC_TENANT_READ"},
		{"rate negative", map[string]string{"rate-public-tenant-write": "-1:5"}, "YOYAKU_RATE_PUBLIC_TENANT_WRITE"},
		{"rate burst zero", map[string]string{"rate-public-address-read": "10:0"}, "YOYAKU_RATE_PUBLIC_ADDRESS_READ"},
		{"rate burst fraction", map[string]string{"rate-public-address-read": "10:4.5"}, "YOYAKU_RATE_PUBLIC_ADDRESS_READ"},
		{"rate NaN", map[string]string{"rate-public-address-read": "NaN:5"}, "YOYAKU_RATE_PUBLIC_ADDRESS_READ"},
		{"rate empty", map[string]string{"rate-public-address-read": ""}, "YOYAKU_RATE_PUBLIC_ADDRESS_READ"},
		{"trusted proxy name", map[string]string{"trusted-proxies": "10.0.0.0/8,lb.internal"}, "YOYAKU_TRUSTED_PROXIES"},
		{"trusted proxy bad CIDR", map[string]string{"trusted-proxies": "10.0.0.0/33"}, "YOYAKU_TRUSTED_PROXIES"},
		{"plugin call timeout word", map[string]string{"plugin-call-timeout": "soon"}, "YOYAKU_PLUGIN_CALL_TIMEOUT"},
		{"plugin call timeout zero", map[string]string{"plugin-call-timeout": "0s"}, "YOYAKU_PLUGIN_CALL_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := defaults()
			for k, v := range tt.set {
				raw[k] = v
			}
			_, err := Parse(raw)
			if err == nil {
				t.Fatalf("Parse = nil, want an error naming %s", tt.wantVar)
			}
			if !strings.HasPrefix(err.Error(), tt.wantVar+":") {
				t.Errorf("error %q does not start with %q", err, tt.wantVar+":")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
			if strings.Contains(err.Error(), "s3cr3tpw") {
				t.Errorf("error %q shows the DSN's password", err)
			}
		})
	}
}

func TestPrepareDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	c := Config{DataDir: dir}
	if err := c.PrepareDataDir(); err != nil {
		t.Fatalf("PrepareDataDir = %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		t.Fatalf("data dir not created: %v", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("data dir mode %o, want no group/other access", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("write check left %v behind (%v)", entries, err)
	}
	// Idempotent.
	if err := c.PrepareDataDir(); err != nil {
		t.Fatalf("second PrepareDataDir = %v", err)
	}
}

func TestPrepareDataDirUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(file, "sub"), file} {
		err := Config{DataDir: dir}.PrepareDataDir()
		if err == nil {
			t.Fatalf("PrepareDataDir(%s) = nil, want an error", dir)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "YOYAKU_DATA_DIR:") || !strings.Contains(msg, dir) || strings.Contains(msg, "\n") {
			t.Errorf("PrepareDataDir(%s) = %q, want one line naming YOYAKU_DATA_DIR and the path", dir, msg)
		}
	}
}

func TestOperatorGenerated(t *testing.T) {
	c := Config{DataDir: t.TempDir()}
	tok, path, generated, err := c.Operator()
	if err != nil {
		t.Fatalf("Operator = %v", err)
	}
	if !generated {
		t.Error("first call: generated = false, want true")
	}
	if !strings.HasPrefix(tok, "yop_") || len(tok) < 40 {
		t.Errorf("token %q: want prefix yop_ and at least 40 characters", tok)
	}
	if path != filepath.Join(c.DataDir, TokenFile) {
		t.Errorf("path %q, want %q", path, filepath.Join(c.DataDir, TokenFile))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("token file mode %o, want 600", perm)
	}

	tok2, path2, generated2, err := c.Operator()
	if err != nil {
		t.Fatalf("second Operator = %v", err)
	}
	if tok2 != tok || path2 != path || generated2 {
		t.Errorf("second call = (%q, %q, %v), want (%q, %q, false)", tok2, path2, generated2, tok, path)
	}

	other, _, _, err := Config{DataDir: t.TempDir()}.Operator()
	if err != nil {
		t.Fatal(err)
	}
	if other == tok {
		t.Error("two data dirs generated the same token")
	}
}

func TestOperatorFromSetting(t *testing.T) {
	dir := t.TempDir()
	const set = "a-very-long-operator-token"
	tok, path, generated, err := Config{DataDir: dir, OperatorToken: set}.Operator()
	if err != nil || tok != set || path != "" || generated {
		t.Errorf("Operator = (%q, %q, %v, %v), want (%q, \"\", false, nil)", tok, path, generated, err, set)
	}
	if _, err := os.Stat(filepath.Join(dir, TokenFile)); !os.IsNotExist(err) {
		t.Errorf("a set token still wrote a token file (stat: %v)", err)
	}

	// The setting wins over a token file already in the data dir.
	if _, _, _, err := (Config{DataDir: dir}).Operator(); err != nil {
		t.Fatal(err)
	}
	if tok, _, _, _ := (Config{DataDir: dir, OperatorToken: set}).Operator(); tok != set {
		t.Errorf("Operator = %q, want the setting %q over the file", tok, set)
	}

	_, _, _, err = Config{DataDir: dir, OperatorToken: "short-token-15c"}.Operator()
	if err == nil || !strings.HasPrefix(err.Error(), "YOYAKU_OPERATOR_TOKEN:") {
		t.Errorf("15-character token: err = %v, want one naming YOYAKU_OPERATOR_TOKEN", err)
	}
	if _, _, _, err := (Config{DataDir: dir, OperatorToken: "exactly-16-chars"}).Operator(); err != nil {
		t.Errorf("16-character token: %v", err)
	}
}

func TestOperatorTokenFileTooShort(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, TokenFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := (Config{DataDir: dir}).Operator(); err == nil {
		t.Error("a too-short token file was accepted")
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
	}{
		{"10:40", Rate{PerSecond: 10, Burst: 40}},
		{"0.5:5", Rate{PerSecond: 0.5, Burst: 5}},
		{"off", Rate{}},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}
