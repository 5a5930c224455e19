package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

func groupCommand() *cli.Command {
	return &cli.Command{
		Name:  "group",
		Usage: "manage groups and their members",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create a group", ArgsUsage: "NAME [--description TEXT] [--member NAME ...]",
				Flags: withConn(jsonFlag(),
					&cli.StringFlag{Name: "description", Usage: "`TEXT` describing the group"},
					&cli.StringSliceFlag{Name: "member", Usage: "initial member `NAME` (repeat for several)"},
				),
				Action: func(c *cli.Context) error {
					return entryAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return cl.CreateGroup(ctx, a[0], c.String("description"), nonEmpty(c.StringSlice("member")))
					})
				},
			},
			{
				Name: "get", Usage: "show a group", ArgsUsage: "ID",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return entryAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return cl.GetGroup(ctx, a[0])
					})
				},
			},
			{
				Name: "list", Usage: "list every group",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return listAction(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) ([]apiclient.Entry, error) {
						return cl.ListGroups(ctx)
					})
				},
			},
			{
				Name: "update", Usage: "rename a group or change its description", ArgsUsage: "ID [--name N] [--description T]",
				Flags: withConn(jsonFlag(),
					&cli.StringFlag{Name: "name", Usage: "new `NAME`"},
					&cli.StringFlag{Name: "description", Usage: "new description `TEXT`"},
				),
				Action: func(c *cli.Context) error {
					return entryAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						p, err := patchFromFlags(c)
						if err != nil {
							return nil, err
						}
						return cl.UpdateGroup(ctx, a[0], p)
					})
				},
			},
			{
				Name: "delete", Usage: "delete a group", ArgsUsage: "ID",
				Flags: connFlags(),
				Action: func(c *cli.Context) error {
					return doneAction(c, 1, 1, "deleted", func(ctx context.Context, cl *apiclient.Client, a []string) error {
						return cl.DeleteGroup(ctx, a[0])
					})
				},
			},
			{
				Name: "add-members", Usage: "add direct members (persons, service accounts, groups)", ArgsUsage: "GROUP MEMBER...",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return entryAction(c, 2, -1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return cl.AddMembers(ctx, a[0], a[1:]...)
					})
				},
			},
			{
				Name: "remove-members", Usage: "remove direct members", ArgsUsage: "GROUP MEMBER...",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return entryAction(c, 2, -1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return cl.RemoveMembers(ctx, a[0], a[1:]...)
					})
				},
			},
			{
				Name: "list-members", Usage: "list a group's direct members", ArgsUsage: "GROUP",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return listAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) ([]apiclient.Entry, error) {
						return cl.ListMembers(ctx, a[0])
					})
				},
			},
		},
	}
}
