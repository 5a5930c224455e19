package slapd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/daemon"
)

// The programs and files of Debian's slapd package.
const (
	Bin       = "/usr/sbin/slapd"
	AddBin    = "/usr/sbin/slapadd"
	SchemaDir = "/etc/ldap/schema"
	ModuleDir = "/usr/lib/ldap"
	install   = "apt-get install slapd ldap-utils (scripts/install-test-deps.sh)"
)

// The directory's fixed names.
const (
	Suffix    = "dc=example,dc=com"
	PeopleDN  = "ou=people," + Suffix
	ServiceDN = "cn=gatehouse-svc,ou=services," + Suffix
	// UserFilter finds a person by uid, as an administrator would
	// configure it for this directory.
	UserFilter = "(&(objectClass=inetOrgPerson)(uid=%s))"
)

// User is one person in the directory (an inetOrgPerson under PeopleDN,
// named by uid).
type User struct {
	UID, Password, Mail, CN, DisplayName string
}

// WeirdUID is the uid of a default user whose name holds every RFC 4515
// filter metacharacter: a login that does not escape it builds a broken or
// different filter.
const WeirdUID = `weird(*)\user`

// DefaultUsers are the people Start creates when given none.
func DefaultUsers() []User {
	return []User{
		{UID: "alice", Password: "alice-secret-1", Mail: "alice@example.com", CN: "Alice Liddell", DisplayName: "Alice L."},
		{UID: "bob", Password: "bob-secret-2", Mail: "bob@example.com", CN: "Bob Builder", DisplayName: "Bob B."},
		{UID: WeirdUID, Password: "weird-secret-3", Mail: "weird@example.com", CN: "Weird (Star) User", DisplayName: "Weird*"},
	}
}

// Server is one running slapd.
type Server struct {
	dir       string
	port, tls int
	svcPass   string
	rootPass  string
	users     []User
	caPEM     []byte
	log       string
	proc      *daemon.Process // set once, before Start returns
}

// Start writes a configuration and a database into dir (made if missing;
// it should be empty), loads the service account and users (DefaultUsers
// when none are given) with slapadd, and starts slapd on two free
// 127.0.0.1 ports. It fails with the package to install when a program is
// missing.
func Start(dir string, users ...User) (*Server, error) {
	for _, b := range []string{Bin, AddBin, filepath.Join(SchemaDir, "inetorgperson.schema"), filepath.Join(ModuleDir, "back_mdb.so")} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("slapd: %s is required (%s): %w", b, install, err)
		}
	}
	if len(users) == 0 {
		users = DefaultUsers()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("slapd: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, fmt.Errorf("slapd: %w", err)
	}
	s := &Server{dir: dir, svcPass: randomHex(12), rootPass: randomHex(12), users: users,
		log: filepath.Join(dir, "slapd.log")}
	if s.caPEM, err = writeCerts(dir); err != nil {
		return nil, err
	}
	if err := s.writeConf(); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	// A port free when checked can be taken before slapd binds it; slapd
	// then exits and other ports are tried.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, s.tls, err = freePorts(); err != nil {
			return nil, err
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *Server) conf() string { return filepath.Join(s.dir, "slapd.conf") }

func (s *Server) writeConf() error {
	q := func(p string) string { return `"` + p + `"` }
	var b strings.Builder
	for _, sc := range []string{"core", "cosine", "inetorgperson"} {
		fmt.Fprintf(&b, "include %s\n", q(filepath.Join(SchemaDir, sc+".schema")))
	}
	fmt.Fprintf(&b, `pidfile %s
argsfile %s
modulepath %s
moduleload back_mdb
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
sizelimit 500

database mdb
maxsize 16777216
suffix "%s"
rootdn "cn=admin,%s"
rootpw %s
directory %s
index objectClass,uid,mail eq

# Only a simple bind may use a password; the service account reads
# every entry; people read their own.
access to attrs=userPassword
	by anonymous auth
	by * none
access to *
	by dn.exact="%s" read
	by self read
	by * none
`, q(filepath.Join(s.dir, "slapd.pid")), q(filepath.Join(s.dir, "slapd.args")), q(ModuleDir),
		q(filepath.Join(s.dir, "ca.pem")), q(filepath.Join(s.dir, "server.pem")), q(filepath.Join(s.dir, "server.key")),
		Suffix, Suffix, ssha(s.rootPass), q(filepath.Join(s.dir, "db")), ServiceDN)
	if err := os.WriteFile(s.conf(), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("slapd: write slapd.conf: %w", err)
	}
	return nil
}

// ldifAttr writes one attribute base64-encoded (::), which LDIF accepts
// for every value, so that no name needs LDIF quoting rules.
func ldifAttr(b *strings.Builder, name, value string) {
	fmt.Fprintf(b, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(value)))
}

func userLDIF(b *strings.Builder, u User) {
	ldifAttr(b, "dn", UserDN(u.UID))
	b.WriteString("objectClass: inetOrgPerson\n")
	ldifAttr(b, "uid", u.UID)
	ldifAttr(b, "cn", u.CN)
	ldifAttr(b, "sn", u.CN)
	if u.Mail != "" {
		ldifAttr(b, "mail", u.Mail)
	}
	if u.DisplayName != "" {
		ldifAttr(b, "displayName", u.DisplayName)
	}
	ldifAttr(b, "userPassword", ssha(u.Password))
	b.WriteString("\n")
}

