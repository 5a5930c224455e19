package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// ssoCommand is `gatehouse sso ...`: upstream identity providers and the
// global SSO settings (docs/sso.md).
func ssoCommand() *cli.Command {
	return &cli.Command{
		Name:  "sso",
		Usage: "single sign-on through upstream identity providers (OIDC, OAuth2, LDAP, SAML)",
		Subcommands: []*cli.Command{
			{
				Name:  "provider",
				Usage: "manage upstream identity providers",
				Subcommands: []*cli.Command{
					{Name: "create", Usage: "create a provider", Flags: withConn(append(providerFlags(true), jsonFlag())...),
						Action: func(c *cli.Context) error { return providerWrite(c, true) }},
					{Name: "update", Usage: "change a provider", ArgsUsage: "PROVIDER", Flags: withConn(append(providerFlags(false), jsonFlag())...),
						Action: func(c *cli.Context) error { return providerWrite(c, false) }},
					{Name: "get", Usage: "show a provider", ArgsUsage: "PROVIDER", Flags: withConn(jsonFlag()),
						Action: func(c *cli.Context) error {
							p, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.SSOProvider, error) {
								return cl.SSOProvider(ctx, a[0])
							})
							if err != nil {
								return err
							}
							return printProvider(c, p)
						}},
					{Name: "list", Usage: "list the providers", Flags: withConn(jsonFlag()),
						Action: func(c *cli.Context) error {
							ps, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) ([]apiclient.SSOProvider, error) {
								return cl.SSOProviders(ctx)
							})
							if err != nil {
								return err
							}
							if c.Bool("json") {
								return printJSON(c.App.Writer, ps)
							}
							tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
							fmt.Fprintln(tw, "NAME\tTYPE\tENABLED\tUUID\tCALLBACK / ACS URL")
							for _, p := range ps {
								u := p.CallbackURL
								if p.ACSURL != "" {
									u = p.ACSURL
								}
								fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", p.Name, p.Type, p.Enabled, p.UUID, u)
							}
							return tw.Flush()
						}},
					{Name: "delete", Usage: "delete a provider", ArgsUsage: "PROVIDER",
						Flags: withConn(&cli.BoolFlag{Name: "unlink", Usage: "also remove every account's linked identities at this provider (refused without while any exist)"}),
						Action: func(c *cli.Context) error {
							n, args, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (int, error) {
								return cl.DeleteSSOProvider(ctx, a[0], c.Bool("unlink"))
							})
							if err != nil {
								return err
							}
							fmt.Fprintf(c.App.Writer, "deleted %s (%d account(s) unlinked)\n", args[0], n)
							return nil
						}},
					{Name: "test", Usage: "test the connection to a provider", ArgsUsage: "PROVIDER", Flags: withConn(jsonFlag()),
						Action: func(c *cli.Context) error {
							r, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, a []string) (*apiclient.SSOTest, error) {
								return cl.TestSSOProvider(ctx, a[0])
							})
							if err != nil {
								return err
							}
							if c.Bool("json") {
								return printJSON(c.App.Writer, r)
							}
							for _, ch := range r.Checks {
								mark := "ok  "
								if !ch.OK {
									mark = "FAIL"
								}
								fmt.Fprintf(c.App.Writer, "%s %s: %s\n", mark, ch.Name, ch.Detail)
							}
							if !r.OK {
								return fmt.Errorf("the connection test of %s failed", r.Provider)
							}
							fmt.Fprintf(c.App.Writer, "%s: every check passed\n", r.Provider)
							return nil
						}},
				},
			},
			{
				Name:  "settings",
				Usage: "global SSO settings",
				Subcommands: []*cli.Command{
					{Name: "show", Usage: "show the settings", Flags: withConn(jsonFlag()),
						Action: func(c *cli.Context) error {
							st, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) (*apiclient.SSOSettings, error) {
								return cl.SSOSettings(ctx)
							})
							if err != nil {
								return err
							}
							return printSettings(c, st)
						}},
					{Name: "set", Usage: "change the settings",
						Flags: withConn(
							&cli.StringFlag{Name: "local-auth", Usage: "`true|false`: local logins (password, TOTP, passkeys) for accounts without an override"},
							&cli.StringFlag{Name: "auto-create", Usage: "`true|false`: create accounts at a first SSO login (default true)"},
							&cli.StringFlag{Name: "auto-enable", Usage: "`true|false`: enable such accounts at once (default false: pending approval)"},
							jsonFlag()),
						Action: func(c *cli.Context) error {
							var in apiclient.SSOSettingsInput
							var err error
							if in.LocalAuth, err = boolFlag(c, "local-auth"); err != nil {
								return err
							}
							if in.AutoCreate, err = boolFlag(c, "auto-create"); err != nil {
								return err
							}
							if in.AutoEnable, err = boolFlag(c, "auto-enable"); err != nil {
								return err
							}
							if in.LocalAuth == nil && in.AutoCreate == nil && in.AutoEnable == nil {
								return errors.New("nothing to change: give --local-auth, --auto-create or --auto-enable")
							}
							if in.LocalAuth != nil && !*in.LocalAuth {
								fmt.Fprintln(c.App.ErrWriter, "warning: Ensure at least one admin has SSO access before disabling local authentication")
							}
							st, _, err := callAPI(c, 0, 0, func(ctx context.Context, cl *apiclient.Client, _ []string) (*apiclient.SSOSettings, error) {
								return cl.SetSSOSettings(ctx, in)
							})
							if err != nil {
								return err
							}
							return printSettings(c, st)
						}},
				},
			},
		},
	}
}

