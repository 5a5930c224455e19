package oauth2

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

var (
	hiddenID   = regexp.MustCompile(`name="id" value="([^"]+)"`)
	hiddenForm = regexp.MustCompile(`name="form" value="([^"]+)"`)
)

// authorize drives the browser side: authorize, login (cookie), consent,
// and returns the code.
func (n *testNode) authorize(t *testing.T, authURL string) string {
	t.Helper()
	b := n.browser(true)
	resp, err := b.Get(authURL)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %v", err, resp)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, PathUIAuth) {
		t.Fatalf("authorize went to %q", loc)
	}
	resp, err = b.Get(n.srv.URL + loc)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK { // the consent page
		body, _ := io.ReadAll(resp.Body)
		m := hiddenID.FindSubmatch(body)
		if m == nil || !strings.Contains(string(body), "The App") {
			t.Fatalf("consent page: %s", body)
		}
		f := hiddenForm.FindSubmatch(body)
		if f == nil {
			t.Fatalf("consent page without its form token: %s", body)
		}
		resp, err = b.PostForm(n.srv.URL+PathUIConsent, url.Values{"id": {string(m[1])}, "form": {string(f[1])}, "decision": {"approve"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("after login: %d %s", resp.StatusCode, body)
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	if u.Query().Get("error") != "" {
		t.Fatalf("authorize error: %s", u)
	}
	return u.Query().Get("code")
}

func TestRelyingPartyEndToEnd(t *testing.T) {
	n := newTestNode(t)
	ctx := oidc.ClientContext(context.Background(), n.srv.Client())
	prov, err := oidc.NewProvider(ctx, n.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: "app", ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: redirect,
		Scopes: []string{"openid", "profile", "email", "groups", "offline_access"}}
	verifier := oauth2.GenerateVerifier()
	code := n.authorize(t, cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n0nce"),
		oauth2.SetAuthURLParam("unknown_param", "ignored")))
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: "app"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	idt.Claims(&claims)
	if idt.Subject != aliceUUID || claims["nonce"] != "n0nce" || claims["preferred_username"] != "alice@example.com" ||
		claims["email"] != "alice@example.com" || claims["roles"] != "reader,user" || claims["sid"] != nil {
		t.Fatalf("id token claims: %v", claims)
	}
	// An ID token for one client does not verify as another's.
	if _, err := prov.Verifier(&oidc.Config{ClientID: "legacy"}).Verify(ctx, rawID); err == nil {
		t.Fatal("the ID token verified for another audience")
	}
	// The access token is an RFC 9068 JWT, ES256, and not a Gatehouse session.
	at, _ := jose.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if at == nil || at.Signatures[0].Header.ExtraHeaders["typ"] != "at+jwt" {
		t.Fatalf("access token header: %+v", at)
	}
	if _, err := n.w.Signer.Verify(tok.AccessToken, time.Now()); err == nil {
		t.Fatal("an access token verifies as a session token")
	}
	if _, err := n.w.Signer.Verify(rawID, time.Now()); err == nil {
		t.Fatal("an ID token verifies as a session token")
	}
	ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != aliceUUID || ui.Email != "alice@example.com" {
		t.Fatalf("userinfo: %+v %v", ui, err)
	}
	// Introspection (client-authenticated).
	in := n.introspect(t, tok.AccessToken)
	if in["active"] != true || in["sub"] != aliceUUID || in["client_id"] != "app" {
		t.Fatalf("introspect: %v", in)
	}
	// Refresh rotates; reusing the old refresh token revokes the session.
	old := tok.RefreshToken
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil || tok2.RefreshToken == "" || tok2.RefreshToken == old {
		t.Fatalf("refresh: %v %+v", err, tok2)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
		t.Fatal("a reused refresh token was accepted")
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
		t.Fatal("the family survived a reuse")
	}
	if in := n.introspect(t, tok2.AccessToken); in["active"] != false {
		t.Fatalf("access token of a revoked family: %v", in)
	}
	// Client credentials for the basic client: no user scopes.
	cc := clientcredentials.Config{ClientID: "app", ClientSecret: secret, TokenURL: prov.Endpoint().TokenURL, Scopes: []string{"read", "openid"}}
	ctok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in := n.introspect(t, ctok.AccessToken); in["active"] != true || in["sub"] != basicUUID || in["scope"] != "read" {
		t.Fatalf("client credentials token: %v", in)
	}
	// Revocation of a fresh session's access token.
	code = n.authorize(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	tok3, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, n.srv.URL+PathRevoke, strings.NewReader(url.Values{"token": {tok3.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", secret)
	if resp, err := n.srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok3.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
		t.Fatal("refresh after revocation")
	}
	// A code is single-use, and its replay revokes what it issued.
	code = n.authorize(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	tok4, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("replayed code: %v", err)
	}
	for i := 0; n.introspect(t, tok4.AccessToken)["active"] != false; i++ {
		if i > 100 {
			t.Fatal("the tokens of a replayed code are still active")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *testNode) introspect(t *testing.T, tok string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.srv.URL+PathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", secret)
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func TestAuthorizeRules(t *testing.T) {
	n := newTestNode(t)
	b := n.browser(true)
	get := func(q url.Values) *http.Response {
		resp, err := b.Get(n.srv.URL + PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	base := func(client, redir string) url.Values {
		return url.Values{"client_id": {client}, "redirect_uri": {redir}, "response_type": {"code"}, "scope": {"openid"}, "state": {"x"}}
	}
	// Unregistered redirect URI: an HTML page, 400, no redirect.
	resp := get(base("app", "https://evil.example.com/cb"))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("bad redirect: %d %v", resp.StatusCode, resp.Header)
	}
	errOf := func(resp *http.Response) string {
		u, _ := url.Parse(resp.Header.Get("Location"))
		return u.Query().Get("error")
	}
	// A public client without PKCE, or with plain, is refused (to its redirect URI).
	if e := errOf(get(base("cli", "http://127.0.0.1:5555/cb"))); e != "invalid_request" {
		t.Fatalf("public without PKCE: %q", e)
	}
	q := base("cli", "http://127.0.0.1:5555/cb")
	q.Set("code_challenge", strings.Repeat("a", 43))
	q.Set("code_challenge_method", "plain")
	if e := errOf(get(q)); e != "invalid_request" {
		t.Fatalf("plain PKCE: %q", e)
	}
	// Loopback on any port for public clients, with S256: on to the login.
	q.Set("code_challenge_method", "S256")
	if resp := get(q); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), PathUIAuth) {
		t.Fatalf("public loopback: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A basic client needs PKCE too unless it was disabled.
	if e := errOf(get(base("app", redirect))); e != "invalid_request" {
		t.Fatalf("basic without PKCE: %q", e)
	}
	// Without a session and without Kerberos: to the login page.
	resp, _ = n.browser(false).Get(n.srv.URL + resp.Header.Get("Location"))
	q.Set("code_challenge_method", "S256")
	r2 := get(q)
	resp, _ = n.browser(false).Get(n.srv.URL + r2.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login?next=") {
		t.Fatalf("no session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLegacyCryptoGetsRS256(t *testing.T) {
	n := newTestNode(t)
	cc := clientcredentials.Config{ClientID: "legacy", ClientSecret: secret, TokenURL: n.srv.URL + PathToken, AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, n.srv.Client())
	if _, err := cc.Token(ctx); err == nil || !strings.Contains(err.Error(), "RS256") {
		t.Fatalf("without an RS256 key: %v", err)
	}
	k, err := token.GenerateRSAKey(n.w.Sealer, "rsa1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	propose(t, n.w, "", fsm.TypeKeyAdd, fsm.KeyAdd{Key: k})
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := jose.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.RS256}); js == nil {
		t.Fatal("legacy client token is not RS256")
	}
	cc.ClientID = "app"
	tok, err = cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := jose.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256}); js == nil {
		t.Fatal("other clients' tokens are not ES256")
	}
}
