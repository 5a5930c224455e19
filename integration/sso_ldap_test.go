package integration

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/slapd"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

// postNode posts JSON to the public origin and returns the status and the
// node that answered.
func (b *browser) postNode(path string, in any, out any) (int, string) {
	b.t.Helper()
	b.legs = nil
	st := b.postJSON(path, in, out)
	return st, b.lastNode
}

// LDAP logins against a real OpenLDAP slapd (ops/slapd) over ldaps and
// over StartTLS with the directory's test CA, always followed by the
// account's own TOTP (the seed's "LDAP + Local MFA"); the bind and the
// code land on different nodes behind HAProxy. Then no provider secret,
// nor any directory password, is found in clear in any file of any node
// (Raft log, state, snapshots, server and audit logs).
func TestSSOLDAP(t *testing.T) {
	dir, err := slapd.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Stop)
	// Snapshot often: the secrets search covers snapshots too.
	e := startSSOWith(t, "snapshot_threshold = 8\nsnapshot_interval_ms = 300\n")
	ctx := context.Background()
	idmAdmin, _ := e.c.Admin(e.c.Nodes[1], "idm_admin")
	en := &enroller{t: t, c: e.c, nd: e.c.Nodes[1], admin: idmAdmin, origin: "https://localhost"}

	ldaps := e.createProvider(map[string]any{"name": "Directory", "type": "ldap", "enabled": true, "auto_enable": true,
		"trust_email": true, "url": dir.LDAPSURL(), "bind_dn": dir.ServiceDN(), "bind_password": dir.ServicePassword(), "base_dn": dir.BaseDN(),
		"user_filter": slapd.UserFilter, "ca_cert": dir.CACertPEM()})
	// The directory's mail is trusted by both, so alice's login over
	// StartTLS links to the account her ldaps login created.
	starttls := e.createProvider(map[string]any{"name": "Directory StartTLS", "type": "ldap", "enabled": true, "auto_enable": true,
		"trust_email": true, "url": dir.URL(), "start_tls": true, "bind_dn": dir.ServiceDN(), "bind_password": dir.ServicePassword(), "base_dn": dir.BaseDN(),
		"user_filter": slapd.UserFilter, "ca_cert": dir.CACertPEM()})

	type answer struct {
		Continue, Handle, Error, Code, Name string
	}
	ldapLogin := func(b *browser, id, user, pass string) (int, answer, string) {
		var a answer
		st, node := b.postNode("/v1/sso/ldap/"+id, map[string]any{"username": user, "password": pass, "issue": "cookie"}, &a)
		return st, a, node
	}

	b := e.browser()
	// First login: the account is created (auto-enable) but holds no
	// second factor yet.
	if st, a, _ := ldapLogin(b, ldaps, "alice", "alice-secret-1"); st != http.StatusForbidden || !strings.Contains(a.Error, "LDAP logins need a second factor") {
		t.Fatalf("alice without TOTP: %d %+v", st, a)
	}
	e.sync2()
	// A TOTP goes with a password (the credential rules); LDAP logins use only the TOTP.
	sec := en.credentials(ctx, "alice", enrolOpts{Password: true, TOTP: true})
	e.sync2()

	t.Run("wrong password", func(t *testing.T) {
		for _, id := range []string{ldaps, starttls} {
			if st, a, _ := ldapLogin(b, id, "alice", "wrong"); st != http.StatusUnauthorized || a.Error != "Invalid credentials" {
				t.Fatalf("wrong password: %d %+v", st, a)
			}
		}
	})
	t.Run("filter injection is refused", func(t *testing.T) {
		for _, u := range []string{"*", "alice)(uid=*", "*)(|(uid=*"} {
			if st, a, _ := ldapLogin(b, ldaps, u, "alice-secret-1"); st == http.StatusOK || (st != 401 && st != 400) {
				t.Fatalf("username %q: %d %+v", u, st, a)
			}
		}
		// The real user with every metacharacter in its uid binds (the
		// value is escaped, not refused), then needs its second factor.
		if st, a, _ := ldapLogin(b, starttls, slapd.WeirdUID, "weird-secret-3"); st != http.StatusForbidden || a.Code != "no_second_factor" {
			t.Fatalf("weird uid: %d %+v", st, a)
		}
	})
	t.Run("ldaps bind, then the TOTP on another node", func(t *testing.T) {
		st, a, n1 := ldapLogin(b, ldaps, "alice", "alice-secret-1")
		if st != http.StatusOK || a.Continue != "totp" || a.Handle == "" {
			t.Fatalf("alice: %d %+v", st, a)
		}
		var bad answer
		if st, _ := b.postNode("/v1/sso/ldap/"+ldaps+"/mfa", map[string]any{"handle": a.Handle, "totp": "000000"}, &bad); st != http.StatusUnauthorized {
			t.Fatalf("wrong code: %d %+v", st, bad)
		}
		code := fmt.Sprintf("%06d", totpCode(t, sec.TOTP, time.Now().Add(30*time.Second)))
		var ok answer
		st, n2 := b.postNode("/v1/sso/ldap/"+ldaps+"/mfa", map[string]any{"handle": a.Handle, "totp": code}, &ok)
		if st != http.StatusOK || ok.Name != "alice" {
			t.Fatalf("right code: %d %+v", st, ok)
		}
		if n1 == "" || n1 == n2 {
			t.Fatalf("bind at %q and code at %q: want two nodes", n1, n2)
		}
		if name, mech, ok := b.session(); !ok || name != "alice" || mech != "sso_mfa" {
			t.Fatalf("session: %q %q %v", name, mech, ok)
		}
		// The handle is spent; the code too.
		if st, _ := b.postNode("/v1/sso/ldap/"+ldaps+"/mfa", map[string]any{"handle": a.Handle, "totp": code}, nil); st == http.StatusOK {
			t.Fatal("the handle and code were accepted twice")
		}
	})
	t.Run("StartTLS bind", func(t *testing.T) {
		st, a, _ := ldapLogin(b, starttls, "alice", "alice-secret-1")
		if st != http.StatusOK || a.Handle == "" {
			t.Fatalf("alice over StartTLS: %d %+v", st, a)
		}
	})

	t.Run("secrets are never in clear", func(t *testing.T) {
		keyPEM, certPEM, err := samlsp.GenerateSPKey("https://localhost/sp", 2048, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.createProvider(map[string]any{"name": "Sealed", "type": "oidc", "enabled": false, "client_id": "c",
			"client_secret": "oidc-needle-secret-93e1d7", "discovery_url": "https://127.0.0.1:1/"})
		e.createProvider(map[string]any{"name": "SAML sealed", "type": "saml", "enabled": false, "sp_entity_id": "https://localhost/sp",
			"idp_entity_id": "https://idp.example", "idp_sso_url": "https://idp.example/sso", "idp_cert": certPEM,
			"sp_key": keyPEM, "sp_cert": certPEM})
		e.sync()
		// Every node has a snapshot taken after the providers were written.
		for _, nd := range e.c.Nodes {
			Eventually(t, 20*time.Second, nd.ID+" writes a snapshot", func() bool {
				m, _ := filepath.Glob(filepath.Join(nd.DataDir(), "snapshots", "*", "state.bin"))
				return len(m) > 0
			})
		}
		time.Sleep(time.Second) // at least one snapshot interval after the last write
		blk, _ := pem.Decode([]byte(keyPEM))
		needles := []needle{
			newNeedle("LDAP bind password", []byte(dir.ServicePassword())),
			newNeedle("OIDC client secret", []byte("oidc-needle-secret-93e1d7")),
			newNeedle("SP private key", blk.Bytes),
			newNeedle("alice's directory password", []byte("alice-secret-1")),
		}
		files := filesUnder(t, e.c.Dir)
		if len(files) < 10 {
			t.Fatalf("only %d files to search", len(files))
		}
		for _, n := range needles {
			if hits := findIn(t, files, n); len(hits) > 0 {
				t.Errorf("%s found in clear: %v", n.name, hits)
			}
		}
	})
}
