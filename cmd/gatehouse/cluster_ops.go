package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// clusterOpsCommands are the online cluster operations. Each runs on (or
// next to) a server node: it reads that node's configuration and talks to
// the node's cluster RPC over mutual TLS with the node's own certificate.
func clusterOpsCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:        "bootstrap",
			Usage:       "make a new single-node cluster of this node (others then join it)",
			Description: "Use once, on one node, when not using bootstrap_expect. Refused if the node already has Raft state.",
			Flags:       opsFlags(),
			Action: opsAction(func(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
				if err := cl.Bootstrap(ctx); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, "bootstrapped a single-node cluster; join the other nodes to it")
				return nil
			}),
		},
		{
			Name:      "join",
			Usage:     "ask this node to join the cluster that the member at ADDR belongs to",
			ArgsUsage: "ADDR",
			Description: "ADDR is the cluster address (host:port of [cluster] listen/advertise) of any member.\n" +
				"The node enters as a non-voter and is promoted to voter once it has caught up.",
			Flags: opsFlags(),
			Action: opsAction(func(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
				if c.NArg() != 1 {
					return cli.Exit("usage: gatehouse cluster join ADDR", 2)
				}
				if err := cl.Join(ctx, c.Args().First()); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, "join requested; see `gatehouse cluster status` for promotion to voter")
				return nil
			}),
		},
		{
			Name:        "leave",
			Usage:       "remove this node from the cluster for good (stopping a node is not leaving)",
			Description: "Hands over leadership if this node leads, removes it from the Raft configuration and leaves gossip.",
			Flags:       opsFlags(),
			Action: opsAction(func(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
				if err := cl.Leave(ctx); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, "left the cluster; the node can now be stopped")
				return nil
			}),
		},
		{
			Name:        "remove",
			Usage:       "remove node NODE (usually a dead one) from the Raft configuration",
			ArgsUsage:   "NODE",
			Description: "Dead voters are never removed automatically, because that would shrink the quorum; this does it.",
			Flags:       opsFlags(),
			Action: opsAction(func(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
				if c.NArg() != 1 {
					return cli.Exit("usage: gatehouse cluster remove NODE", 2)
				}
				if err := cl.Remove(ctx, c.Args().First()); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "removed %s from the cluster\n", c.Args().First())
				return nil
			}),
		},
		{
			Name:  "status",
			Usage: "show this node's view of the cluster: state, leader, indexes and members",
			Flags: append(opsFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}),
			Action: opsAction(func(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
				st, err := cl.Status(ctx)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c.App.Writer, st)
				}
				return printClusterStatus(c.App.Writer, st)
			}),
		},
		{
			Name:  "snapshot",
			Usage: "online backup and restore of the whole cluster state",
			Subcommands: []*cli.Command{
				{
					Name:      "save",
					Usage:     "write a snapshot of the cluster state to FILE",
					ArgsUsage: "FILE",
					Flags:     opsFlags(),
					Action:    opsActionNoTimeout(snapshotSave),
				},
				{
					Name:        "restore",
					Usage:       "replace the whole cluster state with the snapshot in FILE",
					ArgsUsage:   "FILE",
					Description: "Every node's state is replaced; writes made after the snapshot are lost.",
					Flags:       opsFlags(),
					Action:      opsActionNoTimeout(snapshotRestore),
				},
			},
		},
		{
			Name:        "profile",
			Usage:       "record a CPU profile of the node for N seconds into FILE (for go tool pprof)",
			ArgsUsage:   "FILE",
			Description: "The profile comes over the cluster channel, with the node's certificate; the API never serves it.",
			Flags:       append(opsFlags(), &cli.IntFlag{Name: "seconds", Value: 10, Usage: "how long to record"}),
			Action:      opsActionNoTimeout(profileNode),
		},
	}
}

