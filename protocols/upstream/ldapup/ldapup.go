package ldapup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// Config is one LDAP provider's settings.
type Config struct {
	// URL is ldap://host[:389] or ldaps://host[:636].
	URL string
	// BindDN and BindPassword are the service account that searches for
	// the user. Both empty: the search is anonymous (some directories
	// allow it). A DN without a password is refused, since it would be an
	// unauthenticated bind.
	BindDN, BindPassword string
	// BaseDN is where the subtree search for users starts.
	BaseDN string
	// UserFilter holds exactly one %s, replaced by the escaped username,
	// for example (&(objectClass=person)(sAMAccountName=%s)). Empty:
	// (&(objectClass=person)(<UsernameAttribute>=%s)).
	UserFilter string
	// Attribute mappings; defaults mail, uid, cn.
	EmailAttribute, UsernameAttribute, DisplayAttribute string
	// StartTLS upgrades an ldap:// connection before anything is sent.
	StartTLS bool
	// CACertPEM is the CA (one or more PEM certificates) that signed the
	// server's certificate; empty: the system roots.
	CACertPEM string
	// SkipVerify accepts any server certificate. Insecure: a warning is
	// logged every time it is used.
	SkipVerify bool
	// Timeout bounds a whole login or test; default 10 s.
	Timeout time.Duration
}

// Defaults.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultEmailAttribute    = "mail"
	DefaultUsernameAttribute = "uid"
	DefaultDisplayAttribute  = "cn"
	// MaxUsername bounds the name a person types (bytes).
	MaxUsername = 256
)

var (
	// ErrInvalidCredentials: wrong password, unknown user, or a filter
	// that does not find exactly one entry (not told apart on purpose).
	ErrInvalidCredentials = errors.New("Invalid credentials")
	// ErrBadUsername: empty, longer than MaxUsername bytes, not UTF-8, or
	// holding control characters.
	ErrBadUsername = errors.New("invalid username")
	// ErrServiceBind: the service account could not bind.
	ErrServiceBind = errors.New("the LDAP service account could not bind")
	// ErrConfig: the provider's settings are unusable.
	ErrConfig = errors.New("invalid LDAP configuration")
)

// withDefaults fills the defaults in a copy.
func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.EmailAttribute == "" {
		c.EmailAttribute = DefaultEmailAttribute
	}
	if c.UsernameAttribute == "" {
		c.UsernameAttribute = DefaultUsernameAttribute
	}
	if c.DisplayAttribute == "" {
		c.DisplayAttribute = DefaultDisplayAttribute
	}
	if strings.TrimSpace(c.UserFilter) == "" {
		c.UserFilter = "(&(objectClass=person)(" + c.UsernameAttribute + "=%s))"
	}
	return c
}

// Validate checks the settings without contacting the server (for
// provider create and update). Errors wrap ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Hostname() == "" {
		return fmt.Errorf("%w: URL %q must be ldap://host[:port] or ldaps://host[:port]", ErrConfig, c.URL)
	}
	if c.StartTLS && u.Scheme == "ldaps" {
		return fmt.Errorf("%w: StartTLS applies to ldap:// URLs; ldaps:// is TLS already", ErrConfig)
	}
	if c.BindDN != "" && c.BindPassword == "" {
		return fmt.Errorf("%w: bind DN %q has no password (that would be an unauthenticated bind)", ErrConfig, c.BindDN)
	}
	if c.BindDN == "" && c.BindPassword != "" {
		return fmt.Errorf("%w: bind password without a bind DN", ErrConfig)
	}
	for name, dn := range map[string]string{"bind DN": c.BindDN, "base DN": c.BaseDN} {
		if dn == "" {
			continue
		}
		if _, err := ldap.ParseDN(dn); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrConfig, name, dn, err)
		}
	}
	if c.BaseDN == "" {
		return fmt.Errorf("%w: base DN is required", ErrConfig)
	}
	if n := strings.Count(c.UserFilter, "%s"); n != 1 {
		return fmt.Errorf("%w: user filter %q must hold %%s exactly once (holds it %d times)", ErrConfig, c.UserFilter, n)
	}
	if _, err := ldap.CompileFilter(buildFilter(c.UserFilter, "x")); err != nil {
		return fmt.Errorf("%w: user filter %q: %v", ErrConfig, c.UserFilter, err)
	}
	for _, a := range []string{c.EmailAttribute, c.UsernameAttribute, c.DisplayAttribute} {
		if !validAttr(a) {
			return fmt.Errorf("%w: attribute name %q", ErrConfig, a)
		}
	}
	if c.CACertPEM != "" {
		if _, err := caPool(c.CACertPEM); err != nil {
			return err
		}
	}
	return nil
}

// validAttr accepts an attribute description: a name or OID, options
// after ';' (RFC 4512 §2.5).
func validAttr(a string) bool {
	if a == "" || len(a) > 128 {
		return false
	}
	for _, r := range a {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == ';'
		if !ok {
			return false
		}
	}
	return true
}

