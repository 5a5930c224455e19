package mitkdc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/daemon"
)

// The programs of Debian's krb5-kdc, krb5-admin-server and krb5-user.
const (
	KDCBin    = "/usr/sbin/krb5kdc"
	AdminBin  = "/usr/sbin/kadmin.local"
	UtilBin   = "/usr/sbin/kdb5_util"
	KinitBin  = "/usr/bin/kinit"
	KlistBin  = "/usr/bin/klist"
	KvnoBin   = "/usr/bin/kvno"
	install   = "apt-get install krb5-kdc krb5-admin-server krb5-user"
	cmdTimout = 30 * time.Second
)

// KDC is one running realm.
type KDC struct {
	dir     string
	realm   string
	port    int
	conf    string // krb5.conf
	kdcConf string // kdc.conf
	log     string

	mu      sync.Mutex
	trusted []*KDC          // realms whose users this realm's services accept (TrustFrom)
	proc    *daemon.Process // set once, before Start returns
}

// Start creates a realm in dir (made if missing; it should be empty) and
// starts krb5kdc for it on a free 127.0.0.1 port (UDP and TCP). It fails
// with the package to install when a program is missing.
func Start(dir, realm string) (*KDC, error) {
	for _, b := range []string{KDCBin, AdminBin, UtilBin, KinitBin, KlistBin, KvnoBin} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("mitkdc: %s is required (%s): %w", b, install, err)
		}
	}
	if realm == "" || strings.ToUpper(realm) != realm {
		return nil, fmt.Errorf("mitkdc: realm %q must be non-empty upper case", realm)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mitkdc: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mitkdc: %w", err)
	}
	k := &KDC{dir: dir, realm: realm, conf: filepath.Join(dir, "krb5.conf"),
		kdcConf: filepath.Join(dir, "kdc.conf"), log: filepath.Join(dir, "kdc.log")}
	// A port that was free when checked can be taken before krb5kdc binds
	// it; then krb5kdc exits and another port is tried.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		k.port = port
		if err := k.writeConfs(); err != nil {
			return nil, err
		}
		if attempt == 0 {
			if err := k.createDB(); err != nil {
				return nil, err
			}
		}
		if lastErr = k.startKDC(); lastErr == nil {
			return k, nil
		}
	}
	return nil, lastErr
}

func (k *KDC) createDB() error {
	acl := fmt.Sprintf("*/admin@%s *\n", k.realm)
	if err := os.WriteFile(filepath.Join(k.dir, "kadm5.acl"), []byte(acl), 0o600); err != nil {
		return fmt.Errorf("mitkdc: write acl: %w", err)
	}
	if _, err := k.run(nil, nil, UtilBin, "-r", k.realm, "create", "-s", "-P", randomPassword()); err != nil {
		return fmt.Errorf("mitkdc: create realm %s: %w", k.realm, err)
	}
	return nil
}

func (k *KDC) startKDC() error {
	out := filepath.Join(k.dir, "krb5kdc.out")
	// -n: stay in the foreground, so that the PID held is krb5kdc's.
	cmd := exec.Command(KDCBin, "-n", "-r", k.realm)
	cmd.Env = append(os.Environ(), k.Env()...)
	ready := func() bool { return daemon.Listening(k.Addr()) }
	p, err := daemon.Start(cmd, daemon.Options{Out: out, Ready: ready, Poll: 20 * time.Millisecond, ParentDeath: true})
	switch {
	case errors.Is(err, daemon.ErrExited):
		return fmt.Errorf("mitkdc: krb5kdc exited at start: %s %s", daemon.Tail(out, 2000), daemon.Tail(k.log, 2000))
	case errors.Is(err, daemon.ErrNotReady):
		return fmt.Errorf("mitkdc: krb5kdc does not listen on %s: %s", k.Addr(), daemon.Tail(k.log, 2000))
	case err != nil:
		return fmt.Errorf("mitkdc: start krb5kdc: %w", err)
	}
	k.proc = p
	return nil
}

