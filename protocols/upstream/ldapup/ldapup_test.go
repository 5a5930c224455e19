package ldapup

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse-idm/gatehouse/ops/slapd"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Alice logs in over ldaps and over StartTLS with the test CA, and the
// identity carries her entryUUID, mail, names and DN.
func TestLoginOverLDAPSAndStartTLS(t *testing.T) {
	alice := user(t, "alice")
	for name, c := range map[string]Config{"ldaps": ldapsConfig(t), "starttls": startTLSConfig(t)} {
		t.Run(name, func(t *testing.T) {
			id, err := Authenticate(bg, c, "alice", alice.Password)
			if err != nil {
				t.Fatalf("login: %v\n%s", err, directory(t).Log())
			}
			if !uuidRe.MatchString(id.Subject) {
				t.Errorf("Subject %q is not the entryUUID", id.Subject)
			}
			if id.Email != alice.Mail || id.EmailVerified || id.DisplayName != alice.CN || id.MFA {
				t.Errorf("identity %+v", id)
			}
			if id.Claims["dn"] != slapd.UserDN("alice") || id.Claims["uid"] != "alice" ||
				id.Claims["mail"] != alice.Mail || id.Claims["preferred_username"] != "alice" {
				t.Errorf("claims %v", id.Claims)
			}
		})
	}
	// The same person has the same Subject whichever way she came in, and
	// a display attribute mapping is honoured.
	c := startTLSConfig(t)
	c.DisplayAttribute = "displayName"
	a, err := Authenticate(bg, c, "alice", alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Authenticate(bg, ldapsConfig(t), "alice", alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject != b.Subject || a.DisplayName != alice.DisplayName {
		t.Errorf("subjects %q %q, display %q", a.Subject, b.Subject, a.DisplayName)
	}
}

// Plain ldap:// without StartTLS works (for tests only: the password
// crosses the network in clear), and Test says so.
func TestPlainLDAPForTestsOnly(t *testing.T) {
	c := ldapsConfig(t)
	c.URL, c.CACertPEM = directory(t).URL(), ""
	if _, err := Authenticate(bg, c, "bob", user(t, "bob").Password); err != nil {
		t.Fatal(err)
	}
	checks := Test(bg, c)
	if checks[0].Name != "transport security" || checks[0].OK || !strings.Contains(checks[0].Detail, "in clear") {
		t.Errorf("plain ldap not flagged: %+v", checks)
	}
}

// A wrong password and an unknown user give the same error with the
// seed's text.
func TestWrongPasswordAndUnknownUser(t *testing.T) {
	c := ldapsConfig(t)
	for _, tc := range []struct{ user, pass string }{
		{"alice", "not-her-password"},
		{"bob", user(t, "alice").Password},
		{"nobody", "whatever"},
	} {
		_, err := Authenticate(bg, c, tc.user, tc.pass)
		if !errors.Is(err, ErrInvalidCredentials) || err.Error() != "Invalid credentials" {
			t.Errorf("%s/%s: %v", tc.user, tc.pass, err)
		}
	}
}

// Injection attempts find no entry (the escaped filter is a literal
// value), so no bind is ever attempted for them: the server's log shows
// only the service account binding while they run.
func TestFilterInjectionFindsNobody(t *testing.T) {
	s := directory(t)
	c := ldapsConfig(t)
	alice := user(t, "alice")
	injections := []string{"*", "alice)(uid=*", "*)(|(uid=*", "alice*", "a*", "*)(uid=alice", "alice)(|(objectClass=*)", `\2a`, "*))%00"}

	l, err := ldap.DialURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(s.ServiceDN(), s.ServicePassword()); err != nil {
		t.Fatal(err)
	}
	before := s.LogSize()
	for _, name := range injections {
		f := buildFilter(c.UserFilter, name)
		res, err := l.Search(ldap.NewSearchRequest(s.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false, f, nil, nil))
		if err != nil {
			t.Errorf("escaped filter %s: %v", f, err)
		} else if len(res.Entries) != 0 {
			t.Errorf("escaped filter %s finds %d entries", f, len(res.Entries))
		}
		// Alice's and Bob's passwords: if the filter matched either of
		// them, the bind would succeed.
		for _, pw := range []string{alice.Password, user(t, "bob").Password} {
			if _, err := Authenticate(bg, c, name, pw); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%q: %v", name, err)
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // slapd may log a moment after answering
	binds := regexp.MustCompile(`BIND dn="([^"]*)"`).FindAllStringSubmatch(s.LogSince(before), -1)
	// Each attempt binds the service account first: the log does record
	// binds, so the absence of any other is meaningful.
	if len(binds) < 2*len(injections) {
		t.Fatalf("%d binds logged for %d logins", len(binds), 2*len(injections))
	}
	decoys := 0
	for _, m := range binds {
		switch {
		case m[1] == s.ServiceDN():
		case strings.HasPrefix(m[1], DecoyPrefix) && strings.HasSuffix(m[1], ","+s.BaseDN()):
			decoys++ // the timing decoy: an entry that does not exist
		default:
			t.Errorf("a bind as %q happened during the injection attempts", m[1])
		}
	}
	if decoys != 2*len(injections) {
		t.Errorf("%d decoy binds for %d refused logins", decoys, 2*len(injections))
	}
	// The person whose uid really holds the metacharacters logs in: the
	// escaping is exact, not just restrictive.
	weird := user(t, slapd.WeirdUID)
	id, err := Authenticate(bg, c, slapd.WeirdUID, weird.Password)
	if err != nil || id.Claims["dn"] != slapd.UserDN(slapd.WeirdUID) {
		t.Fatalf("weird user: %v %+v", err, id)
	}
}

// A filter that finds several people refuses the login rather than
// binding as one of them.
func TestAmbiguousFilterRefused(t *testing.T) {
	c := ldapsConfig(t)
	c.UserFilter = "(|(uid=%s)(objectClass=inetOrgPerson))"
	log := captureLog(t)
	if _, err := Authenticate(bg, c, "alice", user(t, "alice").Password); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("ambiguous filter: %v", err)
	}
	if !strings.Contains(log.String(), "more than one entry") {
		t.Errorf("no warning: %s", log)
	}
}

// An empty password is refused before any connection is made; so are
// bad usernames.
func TestRefusedBeforeConnecting(t *testing.T) {
	url, accepted := countingListener(t)
	c := ldapsConfig(t)
	c.URL, c.CACertPEM = url, ""
	if _, err := Authenticate(bg, c, "alice", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("empty password: %v", err)
	}
	for _, name := range []string{"", strings.Repeat("a", MaxUsername+1), "al\x00ice", "alice\n", "al\tice", "\xff\xfe", "a\u0085b"} {
		if _, err := Authenticate(bg, c, name, "pw"); !errors.Is(err, ErrBadUsername) {
			t.Errorf("%q: %v", name, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections made", n)
	}
	// The longest allowed name is fine (and finds nobody).
	if _, err := Authenticate(bg, ldapsConfig(t), strings.Repeat("é", MaxUsername/2), "pw"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("256-byte name: %v", err)
	}
}

// A server certificate from another CA is refused over ldaps and
// StartTLS, with the problem in words.
func TestWrongCARefused(t *testing.T) {
	for name, c := range map[string]Config{"ldaps": ldapsConfig(t), "starttls": startTLSConfig(t)} {
		c.CACertPEM = otherCAPEM(t)
		_, err := Authenticate(bg, c, "alice", user(t, "alice").Password)
		if err == nil || errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), "not signed by a trusted CA") {
			t.Errorf("%s: %v", name, err)
		}
		checks := Test(bg, c)
		last := checks[len(checks)-1]
		if last.OK || !strings.Contains(last.Detail, "not signed by a trusted CA") {
			t.Errorf("%s report: %+v", name, checks)
		}
	}
}

// SkipVerify accepts the certificate and warns every time.
func TestSkipVerifyWarns(t *testing.T) {
	log := captureLog(t)
	c := ldapsConfig(t)
	c.CACertPEM, c.SkipVerify = "", true
	for i := 0; i < 2; i++ {
		if _, err := Authenticate(bg, c, "alice", user(t, "alice").Password); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(log.String(), "verification is skipped"); n != 2 {
		t.Errorf("%d warnings for 2 logins:\n%s", n, log)
	}
	checks := Test(bg, c)
	if checks[0].OK || !strings.Contains(checks[0].Detail, "verification is skipped") {
		t.Errorf("report: %+v", checks)
	}
}

// A wrong service password is the administrator's problem, reported as
// such, not as the user's invalid credentials.
func TestServiceBindFailure(t *testing.T) {
	c := ldapsConfig(t)
	c.BindPassword = "wrong"
	_, err := Authenticate(bg, c, "alice", user(t, "alice").Password)
	if !errors.Is(err, ErrServiceBind) || errors.Is(err, ErrInvalidCredentials) ||
		!strings.Contains(err.Error(), "wrong bind DN or password") {
		t.Fatalf("service bind: %v", err)
	}
	checks := Test(bg, c)
	last := checks[len(checks)-1]
	if last.Name != "service bind" || last.OK || !strings.Contains(last.Detail, "could not bind") {
		t.Errorf("report: %+v", checks)
	}
}

// Test reports each step in words.
func TestReport(t *testing.T) {
	for name, c := range map[string]Config{"ldaps": ldapsConfig(t), "starttls": startTLSConfig(t)} {
		checks := Test(bg, c)
		var names []string
		for _, ch := range checks {
			names = append(names, ch.Name)
			if !ch.OK {
				t.Errorf("%s: %+v", name, ch)
			}
		}
		want := "connection,service bind,sample search"
		if name == "starttls" {
			want = "connection,StartTLS,service bind,sample search"
		}
		if strings.Join(names, ",") != want {
			t.Errorf("%s: checks %v", name, names)
		}
		if last := checks[len(checks)-1]; !strings.Contains(last.Detail, "finds 3 entries") {
			t.Errorf("%s: %+v", name, last)
		}
	}
	c := ldapsConfig(t)
	c.BaseDN = "ou=nowhere,dc=example,dc=com"
	checks := Test(bg, c)
	if last := checks[len(checks)-1]; last.OK || !strings.Contains(last.Detail, "does not exist") {
		t.Errorf("missing base DN: %+v", checks)
	}
	c = ldapsConfig(t)
	c.UserFilter = "(uid=%s"
	if checks := Test(bg, c); len(checks) != 1 || checks[0].Name != "settings" || checks[0].OK {
		t.Errorf("bad filter: %+v", checks)
	}
	url, _ := countingListener(t)
	c = ldapsConfig(t)
	c.URL = strings.Replace(url, "ldap://", "ldaps://", 1)
	c.Timeout = 300 * time.Millisecond
	if checks := Test(bg, c); checks[0].OK {
		t.Errorf("hung server: %+v", checks)
	}
}

// A server that never answers costs Config.Timeout, and a cancelled
// context ends the login at once.
func TestTimeoutAndCancel(t *testing.T) {
	url, _ := countingListener(t)
	c := ldapsConfig(t)
	c.URL, c.Timeout = url, 300*time.Millisecond
	begin := time.Now()
	_, err := Authenticate(bg, c, "alice", "pw")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 2*time.Second {
		t.Errorf("timeout: %v after %v", err, time.Since(begin))
	}
	c.Timeout = time.Minute
	ctx, cancel := context.WithCancel(bg)
	time.AfterFunc(200*time.Millisecond, cancel)
	begin = time.Now()
	_, err = Authenticate(ctx, c, "alice", "pw")
	if !errors.Is(err, context.Canceled) || time.Since(begin) > 2*time.Second {
		t.Errorf("cancel: %v after %v", err, time.Since(begin))
	}
}

func TestValidate(t *testing.T) {
	good := Config{URL: "ldap://h", BindDN: "cn=s,dc=x", BindPassword: "p", BaseDN: "dc=x", UserFilter: "(uid=%s)"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Config){
		"scheme":           func(c *Config) { c.URL = "http://h" },
		"no host":          func(c *Config) { c.URL = "ldap://" },
		"starttls+ldaps":   func(c *Config) { c.URL, c.StartTLS = "ldaps://h", true },
		"dn no password":   func(c *Config) { c.BindPassword = "" },
		"password no dn":   func(c *Config) { c.BindDN = "" },
		"bad base":         func(c *Config) { c.BaseDN = "not a dn" },
		"no base":          func(c *Config) { c.BaseDN = "" },
		"no %s":            func(c *Config) { c.UserFilter = "(uid=x)" },
		"two %s":           func(c *Config) { c.UserFilter = "(|(uid=%s)(mail=%s))" },
		"unbalanced":       func(c *Config) { c.UserFilter = "(uid=%s" },
		"attribute syntax": func(c *Config) { c.EmailAttribute = "mail)(x" },
		"CA not PEM":       func(c *Config) { c.CACertPEM = "nope" },
	}
	for name, mut := range bad {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The default filter follows the username attribute.
	c := good
	c.UserFilter, c.UsernameAttribute = "", "sAMAccountName"
	if f := c.withDefaults().UserFilter; f != "(&(objectClass=person)(sAMAccountName=%s))" {
		t.Errorf("default filter %s", f)
	}
}

// An Active Directory objectGUID is written as the GUID string AD tools
// show: the first three fields are little-endian.
func TestFormatGUID(t *testing.T) {
	raw := []byte{0xE0, 0x04, 0x25, 0x3F, 0x89, 0x4F, 0xD3, 0x11, 0x9A, 0x0C, 0x03, 0x05, 0xE8, 0x2C, 0x33, 0x01}
	if g := formatGUID(raw); g != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" {
		t.Errorf("got %s", g)
	}
	e := ldap.NewEntry("cn=x,dc=ad", nil)
	e.Attributes = append(e.Attributes, &ldap.EntryAttribute{Name: "objectGUID", ByteValues: [][]byte{raw}, Values: []string{string(raw)}})
	if id := identity(Config{}.withDefaults(), e); id.Subject != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" {
		t.Errorf("subject %s", id.Subject)
	}
	if id := identity(Config{}.withDefaults(), ldap.NewEntry("cn=y,dc=ad", nil)); id.Subject != "cn=y,dc=ad" {
		t.Errorf("DN fallback %s", id.Subject)
	}
}
