package main

import "github.com/urfave/cli/v2"

// owned by: core (server wiring)
func serverCommand() *cli.Command         { return &cli.Command{Name: "server"} }
func recoverAccountCommand() *cli.Command { return &cli.Command{Name: "recover-account"} }
