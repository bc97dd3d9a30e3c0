// Package config reads Yoyaku's settings from flags and YOYAKU_* environment
// variables (a flag wins over the variable, the variable over the default)
// and checks them before anything starts, so that a bad value stops the
// program with one clear line instead of a stack trace later.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/yoyaku-oss/yoyaku/modules/platform/dbx"
)

// Config is the process configuration.
type Config struct {
	Addr            string        // YOYAKU_ADDR: listen address
	DataDir         string        // YOYAKU_DATA_DIR: embedded databases, generated secrets
	DB              string        // YOYAKU_DB: sqlite or mysql
	MySQLDSN        string        // YOYAKU_MYSQL_DSN: server DSN (mysql)
	MySQLPrefix     string        // YOYAKU_MYSQL_PREFIX: database name prefix (mysql)
	OperatorToken   string        // YOYAKU_OPERATOR_TOKEN: operator API bearer token
	LogFormat       string        // YOYAKU_LOG_FORMAT: json or text
	LogLevel        string        // YOYAKU_LOG_LEVEL: debug, info, warn, error
	ShutdownTimeout time.Duration // YOYAKU_SHUTDOWN_TIMEOUT: time in-flight requests get to finish
	MaxBodyBytes    int64         // YOYAKU_MAX_BODY_BYTES: request body limit
	BaseURL         string        // YOYAKU_BASE_URL: public URL of this installation (links in mails and setup links)
	SMTPURL         string        // YOYAKU_SMTP_URL: the platform's mail server
	MailFrom        string        // YOYAKU_MAIL_FROM: the platform's sender address

	// Token buckets of the public endpoints (booking API and site), per
	// client address and per tenant, for reads and writes.
	RatePublicAddressRead  Rate // YOYAKU_RATE_PUBLIC_ADDRESS_READ
	RatePublicAddressWrite Rate // YOYAKU_RATE_PUBLIC_ADDRESS_WRITE
	RatePublicTenantRead   Rate // YOYAKU_RATE_PUBLIC_TENANT_READ
	RatePublicTenantWrite  Rate // YOYAKU_RATE_PUBLIC_TENANT_WRITE

	TrustedProxies string // YOYAKU_TRUSTED_PROXIES: comma-separated addresses or CIDRs of reverse proxies

	PluginDir         string        // YOYAKU_PLUGIN_DIR: folder of the installed plugins (empty: none)
	PluginCallTimeout time.Duration // YOYAKU_PLUGIN_CALL_TIMEOUT: deadline of every call to a plugin
}

// Rate is a token bucket setting: PerSecond requests a second on average,
// Burst at once. The zero Rate (written "off") sets no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Var describes one setting for flags, help and the README.
type Var struct {
	Env, Flag, Default, Usage string
}

// Vars lists every setting.
var Vars = []Var{
	{"YOYAKU_ADDR", "addr", "127.0.0.1:8080", "listen address"},
	{"YOYAKU_DATA_DIR", "data-dir", "./data", "embedded databases and generated secrets"},
	{"YOYAKU_DB", "db", "sqlite", "database engine: sqlite or mysql"},
	{"YOYAKU_MYSQL_DSN", "mysql-dsn", "", "MySQL/MariaDB server DSN, e.g. user:pass@tcp(127.0.0.1:3306)/"},
	{"YOYAKU_MYSQL_PREFIX", "mysql-prefix", "yoyaku", "prefix of the databases Yoyaku creates on the MySQL server"},
	{"YOYAKU_OPERATOR_TOKEN", "operator-token", "", "operator API bearer token (generated into the data dir when unset)"},
	{"YOYAKU_LOG_FORMAT", "log-format", "json", "log format: json or text"},
	{"YOYAKU_LOG_LEVEL", "log-level", "info", "log level: debug, info, warn or error"},
	{"YOYAKU_SHUTDOWN_TIMEOUT", "shutdown-timeout", "30s", "how long in-flight requests may take to finish at shutdown"},
	{"YOYAKU_MAX_BODY_BYTES", "max-body-bytes", "1048576", "largest request body accepted"},
	{"YOYAKU_BASE_URL", "base-url", "", "public URL of this installation, e.g. https://yoyaku.example.jp (default http://ADDR)"},
	{"YOYAKU_SMTP_URL", "smtp-url", "", "mail server, e.g. smtp://user:pass@mail.example.jp:587 (empty: mail is not sent)"},
	{"YOYAKU_MAIL_FROM", "mail-from", "", "sender address of the platform's mails, e.g. no-reply@yoyaku.example.jp"},
	{"YOYAKU_RATE_PUBLIC_ADDRESS_READ", "rate-public-address-read", "10:40", "public reads (GET) per client address (IPv6: per /64): RATE:BURST in requests per second, or off"},
	{"YOYAKU_RATE_PUBLIC_ADDRESS_WRITE", "rate-public-address-write", "1:5", "public writes (POST...) per client address (IPv6: per /64): RATE:BURST, or off"},
	{"YOYAKU_RATE_PUBLIC_TENANT_READ", "rate-public-tenant-read", "200:400", "public reads (GET) per tenant: RATE:BURST, or off"},
	{"YOYAKU_RATE_PUBLIC_TENANT_WRITE", "rate-public-tenant-write", "50:100", "public writes (POST...) per tenant: RATE:BURST, or off"},
	{"YOYAKU_TRUSTED_PROXIES", "trusted-proxies", "", "reverse proxies whose X-Forwarded-For gives the client address: comma-separated addresses or CIDRs, e.g. 10.0.0.0/8 (empty: none)"},
	{"YOYAKU_PLUGIN_DIR", "plugin-dir", "./bin/plugins", "folder of the installed plugins, one subfolder with a plugin.json each (empty: no plugins)"},
	{"YOYAKU_PLUGIN_CALL_TIMEOUT", "plugin-call-timeout", "5s", "deadline of every call to a plugin"},
}

