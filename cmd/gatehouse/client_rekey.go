package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// rotateEncryptionKeyCommand is `gatehouse cluster rotate-encryption-key`.
func rotateEncryptionKeyCommand() *cli.Command {
	return &cli.Command{
		Name:  "rotate-encryption-key",
		Usage: "move the cluster to a new encryption key and re-seal every secret under it, without downtime",
		Description: "Every node must be up: each learns the new key, then seals with it; the leader re-seals every " +
			"secret in the state; then each node drops the old key. Each node's key file (cluster.encryption_key) is " +
			"rewritten in place; copy the new file to any node you add later. Needs a read-write session of system_admins.",
		Flags: withConn(jsonFlag()),
		Action: func(c *cli.Context) error {
			rep, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) (*apiclient.RekeyReport, error) {
				return cl.RotateEncryptionKey(ctx)
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, rep)
			}
			fmt.Fprintf(c.App.Writer, "new encryption key %s on %d nodes; %d of %d sealed values re-sealed in %d round(s)\n",
				rep.KeyID, rep.Nodes, rep.Reseal.Replaced, rep.Reseal.Values, rep.Reseal.Rounds)
			if rep.Retired {
				fmt.Fprintln(c.App.Writer, "the old key is gone from every node")
			}
			if rep.Warning != "" {
				fmt.Fprintln(c.App.ErrWriter, "warning:", rep.Warning)
			}
			return nil
		},
	}
}
