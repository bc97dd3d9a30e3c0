// Command yoyaku is the Yoyaku reservation service: one binary that serves
// the booking sites, consoles and APIs of every tenant, and the operator's
// tools (migrate, tenant, version). It is also the composition root: the only
// place that wires the modules together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	// Time zones must resolve the same on every machine, with or without
	// the system's zoneinfo.
	_ "time/tzdata"

	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
)

// Set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run executes the CLI and returns the exit code. Errors are one line on
// stderr, never a stack trace.
// Cancelling ctx stops `serve` as SIGTERM does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRoot(stdout, stderr, getenv)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
		fmt.Fprintln(stderr, "yoyaku: "+msg)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:           "yoyaku",
		Short:         "Yoyaku: multi-tenant reservation management",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	for _, v := range config.Vars {
		root.PersistentFlags().String(v.Flag, v.Value(getenv), v.Usage+" ($"+v.Env+")")
	}
	load := func(cmd *cobra.Command) (config.Config, error) {
		raw := map[string]string{}
		cmd.Flags().VisitAll(func(f *pflag.Flag) { raw[f.Name] = f.Value.String() })
		return config.Parse(raw)
	}
	root.AddCommand(
		newServeCmd(load),
		newMigrateCmd(load),
		newTenantCmd(load),
		newAuditCmd(load),
		newAPIKeyCmd(load),
		newNoticeCmd(load),
		newPluginCmd(load),
		newVersionCmd(),
	)
	return root
}

// withApp is the RunE of a command that works on the databases: it loads
// the configuration, opens the app (refusing databases behind the binary
// unless mode migrates), runs fn and closes the app.
func withApp(load func(*cobra.Command) (config.Config, error), mode migrationMode,
	fn func(cmd *cobra.Command, a *app, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := load(cmd)
		if err != nil {
			return err
		}
		logs := io.Discard
		if mode == migrateNow {
			logs = cmd.ErrOrStderr()
		}
		a, err := openApp(cmd.Context(), cfg, newLogger(cfg, logs), mode)
		if err != nil {
			return err
		}
		defer a.Close()
		return fn(cmd, a, args)
	}
}