func profileNode(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: gatehouse cluster profile --config FILE [--seconds N] FILE", 2)
	}
	url := fmt.Sprintf("https://%s/debug/pprof/profile?seconds=%d", cl.Addr, c.Int("seconds"))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", cl.Addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("profile %s: HTTP %d: %s", cl.Addr, resp.StatusCode, b)
	}
	f, err := os.Create(c.Args().First())
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s; read it with: go tool pprof %s\n", c.Args().First(), c.Args().First())
	return nil
}

func opsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"GATEHOUSE_CONFIG"}, Usage: "the node's configuration file (TOML)", Required: true},
		&cli.StringFlag{Name: "addr", Usage: "cluster address of the node to talk to (default: advertise, else listen, from the config)"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up after this long"},
	}
}

type opsFunc func(ctx context.Context, c *cli.Context, cl *cluster.Client) error

func opsAction(f opsFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
		defer cancel()
		return runOps(ctx, c, f)
	}
}

// opsActionNoTimeout is for streams whose length depends on the data.
func opsActionNoTimeout(f opsFunc) cli.ActionFunc {
	return func(c *cli.Context) error { return runOps(c.Context, c, f) }
}

func runOps(ctx context.Context, c *cli.Context, f opsFunc) error {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return err
	}
	cert, ca, err := cluster.LoadTLS(cfg.Cluster)
	if err != nil {
		return err
	}
	addr := c.String("addr")
	if addr == "" {
		if addr, err = localClusterAddr(cfg.Cluster); err != nil {
			return err
		}
	}
	return f(ctx, c, &cluster.Client{HTTP: cluster.NewRPCClient(cert, ca), Addr: addr})
}

// localClusterAddr is where the node's cluster RPC can be reached from
// this machine. A wildcard listen address becomes loopback.
func localClusterAddr(c config.ClusterConfig) (string, error) {
	if c.Advertise != "" {
		return c.Advertise, nil
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "", fmt.Errorf("cluster listen address %q: %w", c.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

func printClusterStatus(w io.Writer, st cluster.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	leader := st.LeaderID
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(tw, "node\t%s\ncluster\t%s\nstate\t%s\nleader\t%s\t%s\nterm\t%d\n", st.NodeID, st.ClusterID, st.State, leader, st.LeaderAPI, st.Term)
	fmt.Fprintf(tw, "index\tlast %d\tcommit %d\tapplied %d\n", st.LastIndex, st.CommitIndex, st.AppliedIndex)
	if st.LastContact != "" {
		fmt.Fprintf(tw, "last contact\t%.3fs ago\n", st.LastContactSeconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCLUSTER ADDR\tAPI\tSUFFRAGE\tGOSSIP\tLEADER")
	for _, m := range st.Members {
		mark := ""
		if m.Leader {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.RaftAddr, m.APIAddr, m.Suffrage, m.Gossip, mark)
	}
	return tw.Flush()
}

func snapshotSave(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: gatehouse cluster snapshot save FILE", 2)
	}
	path := c.Args().First()
	rc, size, err := cl.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	// Write beside the target and rename, so FILE is never half a snapshot.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return fmt.Errorf("snapshot save: %w", err)
	}
	defer os.Remove(tmp.Name())
	bar := pb.Full.Start64(max(size, 0)).SetWriter(c.App.ErrWriter)
	n, err := io.Copy(tmp, bar.NewProxyReader(rc))
	bar.Finish()
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("stream ended after %d of %d bytes", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot save: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("snapshot save: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "snapshot written to %s (%d bytes)\n", path, n)
	return nil
}

func snapshotRestore(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: gatehouse cluster snapshot restore FILE", 2)
	}
	f, err := os.Open(c.Args().First())
	if err != nil {
		return fmt.Errorf("snapshot restore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("snapshot restore: %w", err)
	}
	bar := pb.Full.Start64(fi.Size()).SetWriter(c.App.ErrWriter)
	err = cl.Restore(ctx, bar.NewProxyReader(f), fi.Size())
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "cluster state restored")
	return nil
}