func (s *Server) load() error {
	var b strings.Builder
	fmt.Fprintf(&b, `dn: %s
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=services,%s
objectClass: organizationalUnit
ou: services

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: gatehouse-svc
`, Suffix, Suffix, PeopleDN, ServiceDN)
	ldifAttr(&b, "userPassword", ssha(s.svcPass))
	b.WriteString("\n")
	for _, u := range s.users {
		userLDIF(&b, u)
	}
	path := filepath.Join(s.dir, "data.ldif")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("slapd: write ldif: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -q: no consistency checks, the data is ours and the load is ~10× faster.
	cmd := exec.CommandContext(ctx, AddBin, "-q", "-f", s.conf(), "-l", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("slapd: slapadd: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (s *Server) start() error {
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.port, s.tls)
	// -d 256 (stats): stay in the foreground, so that the PID held is
	// slapd's, and log one line per operation for failing tests.
	cmd := exec.Command(Bin, "-d", "256", "-h", urls, "-f", s.conf())
	ready := func() bool { return daemon.Listening(s.addr(s.port)) && daemon.Listening(s.addr(s.tls)) }
	// ParentDeath: a test binary that panics or times out never reaches
	// its Stop; slapd then ends with it instead of holding its ports forever.
	p, err := daemon.Start(cmd, daemon.Options{Out: s.log, Ready: ready, ParentDeath: true})
	switch {
	case errors.Is(err, daemon.ErrExited):
		return fmt.Errorf("slapd: exited at start: %s", s.Log())
	case errors.Is(err, daemon.ErrNotReady):
		return fmt.Errorf("slapd: not listening on %s: %s", urls, s.Log())
	case err != nil:
		return fmt.Errorf("slapd: start: %w", err)
	}
	s.proc = p
	return nil
}

func (s *Server) addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// URL is the plain ldap:// URL (StartTLS offered).
func (s *Server) URL() string { return fmt.Sprintf("ldap://127.0.0.1:%d", s.port) }

// LDAPSURL is the ldaps:// URL (TLS from the first byte).
func (s *Server) LDAPSURL() string { return fmt.Sprintf("ldaps://127.0.0.1:%d", s.tls) }

// CACertPEM is the test CA that signed the server certificate (valid for
// 127.0.0.1 and localhost).
func (s *Server) CACertPEM() string { return string(s.caPEM) }

// CAFile is the path of the CA certificate (for LDAPTLS_CACERT).
func (s *Server) CAFile() string { return filepath.Join(s.dir, "ca.pem") }

// BaseDN is where people live.
func (s *Server) BaseDN() string { return PeopleDN }

// ServiceDN is the service account's DN; ServicePassword its password.
func (s *Server) ServiceDN() string { return ServiceDN }

// ServicePassword is the service account's password (random per start).
func (s *Server) ServicePassword() string { return s.svcPass }

// RootDN and RootPassword are the directory manager (every right), for
// tests that change entries with their own LDAP client.
func (s *Server) RootDN() string { return "cn=admin," + Suffix }

// RootPassword is the directory manager's password (random per start).
func (s *Server) RootPassword() string { return s.rootPass }

// Users are the people loaded at start.
func (s *Server) Users() []User { return append([]User(nil), s.users...) }

// Dir is the server's folder.
func (s *Server) Dir() string { return s.dir }

// Log returns what slapd logged so far (the last 8 kB).
func (s *Server) Log() string { return daemon.Tail(s.log, 8192) }

// LogSize is the length of slapd's log so far: pass it to LogSince to
// see what one step of a test made slapd do (stats level: one line per
// connection, bind, search and result).
func (s *Server) LogSize() int64 {
	fi, err := os.Stat(s.log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince returns the log from offset on.
func (s *Server) LogSince(offset int64) string {
	b, _ := os.ReadFile(s.log)
	if offset < 0 || offset > int64(len(b)) {
		offset = 0
	}
	return string(b[offset:])
}

// UserDN is the DN of the person with this uid (RFC 4514 escaped).
func UserDN(uid string) string { return "uid=" + EscapeDNValue(uid) + "," + PeopleDN }

// EscapeDNValue escapes an attribute value for a DN (RFC 4514): the
// specials, a leading '#' or space and a trailing space as \XX.
func EscapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		special := strings.IndexByte(`\,+"<>;=`, c) >= 0 || c == 0 ||
			(i == 0 && (c == '#' || c == ' ')) || (i == len(v)-1 && c == ' ')
		if special {
			fmt.Fprintf(&b, `\%02X`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// PID is slapd's process id (0 when stopped).
func (s *Server) PID() int { return s.proc.PID() }

// Stop ends slapd by its PID (SIGTERM, then SIGKILL after 5 s) and waits
// for it. Safe on nil and more than once; the folder stays (the caller
// owns it).
func (s *Server) Stop() {
	if s == nil {
		return
	}
	s.proc.Stop()
}

// ssha is the {SSHA} password scheme slapd checks simple binds against:
// SHA-1 of password and salt, then the salt, base64.
func ssha(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}

// freePorts finds two TCP ports for slapd (see daemon.FreePort for the
// band, shared with ops/mitkdc; both retry on a clash).
func freePorts() (int, int, error) {
	a, err := daemon.FreePort(false)
	if err != nil {
		return 0, 0, fmt.Errorf("slapd: %w", err)
	}
	b, err := daemon.FreePort(false, a)
	if err != nil {
		return 0, 0, fmt.Errorf("slapd: %w", err)
	}
	return a, b, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
