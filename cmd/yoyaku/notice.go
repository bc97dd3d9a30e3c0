package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/yoyaku-oss/yoyaku/modules/notices"
	"github.com/yoyaku-oss/yoyaku/modules/platform/config"
)

func newNoticeCmd(load func(*cobra.Command) (config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "notice", Short: "Post, list and withdraw operator notices to tenants"}
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	withApp := func(fn func(cmd *cobra.Command, a *app, args []string) error) func(*cobra.Command, []string) error {
		return withApp(load, refuseBehind, fn)
	}
	show := func(cmd *cobra.Command, n notices.Notice) error {
		if asJSON {
			return printJSON(cmd.OutOrStdout(), notices.ToView(n, time.Now()))
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
		tenants := "all"
		if !n.ForAll() {
			tenants = strings.Join(n.Tenants, ", ")
		}
		ends := "-"
		if !n.EndsAt.IsZero() {
			ends = n.EndsAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "id\t%s\nkind\t%s\nstate\t%s\ntitle\t%s\nstarts\t%s\nends\t%s\ntenants\t%s\nurgent\t%t\n",
			n.ID, n.Kind, n.State(time.Now()), n.Title, n.StartsAt.Format(time.RFC3339), ends, tenants, n.Urgent)
		if err := w.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "\n%s\n", n.Body)
		return err
	}

	var p notices.CreateParams
	var kind, bodyFile string
	create := &cobra.Command{
		Use:   "create",
		Short: "Post a notice to every tenant or to chosen ones",
		Long: "Post a notice. Maintenance needs --starts-at and --ends-at at least 14 days ahead, end_of_service\n" +
			"--starts-at at least 30 days ahead, unless --urgent. Instants are RFC 3339 (2026-12-20T01:00:00+09:00).",
		Args: cobra.NoArgs,
		RunE: withApp(func(cmd *cobra.Command, a *app, _ []string) error {
			p.Kind = notices.Kind(kind)
			if bodyFile != "" {
				var b []byte
				var err error
				if bodyFile == "-" {
					b, err = io.ReadAll(cmd.InOrStdin())
				} else {
					b, err = os.ReadFile(bodyFile)
				}
				if err != nil {
					return err
				}
				p.Body = string(b)
			}
			n, err := a.notices.Create(cmd.Context(), p)
			if err != nil {
				return describe(err)
			}
			return show(cmd, n)
		}),
	}
	create.Flags().StringVar(&kind, "kind", "", "info, maintenance, incident or end_of_service (required)")
	create.Flags().StringVar(&p.Title, "title", "", "title (required)")
	create.Flags().StringVar(&p.Body, "body", "", "body text")
	create.Flags().StringVar(&bodyFile, "body-file", "", "read the body from a file (- for stdin)")
	create.Flags().StringVar(&p.StartsAt, "starts-at", "", "start, RFC 3339 (default now for info and incident)")
	create.Flags().StringVar(&p.EndsAt, "ends-at", "", "end, RFC 3339 (required for maintenance)")
	create.Flags().StringArrayVar(&p.Tenants, "tenant", nil, "tenant slug (repeatable; default: every tenant)")
	create.Flags().BoolVar(&p.Urgent, "urgent", false, "allow less notice than 14 days (maintenance) or 30 days (end_of_service)")

	var state string
	list := &cobra.Command{
		Use:   "list",
		Short: "List notices, newest first",
		Args:  cobra.NoArgs,
		RunE: withApp(func(cmd *cobra.Command, a *app, _ []string) error {
			var all []notices.Notice
			after := ""
			for {
				page, err := a.notices.List(cmd.Context(), notices.ListParams{State: notices.State(state), After: after, Limit: 1000})
				if err != nil {
					return describe(err)
				}
				all = append(all, page...)
				if len(page) < 1000 {
					break
				}
				after = page[len(page)-1].ID
			}
			now := time.Now()
			if asJSON {
				out := make([]notices.View, 0, len(all))
				for _, n := range all {
					out = append(out, notices.ToView(n, now))
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tKIND\tSTATE\tSTARTS\tTENANTS\tTITLE")
			for _, n := range all {
				tenants := "all"
				if !n.ForAll() {
					tenants = strings.Join(n.Tenants, ",")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Kind, n.State(now), n.StartsAt.Format(time.RFC3339), tenants, n.Title)
			}
			return w.Flush()
		}),
	}
	list.Flags().StringVar(&state, "state", "", "upcoming, active, ended or withdrawn (default: all)")

	showCmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a notice",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(func(cmd *cobra.Command, a *app, args []string) error {
			n, err := a.notices.Get(cmd.Context(), args[0])
			if err != nil {
				return describe(err)
			}
			return show(cmd, n)
		}),
	}
	withdraw := &cobra.Command{
		Use:   "withdraw ID",
		Short: "Withdraw a notice from every console and the status page",
		Args:  cobra.ExactArgs(1),
		RunE: withApp(func(cmd *cobra.Command, a *app, args []string) error {
			n, err := a.notices.Withdraw(cmd.Context(), args[0])
			if err != nil {
				return describe(err)
			}
			return show(cmd, n)
		}),
	}
	cmd.AddCommand(create, list, showCmd, withdraw)
	return cmd
}
