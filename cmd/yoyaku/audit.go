package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/auditlog"
	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

func newAuditCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check a tenant's operation log"}
	var slug string
	verify := &cobra.Command{
		Use:   "verify --tenant SLUG",
		Short: "Verify the hash chain of a tenant's operation log; name the first entry that breaks it",
		Args:  cobra.NoArgs,
		RunE: withApp(load, refuseBehind, func(cmd *cobra.Command, a *app, _ []string) error {
			ctx := cmd.Context()
			var rep auditlog.Report
			err := a.inTenant(ctx, slug, func(_ tenants.Tenant, db bun.IDB) error {
				var err error
				rep, err = auditlog.Verify(ctx, db)
				return err
			})
			if err != nil {
				return err
			}
			if !rep.OK() {
				return fmt.Errorf("operation log of %s is BROKEN at entry %d: %s (entries %d–%d verified before it)",
					slug, rep.BrokenSeq, rep.Reason, rep.FirstSeq, rep.BrokenSeq-1)
			}
			if rep.Checked == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "operation log of %s: empty, nothing to verify\n", slug)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "operation log of %s: intact, %d entries (%d–%d) verified\n", slug, rep.Checked, rep.FirstSeq, rep.LastSeq)
			return nil
		}),
	}
	verify.Flags().StringVar(&slug, "tenant", "", "tenant slug")
	_ = verify.MarkFlagRequired("tenant")
	cmd.AddCommand(verify)
	return cmd
}
