package integrations

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/yoyaku-oss/yoyaku/sdk"
	sdkhost "github.com/yoyaku-oss/yoyaku/sdk/host"
	"github.com/yoyaku-oss/yoyaku/sdk/manifest"
)

// Host discovers, supervises and calls the plugins, and keeps the tenants'
// plugin settings.
type Host struct {
	cfg     Config
	sealer  sealer
	metrics *metrics

	mu      sync.Mutex
	plugins map[string]*supervised // by id; refused folders by folder name
	order   []string
	running bool
	wg      sync.WaitGroup
}

// New returns a host for cfg and discovers the plugins (without starting
// any): a plugin whose manifest is invalid, whose executable does not match
// its sha256 or that needs a newer host is refused, with the reason logged
// and shown in Plugins. A missing plugin directory means no plugins.
func New(cfg Config) (*Host, error) {
	cfg.defaults()
	s, err := newSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, sealer: s, plugins: map[string]*supervised{}}
	h.metrics = newMetrics(h)
	if cfg.Registerer != nil {
		if err := h.Register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	if err := h.discover(); err != nil {
		return nil, err
	}
	return h, nil
}

// discover reads the plugin directory.
func (h *Host) discover() error {
	if h.cfg.Dir == "" {
		return nil
	}
	entries, err := os.ReadDir(h.cfg.Dir)
	if errors.Is(err, os.ErrNotExist) {
		h.cfg.Logger.Debug("no plugin directory", "dir", h.cfg.Dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("YOYAKU_PLUGIN_DIR: %w", err)
	}
	now := h.cfg.Now()
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(h.cfg.Dir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, manifest.FileName)); err != nil {
			continue // not a plugin
		}
		p := &supervised{h: h, dir: dir, state: StateStopped, since: now}
		m, err := manifest.Verify(dir)
		if err == nil {
			err = m.HostCompatible(h.cfg.HostVersion)
		}
		if m.ID == "" {
			// An invalid manifest: the folder names it.
			if lm, lerr := manifest.Load(dir); lerr == nil {
				m = lm
			}
		}
		p.m = m
		p.id = m.ID
		if p.id == "" {
			p.id = e.Name()
		}
		if err == nil {
			if _, dup := h.plugins[p.id]; dup {
				err = fmt.Errorf("plugin %s is installed twice (also in %s)", p.id, h.plugins[p.id].dir)
			}
		}
		if err != nil {
			p.state, p.lastErr = StateRefused, err.Error()
			h.cfg.Logger.Error("plugin refused", "plugin_id", p.id, "dir", dir, "err", err)
			if _, dup := h.plugins[p.id]; dup {
				p.id = p.id + "@" + e.Name()
			}
		} else {
			h.cfg.Logger.Info("plugin found", "plugin_id", p.id, "version", m.Version, "dir", dir)
		}
		h.plugins[p.id] = p
		h.order = append(h.order, p.id)
		h.metrics.setState(p.id, p.state)
	}
	sort.Strings(h.order)
	return nil
}

// Run starts every verified plugin and supervises them until ctx ends, then
// stops them all and returns. It is called once, by serve.
func (h *Host) Run(ctx context.Context) {
	h.mu.Lock()
	if h.running {
		h.mu.Unlock()
		return
	}
	h.running = true
	for _, id := range h.order {
		p := h.plugins[id]
		if p.snapshot().State == StateRefused {
			continue
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			p.supervise(ctx)
		}()
	}
	h.mu.Unlock()
	<-ctx.Done()
	h.wg.Wait()
}

// Plugins returns every installed plugin's status, by id.
func (h *Host) Plugins() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Status, 0, len(h.order))
	for _, id := range h.order {
		out = append(out, h.plugins[id].snapshot())
	}
	return out
}

// Plugin returns one installed plugin's status.
func (h *Host) Plugin(id string) (Status, error) {
	p, err := h.get(id)
	if err != nil {
		return Status{}, err
	}
	return p.snapshot(), nil
}

func (h *Host) get(id string) (*supervised, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plugins[id]
	if !ok {
		return nil, ErrNotFound
	}
	return p, nil
}

// Installed reports how many plugins are installed (refused ones too).
func (h *Host) Installed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.order)
}

// Check is the status page's plugins check: it fails when an installed
// plugin is refused, failed or restarting, and when none is installed
// (register it only when Installed() > 0, so that an installation without
// plugins shows the component as unknown).
func (h *Host) Check(context.Context) error {
	var bad []string
	list := h.Plugins()
	if len(list) == 0 {
		return errNoPlugins
	}
	for _, s := range list {
		switch s.State {
		case StateRefused, StateFailed, StateRestarting:
			bad = append(bad, s.ID+" "+string(s.State))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("plugins not running: %v", bad)
	}
	return nil
}

// supervised is one plugin and its supervisor's state.
type supervised struct {
	h   *Host
	id  string
	dir string
	m   manifest.Manifest

	mu       sync.Mutex
	state    State
	since    time.Time
	restarts int
	lastErr  string
	pc       *goplugin.Client
	conn     *sdkhost.Client
}

func (p *supervised) snapshot() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{ID: p.id, Name: p.m.Name, Version: p.m.Version, Capabilities: slices.Clone(p.m.Capabilities),
		State: p.state, Since: p.since, Restarts: p.restarts, LastError: p.lastErr, Dir: p.dir}
	if p.pc != nil && p.state == StateRunning {
		if rc := p.pc.ReattachConfig(); rc != nil {
			s.PID = rc.Pid
		}
	}
	return s
}

