package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup/oidcuptest"
)

// OIDC and plain OAuth2 logins through the real routes of the login page
// (its provider button is a link to /ui/sso/login/<uuid>?next=...), on a
// three-node cluster behind HAProxy round robin: the provider's redirect
// back reaches another node than the one that began the login. The
// upstream is protocols/upstream/oidcup/oidcuptest (a provider written
// for tests, with its own signing keys, PKCE check and HS256/issuer
// faults), not our own OAuth2 provider.
func TestSSOOIDC(t *testing.T) {
	idp := oidcuptest.New(t, oidcuptest.Options{ClientSecret: "oidc-client-secret-5f3a9c",
		User: oidcuptest.User{Sub: "u-jdoe", Email: "jdoe@example.com", EmailVerified: true, PreferredUsername: "jdoe", Name: "Jane Doe"}})
	hs := oidcuptest.New(t, oidcuptest.Options{Alg: "HS256", User: oidcuptest.User{Sub: "u-hs"}})
	slash := oidcuptest.New(t, oidcuptest.Options{IssuerSuffix: "/", User: oidcuptest.User{Sub: "u-slash"}})
	gh := oidcuptest.New(t, oidcuptest.Options{OAuth2Only: true, ClientSecret: "gh-secret-77aa",
		User: oidcuptest.User{Sub: "4242", PreferredUsername: "octocat", Email: "octo@example.com"}})
	e := startSSO(t, idp.CertPEM())
	ctx := context.Background()

	corp := e.createProvider(map[string]any{"name": "Corp", "type": "oidc", "enabled": true, "client_id": "client",
		"client_secret": "oidc-client-secret-5f3a9c", "discovery_url": idp.URL()})
	login := func(b *browser, id, next string) (int, string) {
		u := "https://localhost/ui/sso/login/" + id
		if next != "" {
			u += "?next=" + url.QueryEscape(next)
		}
		return b.get(u)
	}

	// The login page lists the provider (no secret in the list).
	b := e.browser()
	st, body := b.get("https://localhost/v1/sso/login-options")
	if st != 200 || !strings.Contains(body, corp) || !strings.Contains(body, `"Corp"`) || strings.Contains(body, "secret") {
		t.Fatalf("login options: %d %s", st, body)
	}

	t.Run("JIT creation waits for approval, then logs in", func(t *testing.T) {
		b := e.browser()
		st, body := login(b, corp, "")
		if st != http.StatusForbidden || !strings.Contains(body, "Pending approval") {
			t.Fatalf("first login: want 403 Pending approval, got %d %s", st, body)
		}
		b.crossNode("first login", "/ui/sso/callback/")
		e.sync2()
		p, ok := e.person("jdoe")
		if !ok || !p.Disabled {
			t.Fatalf("jdoe after the first login: %+v %v", p, ok)
		}
		no := false
		if _, err := e.admin.UpdatePerson(ctx, "jdoe", apiclient.EntryPatch{Disabled: &no}); err != nil {
			t.Fatal(err)
		}
		e.sync()
		st, body = login(b, corp, "/ui/oauth2/authorize?id=abc")
		last := b.legs[len(b.legs)-1]
		if !strings.HasSuffix(last.URL, "/ui/oauth2/authorize?id=abc") {
			t.Fatalf("after enabling: want to land on next, got %d %s legs %+v", st, body, b.legs)
		}
		b.crossNode("second login", "/ui/sso/callback/")
		if name, mech, ok := b.session(); !ok || name != "jdoe" || mech != "sso" {
			t.Fatalf("session: %q %q %v", name, mech, ok)
		}
	})

	t.Run("verified e-mail links an existing account", func(t *testing.T) {
		if _, err := e.admin.CreatePerson(ctx, "carol", "Carol", []string{"carol@example.com"}); err != nil {
			t.Fatal(err)
		}
		e.sync()
		idp.SetUser(oidcuptest.User{Sub: "u-carol", Email: "carol@example.com", EmailVerified: true, PreferredUsername: "carol.upstream"})
		b := e.browser()
		if st, body := login(b, corp, ""); st != 200 {
			t.Fatalf("carol: %d %s", st, body)
		}
		if name, _, ok := b.session(); !ok || name != "carol" {
			t.Fatalf("carol's session: %q %v", name, ok)
		}
	})

	t.Run("username fallbacks", func(t *testing.T) {
		idp.SetUser(oidcuptest.User{Sub: "u-nick", Email: "nick@example.com", Extra: map[string]any{"nickname": "nicky"}})
		b := e.browser()
		if st, body := login(b, corp, ""); st != http.StatusForbidden || !strings.Contains(body, "Pending approval") {
			t.Fatalf("nickname login: %d %s", st, body)
		}
		e.sync2()
		if _, ok := e.person("nicky"); !ok {
			t.Fatal("no account named after the nickname claim")
		}
	})

	t.Run("HS256 ID tokens are refused", func(t *testing.T) {
		id := e.createProvider(map[string]any{"name": "HS", "type": "oidc", "enabled": true, "client_id": "client",
			"client_secret": "secret", "discovery_url": hs.URL()})
		st, body := login(e.browser(), id, "")
		if st != http.StatusBadRequest || !strings.Contains(body, "Invalid signature algorithm HS256") {
			t.Fatalf("HS256: %d %s", st, body)
		}
	})

	t.Run("issuer mismatch is reported", func(t *testing.T) {
		id := e.createProvider(map[string]any{"name": "Slash", "type": "oidc", "enabled": true, "client_id": "client",
			"client_secret": "secret", "discovery_url": slash.URL()})
		st, body := login(e.browser(), id, "")
		if st < 400 || !strings.Contains(body, "Issuer mismatch") {
			t.Fatalf("issuer mismatch: %d %s", st, body)
		}
	})

	t.Run("OAuth2 without discovery", func(t *testing.T) {
		id := e.createProvider(map[string]any{"name": "Hub", "type": "oauth2", "enabled": true, "auto_enable": true,
			"client_id": "client", "client_secret": "gh-secret-77aa", "auth_url": gh.AuthURL(), "token_url": gh.TokenURL(),
			"userinfo_url": gh.UserInfoURL(), "scopes": []string{"read:user"}})
		b := e.browser()
		if st, body := login(b, id, ""); st != 200 {
			t.Fatalf("oauth2: %d %s legs %+v", st, body, b.legs)
		}
		b.crossNode("oauth2", "/ui/sso/callback/")
		if name, mech, ok := b.session(); !ok || name != "octocat" || mech != "sso" {
			t.Fatalf("oauth2 session: %q %q %v", name, mech, ok)
		}
	})

	t.Run("the callback without this browser's flow is refused", func(t *testing.T) {
		b := e.browser()
		st, body := b.get("https://localhost/ui/sso/callback/" + corp + "?code=x&state=y")
		if st != http.StatusBadRequest || !strings.Contains(body, "not started in this browser") {
			t.Fatalf("foreign callback: %d %s", st, body)
		}
	})
}

// sync2 waits for JIT writes proposed by a node (not by the admin
// client): every node reaches the highest applied index seen.
func (e *ssoEnv) sync2() {
	e.t.Helper()
	var top uint64
	for _, nd := range e.c.Nodes {
		if st, ok := nd.Status(); ok && st.AppliedIndex > top {
			top = st.AppliedIndex
		}
	}
	waitApplied(e.t, e.c, top)
}
