package main

import "github.com/urfave/cli/v2"

// owned by: ops helper (cluster init, cluster cert)
func clusterPKICommands() []*cli.Command { return nil }
