package main

import "github.com/urfave/cli/v2"

// Stub: the owner of this file replaces it.
func pwBadlistCommand() *cli.Command {
	return &cli.Command{Name: "pw-badlist", Usage: "the password badlist"}
}
