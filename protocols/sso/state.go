package sso

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// CookieFlow carries the sealed state of the login in flight. __Host-:
// only this exact host sets it, over HTTPS, for path / — a sibling
// subdomain cannot plant one (login CSRF).
const CookieFlow = "__Host-gatehouse-sso"

// FlowTTL bounds a login at the upstream provider.
const FlowTTL = 10 * time.Minute

// maxNext bounds the next address kept in the state (the cookie must stay
// well under the browsers' 4 KiB).
const maxNext = 1500

// stateAAD binds sealed values to this use: a sealed provider secret or
// TOTP seed can never pass for a flow state, nor the reverse.
var (
	stateAAD  = []byte("sso-flow-state:v1")
	ldapAAD   = []byte("sso-ldap-mfa:v1")
	errNoFlow = errors.New("this sign-in was not started in this browser, has expired or was already used; start again from the sign-in page")
)

// flow is one login in flight at an upstream provider. It travels sealed
// in CookieFlow; the provider echoes only ID (OIDC state, SAML
// RelayState), which must match the cookie's.
type flow struct {
	ID        string `json:"id"`
	Provider  string `json:"p"`
	Nonce     string `json:"n,omitempty"`
	Verifier  string `json:"v,omitempty"`
	RequestID string `json:"r,omitempty"`
	Next      string `json:"next,omitempty"`
	Link      string `json:"link,omitempty"` // account uuid to link to instead of logging in
	// Reauth is the session being reauthenticated (?reauth=1), verified
	// when the flow began: its account and id. Sealed like the rest.
	Reauth  *token.Claims `json:"reauth,omitempty"`
	Expires int64         `json:"exp"` // Unix seconds
}

// randomID is 128 bits, base64url: guess-proof, URL- and cookie-safe.
func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sso: random: %v", err)) // the system's randomness failed: nothing is safe
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkceVerifier is 256 bits, base64url (43 characters, RFC 7636's minimum).
func pkceVerifier() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sso: random: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sealJSON(s *seal.Sealer, v any, aad []byte) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := s.Seal(b, aad)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openJSON opens a value of sealJSON; any damage is one error (the caller
// answers 400 without details).
func openJSON(s *seal.Sealer, raw string, aad []byte, v any) error {
	if raw == "" || len(raw) > 8192 {
		return errNoFlow
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return errNoFlow
	}
	plain, err := s.Open(b, aad)
	if err != nil {
		return errNoFlow
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errNoFlow
	}
	return nil
}

// flowCookie sets the state. SAML answers with a cross-site POST from the
// IdP, which a SameSite=Lax cookie does not follow, so SAML flows use
// SameSite=None (still Secure, HttpOnly, __Host-); the binding to the
// RelayState id is what defends against login CSRF, not SameSite.
func flowCookie(value string, crossSitePost bool) *http.Cookie {
	ss := http.SameSiteLaxMode
	if crossSitePost {
		ss = http.SameSiteNoneMode
	}
	return &http.Cookie{Name: CookieFlow, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: ss, MaxAge: int(FlowTTL / time.Second)}
}

func clearFlowCookie() *http.Cookie {
	return &http.Cookie{Name: CookieFlow, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1}
}

// openFlow reads the flow of this browser and checks that it is the one
// the provider's answer names (id), for provider, and not expired.
func openFlow(s *seal.Sealer, r *http.Request, id, provider string, now time.Time) (*flow, error) {
	c, err := r.Cookie(CookieFlow)
	if err != nil || id == "" {
		return nil, errNoFlow
	}
	var f flow
	if err := openJSON(s, c.Value, stateAAD, &f); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(f.ID), []byte(id)) != 1 || f.Provider != provider {
		return nil, errNoFlow
	}
	if now.Unix() > f.Expires {
		return nil, errNoFlow
	}
	return &f, nil
}
