package entry

import (
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Upstream identity provider types.
const (
	SSOTypeOIDC   = "oidc"
	SSOTypeOAuth2 = "oauth2"
	SSOTypeLDAP   = "ldap"
	SSOTypeSAML   = "saml"
)

// SSOProvider is an upstream identity provider users may log in through
// (sso-upstream-providers.txt). Exactly one of OIDC, OAuth2, LDAP, SAML is
// set, matching Type. Secrets are sealed under the cluster encryption key
// with the aad SSOSecretAAD(uuid, field) before they are proposed.
type SSOProvider struct {
	UUID string `json:"uuid"`
	// Name is shown on the login page; unique among providers.
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
	// AutoCreate and AutoEnable override the global settings for this
	// provider when set.
	AutoCreate *bool `json:"auto_create,omitempty"`
	AutoEnable *bool `json:"auto_enable,omitempty"`
	// MFATrusted: an MFA the provider asserts makes the login count as mfa.
	MFATrusted bool `json:"mfa_trusted,omitempty"`
	// UsernameAttribute is tried before the standard claim fallbacks.
	UsernameAttribute string `json:"username_attribute,omitempty"`

	OIDC   *SSOOIDC   `json:"oidc,omitempty"`
	OAuth2 *SSOOAuth2 `json:"oauth2,omitempty"`
	LDAP   *SSOLDAP   `json:"ldap,omitempty"`
	SAML   *SSOSAML   `json:"saml,omitempty"`

	Version uint64 `json:"version"`
	Created int64  `json:"created"`
	Updated int64  `json:"updated"`
}

// SSOOIDC is an OpenID Connect provider found through discovery.
type SSOOIDC struct {
	ClientID           string   `json:"client_id"`
	SealedClientSecret []byte   `json:"sealed_client_secret"`
	DiscoveryURL       string   `json:"discovery_url"`
	Scopes             []string `json:"scopes,omitempty"`
}

// SSOOAuth2 is a plain OAuth2 provider configured by hand.
type SSOOAuth2 struct {
	ClientID           string   `json:"client_id"`
	SealedClientSecret []byte   `json:"sealed_client_secret"`
	AuthURL            string   `json:"auth_url"`
	TokenURL           string   `json:"token_url"`
	UserInfoURL        string   `json:"userinfo_url"`
	JWKSURL            string   `json:"jwks_url,omitempty"`
	Scopes             []string `json:"scopes,omitempty"`
	// TrustEmail: the provider's e-mail addresses count as verified.
	TrustEmail bool `json:"trust_email,omitempty"`
}

// SSOLDAP is an LDAP or Active Directory server.
type SSOLDAP struct {
	URL                string `json:"url"`
	BindDN             string `json:"bind_dn"`
	SealedBindPassword []byte `json:"sealed_bind_password"`
	BaseDN             string `json:"base_dn"`
	UserFilter         string `json:"user_filter"`
	EmailAttribute     string `json:"email_attribute,omitempty"`
	UsernameAttribute  string `json:"username_attribute,omitempty"`
	DisplayAttribute   string `json:"display_attribute,omitempty"`
	StartTLS           bool   `json:"start_tls,omitempty"`
	CACert             string `json:"ca_cert,omitempty"` // PEM
	// SkipVerify disables certificate checks; only with an explicit
	// confirmation, and warned about on every use.
	SkipVerify bool `json:"skip_verify,omitempty"`
	// TrustEmail: the directory's mail attribute counts as a verified
	// address (links to an existing account). Off by default: in some
	// directories people may edit their own mail attribute.
	TrustEmail bool `json:"trust_email,omitempty"`
}

// SSOSAML is a SAML 2.0 identity provider; we are its service provider.
type SSOSAML struct {
	SPEntityID  string `json:"sp_entity_id"`
	IdPEntityID string `json:"idp_entity_id"`
	IdPSSOURL   string `json:"idp_sso_url"`
	IdPCert     string `json:"idp_cert"` // PEM
	SPCert      string `json:"sp_cert"`  // PEM
	SealedSPKey []byte `json:"sealed_sp_key"`
	// AllowUnsignedAssertions turns off the default requirement that
	// assertions be signed.
	AllowUnsignedAssertions    bool `json:"allow_unsigned_assertions,omitempty"`
	RequireEncryptedAssertions bool `json:"require_encrypted_assertions,omitempty"`
}

// SSOSettings are the global SSO settings. The zero value is the default:
// local authentication on, auto-create on, auto-enable off.
type SSOSettings struct {
	LocalAuthDisabled bool `json:"local_auth_disabled,omitempty"`
	NoAutoCreate      bool `json:"no_auto_create,omitempty"`
	AutoEnable        bool `json:"auto_enable,omitempty"`
}

// SSOSecretAAD binds a sealed provider secret to its provider and field.
func SSOSecretAAD(providerUUID, field string) []byte {
	return []byte("sso-secret:" + providerUUID + ":" + field)
}

// MaxSSONameLen bounds a provider's display name.
const MaxSSONameLen = 64

// maxSSOBlob bounds certificates and other long settings (PEM text).
const maxSSOBlob = 64 << 10

// Clone returns a deep copy.
func (p *SSOProvider) Clone() *SSOProvider {
	if p == nil {
		return nil
	}
	c := *p
	if p.AutoCreate != nil {
		v := *p.AutoCreate
		c.AutoCreate = &v
	}
	if p.AutoEnable != nil {
		v := *p.AutoEnable
		c.AutoEnable = &v
	}
	if p.OIDC != nil {
		o := *p.OIDC
		o.SealedClientSecret = slices.Clone(o.SealedClientSecret)
		o.Scopes = slices.Clone(o.Scopes)
		c.OIDC = &o
	}
	if p.OAuth2 != nil {
		o := *p.OAuth2
		o.SealedClientSecret = slices.Clone(o.SealedClientSecret)
		o.Scopes = slices.Clone(o.Scopes)
		c.OAuth2 = &o
	}
	if p.LDAP != nil {
		l := *p.LDAP
		l.SealedBindPassword = slices.Clone(l.SealedBindPassword)
		c.LDAP = &l
	}
	if p.SAML != nil {
		s := *p.SAML
		s.SealedSPKey = slices.Clone(s.SealedSPKey)
		c.SAML = &s
	}
	return &c
}

// Validate checks everything a provider record must satisfy before it is
// stored: the state machine runs it in Apply, the service before it
// proposes (for an early, clear answer). It cannot check that secrets are
// sealed, only that the required ones are present.
func (p *SSOProvider) Validate() error {
	if !LooksLikeUUID(p.UUID) {
		return fmt.Errorf("provider uuid %q is not a uuid", p.UUID)
	}
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("the provider needs a name")
	}
	if len(p.Name) > MaxSSONameLen {
		return fmt.Errorf("the provider name is longer than %d bytes", MaxSSONameLen)
	}
	if strings.TrimSpace(p.Name) != p.Name {
		return fmt.Errorf("the provider name %q starts or ends with white space", p.Name)
	}
	if err := ValidateText("provider name", p.Name); err != nil {
		return err
	}
	if err := ValidateText("username attribute", p.UsernameAttribute); err != nil {
		return err
	}
	set := 0
	for _, b := range []bool{p.OIDC != nil, p.OAuth2 != nil, p.LDAP != nil, p.SAML != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("a provider has exactly one configuration (of its type); %d given", set)
	}
	switch p.Type {
	case SSOTypeOIDC:
		if p.OIDC == nil {
			return fmt.Errorf("an oidc provider needs its oidc settings")
		}
		return p.OIDC.validate()
	case SSOTypeOAuth2:
		if p.OAuth2 == nil {
			return fmt.Errorf("an oauth2 provider needs its oauth2 settings")
		}
		return p.OAuth2.validate()
	case SSOTypeLDAP:
		if p.LDAP == nil {
			return fmt.Errorf("an ldap provider needs its ldap settings")
		}
		if p.MFATrusted {
			return fmt.Errorf("an LDAP login always asks for a local second factor after the bind; mfa_trusted does not apply to ldap providers")
		}
		return p.LDAP.validate()
	case SSOTypeSAML:
		if p.SAML == nil {
			return fmt.Errorf("a saml provider needs its saml settings")
		}
		return p.SAML.validate()
	}
	return fmt.Errorf("provider type %q is not oidc, oauth2, ldap or saml", p.Type)
}

