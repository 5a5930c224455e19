package main

import "github.com/urfave/cli/v2"

// Stub: the owner of this file replaces it.
func credentialCommand(k accountKind) *cli.Command {
	return &cli.Command{Name: "credential", Usage: "manage the credentials of a " + k.noun}
}
