package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// clientCommands are the admin client: every one is a thin layer over
// protocols/apiclient, which in turn follows docs/api.md.
func clientCommands() []*cli.Command {
	person := accountCommand(personKind)
	person.Subcommands = append(person.Subcommands, credentialCommand(personKind), kerberosCommand(), personSSOCommand())
	sa := accountCommand(serviceAccountKind)
	sa.Subcommands = append(sa.Subcommands, credentialCommand(serviceAccountKind))
	group := groupCommand()
	group.Subcommands = append(group.Subcommands, accountPolicyCommand())
	system := systemCommand()
	system.Subcommands = append(system.Subcommands, pwBadlistCommand())
	return []*cli.Command{
		loginCommand(),
		reauthCommand(),
		logoutCommand(),
		selfCommand(),
		person,
		group,
		sa,
		system,
		sessionCommand(),
		ssoCommand(),
		oauth2Command(),
	}
}

// connFlags are on every client command: which node, which CA to trust.
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "url", EnvVars: []string{"GATEHOUSE_URL"}, Usage: "server `URL` (https://host:port)"},
		&cli.StringFlag{Name: "ca", EnvVars: []string{"GATEHOUSE_CA"}, Usage: "PEM `FILE` of the CA to trust instead of the system roots"},
	}
}

// jsonFlag is on commands whose output is an entry or a list.
// A fresh flag per command: urfave flags keep per-parse state.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the server's JSON instead of a table"}
}

func withConn(flags ...cli.Flag) []cli.Flag { return append(connFlags(), flags...) }

// serverURL returns --url, refusing to guess one.
func serverURL(c *cli.Context) (string, error) {
	u := strings.TrimRight(c.String("url"), "/")
	if u == "" {
		return "", errors.New("no server URL: pass --url or set GATEHOUSE_URL")
	}
	return u, nil
}

func tokenStore() (apiclient.TokenStore, error) {
	p, err := apiclient.DefaultTokenPath()
	return apiclient.TokenStore{Path: p}, err
}

// session returns a client carrying the stored token for --url.
func session(c *cli.Context) (*apiclient.Client, error) {
	u, err := serverURL(c)
	if err != nil {
		return nil, err
	}
	store, err := tokenStore()
	if err != nil {
		return nil, err
	}
	tok, err := store.Get(u)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, fmt.Errorf("not logged in to %s: run gatehouse login", u)
	}
	return apiclient.New(u, c.String("ca"), tok)
}

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:  "login",
		Usage: "log in with a password (and TOTP code) and remember the session token for this URL",
		Description: "The password is read from the terminal without echo or, when stdin is not a terminal,\n" +
			"from the first line of stdin (a TOTP code, when asked for, from the next line). Sessions are\n" +
			"read-only: run gatehouse reauth before changes, or log in with --privileged to re-authenticate\n" +
			"at once. The token is kept in os.UserConfigDir()/gatehouse/tokens.json (mode 0600), or in\n" +
			"$GATEHOUSE_TOKEN_FILE.",
		Flags: withConn(append([]cli.Flag{&cli.StringFlag{Name: "name", Aliases: []string{"D"}, Usage: "account `NAME` (required unless --kerberos)"},
			&cli.BoolFlag{Name: "privileged", Usage: "re-authenticate right after the login: the session may make changes for the privilege expiry"}},
			kerberosLoginFlags()...)...),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0); err != nil {
				return err
			}
			if c.Bool("kerberos") {
				return loginKerberos(c)
			}
			if c.String("name") == "" {
				return errors.New("login needs --name NAME (or --kerberos)")
			}
			u, store, client, err := loginClient(c)
			if err != nil {
				return err
			}
			pw, err := readPassword(c, "Password for "+c.String("name")+": ", false)
			if err != nil {
				return err
			}
			answer := cliAnswerer(c, pw)
			tok, err := client.Login(c.Context, c.String("name"), answer)
			if err != nil {
				return err
			}
			if c.Bool("privileged") {
				if tok, err = client.Reauth(c.Context, answer); err != nil {
					return err
				}
			}
			if err := store.Set(u, tok); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "logged in to %s as %s\n", u, c.String("name"))
			return nil
		},
	}
}

