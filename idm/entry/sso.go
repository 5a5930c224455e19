package entry

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
