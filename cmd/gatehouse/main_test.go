package main

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestFlagsMayFollowArguments(t *testing.T) {
	app := &cli.App{Commands: []*cli.Command{clusterCommand(), {Name: "person", Subcommands: []*cli.Command{
		{Name: "create", Flags: []cli.Flag{&cli.StringSliceFlag{Name: "mail"}, &cli.BoolFlag{Name: "json"}}}}}}}
	cases := []struct{ in, want []string }{
		{[]string{"g", "cluster", "join", "127.0.0.1:1", "--config", "n4.toml"}, []string{"g", "cluster", "join", "--config", "n4.toml", "127.0.0.1:1"}},
		{[]string{"g", "person", "create", "alice", "Alice", "--json", "--mail", "a@x"}, []string{"g", "person", "create", "--json", "--mail", "a@x", "alice", "Alice"}},
		{[]string{"g", "person", "create", "--", "-alice"}, []string{"g", "person", "create", "--", "-alice"}},
		{[]string{"g", "unknown", "x", "--y"}, []string{"g", "unknown", "x", "--y"}},
	}
	for _, c := range cases {
		if got := flagsFirst(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("flagsFirst(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