// loginClient is what every login needs: the server URL, the token store
// the new token goes to, and a client without a token yet.
func loginClient(c *cli.Context) (string, apiclient.TokenStore, *apiclient.Client, error) {
	u, err := serverURL(c)
	if err != nil {
		return "", apiclient.TokenStore{}, nil, err
	}
	store, err := tokenStore()
	if err != nil {
		return "", apiclient.TokenStore{}, nil, err
	}
	client, err := apiclient.New(u, c.String("ca"), "")
	return u, store, client, err
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:  "logout",
		Usage: "end the session on the server and forget its token",
		Flags: connFlags(),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0); err != nil {
				return err
			}
			client, err := session(c)
			if err != nil {
				return err
			}
			// A token the server already refuses (expired, revoked) is as good
			// as logged out: forget it too rather than leave it stuck.
			if err := client.Logout(c.Context); err != nil && !apiclient.IsStatus(err, http.StatusUnauthorized) {
				return err
			}
			store, err := tokenStore()
			if err != nil {
				return err
			}
			if err := store.Delete(client.BaseURL()); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "logged out of %s\n", client.BaseURL())
			return nil
		},
	}
}

func selfCommand() *cli.Command {
	return &cli.Command{
		Name:  "self",
		Usage: "show the account you are logged in as",
		Flags: withConn(jsonFlag()),
		Action: func(c *cli.Context) error {
			return entryAction(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) (*apiclient.Entry, error) {
				return cl.Self(ctx)
			})
		},
	}
}

// readPassword reads a password without echo from a terminal (asking twice
// when confirm is set), or the first line of a non-terminal stdin so that
// scripts can pipe one in.
func readPassword(c *cli.Context, prompt string, confirm bool) (string, error) {
	in := c.App.Reader
	if in == nil {
		in = os.Stdin
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err := readTerminal(c.App.ErrWriter, f, prompt)
		if err != nil || !confirm {
			return pw, err
		}
		again, err := readTerminal(c.App.ErrWriter, f, "Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the two passwords differ")
		}
		return pw, nil
	}
	line, err := lineReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given on stdin")
	}
	return pw, nil
}

// lineReaders keeps one buffered reader per input, so that several prompts
// (password, then a TOTP code, then menu answers) read consecutive lines of
// a piped stdin instead of losing what the first buffer swallowed.
var lineReaders sync.Map // io.Reader -> *bufio.Reader

func lineReader(in io.Reader) *bufio.Reader {
	if r, ok := lineReaders.Load(in); ok {
		return r.(*bufio.Reader)
	}
	r, _ := lineReaders.LoadOrStore(in, bufio.NewReader(in))
	return r.(*bufio.Reader)
}

// readLine prompts (on a terminal) and reads one line of input, echoed.
func readLine(c *cli.Context, prompt string) (string, error) {
	in := c.App.Reader
	if in == nil {
		in = os.Stdin
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		w := c.App.ErrWriter
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprint(w, prompt)
	}
	line, err := lineReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read %s: %w", strings.TrimSuffix(strings.TrimSpace(prompt), ":"), err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func readTerminal(w io.Writer, f *os.File, prompt string) (string, error) {
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprint(w, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if len(b) == 0 {
		return "", errors.New("empty password")
	}
	return string(b), nil
}

// positional returns the command's arguments, accepting flags written after
// them ("person create alice Alice --mail a@x"): urfave/cli v2 stops
// parsing flags at the first argument, and the documented usage puts them
// last. Everything after "--" is an argument. It checks the count too.
func positional(c *cli.Context, lo, hi int) ([]string, error) {
	raw := c.Args().Slice()
	var args []string
	for i := 0; i < len(raw); i++ {
		a := raw[i]
		if a == "--" {
			args = append(args, raw[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			if err := cli.ShowSubcommandHelp(c); err != nil {
				return nil, err
			}
			return nil, cli.Exit("", 0) // help was asked for: stop here, successfully
		}
		f := lookupFlag(c.Command.Flags, name)
		if f == nil {
			return nil, fmt.Errorf("unknown flag %s (see %s --help)", a, c.Command.HelpName)
		}
		if _, isBool := f.(*cli.BoolFlag); isBool && !hasVal {
			val, hasVal = "true", true
		}
		if !hasVal {
			if i+1 >= len(raw) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			val = raw[i]
		}
		if err := c.Set(f.Names()[0], val); err != nil {
			return nil, fmt.Errorf("flag %s: %w", a, err)
		}
	}
	if len(args) < lo || (hi >= 0 && len(args) > hi) {
		return nil, fmt.Errorf("usage: %s %s", c.Command.HelpName, c.Command.ArgsUsage)
	}
	return args, nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}
