package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient/apiclienttest"
)

// login --kerberos never asks for a password: without a usable ticket it
// fails at once with what to do, and stores no token. (The login itself,
// from a kinit cache against real nodes, is in integration/kerberos_test.go.)
func TestLoginKerberosFailsClearlyWithoutATicket(t *testing.T) {
	srv := apiclienttest.New(t, "admin-password")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.json")
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n  default_realm = EXAMPLE.COM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_TOKEN_FILE", tokens)
	t.Setenv("GATEHOUSE_URL", srv.URL)
	t.Setenv("GATEHOUSE_CA", srv.CAFile)
	t.Setenv("KRB5_CONFIG", conf)
	t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(dir, "none"))

	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no cache", map[string]string{"KRB5CCNAME": "FILE:" + filepath.Join(dir, "none")}, nil, "no Kerberos credential cache at " + filepath.Join(dir, "none") + " (KRB5CCNAME): run kinit first"},
		{"KCM cache", map[string]string{"KRB5CCNAME": "KCM:1000"}, nil, "only FILE: credential caches"},
		{"bad KRB5_CONFIG", map[string]string{"KRB5_CONFIG": filepath.Join(dir, "missing.conf")}, nil, "KRB5_CONFIG"},
		{"with --name", nil, []string{"--name", "alice"}, "--name is not used with --kerberos"},
		{"with --privileged", nil, []string{"--privileged"}, "--privileged cannot be combined with --kerberos"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		// stdin holds a "password": it must not be read.
		_, err := cliRun(t, "a-password\n", append([]string{"login", "--kerberos"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", c.name, err, c.want)
		}
		t.Setenv("KRB5_CONFIG", conf)
		t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(dir, "none"))
	}
	if _, err := cliRun(t, "", "login"); err == nil || !strings.Contains(err.Error(), "--name NAME (or --kerberos)") {
		t.Errorf("login without --name or --kerberos: %v", err)
	}
	if tok, err := (apiclient.TokenStore{Path: tokens}).Get(srv.URL); err != nil || tok != "" {
		t.Fatalf("a token was stored after failed logins: %q, %v", tok, err)
	}
}
