package entry

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// OAuth2Settings is the OAuth2/OpenID Connect side of an entry of class
// oauth2_client. The client id is the entry's name.
type OAuth2Settings struct {
	// Public clients have no secret (RFC 6749 §2.1) and must use PKCE;
	// basic clients authenticate with HTTP Basic (client_secret_basic).
	Public bool `json:"public,omitempty"`
	// Origin is the application's landing URL, shown to users on consent.
	Origin string `json:"origin"`
	// RedirectURIs are matched exactly (public clients: loopback URIs
	// with any port, RFC 8252 §7.3).
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// SealedSecret is the basic client's secret, sealed under the cluster
	// encryption key with the aad OAuth2SecretAAD(uuid) (rule 3).
	SealedSecret []byte `json:"sealed_secret,omitempty"`
	// PKCEDisabled (basic clients only) lets a client exchange codes
	// without PKCE: `warning-insecure-client-disable-pkce`.
	PKCEDisabled bool `json:"pkce_disabled,omitempty"`
	// LegacyCrypto makes this client's ID and access tokens RS256 instead
	// of ES256: `warning-enable-legacy-crypto`.
	LegacyCrypto bool `json:"legacy_crypto,omitempty"`
	// PreferShortUsername puts the short name, not the spn, in
	// preferred_username.
	PreferShortUsername bool `json:"prefer_short_username,omitempty"`
	// ScopeMaps: members of Group may be granted Scopes. A person in no
	// scope-mapped group may not use the client at all.
	ScopeMaps []ScopeMap `json:"scope_maps,omitempty"`
	// SupScopeMaps: members of Group are granted Scopes in addition.
	SupScopeMaps []ScopeMap `json:"sup_scope_maps,omitempty"`
	// ClaimMaps: members of Group get Values in the custom claim Claim.
	ClaimMaps []ClaimMap `json:"claim_maps,omitempty"`
}

// ScopeMap grants scopes to the members of a group (by uuid).
type ScopeMap struct {
	Group  string   `json:"group"`
	Scopes []string `json:"scopes"`
}

// ClaimMap adds values to a custom claim for the members of a group.
// Join says how several values are sent: "array" (default), "csv"
// (comma-separated string) or "ssv" (space-separated string).
type ClaimMap struct {
	Claim  string   `json:"claim"`
	Group  string   `json:"group"`
	Values []string `json:"values"`
	Join   string   `json:"join,omitempty"`
}

// OAuth2SecretAAD binds a sealed client secret to its client.
func OAuth2SecretAAD(clientUUID string) []byte { return []byte("oauth2-secret:" + clientUUID) }

// ReservedClaims may not be set through claim maps: they carry identity
// and token semantics that a group must not be able to overwrite.
var ReservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "nonce", "at_hash", "c_hash",
	"auth_time", "amr", "acr", "sid", "scope", "client_id", "preferred_username", "name", "email", "email_verified", "groups"}

// ValidScope checks one scope token (RFC 6749 §3.3: printable ASCII
// without space, quote or backslash).
func ValidScope(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("scope %q must be 1 to 64 characters", s)
	}
	for _, r := range s {
		if r <= 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return fmt.Errorf("scope %q holds a character RFC 6749 does not allow", s)
		}
	}
	return nil
}

// ValidateRedirectURI checks a redirect URI an admin registers: absolute,
// no fragment (RFC 6749 §3.1.2), https unless it is a loopback address or
// a private-use scheme of a native app (RFC 8252).
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || len(raw) > 2048 {
		return fmt.Errorf("redirect URL %q is not an absolute URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URL %q must not hold a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URL %q has no host", raw)
		}
	case "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return fmt.Errorf("redirect URL %q: plain http is allowed only for loopback addresses", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("redirect URL %q: a private-use scheme must be a reversed domain name (RFC 8252 §7.1)", raw)
		}
	}
	return nil
}

// Validate checks an OAuth2 client's settings.
func (c *OAuth2Settings) Validate() error {
	if c == nil {
		return fmt.Errorf("an oauth2 client needs its oauth2 settings")
	}
	if u, err := url.Parse(c.Origin); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("origin %q is not an http(s) URL", c.Origin)
	}
	if c.Public && (len(c.SealedSecret) > 0 || c.PKCEDisabled) {
		return fmt.Errorf("a public client has no secret and cannot disable PKCE")
	}
	if !c.Public && len(c.SealedSecret) == 0 {
		return fmt.Errorf("a basic client needs a sealed secret")
	}
	if len(c.RedirectURIs) > 64 {
		return fmt.Errorf("at most 64 redirect URLs")
	}
	for i, r := range c.RedirectURIs {
		if err := ValidateRedirectURI(r); err != nil {
			return err
		}
		if slices.Contains(c.RedirectURIs[:i], r) {
			return fmt.Errorf("redirect URL %q is listed twice", r)
		}
	}
	for _, maps := range [][]ScopeMap{c.ScopeMaps, c.SupScopeMaps} {
		if len(maps) > 256 {
			return fmt.Errorf("at most 256 scope maps")
		}
		for i, m := range maps {
			if !LooksLikeUUID(m.Group) {
				return fmt.Errorf("scope map group %q is not a uuid", m.Group)
			}
			if slices.ContainsFunc(maps[:i], func(o ScopeMap) bool { return o.Group == m.Group }) {
				return fmt.Errorf("group %s has two scope maps", m.Group)
			}
			for _, s := range m.Scopes {
				if err := ValidScope(s); err != nil {
					return err
				}
			}
		}
	}
	if len(c.ClaimMaps) > 256 {
		return fmt.Errorf("at most 256 claim maps")
	}
	for _, m := range c.ClaimMaps {
		if err := ValidScope(m.Claim); err != nil {
			return fmt.Errorf("claim name: %w", err)
		}
		if slices.Contains(ReservedClaims, m.Claim) {
			return fmt.Errorf("claim %q is set by the server and cannot be mapped", m.Claim)
		}
		if !LooksLikeUUID(m.Group) {
			return fmt.Errorf("claim map group %q is not a uuid", m.Group)
		}
		switch m.Join {
		case "", "array", "csv", "ssv":
		default:
			return fmt.Errorf("claim join %q is not array, csv or ssv", m.Join)
		}
		for _, v := range m.Values {
			if err := ValidateText("claim value", v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Clone returns a deep copy.
func (c *OAuth2Settings) Clone() *OAuth2Settings {
	if c == nil {
		return nil
	}
	o := *c
	o.RedirectURIs = slices.Clone(c.RedirectURIs)
	o.SealedSecret = slices.Clone(c.SealedSecret)
	cloneMaps := func(in []ScopeMap) []ScopeMap {
		out := slices.Clone(in)
		for i := range out {
			out[i].Scopes = slices.Clone(out[i].Scopes)
		}
		return out
	}
	o.ScopeMaps, o.SupScopeMaps = cloneMaps(c.ScopeMaps), cloneMaps(c.SupScopeMaps)
	o.ClaimMaps = slices.Clone(c.ClaimMaps)
	for i := range o.ClaimMaps {
		o.ClaimMaps[i].Values = slices.Clone(o.ClaimMaps[i].Values)
	}
	return &o
}