// writeConfs writes krb5.conf (clients and tools) and kdc.conf (the KDC).
// They are rewritten when a trust is added.
func (k *KDC) writeConfs() error {
	k.mu.Lock()
	trusted := append([]*KDC(nil), k.trusted...)
	k.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, `[libdefaults]
    default_realm = %s
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    forwardable = true
    ticket_lifetime = 10h

[realms]
`, k.realm)
	for _, r := range append([]*KDC{k}, trusted...) {
		fmt.Fprintf(&b, "    %s = {\n        kdc = %s\n        admin_server = %s\n    }\n", r.realm, r.Addr(), r.Addr())
	}
	fmt.Fprintf(&b, `
[domain_realm]
    localhost = %[1]s
    .localhost = %[1]s
    127.0.0.1 = %[1]s
`, k.realm)
	if len(trusted) > 0 {
		// Direct trust: a user of a trusted realm goes straight from her
		// realm's KDC to this one, not up a realm hierarchy.
		b.WriteString("\n[capaths]\n")
		for _, r := range trusted {
			fmt.Fprintf(&b, "    %s = {\n        %s = .\n    }\n", r.realm, k.realm)
		}
	}
	if err := os.WriteFile(k.conf, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("mitkdc: write krb5.conf: %w", err)
	}
	kdc := fmt.Sprintf(`[kdcdefaults]
    kdc_listen = %[2]s
    kdc_tcp_listen = %[2]s

[realms]
    %[1]s = {
        database_name = %[3]s
        key_stash_file = %[4]s
        acl_file = %[5]s
        max_life = 10h
        max_renewable_life = 1d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }

[logging]
    kdc = FILE:%[6]s
    admin_server = FILE:%[6]s
`, k.realm, k.Addr(), filepath.Join(k.dir, "principal"), filepath.Join(k.dir, "stash"),
		filepath.Join(k.dir, "kadm5.acl"), k.log)
	if err := os.WriteFile(k.kdcConf, []byte(kdc), 0o644); err != nil {
		return fmt.Errorf("mitkdc: write kdc.conf: %w", err)
	}
	return nil
}

// Realm is the realm's name.
func (k *KDC) Realm() string { return k.realm }

// Addr is the KDC's host:port (UDP and TCP).
func (k *KDC) Addr() string { return fmt.Sprintf("127.0.0.1:%d", k.port) }

// Dir is the realm's folder.
func (k *KDC) Dir() string { return k.dir }

// Krb5Conf is the path of the realm's krb5.conf (for gokrb5's
// config.Load, or KRB5_CONFIG).
func (k *KDC) Krb5Conf() string { return k.conf }

// Log returns what the KDC logged so far.
func (k *KDC) Log() string {
	b, _ := os.ReadFile(k.log)
	return string(b)
}

// Env is what a child process needs to use this realm: append it to
// os.Environ() (the last value of a variable wins in os/exec).
func (k *KDC) Env() []string {
	return []string{"KRB5_CONFIG=" + k.conf, "KRB5_KDC_PROFILE=" + k.kdcConf}
}

// run runs a Kerberos program with the realm's environment plus env.
func (k *KDC) run(env []string, stdin *string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), k.Env()...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = strings.NewReader(*stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(redact(args), " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String() + errb.String(), nil
}

// redact hides the master password in error messages.
func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && (out[i-1] == "-P" || out[i-1] == "-pw") {
			out[i] = "…"
		}
	}
	return out
}

// kadminErr matches the com_err style lines kadmin.local prints on a
// failed query ("add_principal: Principal or policy already exists while
// creating …"); it exits 0 all the same.
var kadminErr = regexp.MustCompile(`(?m)^[a-z_.]+: .+$`)

// Admin runs one kadmin.local query against the database and returns its
// output; a query kadmin.local reports as failed is an error.
func (k *KDC) Admin(query string) (string, error) {
	out, err := k.run(nil, nil, AdminBin, "-r", k.realm, "-q", query)
	if err != nil {
		return out, fmt.Errorf("mitkdc: %w", err)
	}
	if m := kadminErr.FindString(out); m != "" {
		return out, fmt.Errorf("mitkdc: kadmin.local %q: %s", redactQuery(query), m)
	}
	return out, nil
}

func redactQuery(q string) string {
	f := strings.Fields(q)
	return strings.Join(redact(f), " ")
}

// quote makes one kadmin.local query argument.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// AddPrincipal adds a principal with a password (a user).
func (k *KDC) AddPrincipal(name, password string) error {
	_, err := k.Admin("addprinc -pw " + quote(password) + " " + quote(name))
	return err
}

// AddRandKey adds a principal with a random key (a service).
func (k *KDC) AddRandKey(name string) error {
	_, err := k.Admin("addprinc -randkey " + quote(name))
	return err
}

// Keytab writes the current keys of principals into a new keytab at path,
// replacing any file there in one rename (a server watching the path sees
// the old file or the new one, never a mix). The keys are not changed
// (ktadd -norandkey), so passwords and earlier keytabs stay valid.
func (k *KDC) Keytab(path string, principals ...string) error {
	if len(principals) == 0 {
		return errors.New("mitkdc: keytab without principals")
	}
	tmp := path + ".tmp-" + randomPassword()[:8]
	q := "ktadd -k " + quote(tmp) + " -norandkey"
	for _, p := range principals {
		q += " " + quote(p)
	}
	if _, err := k.Admin(q); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mitkdc: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mitkdc: install keytab: %w", err)
	}
	return nil
}

