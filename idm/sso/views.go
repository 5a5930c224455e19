package sso

import (
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
)

// ProviderView is a provider as the API shows it: every setting, secrets
// only as has_* flags, and the URLs to give the identity provider.
type ProviderView struct {
	UUID              string `json:"uuid"`
	Name              string `json:"name"`
	Type              string `json:"type"`
	Enabled           bool   `json:"enabled"`
	AutoCreate        *bool  `json:"auto_create"` // null: the global setting
	AutoEnable        *bool  `json:"auto_enable"`
	MFATrusted        bool   `json:"mfa_trusted"`
	UsernameAttribute string `json:"username_attribute,omitempty"`

	ClientID        string   `json:"client_id,omitempty"`
	HasClientSecret bool     `json:"has_client_secret,omitempty"`
	DiscoveryURL    string   `json:"discovery_url,omitempty"`
	Scopes          []string `json:"scopes,omitempty"`
	AuthURL         string   `json:"auth_url,omitempty"`
	TokenURL        string   `json:"token_url,omitempty"`
	UserInfoURL     string   `json:"userinfo_url,omitempty"`
	JWKSURL         string   `json:"jwks_url,omitempty"`
	TrustEmail      bool     `json:"trust_email,omitempty"`
	CallbackURL     string   `json:"callback_url,omitempty"`

	URL              string `json:"url,omitempty"`
	BindDN           string `json:"bind_dn,omitempty"`
	HasBindPassword  bool   `json:"has_bind_password,omitempty"`
	BaseDN           string `json:"base_dn,omitempty"`
	UserFilter       string `json:"user_filter,omitempty"`
	EmailAttribute   string `json:"email_attribute,omitempty"`
	DisplayAttribute string `json:"display_attribute,omitempty"`
	StartTLS         bool   `json:"start_tls,omitempty"`
	CACert           string `json:"ca_cert,omitempty"`
	SkipVerify       bool   `json:"skip_verify,omitempty"`

	SPEntityID                 string `json:"sp_entity_id,omitempty"`
	IdPEntityID                string `json:"idp_entity_id,omitempty"`
	IdPSSOURL                  string `json:"idp_sso_url,omitempty"`
	IdPCert                    string `json:"idp_cert,omitempty"`
	SPCert                     string `json:"sp_cert,omitempty"`
	HasSPKey                   bool   `json:"has_sp_key,omitempty"`
	AllowUnsignedAssertions    bool   `json:"allow_unsigned_assertions,omitempty"`
	RequireEncryptedAssertions bool   `json:"require_encrypted_assertions,omitempty"`
	ACSURL                     string `json:"acs_url,omitempty"`
	MetadataURL                string `json:"metadata_url,omitempty"`

	// Warnings about insecure settings (skip_verify, unsigned assertions).
	Warnings []string `json:"warnings,omitempty"`
	Version  uint64   `json:"version"`
	Created  int64    `json:"created"`
	Updated  int64    `json:"updated"`
}

// WarningSkipVerify is repeated wherever skip_verify is in effect.
const WarningSkipVerify = "certificate verification is skipped for this LDAP server: anyone on the network path can read the bind password and users' passwords"

