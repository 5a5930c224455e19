package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// Warnings printed to stderr by the two risky commands
// (faq-tls-pkce-ecdsa-replication.txt; docs/oauth2-clients.md).
const (
	warnDisablePKCE = `WARNING: PKCE is now disabled for %s.
PKCE (RFC 7636) stops authorisation code interception: without it, anyone who
intercepts an authorisation code and holds (or has leaked) this client's secret
can exchange the code for the user's tokens without the user knowing (RFC 6819
section 4.4.1). The OpenID Connect nonce does not replace PKCE. Keep PKCE on
unless the application truly cannot send it; turn it back on with:
  gatehouse oauth2 enable-pkce %s
`
	warnLegacyCrypto = `WARNING: legacy crypto is now enabled for %s: its ID and access tokens are
signed RS256 instead of ES256.
RSA needs 3072-bit keys to match the strength of 256-bit ECDSA: larger tokens and
keys, slower signing and verification, and keys many hardware security modules
and TPMs handle poorly. The cluster now holds an RS256 signing key as well.
Ask the application's developers to support ES256, then turn this off with:
  gatehouse oauth2 disable-legacy-crypto %s
`
)

// oauth2Command is `gatehouse oauth2 ...`: OAuth2/OIDC clients and the
// cluster's signing keys (docs/oauth2-clients.md).
func oauth2Command() *cli.Command {
	set := func(name, usage, args string, lo, hi int, call func(context.Context, *apiclient.Client, []string) (*apiclient.OAuth2Client, error)) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, ArgsUsage: args, Flags: withConn(jsonFlag()),
			Action: func(c *cli.Context) error { return oauth2Action(c, lo, hi, call) }}
	}
	warned := func(name, usage, warning string, call func(context.Context, *apiclient.Client, string) (*apiclient.OAuth2Client, error)) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, ArgsUsage: "NAME", Flags: withConn(jsonFlag()),
			Action: func(c *cli.Context) error {
				o, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return call(ctx, cl, a[0])
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, warning, o.Name, o.Name)
				return printOAuth2Client(c.App.Writer, o, c.Bool("json"))
			}}
	}
	return &cli.Command{
		Name:  "oauth2",
		Usage: "manage OAuth2/OpenID Connect clients and the signing keys",
		Subcommands: []*cli.Command{
			createOAuth2Command("create", "create a basic (confidential) client and print its id and secret", false),
			createOAuth2Command("create-public", "create a public client (no secret; PKCE mandatory)", true),
			{
				Name: "get", Usage: "show a client", ArgsUsage: "NAME", Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return oauth2Action(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
						return cl.GetOAuth2Client(ctx, a[0])
					})
				},
			},
			{
				Name: "list", Usage: "list every client", Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					l, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) ([]apiclient.OAuth2Client, error) {
						return cl.ListOAuth2Clients(ctx)
					})
					if err != nil {
						return err
					}
					return printOAuth2Clients(c.App.Writer, l, c.Bool("json"))
				},
			},
			{
				Name: "delete", Usage: "delete a client", ArgsUsage: "NAME", Flags: connFlags(),
				Action: func(c *cli.Context) error {
					return doneAction(c, 1, 1, "deleted", func(ctx context.Context, cl *apiclient.Client, a []string) error {
						return cl.DeleteOAuth2Client(ctx, a[0])
					})
				},
			},
			set("add-redirect-url", "register a redirect URL (matched exactly)", "NAME URL", 2, 2,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.AddOAuth2RedirectURL(ctx, a[0], a[1])
				}),
			set("remove-redirect-url", "forget a redirect URL", "NAME URL", 2, 2,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.RemoveOAuth2RedirectURL(ctx, a[0], a[1])
				}),
			set("update-scope-map", "set the scopes members of GROUP may be granted", "NAME GROUP SCOPES...", 3, -1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2ScopeMap(ctx, a[0], a[1], a[2:], false)
				}),
			set("delete-scope-map", "remove GROUP's scope map", "NAME GROUP", 2, 2,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.DeleteOAuth2ScopeMap(ctx, a[0], a[1], false)
				}),
			set("update-sup-scope-map", "set the scopes members of GROUP are granted in addition", "NAME GROUP SCOPES...", 3, -1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2ScopeMap(ctx, a[0], a[1], a[2:], true)
				}),
			set("delete-sup-scope-map", "remove GROUP's supplementary scope map", "NAME GROUP", 2, 2,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.DeleteOAuth2ScopeMap(ctx, a[0], a[1], true)
				}),
			set("update-claim-map", "set the values members of GROUP get in the custom claim CLAIM", "NAME CLAIM GROUP VALUES...", 4, -1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2ClaimMap(ctx, a[0], a[1], a[2], a[3:])
				}),
			set("update-claim-map-join", "send several values of CLAIM as a JSON array, comma- or space-separated string", "NAME CLAIM array|csv|ssv", 3, 3,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2ClaimJoin(ctx, a[0], a[1], a[2])
				}),
			set("delete-claim-map", "remove GROUP's values of CLAIM", "NAME CLAIM GROUP", 3, 3,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.DeleteOAuth2ClaimMap(ctx, a[0], a[1], a[2])
				}),
			secretCommand("show-basic-secret", "print a basic client's secret", (*apiclient.Client).ShowOAuth2Secret),
			secretCommand("reset-basic-secret", "replace a basic client's secret and print the new one", (*apiclient.Client).ResetOAuth2Secret),
			warned("warning-insecure-client-disable-pkce", "disable PKCE for a basic client (insecure: read the warning)", warnDisablePKCE,
				func(ctx context.Context, cl *apiclient.Client, n string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2PKCE(ctx, n, false)
				}),
			set("enable-pkce", "require PKCE again (the default)", "NAME", 1, 1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2PKCE(ctx, a[0], true)
				}),
			warned("warning-enable-legacy-crypto", "sign this client's tokens RS256 instead of ES256 (legacy: read the warning)", warnLegacyCrypto,
				func(ctx context.Context, cl *apiclient.Client, n string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2LegacyCrypto(ctx, n, true)
				}),
			set("disable-legacy-crypto", "sign this client's tokens ES256 again (the default)", "NAME", 1, 1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2LegacyCrypto(ctx, a[0], false)
				}),
			set("prefer-short-username", "put the short name in preferred_username", "NAME", 1, 1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2PreferShortUsername(ctx, a[0], true)
				}),
			set("prefer-spn-username", "put the spn (name@domain) in preferred_username (the default)", "NAME", 1, 1,
				func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
					return cl.SetOAuth2PreferShortUsername(ctx, a[0], false)
				}),
			{
				Name: "rotate-keys", Usage: "add new signing keys now (old keys stay until their tokens have expired)", Flags: connFlags(),
				Action: func(c *cli.Context) error {
					kids, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) ([]string, error) {
						return cl.RotateOAuth2Keys(ctx)
					})
					if err != nil {
						return err
					}
					for _, k := range kids {
						fmt.Fprintln(c.App.Writer, "added signing key "+k)
					}
					return nil
				},
			},
		},
	}
}

