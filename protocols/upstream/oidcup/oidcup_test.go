package oidcup_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup/oidcuptest"
	"golang.org/x/oauth2"
)

const redirectURL = "https://gatehouse.test/ui/sso/callback"

var alice = oidcuptest.User{
	Sub: "alice-sub", Email: "alice@example.com", EmailVerified: true,
	PreferredUsername: "alice", Name: "Alice Liddell", AMR: []string{"pwd", "otp"},
	Extra: map[string]any{"groups": []string{"admins", "ops"}, "employee_number": 1234},
}

func oidcConfig(op *oidcuptest.Provider, discoveryURL string) oidcup.Config {
	return oidcup.Config{
		DiscoveryURL: discoveryURL, ClientID: "client", ClientSecret: "secret",
		RedirectURL: redirectURL, HTTPClient: op.Client(),
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login runs the browser's part of the round trip: follow the auth URL,
// read the redirect back, parse the callback, then exchange.
func login(t *testing.T, p *oidcup.Provider, op *oidcuptest.Provider, nonceOverride string) (upstream.Identity, error) {
	t.Helper()
	verifier, state, nonce := oauth2.GenerateVerifier(), "state-"+oauth2.GenerateVerifier()[:8], "nonce-"+oauth2.GenerateVerifier()[:8]
	code, gotState, err := follow(t, op, p.AuthCodeURL(state, nonce, verifier))
	if err != nil {
		return upstream.Identity{}, err
	}
	if gotState != state {
		t.Fatalf("state came back as %q, sent %q", gotState, state)
	}
	if nonceOverride != "" {
		nonce = nonceOverride
	}
	return p.Exchange(ctxT(t), code, verifier, nonce)
}

// follow GETs the auth URL and parses the redirect to the callback.
func follow(t *testing.T, op *oidcuptest.Provider, authURL string) (code, state string, err error) {
	t.Helper()
	browser := *op.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("GET auth URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("auth URL answered %s", resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("bad Location: %v", err)
	}
	if !strings.HasPrefix(loc.String(), redirectURL+"?") {
		t.Fatalf("redirected to %s, want the callback", loc)
	}
	return oidcup.ParseCallback(loc.Query())
}

func TestOIDCRoundTripAcceptsAsymmetricAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			op := oidcuptest.New(t, oidcuptest.Options{Alg: alg, User: alice, RedirectURL: redirectURL})
			p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
			if err != nil {
				t.Fatalf("NewOIDC: %v", err)
			}
			id, err := login(t, p, op, "")
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if id.Subject != "alice-sub" || id.Email != "alice@example.com" || !id.EmailVerified ||
				id.DisplayName != "Alice Liddell" || !id.MFA {
				t.Fatalf("identity = %+v", id)
			}
			if id.Claims["preferred_username"] != "alice" || id.Claims["employee_number"] != "1234" {
				t.Fatalf("claims = %#v", id.Claims)
			}
			if g, _ := id.Claims["groups"].([]string); len(g) != 2 || g[0] != "admins" {
				t.Fatalf("groups claim = %#v", id.Claims["groups"])
			}
		})
	}
}

func TestOIDCWithoutSecondFactorIsNotMFA(t *testing.T) {
	u := alice
	u.AMR = []string{"pwd"}
	op := oidcuptest.New(t, oidcuptest.Options{User: u})
	p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	id, err := login(t, p, op, "")
	if err != nil || id.MFA {
		t.Fatalf("login = %+v, %v; want success without MFA", id, err)
	}
}

func TestOIDCRefusesSymmetricAndUnsignedTokens(t *testing.T) {
	for _, alg := range []string{"HS256", "none"} {
		t.Run(alg, func(t *testing.T) {
			op := oidcuptest.New(t, oidcuptest.Options{Alg: alg, User: alice})
			p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
			if err != nil {
				t.Fatalf("NewOIDC: %v", err)
			}
			_, err = login(t, p, op, "")
			if err == nil || err.Error() != "Invalid signature algorithm "+alg || !errors.Is(err, oidcup.ErrAlgorithm) {
				t.Fatalf("login error = %v; want exactly %q", err, "Invalid signature algorithm "+alg)
			}
		})
	}
}

func TestIssuerTrailingSlashMismatchIsExplained(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{IssuerSuffix: "/"})
	_, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
	if err == nil || !errors.Is(err, oidcup.ErrIssuerMismatch) {
		t.Fatalf("NewOIDC error = %v; want an issuer mismatch", err)
	}
	msg := err.Error()
	for _, want := range []string{"Issuer mismatch", `"` + op.URL() + `"`, `"` + op.URL() + `/"`, "trailing slash"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q lacks %q", msg, want)
		}
	}
	if !strings.HasPrefix(msg, "Issuer mismatch") {
		t.Fatalf("error %q does not start with Issuer mismatch", msg)
	}
	// Configured exactly as the provider says, it works.
	p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.Issuer()))
	if err != nil {
		t.Fatalf("NewOIDC with the exact issuer: %v", err)
	}
	if _, err := login(t, p, op, ""); err != nil {
		t.Fatalf("login: %v", err)
	}
	// The .well-known form cannot express the slash, so both are accepted.
	if _, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()+"/.well-known/openid-configuration")); err != nil {
		t.Fatalf("NewOIDC with the .well-known URL: %v", err)
	}
}

