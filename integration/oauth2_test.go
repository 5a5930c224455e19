package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OAuth2/OIDC provider (issue 4) against real peers on one shared
// three-node cluster behind HAProxy round robin, whose issuer is the
// balancer's URL: a real relying party (go-oidc + x/oauth2) through the
// whole code + PKCE flow with the login driven as the login page's script
// does it, consent, ID token, userinfo, refresh, introspection,
// revocation, client credentials (basic client and service account) and
// the device grant; the PKCE rules; replayed codes at another node;
// refresh-token reuse; unregistered redirect URIs; RS256 only for legacy
// clients; audience; SPNEGO as the login of an OAuth2 flow (issue 5) with
// a real MIT KDC; and, last, authorize and token without a leader.
// Chromium drives the real login and consent pages in
// TestOAuth2LoginInChromium.
func TestOAuth2Provider(t *testing.T) {
	f := newOAuth2Fixture(t)
	ctx := context.Background()
	basic := f.createClient("rp-basic", false)
	other := f.createClient("rp-other", false)
	pub := f.createClient("rp-public", true)
	nopkce := f.createClient("rp-nopkce", false)
	legacy := f.createClient("rp-legacy", false)

	r := f.cli.run("", "oauth2", "warning-insecure-client-disable-pkce", nopkce.ID)
	if r.code != 0 || !strings.Contains(strings.ToLower(r.out+r.err), "warning") {
		t.Fatalf("warning-insecure-client-disable-pkce: exit %d, want 0 and a printed warning; stdout %q stderr %q", r.code, r.out, r.err)
	}
	t.Logf("disable-pkce warned: %s", strings.TrimSpace(r.out+r.err))
	r = f.cli.run("", "oauth2", "warning-enable-legacy-crypto", legacy.ID)
	if r.code != 0 || !strings.Contains(strings.ToLower(r.out+r.err), "warning") {
		t.Fatalf("warning-enable-legacy-crypto: exit %d, want 0 and a printed warning; stdout %q stderr %q", r.code, r.out, r.err)
	}
	svcSecret, err := f.admin.CreateServiceAccount(ctx, "svc-oauth2", "OAuth2 service")
	if err != nil || svcSecret == nil {
		t.Fatalf("create service account: %v", err)
	}
	svcPassword, err := f.admin.GenerateServiceAccountPassword(ctx, "svc-oauth2")
	if err != nil {
		t.Fatalf("service account password: %v", err)
	}
	f.waitAllApplied()

	hc := f.hapHTTP()
	rp := f.newRP(basic, hc, "ES256")
	alice := f.browser(f.alice)
	var aliceSub string

	t.Run("discovery on every node", func(t *testing.T) {
		for _, nd := range f.c.Nodes {
			for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
				var d map[string]any
				resp, err := f.c.HTTP().Get(nd.URL() + p)
				if err != nil || jsonDecode(resp, &d) != nil {
					t.Fatalf("%s%s: %v", nd.ID, p, err)
				}
				if d["issuer"] != f.lb {
					t.Errorf("%s%s: issuer %v, want %s (the same on every node)", nd.ID, p, d["issuer"], f.lb)
				}
				for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint", "device_authorization_endpoint"} {
					if s, _ := d[k].(string); !strings.HasPrefix(s, f.lb+"/") {
						t.Errorf("%s%s: %s = %v", nd.ID, p, k, d[k])
					}
				}
				if p == "/.well-known/openid-configuration" {
					for _, k := range []string{"userinfo_endpoint", "end_session_endpoint"} {
						if s, _ := d[k].(string); !strings.HasPrefix(s, f.lb+"/") {
							t.Errorf("%s%s: %s = %v", nd.ID, p, k, d[k])
						}
					}
					algs := strings.Fields(strings.Trim(strings.ReplaceAll(jsonString(d["id_token_signing_alg_values_supported"]), ",", " "), "[]"))
					if !slices.Contains(algs, `"ES256"`) || slices.Contains(algs, `"none"`) || slices.Contains(algs, `"HS256"`) {
						t.Errorf("%s: id_token_signing_alg_values_supported %v", nd.ID, algs)
					}
				}
				if m := jsonString(d["code_challenge_methods_supported"]); m != `["S256"]` {
					t.Errorf("%s%s: code_challenge_methods_supported %s, want [\"S256\"] (plain refused)", nd.ID, p, m)
				}
			}
		}
	})

	t.Run("code and PKCE through HAProxy, userinfo, refresh, introspection, revocation", func(t *testing.T) {
		req := rp.authURL(true)
		before := readRouteCounts(t, f.c, "oauth2", "/v1/auth")
		o := alice.authorize(req.URL, basic.Redirect)
		if o.Code() == "" {
			t.Fatalf("no code: %d %s after %v\n%s", o.Status, o.URL, o.Hops, o.Body)
		}
		if got := o.Redirect.Query().Get("state"); got != req.State {
			t.Errorf("state %q, want %q", got, req.State)
		}
		if alice.logins != 1 || alice.consents != 1 {
			t.Errorf("first authorization: %d logins and %d consent pages, want 1 and 1", alice.logins, alice.consents)
		}
		mid := waitServed(t, f.c, before, "authorize")
		authNodes := servedBy(before, mid, "authorize")
		tok, idt, err := rp.exchange(req, o.Code())
		if err != nil {
			t.Fatal(err)
		}
		afterToken := waitServed(t, f.c, mid, "token")
		tokenNodes := servedBy(mid, afterToken, "token")
		aliceSub = idt.Subject
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if claims["preferred_username"] != "alice@example.com" || claims["email"] != "alice@example.com" || claims["name"] == nil {
			t.Errorf("ID token claims %v: want preferred_username and email alice@example.com, a name", claims)
		}
		if h := jwtHeader(t, tok.Extra("id_token").(string)); h["alg"] != "ES256" || h["kid"] == nil {
			t.Errorf("ID token header %v, want ES256 with a kid", h)
		}
		if h := jwtHeader(t, tok.AccessToken); h["alg"] != "ES256" || !strings.Contains(strings.ToLower(jsonString(h["typ"])), "at+jwt") {
			t.Errorf("access token header %v, want an RFC 9068 at+jwt signed ES256", h)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		ui, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		// Userinfo is served under the provider's catch-all "/oauth2/".
		afterUI := waitServed(t, f.c, afterToken, "=/oauth2/")
		uiNodes := servedBy(afterToken, afterUI, "=/oauth2/")
		if ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
			t.Errorf("userinfo %+v, ID token sub %s", ui, idt.Subject)
		}
		var uic map[string]any
		ui.Claims(&uic)
		if !strings.Contains(jsonString(uic["groups"]), oauth2UsersGroup) {
			t.Errorf("userinfo groups %v, want %s among them", uic["groups"], oauth2UsersGroup)
		}
		// A code exchanged at another node than its issuer is forwarded
		// there: the receiver is the token node that is not the code's.
		tokenAt := ""
		for _, n := range tokenNodes {
			if n != codeNode(o.Code()) || len(tokenNodes) == 1 {
				tokenAt = n
			}
		}
		t.Logf("authorize steps served by %v (the code names %q), token received by %s (counted at %v), userinfo by %v",
			authNodes, codeNode(o.Code()), tokenAt, tokenNodes, uiNodes)
		if len(uiNodes) != 1 || tokenAt == "" || len(authNodes) == 0 {
			t.Errorf("unexpected node counts: authorize %v, token %v, userinfo %v", authNodes, tokenNodes, uiNodes)
		} else if len(authNodes) == 1 && authNodes[0] == tokenAt && tokenAt == uiNodes[0] {
			t.Errorf("authorize, token and userinfo all on %s: round robin did not spread them", tokenAt)
		}

		// Refresh (x/oauth2 refreshes an expired token by itself).
		old := *tok
		tok.Expiry = time.Now().Add(-time.Minute)
		tok2, err := rp.cfg.TokenSource(rp.ctx, tok).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.AccessToken == old.AccessToken || tok2.RefreshToken == "" || tok2.RefreshToken == old.RefreshToken {
			t.Errorf("refresh did not rotate: access same %v, refresh %q (was %q)", tok2.AccessToken == old.AccessToken, tok2.RefreshToken, old.RefreshToken)
		}
		if raw, _ := tok2.Extra("id_token").(string); raw != "" {
			if _, err := rp.verifier.Verify(rp.ctx, raw); err != nil {
				t.Errorf("ID token of the refresh: %v", err)
			}
		}

		// Introspection (client-authenticated), on every node.
		for _, nd := range f.c.Nodes {
			in := introspect(t, f, nd, basic, tok2.AccessToken)
			if in["active"] != true || in["sub"] != aliceSub || in["client_id"] != basic.ID {
				t.Errorf("introspect at %s: %v", nd.ID, in)
			}
		}
		if st, body := introspectStatus(t, f, f.c.Nodes[0], oauth2Client{ID: basic.ID, Secret: "wrong"}, tok2.AccessToken); st != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("introspection with a wrong client secret in HTTP Basic: %d %v, want 401 invalid_client (RFC 7662 2.3, RFC 6749 5.2)", st, body)
		}

		// A second authorization: the session cookie and the remembered
		// consent, no page at all.
		req2 := rp.authURL(true)
		o2 := alice.authorize(req2.URL, basic.Redirect)
		if o2.Code() == "" || alice.logins != 1 || alice.consents != 1 {
			t.Fatalf("second authorization: code %q, %d logins, %d consents (want none new): %v", o2.Code(), alice.logins, alice.consents, o2.Hops)
		}
		if _, _, err := rp.exchange(req2, o2.Code()); err != nil {
			t.Fatal(err)
		}

		// Revocation (RFC 7009) of the refresh token kills the session:
		// the refresh token and the access token stop working everywhere.
		st, body := revoke(t, f, basic, tok2.RefreshToken, "refresh_token")
		if st != http.StatusOK {
			t.Fatalf("revoke: %d %v", st, body)
		}
		for _, nd := range f.c.Nodes {
			Eventually(t, 3*time.Second, "the revoked session's access token inactive at "+nd.ID, func() bool {
				return introspect(t, f, nd, basic, tok2.AccessToken)["active"] == false
			})
			if st := userinfoStatus(t, f.c.HTTP(), nd.URL()+"/oauth2/userinfo", tok2.AccessToken); st != http.StatusUnauthorized {
				t.Errorf("userinfo at %s with a revoked access token: %d, want 401", nd.ID, st)
			}
		}
		if _, err := rp.cfg.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
			t.Errorf("a revoked refresh token still refreshes")
		}
	})
	if aliceSub == "" {
		t.FailNow() // the flows below need the first one
	}

	t.Run("Chromium: the login page and the consent page", func(t *testing.T) { chromiumOAuth2(t, f) })

	t.Run("client credentials: basic client and service account", func(t *testing.T) {
		cc := ccConfig(f.lb, basic.ID, basic.Secret, "things:read")
		tok, err := cc.Token(oidc.ClientContext(ctx, hc))
		if err != nil {
			t.Fatalf("client credentials of %s: %v", basic.ID, err)
		}
		if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
			t.Errorf("client credentials gave a refresh token or an ID token: %+v", tok)
		}
		in := introspect(t, f, f.c.Nodes[1], basic, tok.AccessToken)
		if in["active"] != true {
			t.Errorf("introspect the client's token: %v", in)
		}
		if c := jwtClaims(t, tok.AccessToken); c["sub"] == aliceSub || c["sub"] == nil {
			t.Errorf("client credentials token sub %v", c["sub"])
		}
		svc := ccConfig(f.lb, "svc-oauth2", svcPassword)
		for i := range 3 { // the first checks argon2id, the next hit the cache
			if _, err := svc.Token(oidc.ClientContext(ctx, hc)); err != nil {
				t.Fatalf("client credentials of the service account (%d): %v", i, err)
			}
		}
		bad := ccConfig(f.lb, basic.ID, "not-the-secret")
		if _, err := bad.Token(oidc.ClientContext(ctx, hc)); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("a wrong secret: %v, want invalid_client", err)
		}
	})

	t.Run("device grant", func(t *testing.T) {
		// A device app is a public client: x/oauth2's DeviceAuth sends
		// only client_id (RFC 8628 3.1 requires a confidential client to
		// authenticate, which x/oauth2 does not do).
		prp := f.newRP(pub, hc, "ES256")
		da, err := prp.cfg.DeviceAuth(prp.ctx)
		if err != nil {
			t.Fatalf("device authorization: %v", err)
		}
		if da.UserCode == "" || !strings.HasPrefix(da.VerificationURI, f.lb+"/ui/oauth2/device") {
			t.Fatalf("device authorization answer %+v", da)
		}
		pollCtx, cancel := context.WithTimeout(prp.ctx, 60*time.Second)
		defer cancel()
		got := make(chan error, 1)
		var dtok *oauth2.Token
		go func() {
			var err error
			dtok, err = prp.cfg.DeviceAccessToken(pollCtx, da)
			got <- err
		}()
		approveDevice(t, alice, da)
		if err := <-got; err != nil {
			t.Fatalf("device access token: %v", err)
		}
		raw, _ := dtok.Extra("id_token").(string)
		if idt, err := prp.verifier.Verify(prp.ctx, raw); err != nil || idt.Subject != aliceSub {
			t.Errorf("device grant ID token: %v %v", idt, err)
		}
		ui, err := prp.provider.UserInfo(prp.ctx, oauth2.StaticTokenSource(dtok))
		if err != nil || ui.Subject != aliceSub {
			t.Errorf("userinfo with the device grant's access token: %+v %v", ui, err)
		}
		// A confidential client authenticates its device request.
		st, body := postClientForm(t, hc, f.lb+"/oauth2/device", basic, url.Values{"scope": {"openid"}})
		if st != http.StatusOK || body["device_code"] == nil {
			t.Errorf("device authorization of a basic client with HTTP Basic: %d %v", st, body)
		}
	})

	t.Run("PKCE rules", func(t *testing.T) {
		// A public client without PKCE is refused.
		prp := f.newRP(pub, hc, "ES256")
		o := alice.authorize(prp.authURL(false).URL, pub.Redirect)
		if o.Code() != "" {
			t.Errorf("a public client without PKCE got a code")
		} else if o.Redirect != nil && o.Redirect.Query().Get("error") == "" {
			t.Errorf("a public client without PKCE: redirect without an error: %s", o.Redirect)
		}
		// With S256 the public client works (no secret).
		preq := prp.authURL(true)
		o = alice.authorize(preq.URL, pub.Redirect)
		if o.Code() == "" {
			t.Fatalf("public client with S256: %d %s", o.Status, o.Body)
		}
		if _, _, err := prp.exchange(preq, o.Code()); err != nil {
			t.Errorf("public client exchange: %v", err)
		}
		// plain is refused.
		v := oauth2.GenerateVerifier()
		o = alice.authorize(rp.authURL(false, oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")).URL, basic.Redirect)
		if o.Code() != "" {
			t.Errorf("plain PKCE got a code")
		}
		// A basic client with PKCE disabled works without it.
		nrp := f.newRP(nopkce, hc, "ES256")
		nreq := nrp.authURL(false)
		o = alice.authorize(nreq.URL, nopkce.Redirect)
		if o.Code() == "" {
			t.Fatalf("basic client with PKCE disabled: %d %s", o.Status, o.Body)
		}
		if _, _, err := nrp.exchange(nreq, o.Code()); err != nil {
			t.Errorf("basic client with PKCE disabled: %v", err)
		}
		// A PKCE-enabled basic client without a verifier at the token
		// endpoint is refused.
		req := rp.authURL(true)
		o = alice.authorize(req.URL, basic.Redirect)
		if _, _, err := rp.exchange(authRequest{Nonce: req.Nonce}, o.Code()); err == nil {
			t.Errorf("a code bound to a challenge was exchanged without the verifier")
		}
	})

	t.Run("replayed code refused, also at another node", func(t *testing.T) {
		req := rp.authURL(true)
		o := alice.authorize(req.URL, basic.Redirect)
		if o.Code() == "" {
			t.Fatalf("no code: %v", o.Hops)
		}
		first, second := f.c.Nodes[0], f.c.Nodes[1]
		if n := codeNode(o.Code()); n == first.ID {
			first, second = f.c.Nodes[1], f.c.Nodes[2]
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {o.Code()}, "redirect_uri": {basic.Redirect}, "code_verifier": {req.Verifier}}
		if st, body := rp.tokenForm(f.c.HTTP(), first.URL()+"/oauth2/token", cloneValues(form)); st != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("first exchange at %s (code of %q): %d %v", first.ID, codeNode(o.Code()), st, body)
		}
		for _, nd := range []*Node{first, second} {
			st, body := rp.tokenForm(f.c.HTTP(), nd.URL()+"/oauth2/token", cloneValues(form))
			if st != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("replayed code at %s: %d %v, want 400 invalid_grant", nd.ID, st, body)
			}
		}
		// A code is bound to its client and redirect URI too.
		o = alice.authorize(req.URL, basic.Redirect)
		orp := f.newRP(other, hc, "ES256")
		if st, body := orp.tokenForm(f.c.HTTP(), second.URL()+"/oauth2/token", cloneValues(url.Values{"grant_type": {"authorization_code"}, "code": {o.Code()}, "redirect_uri": {other.Redirect}, "code_verifier": {req.Verifier}})); st != http.StatusBadRequest {
			t.Errorf("another client's code: %d %v, want 400", st, body)
		}
	})

	t.Run("reused refresh token revokes the session", func(t *testing.T) {
		req := rp.authURL(true)
		o := alice.authorize(req.URL, basic.Redirect)
		tok1, _, err := rp.exchange(req, o.Code())
		if err != nil {
			t.Fatal(err)
		}
		tok2, err := rp.cfg.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: tok1.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("first refresh: %v", err)
		}
		if _, err := rp.cfg.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: tok1.RefreshToken}).Token(); err == nil {
			t.Fatal("a used refresh token refreshed again")
		}
		for _, nd := range f.c.Nodes {
			Eventually(t, 3*time.Second, "the newer access token inactive at "+nd.ID, func() bool {
				return introspect(t, f, nd, basic, tok2.AccessToken)["active"] == false
			})
		}
		if st := userinfoStatus(t, hc, f.lb+"/oauth2/userinfo", tok2.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("userinfo with the newer access token after reuse: %d", st)
		}
		if _, err := rp.cfg.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); err == nil {
			t.Errorf("the newer refresh token still works after the reuse of the older one")
		}
	})

	t.Run("unregistered redirect URI: an error page, no redirect", func(t *testing.T) {
		evil := "https://evil.example.test/callback"
		bad := rp.cfg
		bad.RedirectURL = evil
		u := bad.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
		b := *alice
		b.noConsent = true
		o := b.authorize(u, evil)
		if o.Redirect != nil {
			t.Fatalf("redirected to %s", o.Redirect)
		}
		if o.Status != http.StatusBadRequest || !strings.Contains(strings.ToLower(o.Body), "redirect") {
			t.Errorf("unregistered redirect URI: %d, want 400 and a page that says why:\n%.400s", o.Status, o.Body)
		}
		for _, h := range o.Hops {
			if strings.HasPrefix(h, "https://evil.") {
				t.Errorf("the flow went to %s", h)
			}
		}
	})

	t.Run("RS256 only for the legacy client; audience", func(t *testing.T) {
		lrp := f.newRP(legacy, hc, "RS256")
		req := lrp.authURL(true)
		o := alice.authorize(req.URL, legacy.Redirect)
		ltok, _, err := lrp.exchange(req, o.Code())
		if err != nil {
			t.Fatalf("legacy client: %v", err)
		}
		if h := jwtHeader(t, ltok.Extra("id_token").(string)); h["alg"] != "RS256" {
			t.Errorf("legacy client's ID token alg %v", h["alg"])
		}
		ores := f.newRP(other, hc, "ES256")
		oreq := ores.authURL(true)
		o = alice.authorize(oreq.URL, other.Redirect)
		otok, _, err := ores.exchange(oreq, o.Code())
		if err != nil {
			t.Fatal(err)
		}
		raw := otok.Extra("id_token").(string)
		if h := jwtHeader(t, raw); h["alg"] != "ES256" {
			t.Errorf("ordinary client's ID token alg %v", h["alg"])
		}
		if _, err := rp.verifier.Verify(rp.ctx, raw); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Errorf("an ID token of %s verified for %s: %v", other.ID, basic.ID, err)
		}
	})

	t.Run("SPNEGO as the login of an OAuth2 flow", func(t *testing.T) {
		// No ticket: the 401's body is the login page.
		nob := f.browser(secret{})
		nob.noConsent = true
		o := func() authOutcome {
			b := *nob
			b.user = secret{Name: "nobody"}
			return b.authorizeUntilLogin(t, rp.authURL(true).URL)
		}()
		if o.Status != http.StatusUnauthorized || !isLoginPage(o.Body) {
			t.Errorf("no ticket: %d, want 401 with the login page as its body:\n%.300s", o.Status, o.Body)
		}
		kc := f.goKrbClient(t)
		kb := f.browser(secret{Name: "-no-password-"})
		kb.spnego = func() string { return spnegoHeader(t, kc) }
		req := rp.authURL(true)
		o = kb.authorize(req.URL, basic.Redirect)
		if o.Code() == "" {
			t.Fatalf("SPNEGO login for OAuth2: no code: %d %s %v\n%.400s", o.Status, o.URL, o.Hops, o.Body)
		}
		if kb.logins != 0 {
			t.Errorf("a password login happened (%d)", kb.logins)
		}
		_, idt, err := rp.exchange(req, o.Code())
		if err != nil {
			t.Fatal(err)
		}
		if idt.Subject != aliceSub {
			t.Errorf("SPNEGO flow ID token sub %s, want alice's %s", idt.Subject, aliceSub)
		}
		var cl map[string]any
		idt.Claims(&cl)
		if amr := jsonString(cl["amr"]); cl["amr"] != nil && !strings.Contains(strings.ToLower(amr), "kerberos") && !strings.Contains(amr, "krb") {
			t.Logf("amr of the SPNEGO flow: %s", amr)
		}
	})

	t.Run("authorize and token without a leader", func(t *testing.T) {
		leader := f.c.WaitHealthy()
		var survivors []*Node
		for _, nd := range f.c.Nodes {
			if nd != leader {
				survivors = append(survivors, nd)
			}
		}
		f.waitAllApplied()
		leader.Kill()
		killed := time.Now()
		// During the election: both survivors serve authorize (consent
		// given, session cookie) and token.
		for _, nd := range survivors {
			oauth2WithoutLeader(t, f, rp, alice, basic, nd)
		}
		st, _ := survivors[0].Status()
		t.Logf("leader %s killed; %s after, %s reports leader %q", leader.ID, time.Since(killed).Round(time.Millisecond), survivors[0].ID, st.Leader)
		// With the second one stopped too, the last can elect nobody.
		survivors[1].Kill()
		oauth2WithoutLeader(t, f, rp, alice, basic, survivors[0])
		if st, _ := survivors[0].Status(); st.Leader != "" && st.Leader != survivors[0].ID {
			t.Logf("%s reports leader %q", survivors[0].ID, st.Leader)
		}
	})
}

