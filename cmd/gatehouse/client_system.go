package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

func systemCommand() *cli.Command {
	names := func(lo, hi int, call func(context.Context, *apiclient.Client, []string) ([]string, error)) cli.ActionFunc {
		return func(c *cli.Context) error {
			out, _, err := callAPI(c, lo, hi, call)
			if err != nil {
				return err
			}
			return printNames(c.App.Writer, out, c.Bool("json"))
		}
	}
	return &cli.Command{
		Name:  "system",
		Usage: "cluster-wide identity settings",
		Subcommands: []*cli.Command{{
			Name:  "denied-names",
			Usage: "names that no person, group or service account may take",
			Subcommands: []*cli.Command{
				{
					Name: "show", Usage: "print the denied names",
					Flags: withConn(jsonFlag()),
					Action: names(0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) ([]string, error) {
						return cl.DeniedNames(ctx)
					}),
				},
				{
					Name: "append", Usage: "add names to the list", ArgsUsage: "NAME...",
					Flags: withConn(jsonFlag()),
					Action: names(1, -1, func(ctx context.Context, cl *apiclient.Client, a []string) ([]string, error) {
						return cl.AppendDeniedNames(ctx, a...)
					}),
				},
				{
					Name: "remove", Usage: "remove names from the list", ArgsUsage: "NAME...",
					Flags: withConn(jsonFlag()),
					Action: names(1, -1, func(ctx context.Context, cl *apiclient.Client, a []string) ([]string, error) {
						return cl.RemoveDeniedNames(ctx, a...)
					}),
				},
			},
		}},
	}
}
