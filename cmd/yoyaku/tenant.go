package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
	"github.com/yoyaku-oss/yoyaku/modules/tenants"
)

func newTenantCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Create, list, show, suspend and resume tenants"}
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	withApp := func(fn func(cmd *cobra.Command, a *app, args []string) error) func(*cobra.Command, []string) error {
		return withApp(load, refuseBehind, fn)
	}
	show := func(cmd *cobra.Command, t tenants.Tenant) error {
		if asJSON {
			return printJSON(cmd.OutOrStdout(), tenants.ToView(t))
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
		fmt.Fprintf(w, "slug\t%s\nname\t%s\nstatus\t%s\ntime zone\t%s\nlocale\t%s\ncontacts\t%s\noptions\t%s\nid\t%s\ncreated\t%s\n",
			t.Slug, t.Name, t.Status, t.TimeZone, t.Locale, strings.Join(t.ContactEmails, ", "),
			strings.Join(t.Options, ", "), t.ID, t.CreatedAt.Format(time.RFC3339))
		return w.Flush()
	}

	var p tenants.CreateParams
	create := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create a tenant and provision its database",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(func(cmd *cobra.Command, a *app, args []string) error {
			p.Slug = args[0]
			c, err := a.tenants.CreateTenant(cmd.Context(), p)
			if err != nil {
				return describe(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					tenants.View
					OwnerSetupURL string `json:"owner_setup_url,omitempty"`
				}{tenants.ToView(c.Tenant), c.OwnerSetupURL})
			}
			if err := show(cmd, c.Tenant); err != nil {
				return err
			}
			if c.OwnerSetupURL != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "owner setup link (valid 24 hours, single use):\n%s\n", c.OwnerSetupURL)
			}
			return nil
		}),
	}
	create.Flags().StringVar(&p.Name, "name", "", "display name (required)")
	create.Flags().StringVar(&p.TimeZone, "time-zone", tenants.DefaultTimeZone, "IANA time zone")
	create.Flags().StringVar(&p.Locale, "locale", tenants.DefaultLocale, "ja or en")
	create.Flags().StringSliceVar(&p.ContactEmails, "contact-email", nil, "contact e-mail address (repeatable)")
	create.Flags().StringVar(&p.OwnerEmail, "owner-email", "", "e-mail of the tenant's owner; prints a one-time setup link")
	create.Flags().StringSliceVar(&p.Options, "option", nil, "enabled option (repeatable): "+strings.Join(tenants.Options, ", "))

	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: withApp(func(cmd *cobra.Command, a *app, _ []string) error {
			var all []tenants.Tenant
			after := ""
			for {
				page, err := a.tenants.List(cmd.Context(), tenants.ListParams{Status: tenants.Status(status), After: after, Limit: 1000})
				if err != nil {
					return describe(err)
				}
				all = append(all, page...)
				if len(page) < 1000 {
					break
				}
				after = page[len(page)-1].Slug
			}
			if asJSON {
				out := make([]tenants.View, 0, len(all))
				for _, t := range all {
					out = append(out, tenants.ToView(t))
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(w, "SLUG\tSTATUS\tNAME\tTIME ZONE\tLOCALE")
			for _, t := range all {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Slug, t.Status, t.Name, t.TimeZone, t.Locale)
			}
			return w.Flush()
		}),
	}
	list.Flags().StringVar(&status, "status", "", "active, suspended, terminated or all (default: active and suspended)")

	showCmd := &cobra.Command{
		Use:   "show SLUG",
		Short: "Show a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(func(cmd *cobra.Command, a *app, args []string) error {
			t, err := a.tenants.Get(cmd.Context(), args[0])
			if err != nil {
				return describe(err)
			}
			return show(cmd, t)
		}),
	}
	setStatus := func(use, short string, to tenants.Status) *cobra.Command {
		return &cobra.Command{
			Use:   use + " SLUG",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: withApp(func(cmd *cobra.Command, a *app, args []string) error {
				t, err := a.tenants.Update(cmd.Context(), args[0], tenants.UpdateParams{Status: &to})
				if err != nil {
					return describe(err)
				}
				return show(cmd, t)
			}),
		}
	}
	cmd.AddCommand(create, list, showCmd,
		setStatus("suspend", "Suspend a tenant: its site and API answer \"suspended\"", tenants.StatusSuspended),
		setStatus("resume", "Resume a suspended tenant", tenants.StatusActive),
	)
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