func (p *supervised) setState(s State, reason string) {
	p.mu.Lock()
	if p.state != s {
		p.state, p.since = s, p.h.cfg.Now()
	}
	if reason != "" {
		p.lastErr = reason
	}
	p.mu.Unlock()
	p.h.metrics.setState(p.id, s)
}

// client returns the connection of a running plugin, or ErrUnavailable at
// once.
func (p *supervised) client() (*sdkhost.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != StateRunning || p.conn == nil {
		return nil, ErrUnavailable.WithArgs(map[string]any{"Plugin": p.id})
	}
	return p.conn, nil
}

// errRefused marks a start failure that must not be retried.
type errRefused struct{ error }

// supervise starts the plugin, watches it and restarts it until ctx ends or
// it has crashed too often.
func (p *supervised) supervise(ctx context.Context) {
	cfg := p.h.cfg
	log := cfg.Logger.With("plugin_id", p.id)
	backoff := cfg.BackoffMin
	var crashes []time.Time
	for {
		p.setState(StateStarting, "")
		up := cfg.Now()
		reason := p.runOnce(ctx)
		if ctx.Err() != nil {
			p.setState(StateStopped, "")
			log.Info("plugin stopped")
			return
		}
		var refused errRefused
		if errors.As(reason, &refused) {
			p.setState(StateRefused, reason.Error())
			log.Error("plugin refused", "err", reason)
			return
		}
		now := cfg.Now()
		if now.Sub(up) >= cfg.StableAfter {
			crashes, backoff = nil, cfg.BackoffMin
		}
		crashes = append(crashes, now)
		crashes = slices.DeleteFunc(crashes, func(t time.Time) bool { return now.Sub(t) > cfg.CrashWindow })
		if len(crashes) >= cfg.MaxCrashes {
			p.setState(StateFailed, reason.Error())
			log.Error("plugin failed: crashed too often, not restarted", "crashes", len(crashes), "window", cfg.CrashWindow.String(), "err", reason)
			return
		}
		p.setState(StateRestarting, reason.Error())
		log.Warn("plugin down, restarting", "err", reason, "in", backoff.String())
		select {
		case <-ctx.Done():
			p.setState(StateStopped, "")
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, cfg.BackoffMax)
		p.mu.Lock()
		p.restarts++
		p.mu.Unlock()
		p.h.metrics.restarts.WithLabelValues(p.id).Inc()
	}
}

// runOnce starts the process, checks it and watches it; it returns why it
// stopped (always non-nil), having killed the process.
func (p *supervised) runOnce(ctx context.Context) error {
	cfg := p.h.cfg
	// The executable is checked again right before it starts: go-plugin's
	// SecureConfig checks it too, but a clear reason helps the operator.
	if _, err := manifest.Verify(p.dir); err != nil {
		return errRefused{err}
	}
	sum, err := p.m.Checksum()
	if err != nil {
		return errRefused{err}
	}
	cmd := exec.Command(p.m.ExecutablePath(p.dir))
	cmd.Dir = p.dir
	cmd.Env = []string{} // nothing of the host's environment (secrets!) reaches the plugin
	pcfg := sdkhost.ClientConfig(cmd)
	pcfg.SecureConfig = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	pcfg.StartTimeout = cfg.StartTimeout
	pcfg.SkipHostEnv = true
	pcfg.Logger = newHCLogger(cfg.Logger.With("plugin_id", p.id), "plugin")
	pc := goplugin.NewClient(pcfg)
	defer pc.Kill()

	openCtx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	conn, err := sdkhost.Open(openCtx, pc)
	cancel()
	if err != nil {
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return errRefused{err}
		}
		return fmt.Errorf("starting: %w", err)
	}
	if err := sdkhost.CheckInfo(p.m, conn.Info()); err != nil {
		return errRefused{err}
	}
	if err := p.health(ctx, conn); err != nil {
		return err
	}
	p.mu.Lock()
	p.pc, p.conn = pc, conn
	p.mu.Unlock()
	p.setState(StateRunning, "")
	cfg.Logger.Info("plugin running", "plugin_id", p.id, "version", p.m.Version)
	defer func() {
		p.mu.Lock()
		p.pc, p.conn = nil, nil
		p.mu.Unlock()
	}()

	health := time.NewTicker(cfg.HealthInterval)
	defer health.Stop()
	exit := time.NewTicker(cfg.ExitPoll)
	defer exit.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exit.C:
			if pc.Exited() {
				return errors.New("the plugin process exited")
			}
		case <-health.C:
			if err := p.health(ctx, conn); err != nil {
				return err
			}
		}
	}
}

// health asks the plugin how it is, within the call deadline.
func (p *supervised) health(ctx context.Context, c *sdkhost.Client) error {
	ctx, cancel := context.WithTimeout(ctx, p.h.cfg.CallTimeout)
	defer cancel()
	hs, err := c.Health(ctx, sdk.Call{})
	switch {
	case err != nil:
		return fmt.Errorf("health check: %w", err)
	case hs.Status == sdk.HealthDown:
		return fmt.Errorf("health check: the plugin says it is down: %s", hs.Message)
	}
	return nil
}
