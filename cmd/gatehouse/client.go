package main

import "github.com/urfave/cli/v2"

// owned by: client helper (login, logout, person, group, service-account, system)
func clientCommands() []*cli.Command { return nil }
