package ldapup

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// sampleLimit bounds the sample search of Test.
const sampleLimit = 100

// Test reaches the directory the way a login does and says in words what
// worked: the settings, the TCP and TLS connection (with the certificate
// problem, if any), StartTLS, the service bind, and a sample search under
// the base DN (how many entries the user filter finds with "*" as the
// name, up to 100). It stops at the first step that fails. Transport
// weaknesses (plain ldap://, skipped certificate verification) are
// reported as failed checks even though logins work.
func Test(ctx context.Context, c Config) []upstream.Check {
	var out []upstream.Check
	add := func(name string, ok bool, format string, a ...any) {
		out = append(out, upstream.Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, a...)})
	}
	if err := c.Validate(); err != nil {
		add("settings", false, "%v", err)
		return out
	}
	c = c.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	scheme, _, addr, _ := target(c.URL)

	if scheme == "ldap" && !c.StartTLS {
		add("transport security", false, "plain ldap:// without StartTLS sends passwords in clear; use ldaps:// or StartTLS (plain is for tests only)")
	} else if c.SkipVerify {
		add("transport security", false, "certificate verification is skipped: anyone on the network path can impersonate the directory and read passwords; set the custom CA certificate instead")
	}

	l, err := connect(ctx, c)
	if err != nil {
		name := "connection"
		if c.StartTLS {
			name = "connection and StartTLS"
		}
		add(name, false, "%v", err)
		return out
	}
	defer l.Close()
	switch {
	case scheme == "ldaps":
		add("connection", true, "TCP and TLS connection to %s established (certificate %s)", addr, verifiedWord(c))
	case c.StartTLS:
		add("connection", true, "TCP connection to %s established", addr)
		add("StartTLS", true, "connection upgraded to TLS (certificate %s)", verifiedWord(c))
	default:
		add("connection", true, "TCP connection to %s established (no TLS)", addr)
	}

	if c.BindDN == "" {
		add("service bind", true, "no bind DN: searching anonymously")
	} else if err := serviceBind(ctx, l, c); err != nil {
		add("service bind", false, "%v", err)
		return out
	} else {
		add("service bind", true, "bound as %s", c.BindDN)
	}

	// "*" unescaped on purpose: a presence match that counts the users
	// the filter can find.
	filter := buildFilterRaw(c.UserFilter, "*")
	req := ldap.NewSearchRequest(c.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, sampleLimit,
		timeLimit(ctx), false, filter, []string{"1.1"}, nil)
	res, err := l.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		add("sample search", true, "filter %s under %s finds at least %d entries", filter, c.BaseDN, sampleLimit)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		add("sample search", false, "base DN %s does not exist (or the service account cannot see it)", c.BaseDN)
	case err != nil:
		add("sample search", false, "%v", opErr(ctx, "search "+filter+" under "+c.BaseDN, err))
	case len(res.Entries) == 0:
		add("sample search", false, "filter %s under %s finds no entries: check the base DN, the user filter and the service account's read rights", filter, c.BaseDN)
	default:
		add("sample search", true, "filter %s under %s finds %d entries", filter, c.BaseDN, len(res.Entries))
	}
	return out
}

func verifiedWord(c Config) string {
	switch {
	case c.SkipVerify:
		return "NOT verified"
	case c.CACertPEM != "":
		return "verified against the custom CA"
	default:
		return "verified against the system roots"
	}
}