// View builds the API view of a provider.
func (s *Service) View(p *entry.SSOProvider) ProviderView {
	v := ProviderView{UUID: p.UUID, Name: p.Name, Type: p.Type, Enabled: p.Enabled, AutoCreate: p.AutoCreate, AutoEnable: p.AutoEnable,
		MFATrusted: p.MFATrusted, UsernameAttribute: p.UsernameAttribute, Version: p.Version, Created: p.Created, Updated: p.Updated}
	switch {
	case p.OIDC != nil:
		o := p.OIDC
		v.ClientID, v.HasClientSecret, v.DiscoveryURL, v.Scopes = o.ClientID, len(o.SealedClientSecret) > 0, o.DiscoveryURL, o.Scopes
		if len(v.Scopes) == 0 {
			v.Scopes = oidcup.DefaultScopes
		}
		v.CallbackURL = s.CallbackURL(p)
	case p.OAuth2 != nil:
		o := p.OAuth2
		v.ClientID, v.HasClientSecret, v.Scopes, v.TrustEmail = o.ClientID, len(o.SealedClientSecret) > 0, o.Scopes, o.TrustEmail
		v.AuthURL, v.TokenURL, v.UserInfoURL, v.JWKSURL = o.AuthURL, o.TokenURL, o.UserInfoURL, o.JWKSURL
		v.CallbackURL = s.CallbackURL(p)
	case p.LDAP != nil:
		l := p.LDAP
		v.URL, v.BindDN, v.HasBindPassword, v.BaseDN, v.UserFilter = l.URL, l.BindDN, len(l.SealedBindPassword) > 0, l.BaseDN, l.UserFilter
		v.EmailAttribute, v.DisplayAttribute, v.StartTLS, v.CACert, v.SkipVerify = l.EmailAttribute, l.DisplayAttribute, l.StartTLS, l.CACert, l.SkipVerify
		v.TrustEmail = l.TrustEmail
		if v.UsernameAttribute == "" {
			v.UsernameAttribute = l.UsernameAttribute
		}
		if l.SkipVerify {
			v.Warnings = append(v.Warnings, WarningSkipVerify)
		}
	case p.SAML != nil:
		m := p.SAML
		v.SPEntityID, v.IdPEntityID, v.IdPSSOURL, v.IdPCert, v.SPCert = m.SPEntityID, m.IdPEntityID, m.IdPSSOURL, m.IdPCert, m.SPCert
		v.HasSPKey, v.AllowUnsignedAssertions, v.RequireEncryptedAssertions = len(m.SealedSPKey) > 0, m.AllowUnsignedAssertions, m.RequireEncryptedAssertions
		v.ACSURL, v.MetadataURL = s.ACSURL(p), s.MetadataURL(p)
		if m.AllowUnsignedAssertions {
			v.Warnings = append(v.Warnings, "unsigned assertions are accepted: anyone who can reach the ACS URL can log in as anyone")
		}
	}
	return v
}

// LinkedView is one linked identity of an account, with its provider.
type LinkedView struct {
	Provider     string `json:"provider"` // uuid
	ProviderName string `json:"provider_name"`
	ProviderType string `json:"provider_type,omitempty"`
	Subject      string `json:"subject"`
	Email        string `json:"email,omitempty"`
	Linked       int64  `json:"linked"`
}

// AccountSSO is an account's SSO standing: linked identities, overrides,
// and the resulting decisions.
type AccountSSO struct {
	Account      string              `json:"account"`
	UUID         string              `json:"uuid"`
	Identities   []LinkedView        `json:"identities"`
	Overrides    entry.AuthOverrides `json:"overrides"`
	LocalAllowed bool                `json:"local_allowed"`
	SSOAllowed   bool                `json:"sso_allowed"`
	Pending      bool                `json:"pending,omitempty"`
	// HasPassword and HasPasskey tell whether unlinking the last identity
	// would leave a way to log in.
	HasPassword bool `json:"has_password"`
	HasPasskey  bool `json:"has_passkey"`
}

// Account describes an account's SSO standing.
func (s *Service) Account(e *entry.Entry) AccountSSO {
	out := AccountSSO{Account: e.Name, UUID: e.UUID, Identities: []LinkedView{}, LocalAllowed: s.LocalAllowed(e), SSOAllowed: s.SSOAllowed(e),
		Pending: IsPending(e), HasPassword: e.PasswordHash != "", HasPasskey: len(e.Passkeys) > 0}
	if e.AuthOverrides != nil {
		out.Overrides = *e.AuthOverrides
	}
	for _, x := range e.ExternalIDs {
		v := LinkedView{Provider: x.Provider, Subject: x.Subject, Email: x.Email, Linked: x.Linked, ProviderName: "(deleted provider)"}
		if p, ok := s.state().SSOProvider(x.Provider); ok {
			v.ProviderName, v.ProviderType = p.Name, p.Type
		}
		out.Identities = append(out.Identities, v)
	}
	return out
}
