package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
	"github.com/gatehouse-idm/gatehouse/idm/oauth2client"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// newOAuth2CLIServer is the real API of one node over TLS with the OAuth2
// client manager, logged in as idm_admin (read-write).
func newOAuth2CLIServer(t *testing.T) *idmtest.World {
	t.Helper()
	w := idmtest.New(t, nil)
	srv := &api.Server{Svc: w.Svc, Signer: w.Signer, State: w.FSM, Cluster: credOneNode{}, NodeID: "n1",
		Log: slog.New(slog.DiscardHandler), Now: time.Now}
	srv.OAuth2ClientDeps = api.OAuth2ClientDeps{OAuth2Clients: oauth2client.New(w.Svc, w.Sealer)}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("GATEHOUSE_TOKEN_FILE", tokens)
	t.Setenv("GATEHOUSE_URL", ts.URL)
	t.Setenv("GATEHOUSE_CA", caFile)
	cs := &credServer{url: ts.URL, svc: w.Svc, signer: w.Signer, tokens: apiclient.TokenStore{Path: tokens}}
	cs.loginAs(t, "idm_admin")
	return w
}

// runErr runs a client command and returns stdout and stderr.
func runErr(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "gatehouse", Commands: clientCommands(), Writer: &out, ErrWriter: &errOut, Reader: strings.NewReader("")}
	if err := app.RunContext(context.Background(), append([]string{"gatehouse"}, args...)); err != nil {
		t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String()
}

func TestOAuth2CommandsManageAClientFromCreateToDelete(t *testing.T) {
	w := newOAuth2CLIServer(t)
	if _, _, err := w.Svc.Create(context.Background(), idm.System, entry.Group, idm.Input{Name: oauth2Ptr("wiki_users")}); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "", "oauth2", "create", "wiki", "The Wiki", "https://wiki.example.com")
	m := regexp.MustCompile(`(?m)^client_id: wiki\nclient_secret: (\S{43,})$`).FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		t.Fatalf("create printed:\n%s", out)
	}
	secret := m[1]
	if got := strings.TrimSpace(mustRun(t, "", "oauth2", "show-basic-secret", "wiki")); got != secret {
		t.Fatalf("show-basic-secret %q, want %q", got, secret)
	}
	if got := strings.TrimSpace(mustRun(t, "", "oauth2", "reset-basic-secret", "wiki")); got == secret || len(got) < 43 {
		t.Fatalf("reset-basic-secret %q", got)
	}
	if out := mustRun(t, "", "oauth2", "create-public", "spa", "Single Page App", "https://spa.example.com"); strings.Contains(out, "secret") {
		t.Fatalf("create-public printed a secret:\n%s", out)
	}

	mustRun(t, "", "oauth2", "add-redirect-url", "wiki", "https://wiki.example.com/oidc/callback")
	mustRun(t, "", "oauth2", "add-redirect-url", "wiki", "https://wiki.example.com/other")
	mustRun(t, "", "oauth2", "remove-redirect-url", "wiki", "https://wiki.example.com/other")
	mustRun(t, "", "oauth2", "update-scope-map", "wiki", "wiki_users", "openid", "profile", "email")
	mustRun(t, "", "oauth2", "update-sup-scope-map", "wiki", "wiki_users", "groups")
	mustRun(t, "", "oauth2", "update-claim-map", "wiki", "roles", "wiki_users", "editor", "reader")
	mustRun(t, "", "oauth2", "update-claim-map-join", "wiki", "roles", "csv")
	mustRun(t, "", "oauth2", "prefer-short-username", "wiki")

	stdout, stderr := runErr(t, "oauth2", "warning-insecure-client-disable-pkce", "wiki")
	if !strings.Contains(stderr, "WARNING: PKCE is now disabled for wiki") || !strings.Contains(stderr, "interception") ||
		!strings.Contains(stdout, "pkce:") {
		t.Fatalf("disable-pkce: stdout %q stderr %q", stdout, stderr)
	}
	_, stderr = runErr(t, "oauth2", "warning-enable-legacy-crypto", "wiki")
	if !strings.Contains(stderr, "WARNING: legacy crypto is now enabled for wiki") || !strings.Contains(stderr, "RS256") {
		t.Fatalf("legacy crypto warning: %q", stderr)
	}
	if _, err := cliRun(t, "", "oauth2", "warning-insecure-client-disable-pkce", "spa"); err == nil ||
		!strings.Contains(err.Error(), "PKCE is mandatory for public clients") {
		t.Fatalf("disable pkce on a public client: %v", err)
	}

	out = mustRun(t, "", "oauth2", "get", "wiki")
	for _, want := range []string{"type:", "basic", "redirect_url:", "https://wiki.example.com/oidc/callback", "wiki_users: email openid profile",
		"sup_scope_map:", "roles wiki_users: editor, reader (csv)", "pkce:", "false", "legacy_crypto:", "prefer_short_username:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "other") {
		t.Fatalf("removed redirect URL still shown:\n%s", out)
	}
	var c apiclient.OAuth2Client
	if err := json.Unmarshal([]byte(mustRun(t, "", "oauth2", "get", "--json", "wiki")), &c); err != nil ||
		c.PKCE || !c.LegacyCrypto || !c.PreferShortUsername {
		t.Fatalf("get --json: %+v %v", c, err)
	}
	mustRun(t, "", "oauth2", "enable-pkce", "wiki")
	mustRun(t, "", "oauth2", "disable-legacy-crypto", "wiki")
	mustRun(t, "", "oauth2", "prefer-spn-username", "wiki")
	mustRun(t, "", "oauth2", "delete-claim-map", "wiki", "roles", "wiki_users")
	mustRun(t, "", "oauth2", "delete-sup-scope-map", "wiki", "wiki_users")
	mustRun(t, "", "oauth2", "delete-scope-map", "wiki", "wiki_users")
	if err := json.Unmarshal([]byte(mustRun(t, "", "oauth2", "get", "--json", "wiki")), &c); err != nil ||
		!c.PKCE || c.LegacyCrypto || c.PreferShortUsername || len(c.ScopeMaps)+len(c.SupScopeMaps)+len(c.ClaimMaps) != 0 {
		t.Fatalf("after undoing: %+v %v", c, err)
	}

	out = mustRun(t, "", "oauth2", "list")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "spa") || !strings.Contains(out, "public") || !strings.Contains(out, "wiki") {
		t.Fatalf("list:\n%s", out)
	}
	before := len(w.FSM.SigningKeys())
	out = mustRun(t, "", "oauth2", "rotate-keys")
	// legacy crypto was enabled once, so an RS256 key exists: two new keys.
	if strings.Count(out, "added signing key ") != 2 || len(w.FSM.SigningKeys()) != before+2 {
		t.Fatalf("rotate-keys printed %q; %d keys, had %d", out, len(w.FSM.SigningKeys()), before)
	}
	mustRun(t, "", "oauth2", "delete", "wiki")
	if _, err := cliRun(t, "", "oauth2", "get", "wiki"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("get after delete: %v", err)
	}
}

func oauth2Ptr[T any](v T) *T { return &v }
