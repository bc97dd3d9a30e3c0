package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

func newMigrateCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	var only string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending migrations to the control database and every tenant database",
		Long: "Apply pending migrations to the control database and to every tenant database " +
			"(or one, with --tenant). Migrating twice changes nothing.",
		Args: cobra.NoArgs,
		RunE: withApp(load, migrateNow, func(cmd *cobra.Command, a *app, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "control database: up to date")
			report := func(t tenants.Tenant, applied []string, err error) {
				switch {
				case err != nil:
					fmt.Fprintf(out, "tenant %s: FAILED: %v\n", t.Slug, err)
				case len(applied) == 0:
					fmt.Fprintf(out, "tenant %s: up to date\n", t.Slug)
				default:
					fmt.Fprintf(out, "tenant %s: applied %s\n", t.Slug, strings.Join(applied, ", "))
				}
			}
			if only != "" {
				t, err := a.tenants.Get(ctx, only)
				if err != nil {
					return fmt.Errorf("tenant %s: %w", only, err)
				}
				if t.Status == tenants.StatusTerminated {
					return fmt.Errorf("tenant %s is terminated: it has no database", only)
				}
				applied, err := a.reg.Migrate(ctx, t.DB)
				report(t, applied, err)
				return err
			}
			return a.tenants.MigrateAll(ctx, report)
		}),
	}
	cmd.Flags().StringVar(&only, "tenant", "", "migrate only this tenant (slug)")
	return cmd
}
