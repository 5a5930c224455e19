package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// cliAnswerer answers login challenges from the terminal or stdin: the
// password given, and a TOTP code read when the server asks for one.
func cliAnswerer(c *cli.Context, pw string) apiclient.Answerer {
	return apiclient.PasswordAnswerer(pw, func() (uint32, error) {
		line, err := readLine(c, "TOTP code: ")
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(line), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("a TOTP code is 6 or 8 digits, not %q", line)
		}
		return uint32(n), nil
	})
}

func reauthCommand() *cli.Command {
	return &cli.Command{
		Name:  "reauth",
		Usage: "re-authenticate with the same credential: the session may make changes for the privilege expiry",
		Description: "Sessions are read-only by default. reauth asks for the credential the session logged in with\n" +
			"(password from the terminal or the first line of stdin, a TOTP code from the next) and replaces\n" +
			"the stored token with a read-write one.",
		Flags: connFlags(),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0); err != nil {
				return err
			}
			cl, err := session(c)
			if err != nil {
				return err
			}
			self, err := cl.Self(c.Context)
			if err != nil {
				return err
			}
			pw, err := readPassword(c, "Password for "+self.Name+": ", false)
			if err != nil {
				return err
			}
			tok, err := cl.Reauth(c.Context, cliAnswerer(c, pw))
			if err != nil {
				return err
			}
			store, err := tokenStore()
			if err != nil {
				return err
			}
			if err := store.Set(cl.BaseURL(), tok); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "re-authenticated as %s: this session may make changes for a while\n", self.Name)
			return nil
		},
	}
}

func sessionCommand() *cli.Command {
	return &cli.Command{
		Name:  "session",
		Usage: "list and destroy login sessions",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list the live sessions of an account", ArgsUsage: "NAME",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					ss, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) ([]apiclient.Session, error) {
						return cl.Sessions(ctx, a[0])
					})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, map[string]any{"sessions": ss})
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tMECHANISM\tISSUED\tEXPIRES\tNODE")
					for _, s := range ss {
						id := s.ID
						if s.Current {
							id += " (this one)"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, s.Mechanism, s.Issued.Local().Format(time.DateTime),
							s.Expires.Local().Format(time.DateTime), s.Node)
					}
					return tw.Flush()
				},
			},
			{
				Name: "destroy", Usage: "revoke a session: every node refuses its token within a second", ArgsUsage: "ID",
				Flags: connFlags(),
				Action: func(c *cli.Context) error {
					_, a, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (struct{}, error) {
						return struct{}{}, cl.DestroySession(ctx, a[0])
					})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "session %s revoked\n", a[0])
					return nil
				},
			},
		},
	}
}
