package oidcup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config describes one upstream provider. OIDC providers set DiscoveryURL;
// plain OAuth2 providers set AuthURL, TokenURL, UserInfoURL (and JWKSURL when
// their token response carries an id_token worth verifying).
type Config struct {
	// DiscoveryURL is the issuer URL or the full .well-known URL (OIDC).
	DiscoveryURL string
	// Plain OAuth2 endpoints; JWKSURL is optional.
	AuthURL, TokenURL, UserInfoURL, JWKSURL string
	ClientID, ClientSecret, RedirectURL     string
	// Scopes: OIDC defaults to openid profile email; OAuth2 sends exactly
	// what is configured (GitHub and friends reject unknown scopes).
	Scopes []string
	// HTTPClient is used for every request to the provider; nil means
	// http.DefaultClient. Tests pass one trusting their CA. Either way
	// each answer is bounded in size (1 MiB) and time (Timeout).
	HTTPClient *http.Client
	// Timeout bounds each request to the provider; zero keeps
	// HTTPClient's own timeout, or DefaultTimeout when it has none.
	Timeout time.Duration
}

// DefaultScopes are the OIDC scopes used when Config.Scopes is empty.
var DefaultScopes = []string{oidc.ScopeOpenID, "profile", "email"}

// ErrAlgorithm: the ID token is signed with an algorithm we refuse (HS*,
// none, or unknown). The error text is "Invalid signature algorithm <alg>".
var ErrAlgorithm = errors.New("Invalid signature algorithm") //nolint:staticcheck // the seed's message, capitalised on purpose

// ErrIssuerMismatch: the discovery document names a different issuer than
// the configured one. The error text starts "Issuer mismatch".
var ErrIssuerMismatch = errors.New("Issuer mismatch") //nolint:staticcheck // the seed's message

// algError carries the offending algorithm so the message names it.
type algError struct{ alg string }

func (e *algError) Error() string {
	if e.alg == "" {
		return "Invalid signature algorithm (none given)"
	}
	return "Invalid signature algorithm " + e.alg
}
func (e *algError) Is(target error) bool { return target == ErrAlgorithm }

// issuerError explains an issuer mismatch in words.
type issuerError struct{ configured, discovered, diff string }

func (e *issuerError) Error() string {
	return fmt.Sprintf("Issuer mismatch: configured %q but the provider's discovery document says %q (%s); set the discovery URL to match the provider exactly",
		e.configured, e.discovered, e.diff)
}
func (e *issuerError) Is(target error) bool { return target == ErrIssuerMismatch }

// allowedAlgs are the asymmetric JOSE algorithms an ID token may use.
var allowedAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

// Provider is a configured upstream provider, safe for concurrent use.
type Provider struct {
	oauth       oauth2.Config
	client      *http.Client
	userInfoURL string
	// verifier is nil for plain OAuth2 without a JWKS URL.
	verifier *oidc.IDTokenVerifier
	// isOIDC: an id_token is required in the token response.
	isOIDC bool
	issuer string
}

// Issuer is the verified issuer (empty for plain OAuth2).
func (p *Provider) Issuer() string { return p.issuer }

func checkURL(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s %q is not an http(s) URL", field, raw)
	}
	return nil
}

func checkClient(c Config) error {
	if c.ClientID == "" {
		return errors.New("client id is required")
	}
	return checkURL("redirect URL", c.RedirectURL)
}

// NewOIDC fetches the discovery document and builds a provider whose ID
// tokens are verified against the discovered JWKS and the exact issuer.
func NewOIDC(ctx context.Context, c Config) (*Provider, error) {
	if err := checkClient(c); err != nil {
		return nil, err
	}
	client := httpClient(c)
	d, err := discover(ctx, client, c.DiscoveryURL)
	if err != nil {
		return nil, err
	}
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	// ProviderConfig builds the go-oidc provider from the document we have
	// already checked, so the issuer check is ours (no InsecureIssuerURL).
	op := (&oidc.ProviderConfig{
		IssuerURL:   d.Issuer,
		AuthURL:     d.AuthURL,
		TokenURL:    d.TokenURL,
		UserInfoURL: d.UserInfoURL,
		JWKSURL:     d.JWKSURL,
		Algorithms:  allowedAlgs,
	}).NewProvider(oidc.ClientContext(context.Background(), client))
	endpoint := op.Endpoint()
	endpoint.AuthStyle = d.authStyle()
	p := &Provider{
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: endpoint, Scopes: scopes,
		},
		client:      client,
		userInfoURL: d.UserInfoURL,
		isOIDC:      true,
		issuer:      d.Issuer,
	}
	p.verifier = op.Verifier(&oidc.Config{ClientID: c.ClientID, SupportedSigningAlgs: allowedAlgs})
	return p, nil
}

// NewOAuth2 builds a plain OAuth2 provider from fixed endpoints.
func NewOAuth2(c Config) (*Provider, error) {
	if err := checkClient(c); err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, v string }{
		{"authorization URL", c.AuthURL}, {"token URL", c.TokenURL}, {"user info URL", c.UserInfoURL},
	} {
		if err := checkURL(f.name, f.v); err != nil {
			return nil, err
		}
	}
	client := httpClient(c)
	p := &Provider{
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL},
			Scopes:   c.Scopes,
		},
		client:      client,
		userInfoURL: c.UserInfoURL,
	}
	if c.JWKSURL != "" {
		if err := checkURL("JWKS URL", c.JWKSURL); err != nil {
			return nil, err
		}
		ks := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), c.JWKSURL)
		// No discovery means no issuer to compare against.
		p.verifier = oidc.NewVerifier("", ks, &oidc.Config{
			ClientID: c.ClientID, SupportedSigningAlgs: allowedAlgs, SkipIssuerCheck: true,
		})
	}
	return p, nil
}

// AuthCodeURL is where the browser goes to log in. PKCE S256 is always
// added (the caller makes the verifier with oauth2.GenerateVerifier); the
// nonce is sent whenever an ID token will be verified.
func (p *Provider) AuthCodeURL(state, nonce, pkceVerifier string) string {
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkceVerifier)}
	if p.verifier != nil && nonce != "" {
		opts = append(opts, oidc.Nonce(nonce))
	}
	return p.oauth.AuthCodeURL(state, opts...)
}

// describeIssuerDiff says in words how two issuer strings differ.
func describeIssuerDiff(configured, discovered string) string {
	switch {
	case configured+"/" == discovered:
		return "the provider's issuer has a trailing slash, the configured one does not"
	case discovered+"/" == configured:
		return "the configured issuer has a trailing slash, the provider's does not"
	case strings.EqualFold(configured, discovered):
		return "they differ only in upper/lower case"
	}
	cu, err1 := url.Parse(configured)
	du, err2 := url.Parse(discovered)
	if err1 == nil && err2 == nil {
		switch {
		case cu.Scheme != du.Scheme:
			return fmt.Sprintf("the scheme differs (%s vs %s)", cu.Scheme, du.Scheme)
		case cu.Host != du.Host:
			return fmt.Sprintf("the host differs (%s vs %s)", cu.Host, du.Host)
		case cu.Path != du.Path:
			return fmt.Sprintf("the path differs (%q vs %q)", cu.Path, du.Path)
		}
	}
	return "they are different URLs"
}
