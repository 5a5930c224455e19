package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mdp/qrterminal/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// credentialCommand is `person credential ...` and `service-account
// credential ...` (docs/credentials.md).
func credentialCommand(k accountKind) *cli.Command {
	subs := []*cli.Command{softlockResetCommand(k)}
	if k.cmd == personKind.cmd {
		subs = append([]*cli.Command{credUpdateCommand(), createResetTokenCommand()}, subs...)
	} else {
		subs = append([]*cli.Command{generatePasswordCommand()}, subs...)
	}
	return &cli.Command{Name: "credential", Usage: "manage the credentials of a " + k.noun, Subcommands: subs}
}

func softlockResetCommand(k accountKind) *cli.Command {
	return &cli.Command{
		Name: "softlock-reset", Usage: "forgive the failed logins of a " + k.noun + " so far (lifts a soft lock)", ArgsUsage: "NAME",
		Flags: connFlags(),
		Action: func(c *cli.Context) error {
			return doneAction(c, 1, 1, "soft lock reset for", func(ctx context.Context, cl *apiclient.Client, a []string) error {
				return cl.SoftlockReset(ctx, a[0], k.cmd != personKind.cmd)
			})
		},
	}
}

func generatePasswordCommand() *cli.Command {
	return &cli.Command{
		Name: "generate", Usage: "give a service account a new generated password and print it (shown only once)", ArgsUsage: "NAME",
		Flags: connFlags(),
		Action: func(c *cli.Context) error {
			pw, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (string, error) {
				return cl.GenerateServiceAccountPassword(ctx, a[0])
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, pw)
			return nil
		},
	}
}

// parseTTL reads a duration ("2h", "90m") or a number of seconds.
func parseTTL(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("TTL %q is neither a duration (2h, 90m) nor a number of seconds", s)
	}
	return d, nil
}

func createResetTokenCommand() *cli.Command {
	return &cli.Command{
		Name:      "create-reset-token",
		Usage:     "issue a one-time link with which a person sets new credentials (default TTL 1h, at most 24h)",
		ArgsUsage: "NAME [TTL]",
		Flags:     withConn(jsonFlag()),
		Action: func(c *cli.Context) error {
			rt, _, err := callAPI(c, 1, 2, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.ResetToken, error) {
				var ttl time.Duration
				if len(a) == 2 {
					var err error
					if ttl, err = parseTTL(a[1]); err != nil {
						return nil, err
					}
				}
				return cl.CreateResetToken(ctx, a[0], ttl)
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, rt)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 1, ' ', 0)
			fmt.Fprintf(tw, "url:\t%s\ntoken:\t%s\nexpires:\t%s\n", rt.URL, rt.Token, rt.Expires.Local().Format(time.RFC3339))
			return tw.Flush()
		},
	}
}

func credUpdateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change your own credentials interactively (or a person's, with a reset token)",
		ArgsUsage: "NAME",
		Description: "Opens a credential-update session for NAME — your own account, with the stored session\n" +
			"(it must be read-write: run gatehouse reauth first), or any person with --token — and offers a\n" +
			"menu: set the password, add or remove TOTP, remove passkeys and security keys, commit, cancel.\n" +
			"Nothing changes until you commit. When stdin is not a terminal, answers are read line by line.",
		Flags: withConn(&cli.StringFlag{Name: "token", Usage: "reset `TOKEN` from create-reset-token (no login needed)"}),
		Action: func(c *cli.Context) error {
			args, err := positional(c, 1, 1)
			if err != nil {
				return err
			}
			var cl *apiclient.Client
			var cu *apiclient.CredUpdate
			if tok := c.String("token"); tok != "" {
				u, err := serverURL(c)
				if err != nil {
					return err
				}
				if cl, err = apiclient.New(u, c.String("ca"), ""); err != nil {
					return err
				}
				cu, err = cl.OpenCredUpdateReset(c.Context, tok)
				if err != nil {
					return err
				}
			} else {
				if cl, err = session(c); err != nil {
					return err
				}
				if cu, err = cl.OpenCredUpdate(c.Context); err != nil {
					return err
				}
			}
			u := &updater{cl: cl, id: cu.ID, st: &cu.Status, p: newPrompter(c), webURL: strings.TrimRight(c.String("url"), "/")}
			if args[0] != cu.Status.Name && args[0] != cu.Status.SPN && args[0] != cu.Status.Account {
				_ = cl.CredUpdateCancel(c.Context, cu.ID)
				if c.String("token") != "" {
					return fmt.Errorf("this reset token is for %s, not %s", cu.Status.Name, args[0])
				}
				return fmt.Errorf("you are logged in as %s: only your own credentials can be updated this way; "+
					"for %s, create a reset token (gatehouse person credential create-reset-token %s)", cu.Status.Name, args[0], args[0])
			}
			if c.String("token") != "" {
				u.webURL += "/ui/reset#token=" + c.String("token")
			} else {
				u.webURL += "/ui/update"
			}
			return u.run(c.Context)
		},
	}
}

