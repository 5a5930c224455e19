package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// accountPolicyCommand is `gatehouse group account-policy …`, the commands
// of account-policy.txt: enable a group's policy, then set one value at a
// time (docs/account-policy.md).
func accountPolicyCommand() *cli.Command {
	seconds := func(s string) (any, error) {
		// Seconds, as in the seed's examples; a Go duration (15m, 8h) is
		// accepted too because it is easier to read.
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if d, err := time.ParseDuration(s); err == nil && d%time.Second == 0 {
			return int64(d / time.Second), nil
		}
		return nil, fmt.Errorf("%q is not a number of seconds (or a duration such as 15m)", s)
	}
	setting := func(name, usage, valueName, field string, parse func(string) (any, error)) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: "GROUP " + valueName,
			Flags: withConn(jsonFlag()),
			Action: func(c *cli.Context) error {
				return policyAction(c, 2, 2, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.GroupPolicy, error) {
					v, err := parse(a[1])
					if err != nil {
						return nil, err
					}
					return cl.ChangeGroupPolicy(ctx, a[0], field, v)
				})
			},
		}
	}
	return &cli.Command{
		Name:  "account-policy",
		Usage: "the account policy of a group: enable it, then set its values",
		Subcommands: []*cli.Command{
			{
				Name: "show", Usage: "print a group's own policy", ArgsUsage: "GROUP",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return policyAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.GroupPolicy, error) {
						return cl.GroupPolicy(ctx, a[0])
					})
				},
			},
			{
				Name: "enable", Usage: "enable account policy on a group", ArgsUsage: "GROUP",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return policyAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.GroupPolicy, error) {
						return cl.EnableGroupPolicy(ctx, a[0])
					})
				},
			},
			setting("auth-expiry", "longest a login session may last", "SECONDS", "auth_expiry", seconds),
			setting("credential-type-minimum", "weakest credential members may have: any, kerberos, mfa, passkey or attested_passkey",
				"TYPE", "credential_type_minimum", func(s string) (any, error) { return s, nil }),
			setting("password-minimum-length", "fewest characters a password may have", "LENGTH", "password_minimum_length",
				func(s string) (any, error) {
					n, err := strconv.Atoi(s)
					if err != nil {
						return nil, fmt.Errorf("%q is not a whole number", s)
					}
					return n, nil
				}),
			setting("privilege-expiry", "how long a reauthentication grants write access (at most 3600 s)", "SECONDS",
				"privilege_expiry", seconds),
			setting("webauthn-attestation-ca-list", "the WebAuthn devices members may enrol, as fido-mds-tool JSON",
				"JSON|FILE|-", "webauthn_attestation_ca_list", readCAList),
		},
	}
}

// readCAList takes the fido-mds-tool JSON itself, a file holding it, or -
// for standard input.
func readCAList(arg string) (any, error) {
	var b []byte
	var err error
	switch {
	case strings.HasPrefix(strings.TrimSpace(arg), "{"):
		b = []byte(arg)
	case arg == "-":
		b, err = io.ReadAll(os.Stdin)
	default:
		b, err = os.ReadFile(arg)
	}
	if err != nil {
		return nil, fmt.Errorf("read the CA list: %w", err)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("the CA list is not JSON (fido-mds-tool prints {\"cas\":{…}})")
	}
	return json.RawMessage(b), nil
}

// policyAction runs a command that answers with a group's policy.
func policyAction(c *cli.Context, lo, hi int, call func(context.Context, *apiclient.Client, []string) (*apiclient.GroupPolicy, error)) error {
	p, _, err := callAPI(c, lo, hi, call)
	if err != nil {
		return err
	}
	if p.Notice != "" {
		fmt.Fprintln(c.App.ErrWriter, "note: "+p.Notice)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, p)
	}
	return printPolicy(c.App.Writer, p)
}

func printPolicy(w io.Writer, g *apiclient.GroupPolicy) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	p := g.Policy
	unset := func(v int64, unit string) string {
		if v == 0 {
			return "(not set)"
		}
		return strconv.FormatInt(v, 10) + unit
	}
	fmt.Fprintf(tw, "group:\t%s\n", g.Group)
	fmt.Fprintf(tw, "enabled:\t%t\n", p.Enabled)
	fmt.Fprintf(tw, "auth-expiry:\t%s\n", unset(p.AuthExpiry, " s"))
	ctm := p.CredentialTypeMinimum
	if ctm == "" {
		ctm = "(not set)"
	}
	fmt.Fprintf(tw, "credential-type-minimum:\t%s\n", ctm)
	fmt.Fprintf(tw, "password-minimum-length:\t%s\n", unset(int64(p.PasswordMinimumLength), ""))
	fmt.Fprintf(tw, "privilege-expiry:\t%s\n", unset(p.PrivilegeExpiry, " s"))
	fmt.Fprintf(tw, "webauthn-attestation-ca-list:\t%s\n", describeCAList(p.WebauthnAttestationCAList))
	return tw.Flush()
}

// describeCAList names the CAs of a stored list and how many devices each
// allows; the certificates themselves are in --json.
func describeCAList(raw json.RawMessage) string {
	var l struct {
		CAs map[string]struct {
			AAGUIDs map[string]string `json:"aaguids"`
		} `json:"cas"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &l) != nil || l.CAs == nil {
		return "(not set)"
	}
	var parts []string
	for k, ca := range l.CAs {
		devices := "any device"
		if n := len(ca.AAGUIDs); n > 0 {
			devices = fmt.Sprintf("%d devices", n)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", k, devices))
	}
	if len(parts) == 0 {
		return "(empty: no device allowed)"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
