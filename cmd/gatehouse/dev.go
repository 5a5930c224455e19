package main

import "github.com/urfave/cli/v2"

// owned by: ops helper
func devCommand() *cli.Command { return &cli.Command{Name: "dev"} }