func boolFlag(c *cli.Context, name string) (*bool, error) {
	if !c.IsSet(name) {
		return nil, nil
	}
	b, err := strconv.ParseBool(c.String(name))
	if err != nil {
		return nil, fmt.Errorf("--%s takes true or false, not %q", name, c.String(name))
	}
	return &b, nil
}

func providerFlags(create bool) []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "name", Usage: "display `NAME` on the login page (unique)"},
		&cli.StringFlag{Name: "enabled", Usage: "`true|false` (default true)"},
		&cli.StringFlag{Name: "auto-create", Usage: "`true|false|default`: override the global auto-create"},
		&cli.StringFlag{Name: "auto-enable", Usage: "`true|false|default`: override the global auto-enable"},
		&cli.StringFlag{Name: "mfa-trusted", Usage: "`true|false`: an MFA the provider asserts counts as mfa (OIDC, OAuth2, SAML)"},
		&cli.StringFlag{Name: "username-attribute", Usage: "claim or attribute `NAME` tried first for the account name"},
		// OIDC / OAuth2.
		&cli.StringFlag{Name: "client-id", Usage: "OAuth2 client `ID`"},
		&cli.StringFlag{Name: "client-secret", Usage: "OAuth2 client `SECRET` (visible to other local users: prefer --client-secret-file or the prompt)"},
		&cli.StringFlag{Name: "client-secret-file", Usage: "read the client secret from `FILE`"},
		&cli.StringFlag{Name: "discovery-url", Usage: "OIDC issuer or .well-known `URL`"},
		&cli.StringFlag{Name: "scopes", Usage: "space- or comma-separated `SCOPES` (OIDC default: openid profile email)"},
		&cli.StringFlag{Name: "auth-url", Usage: "OAuth2 authorization `URL`"},
		&cli.StringFlag{Name: "token-url", Usage: "OAuth2 token `URL`"},
		&cli.StringFlag{Name: "userinfo-url", Usage: "OAuth2 user-info `URL`"},
		&cli.StringFlag{Name: "jwks-url", Usage: "OAuth2 JWKS `URL` (optional)"},
		&cli.StringFlag{Name: "trust-email", Usage: "`true|false`: e-mail addresses from this OAuth2 or LDAP provider count as verified (links to existing accounts)"},
		// LDAP.
		&cli.StringFlag{Name: "ldap-url", Aliases: []string{"server-url"}, Usage: "ldap:// or ldaps:// `URL` of the LDAP server"},
		&cli.StringFlag{Name: "bind-dn", Usage: "service account `DN`"},
		&cli.StringFlag{Name: "bind-password", Usage: "service account `PASSWORD` (prefer --bind-password-file or the prompt)"},
		&cli.StringFlag{Name: "bind-password-file", Usage: "read the bind password from `FILE`"},
		&cli.StringFlag{Name: "base-dn", Usage: "search base `DN`"},
		&cli.StringFlag{Name: "user-filter", Usage: "`FILTER` with one %s, e.g. (&(objectClass=person)(uid=%s))"},
		&cli.StringFlag{Name: "email-attribute", Usage: "`ATTRIBUTE` (default mail)"},
		&cli.StringFlag{Name: "display-attribute", Usage: "`ATTRIBUTE` (default cn)"},
		&cli.StringFlag{Name: "start-tls", Usage: "`true|false`: StartTLS on an ldap:// URL"},
		&cli.StringFlag{Name: "ca-cert", Usage: "PEM `FILE` of the CA of the LDAP server"},
		&cli.StringFlag{Name: "skip-verify", Usage: "`true|false`: skip certificate verification (needs --i-understand-skip-verify)"},
		&cli.BoolFlag{Name: "i-understand-skip-verify", Usage: "confirm --skip-verify true"},
		// SAML.
		&cli.StringFlag{Name: "sp-entity-id", Usage: "our entity `ID` (default: the metadata URL)"},
		&cli.StringFlag{Name: "idp-entity-id", Usage: "the IdP's entity `ID`"},
		&cli.StringFlag{Name: "idp-sso-url", Usage: "the IdP's SSO `URL`"},
		&cli.StringFlag{Name: "idp-cert", Usage: "`FILE` with the IdP certificate (PEM or base64 DER)"},
		&cli.StringFlag{Name: "sp-key", Usage: "`FILE` with our SP private key (PKCS#8 or PKCS#1 PEM); default: generated"},
		&cli.StringFlag{Name: "sp-cert", Usage: "`FILE` with the SP certificate matching --sp-key"},
		&cli.IntFlag{Name: "sp-key-bits", Usage: "`BITS` of a generated SP key: 3072 (default) or 2048"},
		&cli.BoolFlag{Name: "regenerate-sp-key", Usage: "generate a new SP key and certificate"},
		&cli.StringFlag{Name: "allow-unsigned-assertions", Usage: "`true|false` (default false)"},
		&cli.StringFlag{Name: "require-encrypted-assertions", Usage: "`true|false` (default false)"},
	}
	if create {
		fs = append([]cli.Flag{&cli.StringFlag{Name: "type", Usage: "`oidc|oauth2|ldap|saml`"}}, fs...)
	}
	return fs
}

