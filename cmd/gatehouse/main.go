// Command gatehouse is the one binary: the server, the cluster commands and
// the admin client.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:                 "gatehouse",
		Usage:                "identity management replicated through Raft",
		EnableBashCompletion: true,
		Commands: concat(
			[]*cli.Command{serverCommand(), devCommand(), recoverAccountCommand(), clusterCommand()},
			clientCommands(),
		),
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:        "cluster",
		Usage:       "create cluster credentials and operate the Raft cluster",
		Subcommands: concat(clusterPKICommands(), clusterOpsCommands()),
	}
}

func concat[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
