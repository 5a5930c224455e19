package oidcup_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup/oidcuptest"
)

// checks indexes a report by check name, failing on duplicates.
func checks(t *testing.T, report []upstream.Check) map[string]upstream.Check {
	t.Helper()
	m := map[string]upstream.Check{}
	for _, c := range report {
		t.Logf("%-24s ok=%-5v %s", c.Name, c.OK, c.Detail)
		if _, dup := m[c.Name]; dup {
			t.Fatalf("check %q reported twice", c.Name)
		}
		m[c.Name] = c
	}
	return m
}

func TestConnectionTestOIDCReportsIssuerKeysAndEndpoints(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{Alg: "ES256"})
	m := checks(t, oidcup.Test(ctxT(t), oidcConfig(op, op.URL()), false))
	want := map[string][]string{
		"Client settings":    {`"client"`, redirectURL},
		"Discovery":          {"Fetched the discovery document", "the issuer is " + op.Issuer(), "ES256"},
		"Signing keys":       {"Fetched 1 signing key(s)", "ES256"},
		"Token endpoint":     {op.TokenURL(), "is reachable"},
		"User info endpoint": {op.UserInfoURL(), "is reachable"},
	}
	if len(m) != len(want) {
		t.Fatalf("got %d checks, want %d", len(m), len(want))
	}
	for name, parts := range want {
		c, ok := m[name]
		if !ok || !c.OK {
			t.Fatalf("check %q = %+v; want OK", name, c)
		}
		for _, p := range parts {
			if !strings.Contains(c.Detail, p) {
				t.Errorf("check %q detail %q lacks %q", name, c.Detail, p)
			}
		}
	}
}

func TestConnectionTestStopsAtIssuerMismatch(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{IssuerSuffix: "/"})
	report := oidcup.Test(ctxT(t), oidcConfig(op, op.URL()), false)
	m := checks(t, report)
	d := m["Discovery"]
	if d.OK || !strings.HasPrefix(d.Detail, "Issuer mismatch") || !strings.Contains(d.Detail, "trailing slash") {
		t.Fatalf("discovery check = %+v", d)
	}
	if _, ran := m["Signing keys"]; ran {
		t.Fatalf("checks after a failed discovery ran: %+v", report)
	}
}

func TestConnectionTestOAuth2Only(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{OAuth2Only: true})
	c := oidcup.Config{
		AuthURL: op.AuthURL(), TokenURL: op.TokenURL(), UserInfoURL: op.UserInfoURL(),
		ClientID: "client", RedirectURL: redirectURL, HTTPClient: op.Client(),
	}
	m := checks(t, oidcup.Test(ctxT(t), c, true))
	for _, name := range []string{"Client settings", "Authorization endpoint", "Token endpoint", "User info endpoint"} {
		if !m[name].OK {
			t.Fatalf("check %q = %+v; want OK", name, m[name])
		}
	}
	// An endpoint nobody listens on is reported, in words, as unreachable.
	c.UserInfoURL = "https://127.0.0.1:1/userinfo"
	m = checks(t, oidcup.Test(ctxT(t), c, true))
	if u := m["User info endpoint"]; u.OK || !strings.Contains(u.Detail, "Could not reach https://127.0.0.1:1/userinfo") {
		t.Fatalf("unreachable user info = %+v", u)
	}
}