// oauth2WithoutLeader runs authorize, the code exchange and client
// credentials at nd only; none may wait for a leader.
func oauth2WithoutLeader(t *testing.T, f *oauth2Fixture, rp *oauth2RP, alice *oauth2Browser, basic oauth2Client, nd *Node) {
	t.Helper()
	start := time.Now()
	b := alice.pinnedTo(f.c, nd)
	req := rp.authURL(true)
	o := b.authorize(req.URL, basic.Redirect)
	if o.Code() == "" {
		t.Fatalf("authorize at %s without a leader: %d %v\n%.300s", nd.ID, o.Status, o.Hops, o.Body)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {o.Code()}, "redirect_uri": {basic.Redirect}, "code_verifier": {req.Verifier}}
	st, body := rp.tokenForm(f.c.HTTP(), nd.URL()+"/oauth2/token", form)
	if st != http.StatusOK || body["id_token"] == nil {
		t.Fatalf("code exchange at %s without a leader: %d %v", nd.ID, st, body)
	}
	if _, err := rp.verifier.Verify(rp.ctx, body["id_token"].(string)); err != nil {
		t.Errorf("ID token from %s without a leader: %v", nd.ID, err)
	}
	st, body = rp.tokenForm(f.c.HTTP(), nd.URL()+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	if st != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("client credentials at %s without a leader: %d %v", nd.ID, st, body)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("authorize + token + client credentials at %s took %s: something waited for the leader", nd.ID, took)
	}
}

// authorizeUntilLogin follows the flow until the first page (which,
// without a session, is the login page).
func (b *oauth2Browser) authorizeUntilLogin(t *testing.T, start string) authOutcome {
	t.Helper()
	var o authOutcome
	u := start
	for range 8 {
		resp, err := b.hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		o.Hops = append(o.Hops, u)
		if resp.StatusCode/100 == 3 {
			cur, _ := url.Parse(u)
			loc, _ := cur.Parse(resp.Header.Get("Location"))
			u = loc.String()
			continue
		}
		o.Status, o.Body, o.URL = resp.StatusCode, string(body), u
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate") {
			t.Errorf("401 at %s without WWW-Authenticate: Negotiate first (%q)", u, resp.Header.Values("WWW-Authenticate"))
		}
		return o
	}
	t.Fatalf("no page after 8 redirects: %v", o.Hops)
	return o
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
