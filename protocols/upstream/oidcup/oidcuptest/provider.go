package oidcuptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// User is the person the provider logs in, without asking, at /authorize.
type User struct {
	Sub               string
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Name              string
	// AMR goes into the ID token's amr claim (and user info) when set.
	AMR []string
	// Extra claims are added to the ID token and user info as given.
	Extra map[string]any
}

// Options configure a Provider. Zero values give an RS256 OIDC provider
// for client "client"/"secret" logging in sub "user-1".
type Options struct {
	ClientID, ClientSecret string
	// RedirectURL, when set, is the only redirect_uri accepted.
	RedirectURL string
	User        User
	// Alg signs ID tokens: "RS256" (default), "ES256", "HS256" (with the
	// client secret, for negative tests) or "none" (unsigned).
	Alg string
	// IssuerSuffix is appended to the issuer the provider claims, e.g. "/"
	// for the classic trailing-slash mismatch.
	IssuerSuffix string
	// OAuth2Only: no discovery, no id_token; user info answers a numeric
	// "id" (Sub when it is all digits) and "login" (PreferredUsername),
	// like GitHub.
	OAuth2Only bool
	// IDTokenHook may change the ID token's claims before signing (wrong
	// nonce, audience, expiry...).
	IDTokenHook func(claims map[string]any)
	// DenyWith, when set, makes /authorize redirect back with this OAuth2
	// error code (and "denied by test" as error_description).
	DenyWith string
}

// Provider is a running test provider.
type Provider struct {
	srv  *httptest.Server
	opts Options

	signer crypto.Signer
	kid    string

	mu    sync.Mutex
	user  User
	codes map[string]*grant
	// tokens maps access tokens to the user they were issued for.
	tokens map[string]User
}

type grant struct {
	redirectURI, challenge, nonce string
	user                          User
	expires                       time.Time
}

// sharedRSAKey: 2048-bit generation costs up to seconds on a loaded
// 2-core machine, so every provider in a test binary shares one key (each
// still has its own kid and server).
var sharedRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// New starts the provider on 127.0.0.1 over TLS; it stops at test cleanup.
func New(t testing.TB, opts Options) *Provider {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID = "client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "secret"
	}
	if opts.User.Sub == "" {
		opts.User.Sub = "user-1"
	}
	if opts.Alg == "" {
		opts.Alg = "RS256"
	}
	p := &Provider{opts: opts, user: opts.User, codes: map[string]*grant{}, tokens: map[string]User{}, kid: randString(8)}
	var err error
	switch opts.Alg {
	case "ES256":
		p.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		// RS256, and the JWKS for HS256/none tests still publishes an RSA
		// key so that discovery and key fetching look normal.
		p.signer, err = sharedRSAKey()
	}
	if err != nil {
		t.Fatalf("oidcuptest: generating key: %v", err)
	}
	mux := http.NewServeMux()
	if !opts.OAuth2Only {
		mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
		mux.HandleFunc("GET /jwks", p.jwks)
	}
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the server's base URL (https://127.0.0.1:port), the discovery URL
// to configure.
func (p *Provider) URL() string { return p.srv.URL }

// Issuer is the issuer the provider claims: URL() + Options.IssuerSuffix.
func (p *Provider) Issuer() string { return p.srv.URL + p.opts.IssuerSuffix }

// AuthURL, TokenURL, UserInfoURL and JWKSURL are the endpoints, for
// configuring a plain OAuth2 provider.
func (p *Provider) AuthURL() string     { return p.srv.URL + "/authorize" }
func (p *Provider) TokenURL() string    { return p.srv.URL + "/token" }
func (p *Provider) UserInfoURL() string { return p.srv.URL + "/userinfo" }
func (p *Provider) JWKSURL() string     { return p.srv.URL + "/jwks" }

// Client is an HTTP client trusting the provider's certificate.
func (p *Provider) Client() *http.Client { return p.srv.Client() }

