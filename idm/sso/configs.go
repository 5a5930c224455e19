package sso

import (
	"context"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

// The protocol libraries' configurations of a provider, secrets opened
// from the seal. The login (protocols/sso) and Test use them.

// OIDCConfig is the configuration of an oidc or oauth2 provider.
func (s *Service) OIDCConfig(p *entry.SSOProvider) (oidcup.Config, error) {
	secret, err := s.Open(p, FieldClientSecret)
	if err != nil {
		return oidcup.Config{}, err
	}
	c := oidcup.Config{ClientSecret: secret, RedirectURL: s.CallbackURL(p), HTTPClient: s.HTTPClient}
	switch {
	case p.OIDC != nil:
		c.DiscoveryURL, c.ClientID, c.Scopes = p.OIDC.DiscoveryURL, p.OIDC.ClientID, p.OIDC.Scopes
	case p.OAuth2 != nil:
		o := p.OAuth2
		c.AuthURL, c.TokenURL, c.UserInfoURL, c.JWKSURL = o.AuthURL, o.TokenURL, o.UserInfoURL, o.JWKSURL
		c.ClientID, c.Scopes = o.ClientID, o.Scopes
	default:
		return oidcup.Config{}, idm.Invalid("provider %s is of type %s, not oidc or oauth2", p.Name, p.Type)
	}
	return c, nil
}

// LDAPConfig is the configuration of an ldap provider.
func (s *Service) LDAPConfig(p *entry.SSOProvider) (ldapup.Config, error) {
	if p.LDAP == nil {
		return ldapup.Config{}, idm.Invalid("provider %s is of type %s, not ldap", p.Name, p.Type)
	}
	pw, err := s.Open(p, FieldBindPassword)
	if err != nil {
		return ldapup.Config{}, err
	}
	l := p.LDAP
	if l.SkipVerify {
		s.log().Warn("LDAP certificate verification is OFF for this provider: anyone on the path can read passwords", "provider", p.Name)
	}
	return ldapup.Config{URL: l.URL, BindDN: l.BindDN, BindPassword: pw, BaseDN: l.BaseDN, UserFilter: l.UserFilter,
		EmailAttribute: l.EmailAttribute, UsernameAttribute: l.UsernameAttribute, DisplayAttribute: l.DisplayAttribute,
		StartTLS: l.StartTLS, CACertPEM: l.CACert, SkipVerify: l.SkipVerify, Timeout: 10 * time.Second}, nil
}

// SAMLConfig is the configuration of a saml provider.
func (s *Service) SAMLConfig(p *entry.SSOProvider) (samlsp.Config, error) {
	if p.SAML == nil {
		return samlsp.Config{}, idm.Invalid("provider %s is of type %s, not saml", p.Name, p.Type)
	}
	key, err := s.Open(p, FieldSPKey)
	if err != nil {
		return samlsp.Config{}, err
	}
	m := p.SAML
	return samlsp.Config{SPEntityID: m.SPEntityID, ACSURL: s.ACSURL(p), MetadataURL: s.MetadataURL(p),
		IdPEntityID: m.IdPEntityID, IdPSSOURL: m.IdPSSOURL, IdPCert: m.IdPCert, SPKeyPEM: key, SPCertPEM: m.SPCert,
		AllowUnsignedAssertions: m.AllowUnsignedAssertions, RequireEncryptedAssertions: m.RequireEncryptedAssertions,
		HTTPClient: s.HTTPClient}, nil
}

// Test runs the library's connection test of a provider (system_admins:
// it makes this node reach out to the configured addresses).
func (s *Service) Test(ctx context.Context, actor idm.Actor, id string) (*entry.SSOProvider, []upstream.Check, error) {
	if err := s.maySystem(actor); err != nil {
		return nil, nil, err
	}
	p, err := s.Lookup(id)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var checks []upstream.Check
	switch p.Type {
	case entry.SSOTypeOIDC, entry.SSOTypeOAuth2:
		c, err := s.OIDCConfig(p)
		if err != nil {
			return p, nil, err
		}
		checks = oidcup.Test(ctx, c, p.Type == entry.SSOTypeOAuth2)
	case entry.SSOTypeLDAP:
		c, err := s.LDAPConfig(p)
		if err != nil {
			return p, nil, err
		}
		checks = ldapup.Test(ctx, c)
		if c.SkipVerify {
			checks = append([]upstream.Check{{Name: "certificate verification", OK: false,
				Detail: "skipped (skip_verify is on): the connection is not protected against interception"}}, checks...)
		}
	case entry.SSOTypeSAML:
		c, err := s.SAMLConfig(p)
		if err != nil {
			return p, nil, err
		}
		checks = samlsp.Test(ctx, c)
	}
	return p, checks, nil
}