func TestOIDCRefusesTamperedTokens(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		hook       func(map[string]any)
		nonce      string
	}{
		{name: "nonce", want: "nonce mismatch", hook: func(c map[string]any) { c["nonce"] = "someone-elses" }},
		{name: "expected nonce differs", want: "nonce mismatch", nonce: "not-the-one-sent"},
		{name: "audience", want: "audience", hook: func(c map[string]any) { c["aud"] = "other-client" }},
		{name: "expired", want: "expired", hook: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }},
		{name: "issuer", want: "issued by a different provider", hook: func(c map[string]any) { c["iss"] = "https://evil.test" }},
		{name: "at_hash", want: "at_hash", hook: func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }},
		{name: "userinfo sub", want: "user info is about subject", hook: func(c map[string]any) { c["sub"] = "mallory" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := oidcuptest.New(t, oidcuptest.Options{User: alice, IDTokenHook: tc.hook})
			p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
			if err != nil {
				t.Fatalf("NewOIDC: %v", err)
			}
			_, err = login(t, p, op, tc.nonce)
			t.Logf("refused: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("login error = %v; want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestAuthURLCarriesPKCEStateAndNonce(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{})
	p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	verifier := oauth2.GenerateVerifier()
	u, err := url.Parse(p.AuthCodeURL("st", "nn", verifier))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(verifier))
	want := map[string]string{
		"code_challenge_method": "S256", "code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
		"state": "st", "nonce": "nn", "scope": "openid profile email", "response_type": "code",
		"client_id": "client", "redirect_uri": redirectURL,
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if u.Host != strings.TrimPrefix(op.URL(), "https://") || u.Path != "/authorize" {
		t.Errorf("auth URL %s is not the provider's", u)
	}
}

func TestCodeIsSingleUseAndBoundToVerifier(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{User: alice})
	p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	verifier := oauth2.GenerateVerifier()
	code, _, err := follow(t, op, p.AuthCodeURL("s", "n", verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exchange(ctxT(t), code, oauth2.GenerateVerifier(), "n"); !errors.Is(err, oidcup.ErrTokenRefused) ||
		!strings.Contains(err.Error(), "PKCE") {
		t.Fatalf("exchange with a wrong verifier = %v; want a PKCE refusal", err)
	}
	// A code redeemed once cannot be redeemed again.
	code, _, err = follow(t, op, p.AuthCodeURL("s", "n", verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exchange(ctxT(t), code, verifier, "n"); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := p.Exchange(ctxT(t), code, verifier, "n"); !errors.Is(err, oidcup.ErrTokenRefused) {
		t.Fatalf("replayed code = %v; want invalid_grant", err)
	}
}

func TestOAuth2OnlyNumericIDAndLogin(t *testing.T) {
	u := oidcuptest.User{Sub: "12345678901234567890", PreferredUsername: "octocat", Name: "The Octocat", Email: "octo@example.com"}
	op := oidcuptest.New(t, oidcuptest.Options{OAuth2Only: true, User: u})
	p, err := oidcup.NewOAuth2(oidcup.Config{
		AuthURL: op.AuthURL(), TokenURL: op.TokenURL(), UserInfoURL: op.UserInfoURL(),
		ClientID: "client", ClientSecret: "secret", RedirectURL: redirectURL,
		Scopes: []string{"read:user"}, HTTPClient: op.Client(),
	})
	if err != nil {
		t.Fatalf("NewOAuth2: %v", err)
	}
	authURL := p.AuthCodeURL("s", "n", oauth2.GenerateVerifier())
	if q, _ := url.Parse(authURL); q.Query().Get("scope") != "read:user" || q.Query().Get("code_challenge_method") != "S256" {
		t.Fatalf("auth URL %s: want scope read:user and PKCE S256", authURL)
	}
	id, err := login(t, p, op, "")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if id.Subject != "12345678901234567890" || id.Claims["login"] != "octocat" || id.Claims["id"] != "12345678901234567890" ||
		id.DisplayName != "The Octocat" || id.Email != "octo@example.com" || id.EmailVerified || id.MFA {
		t.Fatalf("identity = %+v", id)
	}
}

func TestOAuth2WithJWKSVerifiesIDToken(t *testing.T) {
	for _, alg := range []string{"RS256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			op := oidcuptest.New(t, oidcuptest.Options{User: alice, Alg: alg})
			p, err := oidcup.NewOAuth2(oidcup.Config{
				AuthURL: op.AuthURL(), TokenURL: op.TokenURL(), UserInfoURL: op.UserInfoURL(), JWKSURL: op.JWKSURL(),
				ClientID: "client", ClientSecret: "secret", RedirectURL: redirectURL,
				Scopes: []string{"openid"}, HTTPClient: op.Client(),
			})
			if err != nil {
				t.Fatalf("NewOAuth2: %v", err)
			}
			id, err := login(t, p, op, "")
			if alg == "HS256" {
				if err == nil || err.Error() != "Invalid signature algorithm HS256" {
					t.Fatalf("login error = %v; want the algorithm refusal", err)
				}
				return
			}
			if err != nil || id.Subject != "alice-sub" || !id.MFA {
				t.Fatalf("login = %+v, %v", id, err)
			}
		})
	}
}

func TestProviderErrorOnCallback(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{DenyWith: "access_denied"})
	p, err := oidcup.NewOIDC(ctxT(t), oidcConfig(op, op.URL()))
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	_, state, err := follow(t, op, p.AuthCodeURL("st-1", "n", oauth2.GenerateVerifier()))
	var pe *oidcup.ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" || state != "st-1" ||
		err.Error() != "the identity provider refused the login: access_denied (denied by test)" {
		t.Fatalf("callback = state %q, %v", state, err)
	}
}