// providerInput gathers the flags that were given into the request body.
func providerInput(c *cli.Context, create bool) (apiclient.SSOProviderInput, error) {
	in := apiclient.SSOProviderInput{}
	str := map[string]string{"name": "name", "username-attribute": "username_attribute", "client-id": "client_id",
		"client-secret": "client_secret", "discovery-url": "discovery_url", "auth-url": "auth_url", "token-url": "token_url",
		"userinfo-url": "userinfo_url", "jwks-url": "jwks_url", "ldap-url": "url", "bind-dn": "bind_dn", "bind-password": "bind_password",
		"base-dn": "base_dn", "user-filter": "user_filter", "email-attribute": "email_attribute", "display-attribute": "display_attribute",
		"sp-entity-id": "sp_entity_id", "idp-entity-id": "idp_entity_id", "idp-sso-url": "idp_sso_url", "type": "type"}
	for flag, key := range str {
		if c.IsSet(flag) {
			in[key] = c.String(flag)
		}
	}
	bools := map[string]string{"enabled": "enabled", "mfa-trusted": "mfa_trusted", "trust-email": "trust_email", "start-tls": "start_tls",
		"skip-verify": "skip_verify", "allow-unsigned-assertions": "allow_unsigned_assertions", "require-encrypted-assertions": "require_encrypted_assertions"}
	for flag, key := range bools {
		b, err := boolFlag(c, flag)
		if err != nil {
			return nil, err
		}
		if b != nil {
			in[key] = *b
		}
	}
	for flag, key := range map[string]string{"auto-create": "auto_create", "auto-enable": "auto_enable"} {
		if !c.IsSet(flag) {
			continue
		}
		switch v := strings.ToLower(c.String(flag)); v {
		case "true", "false":
			in[key] = v == "true"
		case "default":
			in[key] = "default"
		default:
			return nil, fmt.Errorf("--%s takes true, false or default, not %q", flag, v)
		}
	}
	if c.IsSet("scopes") {
		in["scopes"] = strings.FieldsFunc(c.String("scopes"), func(r rune) bool { return r == ' ' || r == ',' })
	}
	files := map[string]string{"client-secret-file": "client_secret", "bind-password-file": "bind_password", "ca-cert": "ca_cert",
		"idp-cert": "idp_cert", "sp-key": "sp_key", "sp-cert": "sp_cert"}
	for flag, key := range files {
		if !c.IsSet(flag) {
			continue
		}
		b, err := os.ReadFile(c.String(flag))
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		v := string(b)
		if strings.HasSuffix(flag, "-file") {
			v = strings.TrimRight(v, "\r\n")
		}
		in[key] = v
	}
	if c.IsSet("sp-key-bits") {
		in["sp_key_bits"] = c.Int("sp-key-bits")
	}
	if c.Bool("regenerate-sp-key") {
		in["regenerate_sp_key"] = true
	}
	if c.Bool("i-understand-skip-verify") {
		in["i_understand_skip_verify"] = true
	}
	if v, ok := in["skip_verify"].(bool); ok && v {
		fmt.Fprintln(c.App.ErrWriter, "warning: certificate verification of the LDAP server is skipped: anyone on the network path can read the bind password and users' passwords")
		if !c.Bool("i-understand-skip-verify") {
			return nil, errors.New("--skip-verify true needs --i-understand-skip-verify")
		}
	}
	// Secrets not given as flags are asked for (or read from stdin) on
	// create; an empty answer means none (a public OAuth2 client).
	if create {
		typ := strings.ToLower(c.String("type"))
		if _, ok := in["client_secret"]; !ok && (typ == "oidc" || typ == "oauth2") {
			if s, err := readPassword(c, "Client secret (empty for none): ", false); err == nil {
				in["client_secret"] = s
			}
		}
		if _, ok := in["bind_password"]; !ok && typ == "ldap" && c.IsSet("bind-dn") {
			s, err := readPassword(c, "Bind password: ", false)
			if err != nil {
				return nil, fmt.Errorf("a bind DN needs a bind password (--bind-password-file, or on stdin): %w", err)
			}
			in["bind_password"] = s
		}
	}
	return in, nil
}