// CertPEM is the server certificate, for clients built elsewhere.
func (p *Provider) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
}

// SetUser changes who the next /authorize logs in.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	p.user = u
	p.mu.Unlock()
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	// A provider signing with HS256/none while advertising RS256 too is the
	// misconfiguration the relying party must catch at the token.
	algs := []string{p.jwksAlg()}
	if p.opts.Alg != p.jwksAlg() {
		algs = append(algs, p.opts.Alg)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.Issuer(),
		"authorization_endpoint":                p.AuthURL(),
		"token_endpoint":                        p.TokenURL(),
		"userinfo_endpoint":                     p.UserInfoURL(),
		"jwks_uri":                              p.JWKSURL(),
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (p *Provider) jwksAlg() string {
	if _, ok := p.signer.(*ecdsa.PrivateKey); ok {
		return "ES256"
	}
	return "RS256"
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: p.signer.Public(), KeyID: p.kid, Algorithm: p.jwksAlg(), Use: "sig",
	}}}
	writeJSON(w, http.StatusOK, set)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("client_id") != p.opts.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case redirect == "" || (p.opts.RedirectURL != "" && redirect != p.opts.RedirectURL):
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	rq := back.Query()
	rq.Set("state", q.Get("state"))
	switch {
	case p.opts.DenyWith != "":
		rq.Set("error", p.opts.DenyWith)
		rq.Set("error_description", "denied by test")
	case q.Get("response_type") != "code":
		rq.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		rq.Set("error", "invalid_request")
		rq.Set("error_description", "PKCE S256 required")
	default:
		code := randString(24)
		p.mu.Lock()
		p.codes[code] = &grant{redirectURI: redirect, challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), user: p.user, expires: time.Now().Add(time.Minute)}
		p.mu.Unlock()
		rq.Set("code", code)
	}
	back.RawQuery = rq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: basic credentials are form-encoded first.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "bad client credentials")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	code := r.PostForm.Get("code")
	p.mu.Lock()
	g := p.codes[code]
	delete(p.codes, code) // single use, even when the rest fails
	p.mu.Unlock()
	switch {
	case g == nil || time.Now().After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	access := randString(24)
	p.mu.Lock()
	p.tokens[access] = g.user
	p.mu.Unlock()
	resp := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300}
	if !p.opts.OAuth2Only {
		idt, err := p.idToken(g, access)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		resp["id_token"] = idt
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	u, known := p.tokens[tok]
	p.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	if p.opts.OAuth2Only {
		m := map[string]any{"login": u.PreferredUsername, "name": u.Name, "email": u.Email}
		if isDigits(u.Sub) {
			m["id"] = json.Number(u.Sub)
		} else {
			m["id"] = u.Sub
		}
		for k, v := range u.Extra {
			m[k] = v
		}
		writeJSON(w, http.StatusOK, m)
		return
	}
	writeJSON(w, http.StatusOK, userClaims(u))
}

// userClaims are the OIDC claims about u.
func userClaims(u User) map[string]any {
	m := map[string]any{"sub": u.Sub}
	if u.Email != "" {
		m["email"] = u.Email
		m["email_verified"] = u.EmailVerified
	}
	if u.PreferredUsername != "" {
		m["preferred_username"] = u.PreferredUsername
	}
	if u.Name != "" {
		m["name"] = u.Name
	}
	if len(u.AMR) > 0 {
		m["amr"] = u.AMR
	}
	for k, v := range u.Extra {
		m[k] = v
	}
	return m
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	m := map[string]string{"error": code}
	if desc != "" {
		m["error_description"] = desc
	}
	writeJSON(w, status, m)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hmacJWT and unsignedJWT build the tokens go-jose refuses to make (short
// HMAC keys, alg none) for negative tests.
func hmacJWT(secret, payload []byte) string {
	in := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func unsignedJWT(payload []byte) string {
	return b64(`{"alg":"none","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
