package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// kerberosCommand is `gatehouse person kerberos ...`: which Kerberos
// principals log in as a person through SPNEGO.
func kerberosCommand() *cli.Command {
	return &cli.Command{
		Name:  "kerberos",
		Usage: "the Kerberos principals (name@REALM) that log in as a person",
		Subcommands: []*cli.Command{
			{
				Name: "add-principal", Usage: "map a Kerberos principal to a person", ArgsUsage: "NAME PRINCIPAL",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return entryAction(c, 2, 2, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return cl.AddKerberosPrincipal(ctx, a[0], a[1])
					})
				},
			},
			{
				Name: "remove-principal", Usage: "remove a Kerberos principal from a person", ArgsUsage: "NAME PRINCIPAL",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return entryAction(c, 2, 2, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return cl.RemoveKerberosPrincipal(ctx, a[0], a[1])
					})
				},
			},
		},
	}
}
