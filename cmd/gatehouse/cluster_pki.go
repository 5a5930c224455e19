package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/ops/pki"
)

// clusterPKICommands are `gatehouse cluster init` and `gatehouse cluster cert`:
// the offline steps that make a cluster's CA and keys and each node's certificate.
func clusterPKICommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "init",
			Usage:     "create the cluster CA, gossip key, encryption key and cluster id in DIR",
			ArgsUsage: "DIR",
			Description: "Writes DIR/ca.pem, DIR/ca.key, DIR/gossip.key, DIR/encryption.key and DIR/cluster-id.\n" +
				"Refuses to overwrite an existing CA. Keep ca.key and encryption.key secret and backed up:\n" +
				"without encryption.key the sealed secrets in the Raft log cannot be read.",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return cli.Exit("usage: gatehouse cluster init DIR", 2)
				}
				dir := c.Args().First()
				if err := pki.Init(dir); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "cluster credentials written to %s\n", dir)
				fmt.Fprintf(c.App.Writer, "next: gatehouse cluster cert --ca-dir %s --node-id n1 --host localhost --out-cert n1.pem --out-key n1.key\n", dir)
				return nil
			},
		},
		{
			Name:  "cert",
			Usage: "issue a node certificate signed by the cluster CA",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "ca-dir", Usage: "folder written by `cluster init`", Required: true},
				&cli.StringFlag{Name: "node-id", Usage: "node id; becomes the certificate's common name", Required: true},
				&cli.StringSliceFlag{Name: "host", Usage: "DNS name or IP address the node is reached at (repeatable)"},
				&cli.IntFlag{Name: "days", Value: 365, Usage: "validity in days"},
				&cli.StringFlag{Name: "out-cert", Usage: "certificate file to write (PEM)", Required: true},
				&cli.StringFlag{Name: "out-key", Usage: "private key file to write (PEM, mode 0600)", Required: true},
			},
			Action: func(c *cli.Context) error {
				if c.Int("days") <= 0 {
					return cli.Exit("--days must be positive", 2)
				}
				hosts := c.StringSlice("host")
				if len(hosts) == 0 {
					return cli.Exit("at least one --host is required: clients verify the node's name", 2)
				}
				validity := time.Duration(c.Int("days")) * 24 * time.Hour
				if err := pki.IssueNodeCert(c.String("ca-dir"), c.String("node-id"), hosts, validity,
					c.String("out-cert"), c.String("out-key")); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "certificate for %s written to %s (key %s), CA %s\n", c.String("node-id"),
					c.String("out-cert"), c.String("out-key"), filepath.Join(c.String("ca-dir"), pki.CAFile))
				return nil
			},
		},
	}
}