func providerWrite(c *cli.Context, create bool) error {
	lo := 1
	if create {
		lo = 0
	}
	args, err := positional(c, lo, lo)
	if err != nil {
		return err
	}
	if create && (c.String("type") == "" || c.String("name") == "") {
		return errors.New("sso provider create needs --type oidc|oauth2|ldap|saml and --name NAME")
	}
	in, err := providerInput(c, create)
	if err != nil {
		return err
	}
	if !create && len(in) == 0 {
		return errors.New("nothing to change: give at least one setting")
	}
	cl, err := session(c)
	if err != nil {
		return err
	}
	var p *apiclient.SSOProvider
	if create {
		p, err = cl.CreateSSOProvider(c.Context, in)
	} else {
		p, err = cl.UpdateSSOProvider(c.Context, args[0], in)
	}
	if err != nil {
		return err
	}
	return printProvider(c, p)
}

func printProvider(c *cli.Context, p *apiclient.SSOProvider) error {
	for _, w := range p.Warnings {
		fmt.Fprintln(c.App.ErrWriter, "warning: "+w)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, p)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 1, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	override := func(b *bool) string {
		if b == nil {
			return "default"
		}
		return strconv.FormatBool(*b)
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return ""
	}
	line("name", p.Name)
	line("uuid", p.UUID)
	line("type", p.Type)
	line("enabled", strconv.FormatBool(p.Enabled))
	line("auto create", override(p.AutoCreate))
	line("auto enable", override(p.AutoEnable))
	line("mfa trusted", yes(p.MFATrusted))
	line("username attribute", p.UsernameAttribute)
	line("client id", p.ClientID)
	line("client secret", map[bool]string{true: "(set)"}[p.HasClientSecret])
	line("discovery url", p.DiscoveryURL)
	line("scopes", strings.Join(p.Scopes, " "))
	line("auth url", p.AuthURL)
	line("token url", p.TokenURL)
	line("userinfo url", p.UserInfoURL)
	line("jwks url", p.JWKSURL)
	line("trust email", yes(p.TrustEmail))
	line("callback url", p.CallbackURL)
	line("ldap url", p.URL)
	line("bind dn", p.BindDN)
	line("bind password", map[bool]string{true: "(set)"}[p.HasBindPassword])
	line("base dn", p.BaseDN)
	line("user filter", p.UserFilter)
	line("email attribute", p.EmailAttribute)
	line("display attribute", p.DisplayAttribute)
	line("start tls", yes(p.StartTLS))
	line("ca cert", map[bool]string{true: "(set)"}[p.CACert != ""])
	line("skip verify", yes(p.SkipVerify))
	line("sp entity id", p.SPEntityID)
	line("idp entity id", p.IdPEntityID)
	line("idp sso url", p.IdPSSOURL)
	line("sp key", map[bool]string{true: "(set)"}[p.HasSPKey])
	line("acs url", p.ACSURL)
	line("metadata url", p.MetadataURL)
	line("allow unsigned", yes(p.AllowUnsignedAssertions))
	line("require encrypted", yes(p.RequireEncryptedAssertions))
	line("version", strconv.FormatUint(p.Version, 10))
	return tw.Flush()
}

