package main

import "github.com/urfave/cli/v2"

// owned by: cluster helper (bootstrap, join, leave, remove, status, snapshot)
func clusterOpsCommands() []*cli.Command { return nil }
