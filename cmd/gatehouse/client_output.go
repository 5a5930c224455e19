package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// callAPI is how every client action starts: check the arguments (lo to
// hi of them; hi < 0: no upper bound), open the session, call the API.
func callAPI[T any](c *cli.Context, lo, hi int, call func(context.Context, *apiclient.Client, []string) (T, error)) (T, []string, error) {
	var zero T
	args, err := positional(c, lo, hi)
	if err != nil {
		return zero, nil, err
	}
	cl, err := session(c)
	if err != nil {
		return zero, nil, err
	}
	out, err := call(c.Context, cl, args)
	return out, args, err
}

// entryAction runs a command that prints one entry.
func entryAction(c *cli.Context, lo, hi int, call func(context.Context, *apiclient.Client, []string) (*apiclient.Entry, error)) error {
	e, _, err := callAPI(c, lo, hi, call)
	if err != nil {
		return err
	}
	return printEntry(c.App.Writer, e, c.Bool("json"))
}

// listAction runs a command that prints a list of entries.
func listAction(c *cli.Context, lo, hi int, call func(context.Context, *apiclient.Client, []string) ([]apiclient.Entry, error)) error {
	es, _, err := callAPI(c, lo, hi, call)
	if err != nil {
		return err
	}
	return printEntries(c.App.Writer, es, c.Bool("json"))
}

// doneAction runs a command whose answer has no body (delete, set-password).
func doneAction(c *cli.Context, lo, hi int, done string, call func(context.Context, *apiclient.Client, []string) error) error {
	_, args, err := callAPI(c, lo, hi, func(ctx context.Context, cl *apiclient.Client, args []string) (struct{}, error) {
		return struct{}{}, call(ctx, cl, args)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, done+" "+strings.Join(args, " "))
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// printEntry prints "key: value" lines, leaving out empty attributes.
func printEntry(w io.Writer, e *apiclient.Entry, asJSON bool) error {
	if asJSON {
		return printJSON(w, e)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	line("name", e.Name)
	line("class", e.Class)
	line("spn", e.SPN)
	line("uuid", e.UUID)
	line("displayname", e.DisplayName)
	line("mail", strings.Join(e.Mail, ", "))
	line("description", e.Description)
	line("members", strings.Join(e.Members, ", "))
	line("memberof", strings.Join(e.MemberOf, ", "))
	if e.Class != "group" {
		line("has_password", strconv.FormatBool(e.HasPassword))
	}
	line("krb_principals", strings.Join(e.KerberosPrincipals, ", "))
	if e.Disabled {
		line("disabled", "true")
	}
	if e.Builtin {
		line("builtin", "true")
	}
	line("version", strconv.FormatUint(e.Version, 10))
	line("created", e.Created)
	line("updated", e.Updated)
	return tw.Flush()
}

// printEntries prints a table; groups show their description where
// accounts show their display name.
func printEntries(w io.Writer, es []apiclient.Entry, asJSON bool) error {
	if asJSON {
		if es == nil {
			es = []apiclient.Entry{}
		}
		return printJSON(w, map[string]any{"entries": es})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCLASS\tDISPLAYNAME/DESCRIPTION\tUUID")
	for _, e := range es {
		about := e.DisplayName
		if about == "" {
			about = e.Description
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Class, about, e.UUID)
	}
	return tw.Flush()
}

// printNames prints one name per line, or {"names":[…]} with --json.
func printNames(w io.Writer, names []string, asJSON bool) error {
	if asJSON {
		if names == nil {
			names = []string{}
		}
		return printJSON(w, map[string]any{"names": names})
	}
	for _, n := range names {
		fmt.Fprintln(w, n)
	}
	return nil
}
