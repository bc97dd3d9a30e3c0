package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"github.com/yoyaku-oss/yoyaku/modules/identity"
	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

func newAPIKeyCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Create tenant API keys"}
	var slug, role, name string
	create := &cobra.Command{
		Use:   "create --tenant SLUG --role ROLE [--name NAME]",
		Short: "Create an API key for a tenant; the key is printed once and stored only as a hash",
		Args:  cobra.NoArgs,
		RunE: withApp(load, refuseBehind, func(cmd *cobra.Command, a *app, _ []string) error {
			ctx := cmd.Context()
			// The key and its role commit together: an unknown role leaves
			// no key behind.
			var key string
			var k identity.APIKey
			err := a.inTenant(ctx, slug, func(t tenants.Tenant, db bun.IDB) error {
				err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					var err error
					if key, k, err = a.apiKeys.CreateAPIKey(ctx, tx, t.ID, identity.Principal{}, name, role); err != nil {
						return err
					}
					return a.assignKeyRole(ctx, tx, t, k)
				})
				return describe(err)
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "API key %q for %s with role %s (shown once; only its hash is stored):\n%s\n", k.Name, slug, k.Role, key)
			return nil
		}),
	}
	create.Flags().StringVar(&slug, "tenant", "", "tenant slug")
	create.Flags().StringVar(&role, "role", "", "role the key acts with (owner, admin, staff, viewer or a custom role)")
	create.Flags().StringVar(&name, "name", "CLI", "a name to recognise the key by")
	_ = create.MarkFlagRequired("tenant")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}
