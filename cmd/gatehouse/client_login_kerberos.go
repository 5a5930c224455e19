package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// kerberosLoginFlags are login's Kerberos flags.
func kerberosLoginFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "kerberos", Usage: "log in with the Kerberos ticket of your credential cache ($KRB5CCNAME, else /tmp/krb5cc_UID; run kinit first): no password"},
		&cli.StringFlag{Name: "spn", Usage: "with --kerberos: the server's service `PRINCIPAL` (default HTTP/<host of --url>)"},
	}
}

// loginKerberos is `gatehouse login --kerberos`: a SPNEGO login from the
// user's kinit cache (krb5.conf from $KRB5_CONFIG, else /etc/krb5.conf),
// the token stored like a password login's.
func loginKerberos(c *cli.Context) error {
	if c.String("name") != "" {
		return errors.New("--name is not used with --kerberos: the account is the one your Kerberos principal maps to")
	}
	if c.Bool("privileged") {
		return errors.New("--privileged cannot be combined with --kerberos: log in with --name and a password to make changes")
	}
	u, store, client, err := loginClient(c)
	if err != nil {
		return err
	}
	ccache, conf, err := apiclient.KerberosPaths(os.Getenv)
	if err != nil {
		return err
	}
	krb, err := apiclient.KerberosClient(ccache, conf, time.Now())
	if err != nil {
		return err
	}
	defer krb.Destroy()
	principal := krb.Credentials.UserName() + "@" + krb.Credentials.Domain()
	res, err := client.LoginKerberos(c.Context, krb, c.String("spn"))
	if err != nil {
		// The server's own answer to the token (not a wrapped one, such
		// as "does not offer Kerberos"): name who was refused.
		if _, refused := err.(*apiclient.Error); refused {
			return fmt.Errorf("the server refused the Kerberos login of %s: %w", principal, err)
		}
		return err
	}
	if err := store.Set(u, res.Token); err != nil {
		return err
	}
	name := res.Name
	if name == "" {
		name = principal
	}
	fmt.Fprintf(c.App.Writer, "logged in to %s as %s (Kerberos principal %s)\n", u, name, principal)
	return nil
}
