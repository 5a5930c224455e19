package ldapup

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// checkUsername refuses names that cannot be a directory login: empty,
// over MaxUsername bytes, not UTF-8, or with control characters (a NUL or
// a newline has no place in a login name and only serves to confuse logs
// and servers).
func checkUsername(u string) error {
	switch {
	case u == "":
		return fmt.Errorf("%w: empty", ErrBadUsername)
	case len(u) > MaxUsername:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadUsername, MaxUsername)
	case !utf8.ValidString(u):
		return fmt.Errorf("%w: not UTF-8", ErrBadUsername)
	case strings.IndexFunc(u, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: control characters", ErrBadUsername)
	}
	return nil
}

// buildFilter puts the username, escaped as an RFC 4515 assertion value
// (\2a for '*', \28 and \29 for the parentheses, \5c for '\', and every
// byte outside printable ASCII), where the filter holds %s. Plain string
// replacement, not fmt: a '%' elsewhere in the administrator's filter
// stays as written.
func buildFilter(filter, username string) string {
	return strings.Replace(filter, "%s", ldap.EscapeFilter(username), 1)
}

// buildFilterRaw puts v where the filter holds %s without escaping (only
// for Test's presence search with "*").
func buildFilterRaw(filter, v string) string {
	return strings.Replace(filter, "%s", v, 1)
}
