package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// accountKind describes what differs between persons and service accounts;
// their commands are otherwise the same.
type accountKind struct {
	cmd, noun string
	create    func(c *cli.Context, cl *apiclient.Client, name, displayName string) (*apiclient.Entry, error)
	createUse string
	get       func(*apiclient.Client, context.Context, string) (*apiclient.Entry, error)
	list      func(*apiclient.Client, context.Context) ([]apiclient.Entry, error)
	update    func(*apiclient.Client, context.Context, string, apiclient.EntryPatch) (*apiclient.Entry, error)
	del       func(*apiclient.Client, context.Context, string) error
	createFl  []cli.Flag
	extra     []*cli.Command
}

var personKind = accountKind{
	cmd: "person", noun: "person",
	create: func(c *cli.Context, cl *apiclient.Client, name, dn string) (*apiclient.Entry, error) {
		return cl.CreatePerson(c.Context, name, dn, nonEmpty(c.StringSlice("mail")))
	},
	createUse: "NAME DISPLAYNAME [--mail ADDRESS ...]",
	createFl:  []cli.Flag{&cli.StringSliceFlag{Name: "mail", Usage: "mail `ADDRESS` (repeat for several)"}},
	get:       (*apiclient.Client).GetPerson,
	list:      (*apiclient.Client).ListPersons,
	update:    (*apiclient.Client).UpdatePerson,
	del:       (*apiclient.Client).DeletePerson,
	extra:     []*cli.Command{setPasswordCommand()},
}

var serviceAccountKind = accountKind{
	cmd: "service-account", noun: "service account",
	create: func(c *cli.Context, cl *apiclient.Client, name, dn string) (*apiclient.Entry, error) {
		return cl.CreateServiceAccount(c.Context, name, dn)
	},
	createUse: "NAME DISPLAYNAME",
	get:       (*apiclient.Client).GetServiceAccount,
	list:      (*apiclient.Client).ListServiceAccounts,
	update:    (*apiclient.Client).UpdateServiceAccount,
	del:       (*apiclient.Client).DeleteServiceAccount,
}

func accountCommand(k accountKind) *cli.Command {
	return &cli.Command{
		Name:  k.cmd,
		Usage: "manage " + k.noun + "s",
		Subcommands: append([]*cli.Command{
			{
				Name: "create", Usage: "create a " + k.noun, ArgsUsage: k.createUse,
				Flags: withConn(append([]cli.Flag{jsonFlag()}, k.createFl...)...),
				Action: func(c *cli.Context) error {
					return entryAction(c, 2, 2, func(_ context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return k.create(c, cl, a[0], a[1])
					})
				},
			},
			{
				Name: "get", Usage: "show a " + k.noun, ArgsUsage: "ID",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return entryAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						return k.get(cl, ctx, a[0])
					})
				},
			},
			{
				Name: "list", Usage: "list every " + k.noun,
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					return listAction(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) ([]apiclient.Entry, error) {
						return k.list(cl, ctx)
					})
				},
			},
			{
				Name: "update", Usage: "change a " + k.noun + "'s attributes", ArgsUsage: "ID [--name N] [--displayname D] [--mail M ...] [--description T]",
				Description: "Only the flags given change. --mail replaces every address; --mail '' removes them all.",
				Flags: withConn(jsonFlag(),
					&cli.StringFlag{Name: "name", Usage: "new `NAME`"},
					&cli.StringFlag{Name: "displayname", Usage: "new display `NAME`"},
					&cli.StringSliceFlag{Name: "mail", Usage: "mail `ADDRESS` (repeat for several)"},
					&cli.StringFlag{Name: "description", Usage: "new description `TEXT`"},
					&cli.StringFlag{Name: "disabled", Usage: "`true` stops every login of the account, false allows them again"},
				),
				Action: func(c *cli.Context) error {
					return entryAction(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.Entry, error) {
						p, err := patchFromFlags(c)
						if err != nil {
							return nil, err
						}
						return k.update(cl, ctx, a[0], p)
					})
				},
			},
			{
				Name: "delete", Usage: "delete a " + k.noun, ArgsUsage: "ID",
				Flags: connFlags(),
				Action: func(c *cli.Context) error {
					return doneAction(c, 1, 1, "deleted", func(ctx context.Context, cl *apiclient.Client, a []string) error {
						return k.del(cl, ctx, a[0])
					})
				},
			},
		}, k.extra...),
	}
}

func setPasswordCommand() *cli.Command {
	return &cli.Command{
		Name: "set-password", Usage: "set a person's password (as an administrator)", ArgsUsage: "ID",
		Description: "The password is read from the terminal without echo (twice) or from the first line of stdin.",
		Flags:       connFlags(),
		Action: func(c *cli.Context) error {
			return doneAction(c, 1, 1, "password set for", func(ctx context.Context, cl *apiclient.Client, a []string) error {
				pw, err := readPassword(c, "New password for "+a[0]+": ", true)
				if err != nil {
					return err
				}
				return cl.SetPassword(ctx, a[0], pw)
			})
		},
	}
}

// patchFromFlags turns the flags that were given into a patch; an update
// with none would be a silent no-op, so it is refused.
func patchFromFlags(c *cli.Context) (apiclient.EntryPatch, error) {
	var p apiclient.EntryPatch
	str := func(name string) *string {
		if !c.IsSet(name) {
			return nil
		}
		v := c.String(name)
		return &v
	}
	p.Name, p.DisplayName, p.Description = str("name"), str("displayname"), str("description")
	if lookupFlag(c.Command.Flags, "displayname") == nil {
		p.DisplayName = nil // groups have no display name
	}
	if c.IsSet("mail") {
		m := nonEmpty(c.StringSlice("mail"))
		if m == nil {
			m = []string{}
		}
		p.Mail = &m
	}
	if c.IsSet("disabled") {
		v, err := strconv.ParseBool(c.String("disabled"))
		if err != nil {
			return p, fmt.Errorf("--disabled takes true or false, not %q", c.String("disabled"))
		}
		p.Disabled = &v
	}
	if p == (apiclient.EntryPatch{}) {
		return p, fmt.Errorf("nothing to change: give at least one of the flags (see %s --help)", c.Command.HelpName)
	}
	return p, nil
}

func nonEmpty(ss []string) []string {
	return slices.DeleteFunc(slices.Clone(ss), func(s string) bool { return s == "" })
}