// Value returns the value of v from the environment, or its default.
func (v Var) Value(getenv func(string) string) string {
	if s := getenv(v.Env); s != "" {
		return s
	}
	return v.Default
}

// Parse builds a Config from raw values keyed by flag name and checks it.
func Parse(raw map[string]string) (Config, error) {
	c := Config{
		Addr:          raw["addr"],
		DataDir:       raw["data-dir"],
		DB:            raw["db"],
		MySQLDSN:      raw["mysql-dsn"],
		MySQLPrefix:   raw["mysql-prefix"],
		OperatorToken: raw["operator-token"],
		LogFormat:     raw["log-format"],
		LogLevel:      raw["log-level"],
		BaseURL:       strings.TrimRight(raw["base-url"], "/"),
		SMTPURL:       raw["smtp-url"],
		MailFrom:      raw["mail-from"],

		TrustedProxies: raw["trusted-proxies"],
		PluginDir:      raw["plugin-dir"],
	}
	d, err := time.ParseDuration(raw["shutdown-timeout"])
	if err != nil || d <= 0 {
		return c, fmt.Errorf("YOYAKU_SHUTDOWN_TIMEOUT: %q is not a positive duration such as 30s", raw["shutdown-timeout"])
	}
	c.ShutdownTimeout = d
	if d, err = time.ParseDuration(raw["plugin-call-timeout"]); err != nil || d <= 0 {
		return c, fmt.Errorf("YOYAKU_PLUGIN_CALL_TIMEOUT: %q is not a positive duration such as 5s", raw["plugin-call-timeout"])
	}
	c.PluginCallTimeout = d
	// ParseInt, not Sscan: Sscan stops at the first non-digit, so "4096KB"
	// would silently mean 4096 bytes.
	n, err := strconv.ParseInt(raw["max-body-bytes"], 10, 64)
	if err != nil || n < 1024 {
		return c, fmt.Errorf("YOYAKU_MAX_BODY_BYTES: %q is not a byte count of at least 1024", raw["max-body-bytes"])
	}
	c.MaxBodyBytes = n
	for _, r := range []struct {
		env, flag string
		to        *Rate
	}{
		{"YOYAKU_RATE_PUBLIC_ADDRESS_READ", "rate-public-address-read", &c.RatePublicAddressRead},
		{"YOYAKU_RATE_PUBLIC_ADDRESS_WRITE", "rate-public-address-write", &c.RatePublicAddressWrite},
		{"YOYAKU_RATE_PUBLIC_TENANT_READ", "rate-public-tenant-read", &c.RatePublicTenantRead},
		{"YOYAKU_RATE_PUBLIC_TENANT_WRITE", "rate-public-tenant-write", &c.RatePublicTenantWrite},
	} {
		if *r.to, err = ParseRate(raw[r.flag]); err != nil {
			return c, fmt.Errorf("%s: %w", r.env, err)
		}
	}
	return c, c.Check()
}

