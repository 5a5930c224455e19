// Command gatehouse is the one binary: the server, the cluster commands and
// the admin client.
package main

import (
	"fmt"
	"os"
	"strings"

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
	if err := app.Run(flagsFirst(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:        "cluster",
		Usage:       "create cluster credentials and operate the Raft cluster",
		Subcommands: concat(clusterPKICommands(), clusterOpsCommands(), []*cli.Command{rotateEncryptionKeyCommand()}),
	}
}

func concat[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// flagsFirst lets flags follow arguments on any command
// ("gatehouse cluster join ADDR --config F"): urfave/cli v2 stops reading
// flags at the first argument, so the leaf command's flags are moved in
// front of its arguments. Everything after "--" stays as it is.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	var leaf *cli.Command
	i := 1
	for ; i < len(args); i++ {
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		out = append(out, args[i])
		leaf, cmds = next, next.Subcommands
	}
	if leaf == nil {
		return args
	}
	var flags, positional []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := lookupFlag(leaf.Flags, name)
		if _, isBool := f.(*cli.BoolFlag); f != nil && !isBool && !hasVal && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(out, flags...), positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