func (o *SSOOIDC) validate() error {
	if err := validateClientID(o.ClientID); err != nil {
		return err
	}
	if err := validateURL("discovery URL", o.DiscoveryURL, "https"); err != nil {
		return err
	}
	return validateScopes(o.Scopes)
}

func (o *SSOOAuth2) validate() error {
	if err := validateClientID(o.ClientID); err != nil {
		return err
	}
	for _, u := range []struct{ what, v string }{{"authorization URL", o.AuthURL}, {"token URL", o.TokenURL}, {"user-info URL", o.UserInfoURL}} {
		if err := validateURL(u.what, u.v, "https"); err != nil {
			return err
		}
	}
	if o.JWKSURL != "" {
		if err := validateURL("JWKS URL", o.JWKSURL, "https"); err != nil {
			return err
		}
	}
	return validateScopes(o.Scopes)
}

func (l *SSOLDAP) validate() error {
	if err := validateURL("LDAP URL", l.URL, "ldap", "ldaps"); err != nil {
		return err
	}
	if l.StartTLS && strings.HasPrefix(strings.ToLower(l.URL), "ldaps:") {
		return fmt.Errorf("StartTLS is for ldap:// URLs; an ldaps:// URL is TLS from the start")
	}
	for _, f := range []struct{ what, v string }{{"bind DN", l.BindDN}, {"base DN", l.BaseDN}, {"user filter", l.UserFilter},
		{"email attribute", l.EmailAttribute}, {"username attribute", l.UsernameAttribute}, {"display attribute", l.DisplayAttribute}} {
		if len(f.v) > 1024 {
			return fmt.Errorf("the %s is longer than 1024 bytes", f.what)
		}
		if err := ValidateText(f.what, f.v[:min(len(f.v), MaxTextLen)]); err != nil {
			return err
		}
	}
	if l.BaseDN == "" {
		return fmt.Errorf("an ldap provider needs a base DN")
	}
	if n := strings.Count(l.UserFilter, "%s"); n != 1 || strings.Count(l.UserFilter, "%") != 1 {
		return fmt.Errorf("the user filter must hold %%s exactly once (and no other %%), e.g. (&(objectClass=person)(uid=%%s))")
	}
	if !strings.HasPrefix(l.UserFilter, "(") || !strings.HasSuffix(l.UserFilter, ")") {
		return fmt.Errorf("the user filter must be enclosed in parentheses")
	}
	if l.BindDN != "" && len(l.SealedBindPassword) == 0 {
		return fmt.Errorf("a bind DN needs a bind password")
	}
	if l.CACert != "" {
		if err := validatePEMCerts("LDAP CA certificate", l.CACert); err != nil {
			return err
		}
	}
	return nil
}