func printSettings(c *cli.Context, st *apiclient.SSOSettings) error {
	if st.Warning != "" {
		fmt.Fprintln(c.App.ErrWriter, "warning: local authentication is off. "+st.Warning)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	fmt.Fprintf(c.App.Writer, "local auth:  %t\nauto create: %t\nauto enable: %t\n", st.LocalAuth, st.AutoCreate, st.AutoEnable)
	return nil
}

// personSSOCommand is `gatehouse person sso ...`.
func personSSOCommand() *cli.Command {
	return &cli.Command{
		Name:  "sso",
		Usage: "a person's linked upstream identities and SSO overrides",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list linked identities and overrides", ArgsUsage: "NAME", Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					a, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, args []string) (*apiclient.AccountSSO, error) {
						return cl.PersonSSO(ctx, args[0])
					})
					if err != nil {
						return err
					}
					return printAccountSSO(c.App.Writer, a, c.Bool("json"))
				}},
			{Name: "unlink", Usage: "remove a linked identity (refused if it is the last way to log in)", ArgsUsage: "NAME PROVIDER SUBJECT",
				Flags: withConn(jsonFlag()),
				Action: func(c *cli.Context) error {
					a, _, err := callAPI(c, 3, 3, func(ctx context.Context, cl *apiclient.Client, args []string) (*apiclient.AccountSSO, error) {
						return cl.UnlinkSSO(ctx, args[0], args[1], args[2])
					})
					if err != nil {
						return err
					}
					return printAccountSSO(c.App.Writer, a, c.Bool("json"))
				}},
			{Name: "override", Usage: "force local authentication or SSO on or off for a person", ArgsUsage: "NAME",
				Flags: withConn(
					&cli.StringFlag{Name: "local-auth", Usage: "`on|off|default`"},
					&cli.StringFlag{Name: "sso", Usage: "`on|off|default`"},
					&cli.StringFlag{Name: "note", Usage: "`TEXT`: why (shown to administrators)"},
					jsonFlag()),
				Action: func(c *cli.Context) error {
					// Flags may follow NAME: parse them before reading.
					if _, err := positional(c, 1, 1); err != nil {
						return err
					}
					in := apiclient.SSOOverridesInput{LocalAuth: c.String("local-auth"), SSO: c.String("sso")}
					if c.IsSet("note") {
						n := c.String("note")
						in.Note = &n
					}
					for _, v := range []string{in.LocalAuth, in.SSO} {
						switch v {
						case "", "on", "off", "default", "true", "false":
						default:
							return fmt.Errorf("overrides take on, off or default, not %q", v)
						}
					}
					if in.LocalAuth == "" && in.SSO == "" && in.Note == nil {
						return errors.New("nothing to change: give --local-auth, --sso or --note")
					}
					a, _, err := callAPI(c, 1, 1, func(ctx context.Context, cl *apiclient.Client, args []string) (*apiclient.AccountSSO, error) {
						return cl.SetSSOOverrides(ctx, args[0], in)
					})
					if err != nil {
						return err
					}
					return printAccountSSO(c.App.Writer, a, c.Bool("json"))
				}},
		},
	}
}

func printAccountSSO(w io.Writer, a *apiclient.AccountSSO, asJSON bool) error {
	if asJSON {
		return printJSON(w, a)
	}
	sw := func(b *bool) string {
		if b == nil {
			return "default"
		}
		return map[bool]string{true: "on", false: "off"}[*b]
	}
	fmt.Fprintf(w, "account:        %s\nlocal auth:     %s (override %s)\nsso:            %s (override %s)\n",
		a.Account, map[bool]string{true: "allowed", false: "refused"}[a.LocalAllowed], sw(a.Overrides.LocalAuth),
		map[bool]string{true: "allowed", false: "refused"}[a.SSOAllowed], sw(a.Overrides.SSOAuth))
	if a.Overrides.Note != "" {
		fmt.Fprintf(w, "override note:  %s\n", a.Overrides.Note)
	}
	if a.Pending {
		fmt.Fprintln(w, "status:         Pending approval (enable with: gatehouse person update "+a.Account+" --disabled false)")
	}
	if len(a.Identities) == 0 {
		fmt.Fprintln(w, "no linked identities")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tTYPE\tSUBJECT\tEMAIL\tLINKED")
	for _, x := range a.Identities {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ProviderName, x.ProviderType, x.Subject, x.Email, time.UnixMilli(x.Linked).UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
