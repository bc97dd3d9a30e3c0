// Package integrations is the plugin host: it discovers the plugins installed
// in the plugin directory by their plugin.json, refuses any whose executable
// does not match its manifest, starts the others with go-plugin (checksum,
// AutoMTLS, no inherited environment, start timeout), health-checks them,
// restarts a crashed one with bounded backoff and gives up on one that keeps
// crashing. Every call gets a deadline, and a call to a plugin that is down
// answers at once with ErrUnavailable (503 plugin_unavailable): a plugin can
// never take the booking service down.
//
// It also keeps each tenant's enablement and settings of the plugins (the
// tenant database's plugin_settings; secret values sealed with AES-GCM under
// a key derived from the platform master key) and hands the rest of the core
// capability clients bound to a tenant, whose calls carry that tenant's
// decrypted settings.
//
// This is the only core module that imports the sdk; the rest of the core
// declares ports and cmd/yoyaku wires them to what this package offers.
package integrations

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yoyaku-oss/yoyaku/modules/platform/apperr"
	"github.com/yoyaku-oss/yoyaku/sdk"
)

// State is where a plugin is in its life.
type State string

// The states of a plugin.
const (
	StateStarting   State = "starting"   // verified, its process is being started
	StateRunning    State = "running"    // started, Info agrees, health checks pass
	StateRestarting State = "restarting" // crashed or unhealthy, waiting to start again
	StateFailed     State = "failed"     // crashed too often: not started again until the host restarts
	StateRefused    State = "refused"    // invalid manifest, wrong sha256, too old a host, Info disagrees: never started
	StateStopped    State = "stopped"    // not running in this process (before Run, after shutdown)
)

// States lists every state, for metrics.
func States() []State {
	return []State{StateStarting, StateRunning, StateRestarting, StateFailed, StateRefused, StateStopped}
}

// Errors of the host, as the HTTP edge shows them.
var (
	// ErrUnavailable: the plugin is not running (or does not answer in
	// time); nothing was done, retrying later is safe. It wraps
	// sdk.ErrUnavailable.
	ErrUnavailable = apperr.Wrap(apperr.KindUnavailable, "plugin_unavailable", sdk.ErrUnavailable)
	// ErrNotFound: no plugin with that id is installed.
	ErrNotFound = apperr.New(apperr.KindNotFound, "plugin_not_found")
	// ErrRefused: the plugin is installed but refused (see its reason), so
	// it cannot be enabled.
	ErrRefused = apperr.New(apperr.KindConflict, "plugin_refused")
	// ErrNotEnabled: the tenant has not enabled a plugin offering the
	// capability.
	ErrNotEnabled = apperr.New(apperr.KindConflict, "plugin_not_enabled")
	// ErrFailed: the plugin answered with a failure (a bug, a panic, a
	// downstream error it could not classify).
	ErrFailed = apperr.New(apperr.KindDownstream, "plugin_failed")
)

// errNoPlugins is the status check's answer when nothing is installed.
var errNoPlugins = errors.New("no plugin is installed")

// Config configures the host. Zero durations take the defaults named.
type Config struct {
	// Dir is the plugin directory (YOYAKU_PLUGIN_DIR): every subdirectory
	// holding a plugin.json is a plugin.
	Dir string
	// HostVersion is this Yoyaku's version, checked against each
	// manifest's min_host_version (a development build runs everything).
	HostVersion string
	// SecretKey (32 bytes, the platform master key) seals secret settings
	// at rest; a key per purpose is derived from it.
	SecretKey []byte
	Logger    *slog.Logger
	// Registerer receives the host's metrics; nil registers none.
	Registerer prometheus.Registerer

	StartTimeout   time.Duration // a plugin's start and handshake (10 s)
	CallTimeout    time.Duration // every call's deadline (5 s)
	HealthInterval time.Duration // between health checks (10 s)
	ExitPoll       time.Duration // how often an exited process is noticed (250 ms)
	BackoffMin     time.Duration // first restart delay (1 s)
	BackoffMax     time.Duration // longest restart delay (60 s)
	// MaxCrashes within CrashWindow mark a plugin failed (5 in 5 min); a
	// plugin that stays up for StableAfter (1 min) starts counting afresh.
	MaxCrashes  int
	CrashWindow time.Duration
	StableAfter time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.StartTimeout, 10*time.Second)
	def(&c.CallTimeout, 5*time.Second)
	def(&c.HealthInterval, 10*time.Second)
	def(&c.ExitPoll, 250*time.Millisecond)
	def(&c.BackoffMin, time.Second)
	def(&c.BackoffMax, 60*time.Second)
	def(&c.CrashWindow, 5*time.Minute)
	def(&c.StableAfter, time.Minute)
	if c.MaxCrashes <= 0 {
		c.MaxCrashes = 5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Status is a plugin as the operator sees it.
type Status struct {
	ID           string
	Name         sdk.Text
	Version      string
	Capabilities []string
	State        State
	Since        time.Time // when it entered State
	Restarts     int       // restarts since the host started
	LastError    string    // why it was refused, failed or last restarted; no secrets
	Dir          string    // its folder
	PID          int       // its process while running, else 0
}