// prompter reads answers from a terminal, or line by line from a pipe.
type prompter struct {
	in  *bufio.Reader
	tty *os.File // stdin when it is a terminal: passwords are read without echo
	out io.Writer
}

func newPrompter(c *cli.Context) *prompter {
	in := c.App.Reader
	if in == nil {
		in = os.Stdin
	}
	p := &prompter{in: lineReader(in), out: c.App.Writer}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = f
	}
	return p
}

// errInputEnded: a script ran out of answers before committing.
var errInputEnded = errors.New("the input ended before commit: nothing was changed")

func (p *prompter) line(prompt string) (string, error) {
	fmt.Fprint(p.out, prompt)
	s, err := p.in.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || s == "") {
		if errors.Is(err, io.EOF) {
			return "", errInputEnded
		}
		return "", fmt.Errorf("read answer: %w", err)
	}
	if p.tty == nil {
		fmt.Fprintln(p.out) // a piped answer is not echoed: end the prompt's line
	}
	return strings.TrimSpace(s), nil
}

// secret reads a password: without echo (asked twice) on a terminal, else
// one line.
func (p *prompter) secret(prompt string) (string, error) {
	if p.tty == nil {
		s, err := p.line(prompt)
		return s, err
	}
	pw, err := readTerminal(p.out, p.tty, prompt)
	if err != nil {
		return "", err
	}
	again, err := readTerminal(p.out, p.tty, "Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

// updater drives one credential-update session.
type updater struct {
	cl     *apiclient.Client
	id     string
	st     *apiclient.CredStatus
	p      *prompter
	webURL string
}

const credMenu = `
  1) password         set the password
  2) totp             add a TOTP (authenticator app)
  3) remove-totp      remove a TOTP
  4) webauthn         add a passkey or security key
  5) remove-webauthn  remove a passkey or security key
  6) commit           save the changes and finish
  7) cancel           finish without changing anything
`

func (u *updater) run(ctx context.Context) error {
	u.show()
	for {
		fmt.Fprint(u.p.out, credMenu)
		choice, err := u.p.line("Choice: ")
		if err != nil {
			_ = u.cl.CredUpdateCancel(ctx, u.id)
			return err
		}
		var st *apiclient.CredStatus
		switch strings.ToLower(choice) {
		case "1", "password":
			st, err = u.setPassword(ctx)
		case "2", "totp":
			st, err = u.addTOTP(ctx)
		case "3", "remove-totp":
			st, err = u.removeTOTP(ctx)
		case "4", "webauthn":
			fmt.Fprintf(u.p.out, "Passkeys and security keys are enrolled through a browser, which talks to the\n"+
				"authenticator; a terminal cannot. Open %s\n", u.webURL)
		case "5", "remove-webauthn":
			st, err = u.removeWebAuthn(ctx)
		case "6", "commit":
			idx, err := u.cl.CredUpdateCommit(ctx, u.id)
			if err != nil {
				if apiclient.IsStatus(err, 400) {
					fmt.Fprintf(u.p.out, "Not committed: %v\n", err)
					continue
				}
				return err
			}
			fmt.Fprintf(u.p.out, "Committed: the new credentials of %s are saved (index %d).\n", u.st.Name, idx)
			return nil
		case "7", "cancel", "q", "quit":
			if err := u.cl.CredUpdateCancel(ctx, u.id); err != nil {
				return err
			}
			fmt.Fprintln(u.p.out, "Cancelled: nothing was changed.")
			return nil
		case "", "status", "s":
			u.show()
		default:
			fmt.Fprintf(u.p.out, "%q is not one of the choices.\n", choice)
		}
		if err != nil {
			if errors.Is(err, errInputEnded) {
				_ = u.cl.CredUpdateCancel(ctx, u.id)
				return err
			}
			var ae *apiclient.Error
			if !errors.As(err, &ae) || ae.Status == 404 || ae.Status >= 500 {
				return err // the session is gone or the server is in trouble
			}
			fmt.Fprintf(u.p.out, "Refused: %s\n", ae.Message)
			continue
		}
		if st != nil {
			u.st = st
			u.show()
		}
	}
}

// show prints the working copy and what it allows.
func (u *updater) show() {
	st := u.st
	w := tabwriter.NewWriter(u.p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nCredentials of %s (%s) in this update (saved only on commit):\n", st.Name, st.SPN)
	pw := "not set"
	if st.Password {
		pw = "set"
	}
	fmt.Fprintf(w, "  password:\t%s\n", pw)
	var ts, ps, ks []string
	for _, t := range st.TOTP {
		ts = append(ts, t.Label+" ("+t.Algorithm+")")
	}
	for _, p := range st.Passkeys {
		l := p.Label
		if p.Attested {
			l += " (attested)"
		}
		ps = append(ps, l)
	}
	for _, k := range st.SecurityKeys {
		ks = append(ks, k.Label)
	}
	none := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(w, "  totp:\t%s\n  passkeys:\t%s\n  security keys:\t%s\n", none(ts), none(ps), none(ks))
	fmt.Fprintf(w, "  login with:\t%s\n", none(st.Mechanisms))
	fmt.Fprintf(w, "  policy:\tat least %s; passwords of %d characters or more\n", st.Policy.CredentialTypeMinimum, st.Policy.PasswordMinimumLength)
	w.Flush()
	for _, warn := range st.Warnings {
		fmt.Fprintf(u.p.out, "  ! %s\n", warn)
	}
}

func (u *updater) setPassword(ctx context.Context) (*apiclient.CredStatus, error) {
	pw, err := u.p.secret("New password: ")
	if err != nil {
		return nil, err
	}
	chk, err := u.cl.CredUpdateCheckPassword(ctx, u.id, pw)
	if err != nil {
		return nil, err
	}
	if !chk.OK {
		fmt.Fprintf(u.p.out, "Refused: %s\n", chk.Error)
		if f := chk.Feedback; f != nil {
			if f.Warning != "" {
				fmt.Fprintf(u.p.out, "  warning: %s\n", f.Warning)
			}
			for _, s := range f.Suggestions {
				fmt.Fprintf(u.p.out, "  - %s\n", s)
			}
		}
		return nil, nil
	}
	return u.cl.CredUpdateSetPassword(ctx, u.id, pw)
}

func (u *updater) addTOTP(ctx context.Context) (*apiclient.CredStatus, error) {
	label, err := u.p.line("Label for this TOTP [totp]: ")
	if err != nil {
		return nil, err
	}
	en, err := u.cl.CredUpdateGenerateTOTP(ctx, u.id, label, "SHA256")
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(u.p.out, "Scan this QR code with your authenticator app:")
	qrterminal.GenerateHalfBlock(en.URI, qrterminal.L, u.p.out)
	fmt.Fprintf(u.p.out, "or enter the secret by hand: %s (SHA256, 6 digits, 30 s)\nURI: %s\n", en.Secret, en.URI)
	for tries := 0; tries < 3; tries++ {
		code, err := u.p.line("Code shown by the app (empty to give up): ")
		if err != nil || code == "" {
			if err == nil {
				_, err = u.cl.CredUpdateRemoveTOTP(ctx, u.id, en.ID)
			}
			return nil, err
		}
		st, err := u.cl.CredUpdateVerifyTOTP(ctx, u.id, code, false)
		if err == nil {
			fmt.Fprintf(u.p.out, "TOTP %q verified.\n", en.Label)
			return st, nil
		}
		var ae *apiclient.Error
		if !errors.As(err, &ae) || ae.Status != 400 {
			return nil, err
		}
		fmt.Fprintf(u.p.out, "Refused: %s\n", ae.Message)
	}
	fmt.Fprintln(u.p.out, "Three wrong codes: the TOTP was not added.")
	_, err = u.cl.CredUpdateRemoveTOTP(ctx, u.id, en.ID)
	return nil, err
}

// pick asks for one of items by number or label; "" gives up.
func (u *updater) pick(what string, labels, ids []string) (string, error) {
	if len(ids) == 0 {
		fmt.Fprintf(u.p.out, "There is no %s to remove.\n", what)
		return "", nil
	}
	for i, l := range labels {
		fmt.Fprintf(u.p.out, "  %d) %s\n", i+1, l)
	}
	a, err := u.p.line("Remove which " + what + " (number or label, empty to keep all): ")
	if err != nil || a == "" {
		return "", err
	}
	if n, err := strconv.Atoi(a); err == nil && n >= 1 && n <= len(ids) {
		return ids[n-1], nil
	}
	for i, l := range labels {
		if l == a || ids[i] == a {
			return ids[i], nil
		}
	}
	fmt.Fprintf(u.p.out, "No %s %q.\n", what, a)
	return "", nil
}

func (u *updater) removeTOTP(ctx context.Context) (*apiclient.CredStatus, error) {
	var labels, ids []string
	for _, t := range u.st.TOTP {
		labels, ids = append(labels, t.Label), append(ids, t.ID)
	}
	id, err := u.pick("TOTP", labels, ids)
	if err != nil || id == "" {
		return nil, err
	}
	return u.cl.CredUpdateRemoveTOTP(ctx, u.id, id)
}

func (u *updater) removeWebAuthn(ctx context.Context) (*apiclient.CredStatus, error) {
	var labels, ids []string
	for _, p := range u.st.Passkeys {
		labels, ids = append(labels, p.Label+" (passkey)"), append(ids, p.ID)
	}
	for _, k := range u.st.SecurityKeys {
		labels, ids = append(labels, k.Label+" (security key)"), append(ids, k.ID)
	}
	id, err := u.pick("passkey or security key", labels, ids)
	if err != nil || id == "" {
		return nil, err
	}
	return u.cl.CredUpdateRemoveWebAuthn(ctx, u.id, id)
}