func (s *SSOSAML) validate() error {
	if s.SPEntityID == "" || len(s.SPEntityID) > 1024 {
		return fmt.Errorf("a saml provider needs an SP entity id (at most 1024 bytes)")
	}
	if s.IdPEntityID == "" || len(s.IdPEntityID) > 1024 {
		return fmt.Errorf("a saml provider needs an IdP entity id (at most 1024 bytes)")
	}
	if err := validateURL("IdP SSO URL", s.IdPSSOURL, "https"); err != nil {
		return err
	}
	if strings.TrimSpace(s.IdPCert) == "" || len(s.IdPCert) > maxSSOBlob {
		return fmt.Errorf("a saml provider needs the IdP certificate (PEM or base64 DER)")
	}
	if s.SPCert == "" || len(s.SealedSPKey) == 0 {
		return fmt.Errorf("a saml provider needs its SP key and certificate (generated when none is given)")
	}
	if len(s.SPCert) > maxSSOBlob {
		return fmt.Errorf("the SP certificate is longer than %d bytes", maxSSOBlob)
	}
	return nil
}

func validateClientID(id string) error {
	if id == "" || len(id) > 512 {
		return fmt.Errorf("the client id must be 1 to 512 bytes")
	}
	return ValidateText("client id", id[:min(len(id), MaxTextLen)])
}

// validateURL checks an absolute URL of one of the schemes. Plain http is
// refused for OIDC, OAuth2 and SAML: codes, tokens and assertions would
// travel in clear.
func validateURL(what, raw string, schemes ...string) error {
	if raw == "" {
		return fmt.Errorf("the %s is required", what)
	}
	if len(raw) > 2048 {
		return fmt.Errorf("the %s is longer than 2048 bytes", what)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("the %s %q is not a URL: %v", what, raw, err)
	}
	if !slices.Contains(schemes, strings.ToLower(u.Scheme)) || u.Host == "" {
		return fmt.Errorf("the %s %q must be an absolute %s:// URL", what, raw, strings.Join(schemes, ":// or "))
	}
	if u.User != nil {
		return fmt.Errorf("the %s must not carry a user name or password", what)
	}
	return nil
}

func validateScopes(scopes []string) error {
	if len(scopes) > 32 {
		return fmt.Errorf("at most 32 scopes")
	}
	for _, s := range scopes {
		if s == "" || len(s) > 128 || strings.ContainsAny(s, " \t\r\n\"\\") {
			return fmt.Errorf("scope %q is empty, too long or holds spaces or quotes", s)
		}
	}
	return nil
}

func validatePEMCerts(what, s string) error {
	if len(s) > maxSSOBlob {
		return fmt.Errorf("the %s is longer than %d bytes", what, maxSSOBlob)
	}
	rest := []byte(s)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("the %s holds a %s block; only CERTIFICATE blocks are accepted", what, b.Type)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("the %s holds no PEM certificate", what)
	}
	return nil
}
