package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/platform/httpx"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

// demoSlug is the tenant `serve --demo` makes sure exists.
const demoSlug = "demo"

func newServeCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	var migrate, demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the booking sites, consoles and APIs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cmd, cfg, migrate, demo)
		},
	}
	cmd.Flags().BoolVar(&migrate, "migrate", false, "apply pending migrations (control and tenants) before serving")
	cmd.Flags().BoolVar(&demo, "demo", false, "make sure the demo tenant exists")
	return cmd
}

func serve(ctx context.Context, cmd *cobra.Command, cfg config.Config, migrate, demo bool) error {
	out := cmd.OutOrStdout()
	log := newLogger(cfg, cmd.ErrOrStderr())
	mode := refuseBehind
	if migrate {
		mode = migrateNow
	}
	a, err := openApp(ctx, cfg, log, mode)
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Close(); err != nil {
			log.Error("closing databases", "err", err)
		}
	}()
	if migrate {
		if err := a.tenants.MigrateAll(ctx, nil); err != nil {
			return err
		}
	}
	if n, err := a.tenants.RecoverProvisioning(ctx, 10*time.Minute); err != nil {
		return fmt.Errorf("recovering half-provisioned tenants: %w", err)
	} else if n > 0 {
		log.Warn("removed half-provisioned tenants", "count", n)
	}
	var demoPW string
	if demo {
		if demoPW, err = ensureDemo(ctx, a); err != nil {
			return err
		}
	}
	token, tokenPath, generated, err := cfg.Operator()
	if err != nil {
		return err
	}
	h, err := a.handler(token)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, errors.Unwrap(err))
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "Yoyaku %s serving on %s (%s, data in %s)\n", versionString(), base, cfg.DB, cfg.DataDir)
	if demo {
		fmt.Fprintf(out, "  booking site (demo):  %s/t/%s/\n", base, demoSlug)
		fmt.Fprintf(out, "  public API (demo):    %s/api/v1/public/%s\n", base, demoSlug)
		fmt.Fprintf(out, "  console (demo):       %s/t/%s/admin/\n", base, demoSlug)
		if demoPW != "" {
			fmt.Fprintf(out, "  demo owner login:     %s / %s\n", demoOwner, demoPW)
		}
	}
	fmt.Fprintf(out, "  operator API:         %s/api/v1/platform/tenants\n", base)
	switch {
	case generated:
		fmt.Fprintf(out, "  operator token:       %s (shown once; kept in %s)\n", token, tokenPath)
	case tokenPath != "":
		fmt.Fprintf(out, "  operator token:       in %s\n", tokenPath)
	default:
		fmt.Fprintln(out, "  operator token:       from YOYAKU_OPERATOR_TOKEN")
	}
	fmt.Fprintf(out, "  status page:          %s/status\n", base)
	fmt.Fprintf(out, "  health:               %s/healthz  %s/readyz  %s/metrics\n", base, base, base)
	log.Info("serving", "addr", ln.Addr().String(), "db", cfg.DB, "version", versionString())
	upkeepCtx, stopUpkeep := context.WithCancel(ctx)
	defer stopUpkeep()
	go a.upkeepLoop(upkeepCtx)
	go a.noticeLoops(upkeepCtx, base)
	// The outbox dispatcher delivers mails (and later webhooks and plugin
	// calls); it finishes its in-flight deliveries before the databases close.
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		if err := a.outbox.Run(upkeepCtx); err != nil {
			log.Error("outbox dispatcher", "err", err)
		}
	}()
	defer func() { stopUpkeep(); <-dispatched }()
	// The plugins are started and supervised until shutdown, then stopped.
	waitPlugins := a.runPlugins(upkeepCtx)
	defer func() { stopUpkeep(); waitPlugins() }()
	err = httpx.Serve(ctx, httpx.Server(cfg.Addr, h), ln, cfg.ShutdownTimeout, log)
	log.Info("stopped")
	return err
}

// Demo owner account made by `serve --demo`.
const (
	demoOwner     = "owner@demo.example.jp"
	demoOwnerFile = "demo-owner-password"
)

// ensureDemo creates the demo tenant, with an owner whose password is set
// and kept in the data dir (0600) so every run can print it; when the
// tenant exists, nothing changes. It returns the owner's password.
func ensureDemo(ctx context.Context, a *app) (string, error) {
	pwFile := filepath.Join(a.cfg.DataDir, demoOwnerFile)
	_, err := a.tenants.Get(ctx, demoSlug)
	if err == nil {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return "", nil // made before owners existed, or the file was removed
		}
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, tenants.ErrNotFound) {
		return "", err
	}
	c, err := a.tenants.CreateTenant(ctx, tenants.CreateParams{
		Slug:          demoSlug,
		Name:          "Yoyaku デモ店",
		ContactEmails: []string{demoOwner},
		Options:       []string{"api", "audit_log"},
		OwnerEmail:    demoOwner,
	})
	if errors.Is(err, tenants.ErrSlugTaken) {
		return "", nil // another process made it meanwhile
	}
	if err != nil {
		return "", err
	}
	password := demoPassword()
	h, err := a.reg.Acquire(ctx, c.DB)
	if err != nil {
		return "", err
	}
	defer h.Release()
	db, _ := h.DB(ctx)
	token := c.OwnerSetupURL[strings.LastIndex(c.OwnerSetupURL, "/")+1:]
	if _, err := a.staff.RedeemSetup(ctx, db, token, password, demoSlug); err != nil {
		return "", err
	}
	zone, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return "", err
	}
	if err := a.seedDemo(ctx, db, time.Now(), zone); err != nil {
		return "", err
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	return password, nil
}

// demoPassword is a random passphrase of four words and a number: long,
// not common, easy to type.
func demoPassword() string {
	words := []string{"sakura", "momiji", "fuji", "kumo", "umi", "yama", "hoshi", "tsuki", "kaze", "hana", "mori", "kawa", "sora", "yuki", "niji", "tori"}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	var parts []string
	for _, x := range b[:4] {
		parts = append(parts, words[int(x)%len(words)])
	}
	return strings.Join(parts, "-") + "-" + fmt.Sprint(100+int(b[4]))
}