var kvnoRe = regexp.MustCompile(`Key: vno (\d+)`)

// Kvno is the current key version of a principal.
func (k *KDC) Kvno(principal string) (int, error) {
	out, err := k.Admin("getprinc " + quote(principal))
	if err != nil {
		return 0, err
	}
	m := kvnoRe.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("mitkdc: no key version for %s in %q", principal, out)
	}
	return strconv.Atoi(m[1])
}

// ChangeKey gives a service principal a new random key (a rotation) and
// returns the new key version. Tickets made with the old key stop working
// for a server that loads a keytab holding only the new one: write it with
// Keytab.
func (k *KDC) ChangeKey(principal string) (int, error) {
	if _, err := k.Admin("cpw -randkey " + quote(principal)); err != nil {
		return 0, err
	}
	return k.Kvno(principal)
}

// ccName makes a FILE: credential cache name from a path.
func ccName(ccache string) string {
	if strings.Contains(ccache, ":") {
		return ccache
	}
	return "FILE:" + ccache
}

// Kinit gets a ticket-granting ticket for principal into the credential
// cache at ccache (a path; FILE: is added), the password given on stdin.
// extra are further kinit options, for example "-l", "5s".
func (k *KDC) Kinit(ccache, principal, password string, extra ...string) error {
	pw := password + "\n"
	args := append(append([]string{"-c", ccName(ccache)}, extra...), principal)
	if _, err := k.run([]string{"KRB5CCNAME=" + ccName(ccache)}, &pw, KinitBin, args...); err != nil {
		return fmt.Errorf("mitkdc: %w", err)
	}
	return nil
}

// GetServiceTicket adds a service ticket for spn (for example
// "HTTP/localhost") to the cache at ccache, as kvno does, and returns the
// key version the KDC reported.
func (k *KDC) GetServiceTicket(ccache, spn string) (int, error) {
	out, err := k.run([]string{"KRB5CCNAME=" + ccName(ccache)}, nil, KvnoBin, "-c", ccName(ccache), spn)
	if err != nil {
		return 0, fmt.Errorf("mitkdc: %w", err)
	}
	i := strings.LastIndex(out, "kvno = ")
	if i < 0 {
		return 0, fmt.Errorf("mitkdc: kvno output %q", out)
	}
	return strconv.Atoi(strings.TrimSpace(strings.Fields(out[i+len("kvno = "):])[0]))
}

// Klist lists the cache at ccache.
func (k *KDC) Klist(ccache string) (string, error) {
	out, err := k.run(nil, nil, KlistBin, "-c", ccName(ccache))
	if err != nil {
		return out, fmt.Errorf("mitkdc: %w", err)
	}
	return out, nil
}

// TrustFrom lets the users of other reach this realm's services (a
// one-way cross-realm trust, as between two Active Directory forests): both
// databases get krbtgt/THIS@OTHER with the same password, and both
// krb5.conf files learn the other realm and the direct path. Use k's Env
// (or other's) for the client programs afterwards.
func (k *KDC) TrustFrom(other *KDC) error {
	name := "krbtgt/" + k.realm + "@" + other.realm
	pw := randomPassword()
	if err := k.AddPrincipal(name, pw); err != nil {
		return err
	}
	if err := other.AddPrincipal(name, pw); err != nil {
		return err
	}
	k.mu.Lock()
	k.trusted = append(k.trusted, other)
	k.mu.Unlock()
	other.mu.Lock()
	other.trusted = append(other.trusted, k)
	other.mu.Unlock()
	if err := k.writeConfs(); err != nil {
		return err
	}
	return other.writeConfs()
}

// PID is krb5kdc's process id (0 when stopped).
func (k *KDC) PID() int { return k.proc.PID() }

// Stop ends krb5kdc by its PID and waits for it. Safe on nil and more
// than once; the folder stays (the caller owns it).
func (k *KDC) Stop() {
	if k == nil {
		return
	}
	k.proc.Stop()
}

// freePort finds a port free for both TCP and UDP (see daemon.FreePort
// for the band, shared with ops/slapd).
func freePort() (int, error) {
	port, err := daemon.FreePort(true)
	if err != nil {
		return 0, fmt.Errorf("mitkdc: %w", err)
	}
	return port, nil
}

func randomPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
