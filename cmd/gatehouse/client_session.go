package main

import "github.com/urfave/cli/v2"

func reauthCommand() *cli.Command {
	return &cli.Command{Name: "reauth", Usage: "re-authenticate to make the session read-write"}
}

func sessionCommand() *cli.Command {
	return &cli.Command{Name: "session", Usage: "list and destroy sessions"}
}