// ParseRate reads a Rate written RATE:BURST (10:40 is 10 requests a second
// on average, 40 at once; 0.5:5 is one every two seconds) or off.
func ParseRate(s string) (Rate, error) {
	if s == "off" {
		return Rate{}, nil
	}
	bad := fmt.Errorf("%q is not RATE:BURST such as 10:40 (requests per second, then how many at once) or off", s)
	rs, bs, ok := strings.Cut(s, ":")
	if !ok {
		return Rate{}, bad
	}
	r, err := strconv.ParseFloat(rs, 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 || r > 1e6 {
		return Rate{}, bad
	}
	b, err := strconv.Atoi(bs)
	if err != nil || b < 1 || b > 1e6 {
		return Rate{}, bad
	}
	return Rate{PerSecond: r, Burst: b}, nil
}

// Check validates the settings that need no database.
func (c Config) Check() error {
	if _, err := dbx.ParseEngine(c.DB); err != nil {
		return fmt.Errorf("YOYAKU_DB: %w", err)
	}
	if c.DB == string(dbx.MySQL) {
		if c.MySQLDSN == "" {
			return errors.New("YOYAKU_MYSQL_DSN: required when YOYAKU_DB=mysql (e.g. user:pass@tcp(127.0.0.1:3306)/)")
		}
		if _, err := dbx.ParseMySQLDSN(c.MySQLDSN); err != nil {
			return fmt.Errorf("YOYAKU_MYSQL_DSN: %w", err)
		}
		if !dbx.ValidPrefix(c.MySQLPrefix) {
			return fmt.Errorf("YOYAKU_MYSQL_PREFIX: %q must be 1–16 of [a-z0-9_] starting with a letter", c.MySQLPrefix)
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("YOYAKU_ADDR: %q is not host:port", c.Addr)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return fmt.Errorf("YOYAKU_LOG_FORMAT: %q is not json or text", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("YOYAKU_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.DataDir == "" {
		return errors.New("YOYAKU_DATA_DIR: must not be empty")
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("YOYAKU_BASE_URL: %q must start with http:// or https://", c.BaseURL)
	}
	for _, p := range c.TrustedProxyList() {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			return fmt.Errorf("YOYAKU_TRUSTED_PROXIES: %q is not an IP address or a CIDR range such as 10.0.0.0/8", p)
		}
	}
	return nil
}

// TrustedProxyList is TrustedProxies as a list (nil when empty).
func (c Config) TrustedProxyList() []string {
	var out []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// PublicURL is BaseURL, or http://ADDR when none is set.
func (c Config) PublicURL() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return "http://" + c.Addr
}

// KeyFile holds the generated master key in the data dir.
const KeyFile = "master.key"

// MasterKey returns the 32-byte key that encrypts secrets at rest (TOTP
// secrets now, plugin settings later): YOYAKU_MASTER_KEY (base64) when set,
// else the one kept in the data dir, else a new one written there (0600).
func (c Config) MasterKey(getenv func(string) string) ([]byte, error) {
	if v := getenv("YOYAKU_MASTER_KEY"); v != "" {
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, errors.New("YOYAKU_MASTER_KEY: must be 32 bytes, base64-encoded")
		}
		return k, nil
	}
	path := filepath.Join(c.DataDir, KeyFile)
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("master key file %s is damaged", path)
		}
		return k, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", unwrapPath(err))
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return c.MasterKey(getenv) // another process wrote it meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("write master key: %w", unwrapPath(err))
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, nil
}

// Location returns where the databases live.
func (c Config) Location() dbx.Location {
	return dbx.Location{Engine: dbx.Engine(c.DB), DataDir: c.DataDir, MySQLDSN: c.MySQLDSN, Prefix: c.MySQLPrefix}
}

// PrepareDataDir creates the data dir (mode 0700) and proves it writable.
func (c Config) PrepareDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("YOYAKU_DATA_DIR: cannot create %s: %w", c.DataDir, unwrapPath(err))
	}
	f, err := os.CreateTemp(c.DataDir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("YOYAKU_DATA_DIR: %s is not writable: %w", c.DataDir, unwrapPath(err))
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// TokenFile is where a generated operator token is kept in the data dir.
const TokenFile = "operator-token"

// Operator returns the operator token: YOYAKU_OPERATOR_TOKEN when set, else
// the one kept in the data dir, else a new one written there with mode 0600
// (generated reports that, so the caller prints it once).
func (c Config) Operator() (token, path string, generated bool, err error) {
	if c.OperatorToken != "" {
		if len(c.OperatorToken) < 16 {
			return "", "", false, errors.New("YOYAKU_OPERATOR_TOKEN: use at least 16 characters")
		}
		return c.OperatorToken, "", false, nil
	}
	path = filepath.Join(c.DataDir, TokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if len(t) < 16 {
			return "", path, false, fmt.Errorf("operator token file %s is too short; delete it to generate a new one", path)
		}
		return t, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", path, false, fmt.Errorf("read operator token: %w", unwrapPath(err))
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", path, false, err
	}
	token = "yop_" + base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", path, false, fmt.Errorf("write operator token: %w", unwrapPath(err))
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		_ = f.Close()
		return "", path, false, err
	}
	if err := f.Close(); err != nil {
		return "", path, false, err
	}
	return token, path, true, nil
}