func createOAuth2Command(name, usage string, public bool) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "NAME DISPLAYNAME ORIGIN", Flags: withConn(jsonFlag()),
		Action: func(c *cli.Context) error {
			o, _, err := callAPI(c, 3, 3, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.OAuth2Client, error) {
				return cl.CreateOAuth2Client(ctx, a[0], a[1], a[2], public)
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, o)
			}
			fmt.Fprintln(c.App.Writer, "client_id: "+o.Name)
			if o.Secret != "" {
				fmt.Fprintln(c.App.Writer, "client_secret: "+o.Secret)
			}
			return nil
		},
	}
}

func secretCommand(name, usage string, call func(*apiclient.Client, context.Context, string) (string, error)) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "NAME", Flags: connFlags(),
		Action: func(c *cli.Context) error {
			s, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (string, error) {
				return call(cl, ctx, a[0])
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, s)
			return nil
		},
	}
}

func oauth2Action(c *cli.Context, lo, hi int, call func(context.Context, *apiclient.Client, []string) (*apiclient.OAuth2Client, error)) error {
	o, _, err := callAPI(c, lo, hi, call)
	if err != nil {
		return err
	}
	return printOAuth2Client(c.App.Writer, o, c.Bool("json"))
}

func printOAuth2Client(w io.Writer, o *apiclient.OAuth2Client, asJSON bool) error {
	if asJSON {
		return printJSON(w, o)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	kind := "basic"
	if o.Public {
		kind = "public"
	}
	line("name", o.Name)
	line("type", kind)
	line("uuid", o.UUID)
	line("displayname", o.DisplayName)
	line("description", o.Description)
	line("origin", o.Origin)
	for _, u := range o.RedirectURLs {
		line("redirect_url", u)
	}
	for _, m := range o.ScopeMaps {
		line("scope_map", m.Group+": "+strings.Join(m.Scopes, " "))
	}
	for _, m := range o.SupScopeMaps {
		line("sup_scope_map", m.Group+": "+strings.Join(m.Scopes, " "))
	}
	for _, m := range o.ClaimMaps {
		line("claim_map", m.Claim+" "+m.Group+": "+strings.Join(m.Values, ", ")+" ("+m.Join+")")
	}
	line("pkce", strconv.FormatBool(o.PKCE))
	line("legacy_crypto", strconv.FormatBool(o.LegacyCrypto))
	line("prefer_short_username", strconv.FormatBool(o.PreferShortUsername))
	line("version", strconv.FormatUint(o.Version, 10))
	line("created", o.Created)
	line("updated", o.Updated)
	return tw.Flush()
}

func printOAuth2Clients(w io.Writer, l []apiclient.OAuth2Client, asJSON bool) error {
	if asJSON {
		if l == nil {
			l = []apiclient.OAuth2Client{}
		}
		return printJSON(w, map[string]any{"clients": l})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tDISPLAYNAME\tORIGIN")
	for _, o := range l {
		kind := "basic"
		if o.Public {
			kind = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Name, kind, o.DisplayName, o.Origin)
	}
	return tw.Flush()
}
