package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/integrations"
	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/reservations"
)

// pluginHostConfig is the plugin host's configuration from cfg.
func pluginHostConfig(cfg config.Config) integrations.Config {
	return integrations.Config{Dir: cfg.PluginDir, HostVersion: version, CallTimeout: cfg.PluginCallTimeout}
}

// wirePlugins discovers the installed plugins (nothing is started: serve
// runs them); key seals the tenants' secret plugin settings.
func (a *app) wirePlugins(key []byte) error {
	hc := pluginHostConfig(a.cfg)
	hc.SecretKey, hc.Logger = key, a.log
	h, err := integrations.New(hc)
	if err != nil {
		return err
	}
	a.plugins = h
	// Reservation events reach the crm plugins each tenant enabled. Only an
	// installation with a crm plugin subscribes, so that one without
	// records no deliveries nobody takes.
	if h.HasCapability(integrations.CapabilityCRM) {
		for _, et := range crmEventTypes() {
			a.subs.Subscribe("crm", et, h.CRMHandler())
		}
	}
	return nil
}

// crmEventTypes are the events the crm plugins receive: the reservations'
// changes of state (not their timers: reminders, payment and hold due).
// members records no registration or withdrawal events yet.
func crmEventTypes() []string {
	return []string{reservations.EventCreated, reservations.EventConfirmed, reservations.EventRejected,
		reservations.EventCancelled, reservations.EventChanged, reservations.EventCompleted, reservations.EventNoShow}
}

// registerPlugins adds the plugin routes and metrics.
func (a *app) registerPlugins(prom prometheus.Registerer, platform, tenantAPI, admin *gin.RouterGroup,
	apiNeed integrations.Guard, console *identity.Console) error {
	if err := a.plugins.Register(prom); err != nil {
		return err
	}
	x := integrations.NewHTTP(a.plugins, apiNeed, integrations.ConsoleShell{
		Page: console.Page, CSRF: console.CSRF, Fail: console.FailPage, Need: console.Need,
	}, a.authz)
	x.RegisterOperator(platform)
	x.RegisterAPI(tenantAPI)
	x.RegisterConsole(admin)
	return nil
}

// runPlugins starts the plugins and supervises them until ctx ends; the
// returned function waits until they have all stopped.
func (a *app) runPlugins(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.plugins.Run(ctx)
	}()
	return func() { <-done }
}

func newPluginCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Inspect the installed plugins"}
	var asJSON bool
	var server string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the plugins of YOYAKU_PLUGIN_DIR: verified or refused (with the reason); with --server, their state in the running server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			var out []integrations.StatusJSON
			if server != "" {
				if out, err = serverPlugins(cmd.Context(), cfg, server); err != nil {
					return err
				}
			} else {
				h, err := integrations.New(pluginHostConfig(cfg))
				if err != nil {
					return err
				}
				for _, s := range h.Plugins() {
					out = append(out, integrations.StatusView(s))
				}
			}
			if asJSON {
				if out == nil {
					out = []integrations.StatusJSON{}
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			if len(out) == 0 {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "no plugins in %s\n", cfg.PluginDir)
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tVERSION\tCAPABILITIES\tSTATE\tSINCE\tRESTARTS\tLAST ERROR")
			for _, s := range out {
				state := string(s.State)
				if server == "" && s.State == integrations.StateStopped {
					state = "stopped (verified)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Version, strings.Join(s.Capabilities, ","), state, s.Since, s.Restarts, oneLine(s.LastError))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().StringVar(&server, "server", "", "base URL of a running server to ask (e.g. http://127.0.0.1:8080), with the operator token")
	cmd.AddCommand(list)
	return cmd
}

// serverPlugins asks a running server's operator API for its plugins.
func serverPlugins(ctx context.Context, cfg config.Config, base string) ([]integrations.StatusJSON, error) {
	token, _, _, err := cfg.Operator()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/platform/plugins", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/api/v1/platform/plugins: %s", base, res.Status)
	}
	var body struct {
		Plugins []integrations.StatusJSON `json:"plugins"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Plugins, nil
}

func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}
