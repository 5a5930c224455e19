package slapd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// A fresh directory starts in well under two seconds, answers over ldaps
// and StartTLS with the test CA, gives entries an entryUUID, lets the
// person with filter metacharacters in her uid bind, and is gone after
// Stop.
func TestStartSearchBindStop(t *testing.T) {
	begin := time.Now()
	s, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("start took %v", d)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(s.CACertPEM())) {
		t.Fatal("CA PEM does not parse")
	}
	tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	l, err := ldap.DialURL(s.LDAPSURL(), ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatalf("ldaps: %v\n%s", err, s.Log())
	}
	defer l.Close()
	if err := l.Bind(s.ServiceDN(), s.ServicePassword()); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	res, err := l.Search(ldap.NewSearchRequest(s.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false,
		"(uid="+ldap.EscapeFilter(WeirdUID)+")", []string{"uid", "mail", "entryUUID"}, nil))
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("entryUUID") == "" {
		t.Fatalf("weird user: %+v", res.Entries)
	}
	if res.Entries[0].DN != UserDN(WeirdUID) {
		t.Errorf("DN %q, want %q", res.Entries[0].DN, UserDN(WeirdUID))
	}
	// The service account must not read password hashes.
	res, err = l.Search(ldap.NewSearchRequest(s.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false,
		"(uid=alice)", []string{"userPassword"}, nil))
	if err != nil || len(res.Entries) != 1 || len(res.Entries[0].GetAttributeValues("userPassword")) != 0 {
		t.Fatalf("userPassword visible or alice missing: %v %+v", err, res)
	}

	p, err := ldap.DialURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.StartTLS(tc); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	weird := DefaultUsers()[2]
	if err := p.Bind(UserDN(weird.UID), weird.Password); err != nil {
		t.Fatalf("bind %s: %v", UserDN(weird.UID), err)
	}
	if err := p.Bind(UserDN("alice"), "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}

	pid := s.PID()
	s.Stop()
	s.Stop()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("slapd %d still there after Stop: %v", pid, err)
	}
	if _, err := os.Stat(s.CAFile()); err != nil {
		t.Error(err)
	}
}