// Authenticate checks username and password against the directory and
// returns the identity of the one entry the filter finds. See the package
// documentation for the steps and the errors.
func Authenticate(ctx context.Context, c Config, username, password string) (upstream.Identity, error) {
	if err := checkUsername(username); err != nil {
		return upstream.Identity{}, err
	}
	// Before any connection: an empty password is an unauthenticated bind,
	// which many servers accept.
	if password == "" {
		return upstream.Identity{}, ErrInvalidCredentials
	}
	if err := c.Validate(); err != nil {
		return upstream.Identity{}, err
	}
	c = c.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()

	l, err := connect(ctx, c)
	if err != nil {
		return upstream.Identity{}, err
	}
	defer l.Close()
	if err := serviceBind(ctx, l, c); err != nil {
		return upstream.Identity{}, err
	}

	attrs := []string{c.EmailAttribute, c.UsernameAttribute, c.DisplayAttribute, "entryUUID", "objectGUID"}
	// Size limit 2: one entry is the answer, a second one is all it takes
	// to know the filter is ambiguous.
	req := ldap.NewSearchRequest(c.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		timeLimit(ctx), false, buildFilter(c.UserFilter, username), attrs, nil)
	res, err := l.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1):
		slog.Warn("ldap: the user filter finds more than one entry; login refused", "base_dn", c.BaseDN, "filter", c.UserFilter)
		decoyBind(l, c, password)
		return upstream.Identity{}, ErrInvalidCredentials
	case err != nil:
		return upstream.Identity{}, opErr(ctx, "search for the user under "+c.BaseDN, err)
	case len(res.Entries) == 0:
		decoyBind(l, c, password)
		return upstream.Identity{}, ErrInvalidCredentials
	}
	e := res.Entries[0]

	if err := l.Bind(e.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return upstream.Identity{}, ErrInvalidCredentials
		}
		return upstream.Identity{}, opErr(ctx, "bind as the user", err)
	}
	return identity(c, e), nil
}

// DecoyPrefix starts the RDN of the entry a decoy bind names.
const DecoyPrefix = "cn=gatehouse-decoy-"

// decoyBind spends the round trip a user bind would have cost when no
// single entry was found, so that the time to answer does not tell an
// unknown name from a wrong password. It names an entry that does not
// exist (a random RDN under the base DN), so it can never succeed and
// never counts against a real account's lockout.
func decoyBind(l *ldap.Conn, c Config, password string) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	_ = l.Bind(DecoyPrefix+hex.EncodeToString(b)+","+c.BaseDN, password)
}

// serviceBind binds as the service account (nothing when anonymous).
func serviceBind(ctx context.Context, l *ldap.Conn, c Config) error {
	if c.BindDN == "" {
		return nil
	}
	err := l.Bind(c.BindDN, c.BindPassword)
	if err == nil {
		return nil
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		return fmt.Errorf("%w as %s: LDAP Invalid credentials: wrong bind DN or password", ErrServiceBind, c.BindDN)
	}
	if err := ctxErr(ctx); err != nil {
		return fmt.Errorf("%w as %s: %w", ErrServiceBind, c.BindDN, err)
	}
	return fmt.Errorf("%w as %s: %w", ErrServiceBind, c.BindDN, err)
}

// opErr names the step that failed; a closed connection after the
// deadline or a cancel is reported as the context's error.
func opErr(ctx context.Context, step string, err error) error {
	if cerr := ctxErr(ctx); cerr != nil {
		return fmt.Errorf("ldap: %s: %w", step, cerr)
	}
	return fmt.Errorf("ldap: %s: %w", step, err)
}

// ctxErr is ctx's error, or DeadlineExceeded once the deadline has
// passed: the connection's own deadline (the same instant) can fail a read
// a moment before ctx's timer fires.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// timeLimit is the server-side search time limit in whole seconds, from
// what is left of the deadline (at least 1).
func timeLimit(ctx context.Context) int {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	s := int(time.Until(d) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// identity maps the entry to what the login needs.
func identity(c Config, e *ldap.Entry) upstream.Identity {
	id := upstream.Identity{
		Subject:       e.DN,
		Email:         e.GetEqualFoldAttributeValue(c.EmailAttribute),
		EmailVerified: false, // the caller decides (idm/sso: the provider's trust_email)
		DisplayName:   e.GetEqualFoldAttributeValue(c.DisplayAttribute),
		MFA:           false,
		Claims:        map[string]any{"dn": e.DN},
	}
	if v := e.GetEqualFoldAttributeValue("entryUUID"); v != "" {
		id.Subject = strings.ToLower(v)
	} else if g := e.GetEqualFoldRawAttributeValue("objectGUID"); len(g) == 16 {
		id.Subject = formatGUID(g)
	}
	for _, a := range []string{c.EmailAttribute, c.UsernameAttribute, c.DisplayAttribute} {
		switch vs := e.GetEqualFoldAttributeValues(a); len(vs) {
		case 0:
		case 1:
			id.Claims[a] = vs[0]
		default:
			id.Claims[a] = vs
		}
	}
	// The username also under a name in the login's fallback list, so that
	// it is found when the provider's username attribute is left empty.
	if u := e.GetEqualFoldAttributeValue(c.UsernameAttribute); u != "" {
		id.Claims["preferred_username"] = u
	}
	return id
}

// formatGUID writes an Active Directory objectGUID (16 bytes, the first
// three fields little-endian) as the usual GUID string.
func formatGUID(b []byte) string {
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
}
