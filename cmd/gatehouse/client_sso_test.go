package main

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
	"github.com/gatehouse-idm/gatehouse/idm/sso"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

func TestSSOCommands(t *testing.T) {
	w := idmtest.New(t, nil)
	svc := sso.New(w.Svc, w.Sealer, idmtest.Issuer)
	srv := &api.Server{Svc: w.Svc, Signer: w.Signer, State: w.FSM, Cluster: credOneNode{}, NodeID: "n1", Log: slog.New(slog.DiscardHandler), Now: time.Now}
	srv.SSODeps = api.SSODeps{SSO: svc}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600)
	tokens := filepath.Join(dir, "tokens.json")
	t.Setenv("GATEHOUSE_TOKEN_FILE", tokens)
	t.Setenv("GATEHOUSE_URL", ts.URL)
	t.Setenv("GATEHOUSE_CA", caFile)
	s := &credServer{url: ts.URL, svc: w.Svc, signer: w.Signer, tokens: apiclient.TokenStore{Path: tokens}}
	s.loginAs(t, "admin")

	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte("cli-client-secret\n"), 0o600)
	out := squash(mustRun(t, "", "sso", "provider", "create", "--type", "oidc", "--name", "Corp", "--client-id", "gh",
		"--client-secret-file", secretFile, "--discovery-url", "https://127.0.0.1:1/", "--auto-enable", "true"))
	if !strings.Contains(out, "callback url:") || !strings.Contains(out, "/ui/sso/callback/") || !strings.Contains(out, "client secret: (set)") {
		t.Fatalf("create printed:\n%s", out)
	}
	if strings.Contains(out, "cli-client-secret") {
		t.Fatal("the secret was printed")
	}
	p, _ := svc.Lookup("Corp")
	if sec, _ := svc.Open(p, sso.FieldClientSecret); sec != "cli-client-secret" {
		t.Fatalf("stored secret %q", sec)
	}
	if out := mustRun(t, "", "sso", "provider", "list"); !strings.Contains(out, "Corp") || !strings.Contains(out, "oidc") {
		t.Fatalf("list:\n%s", out)
	}
	out = squash(mustRun(t, "", "sso", "provider", "update", "Corp", "--auto-enable", "default", "--scopes", "openid,email"))
	if !strings.Contains(out, "auto enable: default") || !strings.Contains(out, "scopes: openid email") {
		t.Fatalf("update:\n%s", out)
	}
	if _, err := cliRun(t, "", "sso", "provider", "test", "Corp"); err == nil || !strings.Contains(err.Error(), "connection test of Corp failed") {
		t.Fatalf("test: %v", err)
	}
	// LDAP: skip-verify needs the confirmation; the bind password is read
	// from stdin.
	if _, err := cliRun(t, "pw\n", "sso", "provider", "create", "--type", "ldap", "--name", "Dir", "--ldap-url", "ldaps://127.0.0.1:1",
		"--base-dn", "dc=x", "--skip-verify", "true"); err == nil || !strings.Contains(err.Error(), "--i-understand-skip-verify") {
		t.Fatalf("skip-verify unconfirmed: %v", err)
	}
	mustRun(t, "bind-secret\n", "sso", "provider", "create", "--type", "ldap", "--name", "Dir", "--ldap-url", "ldaps://127.0.0.1:1",
		"--base-dn", "dc=x", "--bind-dn", "cn=svc", "--skip-verify", "true", "--i-understand-skip-verify")
	d, _ := svc.Lookup("Dir")
	if pw, _ := svc.Open(d, sso.FieldBindPassword); pw != "bind-secret" || !d.LDAP.SkipVerify {
		t.Fatalf("ldap: %q %+v", pw, d.LDAP)
	}

	// Settings: disabling local auth is refused while no admin has SSO.
	if _, err := cliRun(t, "", "sso", "settings", "set", "--local-auth", "false"); err == nil || !strings.Contains(err.Error(), "Ensure at least one admin has SSO access before disabling") {
		t.Fatalf("settings set: %v", err)
	}
	if out := squash(mustRun(t, "", "sso", "settings", "show")); !strings.Contains(out, "local auth: true") {
		t.Fatalf("settings show:\n%s", out)
	}

	// person sso: list, override, unlink.
	mustRun(t, "", "person", "create", "pat", "Pat")
	if _, err := svc.Link(context.Background(), "pat", p, upstream.Identity{Subject: "sub-1", Email: "pat@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Link(context.Background(), "pat", d, upstream.Identity{Subject: "cn=pat,dc=x"}); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "", "person", "sso", "list", "pat"); !strings.Contains(out, "sub-1") || !strings.Contains(out, "Corp") {
		t.Fatalf("person sso list:\n%s", out)
	}
	out = squash(mustRun(t, "", "person", "sso", "override", "pat", "--local-auth", "off", "--note", "SSO only"))
	if !strings.Contains(out, "local auth: refused (override off)") || !strings.Contains(out, "SSO only") {
		t.Fatalf("override:\n%s", out)
	}
	mustRun(t, "", "person", "sso", "unlink", "pat", "Corp", "sub-1")
	if _, err := cliRun(t, "", "person", "sso", "unlink", "pat", "Dir", "cn=pat,dc=x"); err == nil || !strings.Contains(err.Error(), "last way") {
		t.Fatalf("unlink last: %v", err)
	}
	if out := mustRun(t, "", "sso", "provider", "delete", "Corp"); !strings.Contains(out, "deleted Corp") {
		t.Fatalf("delete:\n%s", out)
	}
	if _, err := cliRun(t, "", "sso", "provider", "delete", "Dir"); err == nil || !strings.Contains(err.Error(), "unlink") {
		t.Fatalf("delete linked: %v", err)
	}
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
