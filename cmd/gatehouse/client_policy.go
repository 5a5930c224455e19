package main

import "github.com/urfave/cli/v2"

// Stub: the owner of this file replaces it.
func accountPolicyCommand() *cli.Command {
	return &cli.Command{Name: "account-policy", Usage: "account policy of a group"}
}
